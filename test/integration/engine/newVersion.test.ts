import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSUMERS, EngineWorld, waitUntil } from "./engineWorld.js";

let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start();
});

afterAll(async () => {
  await world?.close();
});

describe("scenario 1: a new version reaches every pinned consumer", () => {
  it("repoints Kusto, Cosmos DB and both Cassandra pins; versionless consumers are untouched", async () => {
    const adxLatestBefore = world.armProperties(CONSUMERS.adxLatest);
    const cosmosLatestBefore = world.armProperties(CONSUMERS.cosmosLatest);
    const adx = await world.newVersion("kv-cmk-1", "adx-key");
    const cosmos = await world.newVersion("kv-cmk-1", "cosmos-key");
    const backup = await world.newVersion("kv-cmk-1", "cassandra-backup-key");

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", adx));
    await world.deliver(world.newVersionEvent("kv-cmk-1", "cosmos-key", cosmos));
    await world.deliver(world.newVersionEvent("kv-cmk-1", "cassandra-backup-key", backup));

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([adx]);
    expect(world.pinnedVersions(CONSUMERS.cosmosPinned)).toEqual([cosmos]);
    expect(world.pinnedVersions(CONSUMERS.dcEast)).toContain(backup);
    expect(world.pinnedVersions(CONSUMERS.dcWest)).toContain(backup);
    expect(world.armProperties(CONSUMERS.adxLatest)).toEqual(adxLatestBefore);
    expect(world.armProperties(CONSUMERS.cosmosLatest)).toEqual(cosmosLatestBefore);

    await waitUntil(() => world.sandbox.store.publishedEvents.length >= 4, 10_000, "outcome events");
    expect(world.publishedEventTypes()).toContain("CmkRotator.ConsumerRepointed");
    const journal = await world.journal("kv-cmk-1/adx-key");
    expect(journal.some((e) => e.action === "repoint" && e.outcome === "done" && e.version === adx)).toBe(
      true,
    );
  });
});
