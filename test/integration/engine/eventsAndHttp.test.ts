/**
 * Engine scenarios driven by Event Grid, the timer and HTTP, on one sandbox:
 *   1  a new version reaches every pinned Kusto and Cassandra consumer; Cosmos DB accounts and
 *      versionless ones are never patched (Cosmos follows by itself)
 *   2  duplicate and out-of-order events are harmless
 *   3  events about anything else change nothing
 *   4  Managed HSM keys emit no events; the timer finds their new versions (the Cosmos DB account
 *      on the HSM key follows by itself)
 *   12 a new version that fails preflight is blocked and reported; nothing moves to it
 *   10 emergency rotation over HTTP, with an idempotent replay
 *   11 report mode journals what it would do and changes nothing
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxExchange } from "../../../sandbox/http.js";
import { createAzureClientFactory } from "../../../src/azure/clientFactory.js";
import { TAGS } from "../../../src/model.js";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  sameId,
  sleep,
  versionInUse,
  waitUntil,
} from "./engineWorld.js";

let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start();
});

afterAll(async () => {
  await world?.close();
});

function settled(): boolean {
  return Object.values(CONSUMERS).every((id) => world.provisioningState(id) === "Succeeded");
}

interface RotateAnswer {
  newVersion: string | null;
  compromisedVersion: string | null;
  plan: { actions: { type: string; consumerId?: string; to?: string }[] };
}

function estateState(): string {
  const store = world.sandbox.store;
  return JSON.stringify({
    arm: [...store.armResources.values()].map((resource) => resource.body),
    versions: [...store.vaults.values()].flatMap((vault) =>
      [...vault.keys.values()].flatMap((key) => key.versions.map((v) => [v.version, v.enabled, v.tags])),
    ),
  });
}

describe("engine scenarios on the sandbox: events", () => {
  it("1: a new version repoints every pinned Kusto and Cassandra consumer; Cosmos DB and versionless ones are never patched", async () => {
    const adxLatestBefore = structuredClone(world.armProperties(CONSUMERS.adxLatest));
    const cosmosIds = [CONSUMERS.cosmosLatest, CONSUMERS.cosmosPeriodic, CONSUMERS.cosmosFirstParty];
    const cosmosBefore = cosmosIds.map((id) => structuredClone(world.armProperties(id)));
    const exchanges: SandboxExchange[] = [];
    world.sandbox.store.recording = exchanges;
    const adx = await world.newVersion("kv-cmk-1", "adx-key");
    const cosmos = await world.newVersion("kv-cmk-1", "cosmos-key");
    const backup = await world.newVersion("kv-cmk-1", "cassandra-backup-key");

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", adx));
    await world.deliver(world.newVersionEvent("kv-cmk-1", "cosmos-key", cosmos));
    await world.deliver(world.newVersionEvent("kv-cmk-1", "cassandra-backup-key", backup));
    await waitUntil(settled, 60_000, "consumer updates finished");
    world.sandbox.store.recording = undefined;

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([adx]);
    expect(world.pinnedVersions(CONSUMERS.dcEast)).toContain(backup);
    expect(world.pinnedVersions(CONSUMERS.dcWest)).toContain(backup);
    expect(world.armProperties(CONSUMERS.adxLatest)).toMatchObject(adxLatestBefore);
    expect(cosmosIds.map((id) => world.armProperties(id))).toEqual(cosmosBefore);
    expect(
      exchanges.filter((exchange) => exchange.method === "PATCH" && /databaseAccounts/i.test(exchange.path)),
    ).toEqual([]);
    // Cosmos DB follows the new version by itself, and reports it.
    await waitUntil(
      () => versionInUse(world, CONSUMERS.cosmosLatest) === cosmos,
      60_000,
      "cosmos-latest following the new version",
    );
    expect(
      (await world.journal("kv-cmk-1/cosmos-key")).filter((entry) => entry.action === "repoint"),
    ).toEqual([]);

    const journal = await world.journal("kv-cmk-1/adx-key");
    expect(
      journal.filter(
        (e) => e.action === "repoint" && e.outcome === "done" && sameId(e.consumerId, CONSUMERS.adxPinned),
      ),
    ).toEqual([expect.objectContaining({ version: adx })]);
    await waitUntil(
      () => world.publishedEventTypes().filter((type) => type === "ConsumerRepointed").length >= 3,
      60_000,
      "ConsumerRepointed events on the custom topic",
    );
    expect(world.logs.some((line) => line.includes('"message":"new key version event"'))).toBe(true);
    expectNoPinnedVersionDisabled(world);
  });

  it("2: duplicate and out-of-order events never downgrade a consumer and repoint once", async () => {
    const older = await world.newVersion("kv-cmk-1", "adx-key");
    // Key Vault reports creation times in whole seconds: a second apart keeps the order observable.
    await sleep(1_100);
    const newer = await world.newVersion("kv-cmk-1", "adx-key");
    const newerEvent = world.newVersionEvent("kv-cmk-1", "adx-key", newer);

    await world.deliver(newerEvent);
    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", older));
    await world.deliver(newerEvent);
    await waitUntil(settled, 60_000, "consumer updates finished");
    // The same event again, in the CloudEvents schema, after the update finished.
    await world.deliver({
      specversion: "1.0",
      id: randomUUID(),
      source: "/subscriptions/x/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-cmk-1",
      type: "Microsoft.KeyVault.KeyNewVersionCreated",
      subject: "adx-key",
      data: {
        id: `https://kv-cmk-1.vault.azure.net/keys/adx-key/${older}`,
        vaultName: "kv-cmk-1",
        objectType: "Key",
      },
    });

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([newer]);
    const repoints = (await world.journal("kv-cmk-1/adx-key")).filter(
      (entry) =>
        entry.action === "repoint" &&
        entry.outcome === "done" &&
        sameId(entry.consumerId, CONSUMERS.adxPinned),
    );
    expect(repoints.map((entry) => entry.version)).not.toContain(older);
    expect(repoints.filter((entry) => entry.version === newer)).toHaveLength(1);
    expectNoPinnedVersionDisabled(world);
  });

  it("2b: two versions created within one second: the key's current version is the target, nobody is downgraded", async () => {
    // Key Vault reports creation times in whole seconds; make two versions share one, with
    // ids that sort the wrong way round, so only the key's current version tells them apart.
    let pair: [string, string] | undefined;
    // A deadline, not a count of attempts: on a loaded machine fewer pairs land in one second.
    for (const deadline = Date.now() + 60_000; !pair && Date.now() < deadline; ) {
      const first = await world.newVersion("kv-cmk-1", "adx-key");
      const second = await world.newVersion("kv-cmk-1", "adx-key");
      const seconds = (version: string) =>
        Math.floor(world.version("kv-cmk-1", "adx-key", version).created / 1000);
      if (seconds(first) === seconds(second) && first > second) pair = [first, second];
    }
    if (!pair) throw new Error("could not create two versions within one second with ids in reverse order");
    const [older, newer] = pair;

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", newer));
    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", older));
    await waitUntil(settled, 60_000, "consumer updates finished");
    await world.timer();
    await waitUntil(settled, 60_000, "consumer updates finished");

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([newer]);
    const repointedTo = (await world.journal("kv-cmk-1/adx-key"))
      .filter((entry) => entry.action === "repoint" && entry.outcome === "done")
      .map((entry) => entry.version);
    expect(repointedTo).not.toContain(older);
    expect(world.version("kv-cmk-1", "adx-key", newer).enabled).toBe(true);
    expectNoPinnedVersionDisabled(world);
  });

  it("3: an event for a secret, another vault, or a malformed one changes nothing", async () => {
    const before = JSON.stringify({
      arm: [...world.sandbox.store.armResources.values()].map((resource) => resource.body),
      versions: ["adx-key", "cosmos-key", "cassandra-backup-key"].map((key) =>
        world.versions("kv-cmk-1", key),
      ),
    });
    const journalBefore = await world.journal("kv-cmk-1/adx-key");
    const version = world.newestVersion("kv-cmk-1", "adx-key");
    const keyEvent = world.newVersionEvent("kv-cmk-1", "adx-key", version);

    await world.deliver({
      ...keyEvent,
      eventType: "Microsoft.KeyVault.SecretNewVersionCreated",
      data: {
        Id: `https://kv-cmk-1.vault.azure.net/secrets/db-password/${version}`,
        VaultName: "kv-cmk-1",
        ObjectType: "Secret",
      },
    });
    await world.deliver({
      ...keyEvent,
      data: {
        Id: `https://kv-elsewhere.vault.azure.net/keys/adx-key/${version}`,
        VaultName: "kv-elsewhere",
        ObjectType: "Key",
      },
    });
    await world.deliver({ ...keyEvent, data: "{ this is not json" });
    await world.deliver({ ...keyEvent, data: { Id: "https://kv-cmk-1.vault.azure.net/keys/adx key/zz" } });
    await world.deliver("not even an object");

    const after = JSON.stringify({
      arm: [...world.sandbox.store.armResources.values()].map((resource) => resource.body),
      versions: ["adx-key", "cosmos-key", "cassandra-backup-key"].map((key) =>
        world.versions("kv-cmk-1", key),
      ),
    });
    expect(after).toBe(before);
    expect(await world.journal("kv-cmk-1/adx-key")).toEqual(journalBefore);
    const ignored = world.logs.filter((line) => line.includes('"message":"event ignored"'));
    expect(ignored).toHaveLength(5);
    expect(ignored.join("\n")).toContain("other-event-type");
    expect(ignored.join("\n")).toContain("unmanaged-vault");
    expect(ignored.join("\n")).toContain("malformed");
  });
});

describe("engine scenarios on the sandbox: timer and preflight", () => {
  it("4: a new Managed HSM version is picked up by the timer; the Cosmos DB account on it follows by itself", async () => {
    const before = structuredClone(world.armProperties(CONSUMERS.cosmosHsm));
    const hsmVersion = await world.newVersion("hsm-cmk-1", "cosmos-hsm-key", "managedhsm.azure.net");

    const targetShown = async () =>
      JSON.stringify((await world.keysView("hsm-cmk-1", "cosmos-hsm-key")).body).includes(
        `"target":"${hsmVersion}"`,
      );
    // A deadline, not a count of runs: on a loaded machine each run takes longer.
    const deadline = Date.now() + 150_000;
    while (!(await targetShown()) && Date.now() < deadline) {
      await world.timer();
      await sleep(500);
    }
    expect(await targetShown()).toBe(true);

    expect(world.armProperties(CONSUMERS.cosmosHsm)).toEqual(before);
    expect(world.armProperties(CONSUMERS.cosmosHsm).keyVaultKeyUri).toBe(
      "https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key",
    );
    await waitUntil(
      () => versionInUse(world, CONSUMERS.cosmosHsm) === hsmVersion,
      60_000,
      "cosmos-hsm following the new HSM version",
    );
    expectNoPinnedVersionDisabled(world);
  });

  it("12: a new version that is not yet valid is blocked, reported, and nobody is moved to it", async () => {
    const pinnedBefore = world.pinnedVersions(CONSUMERS.adxPinned);
    const blocked = await world.newVersion("kv-cmk-1", "adx-key");
    const keys = createAzureClientFactory(world.sandbox.transport("rotator")).keys(
      "https://kv-cmk-1.vault.azure.net/",
    );
    await keys.updateKeyProperties("adx-key", blocked, {
      notBefore: new Date(Date.now() + 7 * 24 * 3600 * 1000),
    });

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", blocked));

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual(pinnedBefore);
    const journal = await world.journal("kv-cmk-1/adx-key");
    expect(journal).toContainEqual(
      expect.objectContaining({
        action: "block",
        outcome: "blocked",
        version: blocked,
        reason: "preflight-not-yet-valid",
      }),
    );
    await waitUntil(
      () => world.publishedEventTypes().includes("RotationBlocked"),
      60_000,
      "RotationBlocked on the custom topic",
    );
    const view = await world.keysView("kv-cmk-1", "adx-key");
    expect(view.status).toBe(200);
    expect(JSON.stringify(view.body)).toContain("preflight-not-yet-valid");

    // The timer reports the same block again without a second event.
    const blockedEvents = world.publishedEventTypes().filter((type) => type === "RotationBlocked").length;
    await world.timer();
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual(pinnedBefore);
    expect(world.publishedEventTypes().filter((type) => type === "RotationBlocked")).toHaveLength(
      blockedEvents,
    );
    expectNoPinnedVersionDisabled(world);
  });
});

describe("engine scenario 10: emergency rotation", () => {
  beforeAll(async () => {
    await waitUntil(settled, 60_000, "consumer updates finished");
    // The normal quiet period is an hour here: only the emergency quiet period can retire the compromised version.
    world.reconfigure({ quietPeriod: "PT1H", emergencyQuietPeriod: "PT6S", ingestionMargin: "PT5S" });
  });

  it("creates a version, repoints at once, replays idempotently and retires the compromised version on evidence", async () => {
    const compromised = world.newestVersion("kv-cmk-1", "adx-key");
    const headers = { "Idempotency-Key": "incident-2026-001" };
    const body = { reason: "key material exposed in a support ticket" };

    const first = await world.rotate("kv-cmk-1", "adx-key", body, headers);

    expect(first.status).toBe(202);
    const answer = first.body as RotateAnswer;
    const created = world.newestVersion("kv-cmk-1", "adx-key");
    expect(answer.newVersion).toBe(created);
    expect(answer.compromisedVersion).toBe(compromised);
    expect(
      answer.plan.actions.filter(
        (action) => action.type === "repoint" && sameId(action.consumerId, CONSUMERS.adxPinned),
      ),
    ).toEqual([expect.objectContaining({ to: created })]);
    expect(world.version("kv-cmk-1", "adx-key", compromised).tags[TAGS.compromisedReason]).toBe(body.reason);
    await waitUntil(
      () =>
        world.pinnedVersions(CONSUMERS.adxPinned)[0] === created &&
        world.provisioningState(CONSUMERS.adxPinned) === "Succeeded",
      60_000,
      "adx-pinned repointed by the emergency call itself",
    );

    const versionCount = world.versions("kv-cmk-1", "adx-key").length;
    const replay = await world.rotate("kv-cmk-1", "adx-key", body, headers);
    expect(replay).toEqual(first);
    expect(world.versions("kv-cmk-1", "adx-key")).toHaveLength(versionCount);

    const reused = await world.rotate("kv-cmk-1", "adx-key", { reason: "a different incident" }, headers);
    expect(reused.status).toBe(409);
    expect(JSON.stringify(reused.body)).toContain("Idempotency-Key");

    await world.timerUntilDisabled("kv-cmk-1", "adx-key", compromised, 150_000);
    expect(world.version("kv-cmk-1", "adx-key", compromised).tags[TAGS.disabledBy]).toMatch(/^cmk-rotator/);
    expectNoPinnedVersionDisabled(world);
  });

  it("answers a dry run without changing anything", async () => {
    const versionCount = world.versions("kv-cmk-1", "adx-key").length;
    const dry = await world.rotate("kv-cmk-1", "adx-key", { reason: "drill", dryRun: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, newVersion: null });
    expect(world.versions("kv-cmk-1", "adx-key")).toHaveLength(versionCount);
  });

  it("answers 400, 404 and 409 with clear messages", async () => {
    expect(await world.rotate("kv-cmk-1", "adx-key", {})).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining("reason") } },
    });
    expect((await world.rotate("kv-cmk-1", "adx-key", "{not json")).status).toBe(400);
    expect(
      (await world.rotate("kv-cmk-1", "adx-key", { reason: "r" }, { "Idempotency-Key": "a/b" })).status,
    ).toBe(400);
    expect(await world.rotate("kv-unmanaged", "adx-key", { reason: "r" })).toMatchObject({
      status: 404,
      body: { error: { message: expect.stringContaining("ROTATOR_MANAGED_VAULTS") } },
    });
    expect(await world.rotate("kv-cmk-1", "no-such-key", { reason: "r" })).toMatchObject({
      status: 404,
      body: { error: { message: expect.stringContaining("no-such-key") } },
    });
    expect((await world.keysView("kv-cmk-1", "no-such-key")).status).toBe(404);
  });
});

describe("engine scenario 11: report mode", () => {
  /** A version every consumer has left (in enforce mode): report mode must only say it would disable it. */
  let left: string;
  let leftAt: number;
  beforeAll(async () => {
    await waitUntil(settled, 60_000, "consumer updates finished");
    world.reconfigure({ quietPeriod: "PT6S", emergencyQuietPeriod: "PT6S", ingestionMargin: "PT5S" });
    [left] = await world.supersede("kv-cmk-1", "adx-key", [CONSUMERS.adxPinned, CONSUMERS.adxLatest]);
    leftAt = Date.now();
    await waitUntil(settled, 60_000, "consumer updates finished");
    world.reconfigure({
      mode: "report",
      quietPeriod: "PT6S",
      emergencyQuietPeriod: "PT6S",
      ingestionMargin: "PT5S",
    });
  });

  it("journals what it would do and changes nothing", async () => {
    const reportFrom = Date.now();
    const next = await world.newVersion("kv-cmk-1", "adx-key");
    await sleep(500);
    const before = estateState();
    const eventsBefore = world.sandbox.store.publishedEvents.length;

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", next));
    // Past the quiet period of the version the consumers left, then timer runs until one plans its disable.
    await sleep(Math.max(0, leftAt + 7_000 - Date.now()));
    const reportEntries = async () =>
      (await world.journal("kv-cmk-1/adx-key")).filter((entry) => new Date(entry.at).getTime() >= reportFrom);
    const deadline = Date.now() + 60_000;
    for (;;) {
      await world.timer();
      const entries = await reportEntries();
      if (entries.some((entry) => entry.action === "disable" && entry.version === left)) break;
      if (Date.now() > deadline) break;
      await sleep(500);
    }
    const rotate = await world.rotate("kv-cmk-1", "adx-key", { reason: "drill in report mode" });

    expect(rotate.status).toBe(200);
    expect(rotate.body).toMatchObject({ mode: "report", newVersion: null });
    expect(estateState()).toBe(before);
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).not.toContain(next);
    expect(world.version("kv-cmk-1", "adx-key", left).enabled).toBe(true);
    const journal = await reportEntries();
    const wouldRepoint = journal.filter((entry) => entry.action === "repoint");
    expect(wouldRepoint.length).toBeGreaterThan(0);
    expect(wouldRepoint.every((entry) => entry.outcome === "skipped" && entry.reason === "report-mode")).toBe(
      true,
    );
    expect(wouldRepoint[0]?.message).toMatch(/^would repoint kusto .*adx-pinned/);
    const wouldDisable = journal.filter((entry) => entry.action === "disable" && entry.version === left);
    expect(wouldDisable.length).toBeGreaterThan(0);
    expect(wouldDisable.every((entry) => entry.outcome === "skipped" && entry.reason === "report-mode")).toBe(
      true,
    );
    await sleep(500);
    expect(world.sandbox.store.publishedEvents).toHaveLength(eventsBefore);
  });
});
