/**
 * Migration scenarios (issue 13), through the function handlers on the sandbox: a key with a
 * pinned and a versionless Kusto cluster, a Cosmos DB account and a Cassandra data center moves
 * to a key in another vault, each consumer keeping its mode and identity; a 409 and a failed
 * long-running operation are finished by the timer; a replay creates nothing new; the source's
 * old version retires on evidence and its newest stays enabled without retireSource.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TAGS } from "../../../src/model.js";
import { CONSUMERS, EngineWorld, expectNoPinnedVersionDisabled, waitUntil } from "./engineWorld.js";
import { EVERY_KIND_ON_2048, migrationEstate, SOURCE } from "./migrationEstate.js";

let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start({
    quietPeriod: "PT6S",
    ingestionMargin: "PT5S",
    estate: migrationEstate,
    settings: EVERY_KIND_ON_2048,
  });
});

afterAll(async () => {
  await world?.close();
});

const MOVED = [CONSUMERS.adxPinned, CONSUMERS.adxLatest, CONSUMERS.cosmosLatest, CONSUMERS.dcWest];

function kustoKey(id: string): Record<string, unknown> {
  return (world.armProperties(id).keyVaultProperties ?? {}) as Record<string, unknown>;
}

function allOnDestination(vault: string, key: string): boolean {
  const onKusto = [CONSUMERS.adxPinned, CONSUMERS.adxLatest].every(
    (id) => kustoKey(id).keyName === key && String(kustoKey(id).keyVaultUri).includes(vault),
  );
  const cosmos = String(world.armProperties(CONSUMERS.cosmosLatest).keyVaultKeyUri);
  const disk = String(world.armProperties(CONSUMERS.dcWest).managedDiskCustomerKeyUri);
  return (
    onKusto &&
    cosmos.includes(`${vault}.vault.azure.net/keys/${key}`) &&
    disk.includes(`${vault}.vault.azure.net/keys/${key}/`) &&
    MOVED.every((id) => world.provisioningState(id) === "Succeeded")
  );
}

describe("engine scenarios on the sandbox: migration to another key", () => {
  it("answers 400, 404 and 409 for bad input, an unmanaged or missing destination, the key itself", async () => {
    const bad = await world.migrate(SOURCE.vault, SOURCE.key, { to: "kv-dest/dest-key", reason: "x" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { code: "BadRequest" } });
    const unknownField = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: "kv-dest", key: "dest-key" },
      reason: "x",
      force: true,
    });
    expect(unknownField.status).toBe(400);
    const unmanaged = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: "kv-elsewhere", key: "dest-key" },
      reason: "x",
    });
    expect(unmanaged.status).toBe(404);
    expect(JSON.stringify(unmanaged.body)).toContain("not managed");
    const missing = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: "kv-dest", key: "no-such-key" },
      reason: "x",
    });
    expect(missing.status).toBe(404);
    const itself = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: SOURCE.vault, key: SOURCE.key.toUpperCase() },
      reason: "x",
    });
    expect(itself.status).toBe(400);
    const cancelNothing = await world.cancelMigration(SOURCE.vault, SOURCE.key, { reason: "x" });
    expect(cancelNothing.status).toBe(404);
  });

  it("moves every consumer to the destination keeping its mode and identity; faults are finished by the timer; a replay creates nothing", async () => {
    const [oldSource, newestSource] = world.versions(SOURCE.vault, SOURCE.key).map((v) => v.version);
    const destination = world.newestVersion("kv-dest", "dest-key");
    const identityBefore = kustoKey(CONSUMERS.adxPinned).userIdentity;
    const defaultIdentityBefore = world.armProperties(CONSUMERS.cosmosLatest).defaultIdentity;
    const backupBefore = world.armProperties(CONSUMERS.dcWest).backupStorageCustomerKeyUri;
    world.addFaults([
      {
        method: "PATCH",
        host: "management.azure.com",
        path: "adx-pinned",
        count: 1,
        action: { kind: "status", status: 409, code: "Conflict", message: "Cluster is updating" },
      },
      {
        method: "PATCH",
        host: "management.azure.com",
        path: "dc-west",
        count: 1,
        action: { kind: "failOperation", code: "InternalServerError", message: "the update failed" },
      },
    ]);
    const body = { to: { vault: "kv-dest", key: "dest-key" }, reason: "move to the new vault" };
    const first = await world.migrate(SOURCE.vault, SOURCE.key, body, { "Idempotency-Key": "migrate-app-1" });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({
      key: "kv-cmk-1/app-key",
      destination: "kv-dest/dest-key",
      state: "active",
    });

    const replay = await world.migrate(SOURCE.vault, SOURCE.key, body, {
      "Idempotency-Key": "migrate-app-1",
    });
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual(first.body);
    const again = await world.migrate(SOURCE.vault, SOURCE.key, body, { "Idempotency-Key": "migrate-app-2" });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: "MigrationRunning" } });

    await world.timerUntil(() => allOnDestination("kv-dest", "dest-key"), 120_000);

    // Each keeps its mode: pinned Kusto on the destination's newest, versionless stays versionless.
    expect(kustoKey(CONSUMERS.adxPinned).keyVersion).toBe(destination);
    expect(kustoKey(CONSUMERS.adxLatest).keyVersion ?? "").toBe("");
    expect(world.armProperties(CONSUMERS.cosmosLatest).keyVaultKeyUri).toBe(
      "https://kv-dest.vault.azure.net/keys/dest-key",
    );
    expect(world.armProperties(CONSUMERS.dcWest).managedDiskCustomerKeyUri).toBe(
      `https://kv-dest.vault.azure.net/keys/dest-key/${destination}`,
    );
    // Only the URI that named the source moved; every identity field is kept.
    expect(world.armProperties(CONSUMERS.dcWest).backupStorageCustomerKeyUri).toBe(backupBefore);
    expect(kustoKey(CONSUMERS.adxPinned).userIdentity).toBe(identityBefore);
    expect(world.armProperties(CONSUMERS.cosmosLatest).defaultIdentity).toBe(defaultIdentityBefore);

    const journal = await world.journalEntries("kv-cmk-1/app-key");
    expect(journal.some((e) => e.action === "migrate" && e.outcome === "pending")).toBe(true);
    expect(
      journal.filter((e) => e.action === "migrate" && e.outcome === "done").length,
    ).toBeGreaterThanOrEqual(4);
    await waitUntil(
      () => world.publishedEventTypes().filter((type) => type === "ConsumerMigrated").length >= 4,
      60_000,
      "ConsumerMigrated events",
    );

    // The plan shows the migration complete, every consumer moved.
    const view = (await world.keysView(SOURCE.vault, SOURCE.key)).body as {
      keys: { migrations: { complete: boolean; moved: unknown[]; held: unknown[] }[] }[];
    };
    expect(view.keys[0]?.migrations[0]).toMatchObject({ complete: true, held: [] });
    expect(view.keys[0]?.migrations[0]?.moved.length).toBeGreaterThanOrEqual(4);

    // The source: its old version retires on evidence; its newest stays enabled without retireSource.
    await world.timerUntilDisabled(SOURCE.vault, SOURCE.key, oldSource ?? "", 120_000);
    expect(world.version(SOURCE.vault, SOURCE.key, oldSource ?? "").tags[TAGS.evidence]).toContain("canary");
    for (let run = 0; run < 4; run++) await world.timer();
    expect(world.version(SOURCE.vault, SOURCE.key, newestSource ?? "").enabled).toBe(true);
    const after = (await world.keysView(SOURCE.vault, SOURCE.key)).body as {
      keys: { warnings: { reason: string }[] }[];
    };
    expect(after.keys[0]?.warnings.map((w) => w.reason)).toContain("migration-source-unused");
    expect(await world.dashboardPage()).toContain("Migration of kv-cmk-1/app-key to kv-dest/dest-key");
    expectNoPinnedVersionDisabled(world);
  });

  it("with retireSource the source's newest version retires too, on evidence only", async () => {
    // Chaining into a running migration's destination is refused.
    const chained = await world.migrate("kv-dest", "dest-key", {
      to: { vault: "kv-dest", key: "dest2-key" },
      reason: "chain",
    });
    expect(chained.status).toBe(409);
    // Both data centers' backup URIs are on cassandra-backup-key; their disk URIs are elsewhere.
    const source = { vault: "kv-cmk-1", key: "cassandra-backup-key" };
    const newest = world.newestVersion(source.vault, source.key);
    const diskEast = world.armProperties(CONSUMERS.dcEast).managedDiskCustomerKeyUri;
    const answer = await world.migrate(source.vault, source.key, {
      to: { vault: "kv-dest", key: "dest2-key" },
      reason: "retire the whole key",
      retireSource: true,
    });
    expect(answer.status).toBe(202);
    const onDest2 = (id: string) =>
      String(world.armProperties(id).backupStorageCustomerKeyUri).includes(
        "kv-dest.vault.azure.net/keys/dest2-key/",
      );
    await world.timerUntil(() => onDest2(CONSUMERS.dcEast) && onDest2(CONSUMERS.dcWest), 120_000);
    expect(world.armProperties(CONSUMERS.dcEast).managedDiskCustomerKeyUri).toBe(diskEast);
    await world.timerUntilDisabled(source.vault, source.key, newest, 120_000);

    const tags = world.version(source.vault, source.key, newest).tags;
    expect(tags[TAGS.evidence]).toContain("canary");
    const journal = await world.journalEntries("kv-cmk-1/cassandra-backup-key");
    const disabled = journal.find(
      (entry) => entry.action === "disable" && entry.outcome === "done" && entry.version === newest,
    );
    expect(disabled?.reason).toBe("migration-source-retired");
    // Before the evidence was there, it was held (used recently, or not yet quiet long enough).
    expect(journal.some((entry) => entry.action === "hold" && entry.version === newest)).toBe(true);
    expectNoPinnedVersionDisabled(world);
  });
});
