/**
 * Migration scenarios (issue 13) that hold or stop: a destination in another region holds the
 * Kusto clusters and one too small holds the Cosmos DB account, each naming why, while the
 * others move; cancelling stops further moves and moves nothing back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMERS, EngineWorld, expectNoPinnedVersionDisabled, sameId } from "./engineWorld.js";
import { migrationEstate, SOURCE } from "./migrationEstate.js";

let world: EngineWorld;

beforeAll(async () => {
  // Default RSA minimums: Cosmos DB needs 3072, so a 2048 destination is too small for it.
  world = await EngineWorld.start({ quietPeriod: "PT6S", ingestionMargin: "PT5S", estate: migrationEstate });
});

afterAll(async () => {
  await world?.close();
});

function kustoKeyName(id: string): unknown {
  return (world.armProperties(id).keyVaultProperties as Record<string, unknown> | undefined)?.keyName;
}

interface HeldView {
  consumerId: string;
  message: string;
}

async function migrationOf(): Promise<{ held: HeldView[]; moved: { consumerId: string }[]; state: string }> {
  const view = (await world.keysView(SOURCE.vault, SOURCE.key)).body as {
    keys: { migrations: { held: HeldView[]; moved: { consumerId: string }[]; state: string }[] }[];
  };
  const migration = view.keys[0]?.migrations.find((candidate) => candidate !== undefined);
  if (!migration) throw new Error("the view shows no migration");
  return migration;
}

describe("engine scenarios on the sandbox: migration holds and cancel", () => {
  it("a destination in another region holds the Kusto clusters, one too small holds Cosmos DB; the others move", async () => {
    const answer = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: "kv-far", key: "far-key" },
      reason: "try the far vault",
    });
    expect(answer.status).toBe(202);
    await world.timerUntil(
      () => String(world.armProperties(CONSUMERS.dcWest).managedDiskCustomerKeyUri).includes("kv-far"),
      60_000,
    );
    for (let run = 0; run < 2; run++) await world.timer();

    expect(kustoKeyName(CONSUMERS.adxPinned)).toBe(SOURCE.key);
    expect(kustoKeyName(CONSUMERS.adxLatest)).toBe(SOURCE.key);
    expect(world.armProperties(CONSUMERS.cosmosLatest).keyVaultKeyUri).toBe(
      "https://kv-cmk-1.vault.azure.net/keys/app-key",
    );
    const migration = await migrationOf();
    const heldWhy = (id: string) =>
      migration.held.find((entry) => sameId(entry.consumerId, id))?.message ?? "";
    expect(heldWhy(CONSUMERS.adxPinned)).toMatch(/westeurope.*eastus|same region/);
    expect(heldWhy(CONSUMERS.adxLatest)).toMatch(/same region/);
    expect(heldWhy(CONSUMERS.cosmosLatest)).toMatch(/3072/);
    expect(migration.moved.some((entry) => sameId(entry.consumerId, CONSUMERS.dcWest))).toBe(true);
    const holds = (await world.journalEntries("kv-cmk-1/app-key")).filter(
      (entry) => entry.action === "hold" && entry.reason === "migration-held",
    );
    expect(holds.some((entry) => entry.message.includes("same region"))).toBe(true);
    expect(holds.some((entry) => entry.message.includes("3072"))).toBe(true);
    const page = await world.dashboardPage();
    expect(page).toContain("Migration of kv-cmk-1/app-key to kv-far/far-key");
    expect(page).toContain("same region");
  });

  it("cancelling stops further moves, and nothing is moved back", async () => {
    const cancelled = await world.cancelMigration(SOURCE.vault, SOURCE.key, { reason: "wrong vault" });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ state: "cancelled" });
    // A new migration of the same key, to a vault in the clusters' region; one cluster is stopped, so it waits.
    world.setConsumerState(CONSUMERS.adxLatest, "Stopped");
    const answer = await world.migrate(SOURCE.vault, SOURCE.key, {
      to: { vault: "kv-dest", key: "dest-key" },
      reason: "the vault next to the clusters",
    });
    expect(answer.status).toBe(202);
    await world.timerUntil(
      () =>
        kustoKeyName(CONSUMERS.adxPinned) === "dest-key" &&
        world.provisioningState(CONSUMERS.adxPinned) === "Succeeded",
      60_000,
    );
    expect(kustoKeyName(CONSUMERS.adxLatest)).toBe(SOURCE.key);

    const stop = await world.cancelMigration(SOURCE.vault, SOURCE.key, { reason: "enough for now" });
    expect(stop.status).toBe(200);
    world.setConsumerState(CONSUMERS.adxLatest, "Running");
    for (let run = 0; run < 4; run++) await world.timer();

    // Cancelled: the stopped cluster stays on the source; what moved stays moved (no way back).
    expect(kustoKeyName(CONSUMERS.adxLatest)).toBe(SOURCE.key);
    expect(kustoKeyName(CONSUMERS.adxPinned)).toBe("dest-key");
    expect(String(world.armProperties(CONSUMERS.dcWest).managedDiskCustomerKeyUri)).toContain("kv-far");
    expect((await migrationOf()).state).toBe("cancelled");
    const again = await world.cancelMigration(SOURCE.vault, SOURCE.key, { reason: "twice" });
    expect(again.status).toBe(404);
    expectNoPinnedVersionDisabled(world);
  });
});
