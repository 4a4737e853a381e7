/**
 * The red-team findings of issue 9, each as a repro on the sandbox (default estate plus a Kusto
 * cluster `adx-self` that unwraps adx-key with the rotator's own identity, lag 300 s):
 *   1  two casings of one key, a delayed PATCH, slow operations: no consumer is downgraded;
 *      20 rotations mixing casings never tag one previous version compromised twice
 *   2  a consumer under the rotator's identity: its old version is never disabled
 *   4  20 parallel un-keyed emergency rotations: no 500, no lease left behind
 *   5  rotation storms: one version, the others 409 naming it; "force" creates another
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAGS } from "../../../src/model.js";
import { leasesLeft, tableOfSettings } from "../../support/leases.js";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  type HttpAnswer,
  SUBSCRIPTION,
  sleep,
  versionInUse,
  waitUntil,
} from "./engineWorld.js";

const ADX_SELF = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx-self`;
const QUIET_MS = 6_000;

let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start({
    quietPeriod: "PT6S",
    ingestionMargin: "PT5S",
    estate: (estate) => {
      estate.consumers.push({
        kind: "kusto",
        name: "adx-self",
        subscriptionId: SUBSCRIPTION,
        resourceGroup: "rg-data",
        location: "westeurope",
        // The rotator's own user-assigned identity, also granted crypto use of the key.
        identity: "rotator",
        key: { vault: "kv-cmk-1", key: "adx-key", version: "newest" },
        behaviour: { lagSeconds: 300 },
      });
      estate.roleAssignments.push({
        principal: "rotator",
        role: "Key Vault Crypto Service Encryption User",
        scope: "key:kv-cmk-1/adx-key",
      });
    },
  });
});

afterAll(async () => {
  await world?.close();
});

interface RotateAnswer {
  newVersion: string | null;
  compromisedVersion: string | null;
}

function errorOf(answer: HttpAnswer): { code: string; message: string; version?: string } {
  return (answer.body as { error: { code: string; message: string; version?: string } }).error;
}

/** Position of a version among the key's versions, oldest first (what "older" means). */
function positionOf(vault: string, key: string, version: string | undefined): number {
  return world.versions(vault, key).findIndex((candidate) => candidate.version === version);
}

/** No key stays leased once the runs are over (a run's lease is released on every path). */
async function noLeaseLeft(): Promise<void> {
  const table = tableOfSettings(world.runtime.settings);
  const deadline = Date.now() + 10_000;
  let left = await leasesLeft(table);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(200);
    left = await leasesLeft(table);
  }
  expect(left).toEqual([]);
}

describe("issue 9 on the sandbox: one identity per key, and no downgrade", () => {
  it("two casings, a delayed PATCH and slow operations: adx-pinned only ever moves forward", async () => {
    world.sandbox.store.latency.lroDurationMs = 1_000;
    world.addFaults({
      method: "PATCH",
      path: "clusters/adx-pinned",
      count: 1,
      action: { kind: "delay", ms: 5_000 },
    });
    const seen: string[] = [];
    const watch = setInterval(() => {
      const pinned = world.pinnedVersions(CONSUMERS.adxPinned)[0];
      if (pinned && seen.at(-1) !== pinned) seen.push(pinned);
    }, 25);
    try {
      const first = world.rotate("kv-cmk-1", "ADX-KEY", { reason: "red team: upper case" });
      await sleep(2_500);
      // Within the cooldown a second emergency rotation needs "force": the repro is about the race.
      const second = world.rotate("kv-cmk-1", "adx-key", { reason: "red team: lower case", force: true });
      const answers = await Promise.all([first, second]);
      expect(answers.map((answer) => answer.status)).toEqual([202, 202]);
      const [a, b] = answers.map((answer) => answer.body as RotateAnswer);
      expect(b?.compromisedVersion).toBe(a?.newVersion);
      // The timer finishes what the runs left (repoints held while a consumer was busy).
      await world.timerUntil(() => world.pinnedVersions(CONSUMERS.adxPinned)[0] === b?.newVersion, 30_000);
      await sleep(1_500);
      await world.timer();
    } finally {
      clearInterval(watch);
      world.sandbox.store.latency.lroDurationMs = 300;
    }
    const positions = seen.map((version) => positionOf("kv-cmk-1", "adx-key", version));
    for (let index = 1; index < positions.length; index++) {
      expect(positions[index], `adx-pinned went ${seen.join(" -> ")}`).toBeGreaterThan(
        positions[index - 1] ?? -1,
      );
    }
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([world.newestVersion("kv-cmk-1", "adx-key")]);
    expectNoPinnedVersionDisabled(world);
    await noLeaseLeft();
  });

  it("20 rotations mixing casings tag each previous version compromised once", async () => {
    const before = world.versions("kv-cmk-1", "cosmos-key").length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        world.rotate("kv-cmk-1", index % 2 === 0 ? "COSMOS-KEY" : "cosmos-key", {
          reason: `red team ${index}`,
          force: true,
        }),
      ),
    );
    // Serialised under the key's one lease: each either rotated, or gave up waiting (409).
    expect(
      answers.map((answer) => answer.status).filter((status) => status !== 202 && status !== 409),
    ).toEqual([]);
    const rotated = answers
      .filter((answer) => answer.status === 202)
      .map((answer) => answer.body as RotateAnswer);
    expect(rotated.length).toBeGreaterThan(0);
    expect(world.versions("kv-cmk-1", "cosmos-key").length - before).toBe(rotated.length);
    const compromised = rotated.map((answer) => answer.compromisedVersion);
    expect(new Set(compromised).size).toBe(compromised.length);
    const created = new Set(rotated.map((answer) => answer.newVersion));
    // Each rotation tagged the version the one before it had just created (or the original newest).
    expect(compromised.filter((version) => !created.has(version))).toHaveLength(1);
    for (const answer of answers.filter((candidate) => candidate.status === 409))
      expect(errorOf(answer).message).toMatch(/kv-cmk-1\/cosmos-key/);
    for (const version of compromised)
      expect(world.version("kv-cmk-1", "cosmos-key", version ?? "").tags[TAGS.compromised]).toBeDefined();
    await noLeaseLeft();
  });
});

describe("issue 9 on the sandbox: a consumer under the rotator's own identity", () => {
  it("adx-self (lag 300 s) keeps the version it still unwraps with: it is never disabled", async () => {
    await waitUntil(() => versionInUse(world, ADX_SELF) !== undefined, 10_000, "adx-self unwrapping");
    const [old, next] = await world.supersede("kv-cmk-1", "adx-key", [CONSUMERS.adxPinned]);
    await waitUntil(() => world.pinnedVersions(ADX_SELF)[0] === next, 20_000, "adx-self repointed");
    const stillUsed = versionInUse(world, ADX_SELF);
    expect(stillUsed).toBeDefined();
    expect(stillUsed).not.toBe(next);
    // Past the quiet period, the margin and more: every other condition for a disable holds by now.
    const until = Date.now() + 3 * QUIET_MS;
    while (Date.now() < until) {
      await world.timer();
      expect(world.version("kv-cmk-1", "adx-key", stillUsed ?? "").enabled).toBe(true);
      await sleep(500);
    }
    expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);
    const view = await world.keysView("kv-cmk-1", "adx-key");
    const key = (
      view.body as {
        keys: {
          versions: { version: string; hold: { reason: string; concerns: string } | null }[];
          consumers: { id: string; sharesRotatorIdentity: boolean }[];
        }[];
      }
    ).keys[0];
    const hold = key?.versions.find((version) => version.version === stillUsed)?.hold;
    expect(hold).toMatchObject({ reason: "consumer-shares-rotator-identity" });
    expect(hold?.concerns.toLowerCase()).toBe(ADX_SELF.toLowerCase());
    expect(
      key?.consumers.find((consumer) => consumer.id.toLowerCase() === ADX_SELF.toLowerCase())
        ?.sharesRotatorIdentity,
    ).toBe(true);
    expectNoPinnedVersionDisabled(world);
  });
});

describe("issue 9 on the sandbox: storms and the lease race", () => {
  it("20 parallel un-keyed emergency rotations: one version, the others 409 naming it, no 500, no lease left; force creates another", async () => {
    const key = ["kv-cmk-1", "cassandra-backup-key"] as const;
    const before = world.versions(...key).length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        world.rotate(key[0], index % 3 === 0 ? "Cassandra-Backup-Key" : key[1], { reason: "double click" }),
      ),
    );
    expect(answers.filter((answer) => answer.status >= 500)).toEqual([]);
    const created = answers.filter((answer) => answer.status === 202);
    expect(created).toHaveLength(1);
    const version = (created[0]?.body as RotateAnswer | undefined)?.newVersion;
    expect(world.versions(...key).length - before).toBe(1);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(refused).toHaveLength(19);
    for (const answer of refused) {
      expect(errorOf(answer)).toMatchObject({ code: "EmergencyCooldown", version });
      expect(errorOf(answer).message).toContain(`created version ${version}`);
    }
    await noLeaseLeft();

    const forced = await world.rotate(key[0], key[1], { reason: "really again", force: true });
    expect(forced.status).toBe(202);
    expect((forced.body as RotateAnswer).compromisedVersion).toBe(version);
    expect(world.versions(...key).length - before).toBe(2);
    const replayed = await world.rotate(
      key[0],
      key[1],
      { reason: "double click" },
      { "Idempotency-Key": "storm-1" },
    );
    expect(replayed.status).toBe(409);
    await noLeaseLeft();
  });
});
