/**
 * Scenarios 8, 7, 6: retirement on evidence only. A version unused for the quiet period is
 * disabled with evidence tags; a partial audit query or a paused log pipeline holds it,
 * and once the evidence is sound again it retires. Cosmos DB backups keep the version their
 * account used until their retention ends. A Cosmos DB account is never patched: its old
 * version is held while its keyVaultKeyUriVersion still names it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAGS } from "../../../src/model.js";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  sleep,
  versionInUse,
  waitUntil,
} from "./engineWorld.js";

const QUIET_MS = 6_000;
let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start({ quietPeriod: "PT6S", ingestionMargin: "PT5S" });
});

afterAll(async () => {
  await world?.close();
});

/** A new adx-key version, delivered and taken up by adx-pinned; returns [old, new]. */
function supersedeAdxKey(): Promise<[string, string]> {
  return world.supersede("kv-cmk-1", "adx-key", [CONSUMERS.adxPinned]);
}

async function holdsFor(version: string): Promise<string[]> {
  const journal = await world.journal("kv-cmk-1/adx-key");
  return journal
    .filter((entry) => entry.action === "hold" && entry.version === version)
    .map((entry) => entry.reason);
}

describe("engine scenarios on the sandbox: retirement", () => {
  it("8: after a quiet period without use the old version is disabled, with evidence tags on it", async () => {
    const [old] = await supersedeAdxKey();
    expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);

    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 150_000);

    const tags = world.version("kv-cmk-1", "adx-key", old).tags;
    expect(tags[TAGS.disabledBy]).toMatch(/^cmk-rotator timer run /);
    expect(Date.parse(tags[TAGS.disabledAt] ?? "")).not.toBeNaN();
    expect(tags[TAGS.evidence]).toContain("a1b2c3d4-0000-4000-8000-000000000001");
    expect(tags[TAGS.evidence]).toContain("canary");
    expect(tags[TAGS.lastUse]).toBeDefined();
    await waitUntil(
      () => world.publishedEventTypes().includes("VersionDisabled"),
      60_000,
      "VersionDisabled event",
    );
    expectNoPinnedVersionDisabled(world);
  });

  it("7: a partial audit query result holds the version; a complete one retires it", async () => {
    const [old] = await supersedeAdxKey();
    await sleep(QUIET_MS + 1_000);
    world.sandbox.store.ingestion.partialError = true;

    await world.timer();

    expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);
    expect(await holdsFor(old)).toContain("evidence-incomplete");
    world.sandbox.store.ingestion.partialError = false;
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 150_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("6: paused ingestion holds the version because the logs are not proven current", async () => {
    const [old] = await supersedeAdxKey();
    world.sandbox.store.ingestion.paused = true;
    // Longer than the quiet period and the ingestion margin: the newest visible canary is now too old.
    await sleep(QUIET_MS + 6_000);

    await world.timer();

    expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);
    expect(await holdsFor(old)).toContain("pipeline-not-current");
    const view = await world.keysView("kv-cmk-1", "adx-key");
    expect(JSON.stringify(view.body)).toContain("pipeline-not-current");

    world.sandbox.store.ingestion.paused = false;
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 150_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("a Cosmos DB account that has not picked the new version up holds the old one, and is never patched", async () => {
    const account = world.sandbox.store.consumers.get(CONSUMERS.cosmosPeriodic.toLowerCase());
    if (!account) throw new Error("no cosmos-periodic consumer");
    account.behaviour.lagSeconds = 3600;
    const before = structuredClone(world.armProperties(CONSUMERS.cosmosPeriodic));
    const [old] = await world.supersede("kv-cmk-1", "cosmos-key", [CONSUMERS.cosmosLatest]);
    try {
      await sleep(QUIET_MS + 1_000);
      const inUseHold = async () =>
        (await world.journal("kv-cmk-1/cosmos-key")).find(
          (entry) =>
            entry.action === "hold" && entry.version === old && entry.reason === "in-use-by-consumer",
        );
      // Timer runs until the hold shows (the first may still wait for a fresh canary), with a deadline.
      for (const deadline = Date.now() + 60_000; !(await inUseHold()) && Date.now() < deadline; )
        await world.timer();
      const hold = await inUseHold();
      // cosmos-periodic waits an hour here, cosmos-firstparty its estate pick-up delay of two minutes.
      expect(hold?.message).toMatch(/cosmos-(periodic|firstparty)/);
      expect(versionInUse(world, CONSUMERS.cosmosPeriodic)).toBe(old);
      expect(world.version("kv-cmk-1", "cosmos-key", old).enabled).toBe(true);
      expect(world.armProperties(CONSUMERS.cosmosPeriodic)).toEqual(before);
    } finally {
      account.behaviour.lagSeconds = 1;
    }
    expectNoPinnedVersionDisabled(world);
  });

  it("holds a version Cosmos DB backups still need, for as long as the account's backup retention", async () => {
    const [old] = await world.supersede("kv-cmk-1", "cosmos-key", [
      CONSUMERS.cosmosPeriodic,
      CONSUMERS.cosmosLatest,
    ]);
    // Past the quiet period: only the backups (periodic 8 h, continuous 7 days) still need the old version.
    await sleep(QUIET_MS + 1_000);

    // A few timer runs: the first may still be waiting for its canary to be fresh.
    const backupHold = async () =>
      (await world.journal("kv-cmk-1/cosmos-key")).find(
        (entry) => entry.action === "hold" && entry.version === old && entry.reason === "backup-retention",
      );
    let hold = await backupHold();
    for (const deadline = Date.now() + 60_000; !hold && Date.now() < deadline; ) {
      await world.timer();
      expect(world.version("kv-cmk-1", "cosmos-key", old).enabled).toBe(true);
      hold = await backupHold();
    }
    expect(world.version("kv-cmk-1", "cosmos-key", old).enabled).toBe(true);
    expect(hold?.reason).toBe("backup-retention");
    // The longest retention wins: cosmos-latest keeps continuous backups for 7 days.
    expect(hold?.message).toContain("cosmos-latest");
    expect(hold?.message).toContain("P7D");
    expectNoPinnedVersionDisabled(world);
  });
});
