/**
 * Scenario 5: a consumer stuck on an old version keeps it alive, and the hold names the
 * identity that still uses it. Scenario 9: 429, 500, 409 and failed long-running operations
 * are retried or reported, and never lead to a wrong disable.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  sleep,
  versionInUse,
  waitUntil,
} from "./engineWorld.js";

const ADX_IDENTITY = "22222222-0000-0000-0000-000000000001";
let world: EngineWorld;

beforeAll(async () => {
  world = await EngineWorld.start({ quietPeriod: "PT6S", ingestionMargin: "PT5S" });
});

afterAll(async () => {
  await world?.close();
});

function settled(): boolean {
  return world.provisioningState(CONSUMERS.adxPinned) === "Succeeded";
}

async function timerChecked(): Promise<void> {
  await world.timer();
  expectNoPinnedVersionDisabled(world);
}

describe("engine scenarios on the sandbox: stuck consumers and faults", () => {
  it("5: a stuck consumer holds the old version, and the reason names its identity", async () => {
    const stuckOn = world.newestVersion("kv-cmk-1", "adx-key");
    const consumer = world.sandbox.store.consumers.get(CONSUMERS.adxPinned.toLowerCase());
    if (!consumer) throw new Error("sandbox has no adx-pinned consumer");
    consumer.behaviour.stuckOnVersion = stuckOn;
    onTestFinished(() => {
      consumer.behaviour.stuckOnVersion = null;
    });
    const next = await world.newVersion("kv-cmk-1", "adx-key");
    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", next));
    await waitUntil(settled, 60_000, "adx-pinned update finished");
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([next]);
    await sleep(5_000);

    // Two timer runs: the first one's own key read is the canary that proves the logs current for the second.
    await timerChecked();
    await timerChecked();

    expect(world.version("kv-cmk-1", "adx-key", stuckOn).enabled).toBe(true);
    expect(versionInUse(world, CONSUMERS.adxPinned)).toBe(stuckOn);
    const holds = (await world.journal("kv-cmk-1/adx-key")).filter(
      (entry) => entry.action === "hold" && entry.version === stuckOn,
    );
    // Its key setting names the new version, but its own calls still use the old one: not proven switched.
    expect(holds[0]?.reason).toBe("consumer-not-proven-switched");
    expect(holds[0]?.message).toContain("kusto adx-pinned");
    expect(holds[0]?.message).toContain(ADX_IDENTITY);

    consumer.behaviour.stuckOnVersion = null;
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", stuckOn, 150_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("9a: 429 with Retry-After and 500 on the repoint are retried within the same run", async () => {
    world.addFaults([
      {
        method: "PATCH",
        host: "management.azure.com",
        path: "adx-pinned",
        count: 1,
        action: { kind: "status", status: 429, retryAfterSeconds: 1 },
      },
      {
        method: "PATCH",
        host: "management.azure.com",
        path: "adx-pinned",
        count: 1,
        action: { kind: "status", status: 500 },
      },
    ]);
    const next = await world.newVersion("kv-cmk-1", "adx-key");

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", next));

    expect(world.sandbox.store.faults.filter((rule) => rule.remaining > 0)).toEqual([]);
    await waitUntil(settled, 60_000, "adx-pinned update finished");
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual([next]);
    expectNoPinnedVersionDisabled(world);
  });

  it("9b: a 409 leaves the repoint pending, and the timer finishes it", async () => {
    const before = world.pinnedVersions(CONSUMERS.adxPinned);
    world.addFaults({
      method: "PATCH",
      host: "management.azure.com",
      path: "adx-pinned",
      count: 1,
      action: { kind: "status", status: 409, code: "Conflict", message: "Cluster is updating" },
    });
    const next = await world.newVersion("kv-cmk-1", "adx-key");

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", next));

    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual(before);
    const journal = await world.journal("kv-cmk-1/adx-key");
    expect(journal).toContainEqual(
      expect.objectContaining({ action: "repoint", outcome: "pending", version: next }),
    );
    await world.timerUntil(() => settled() && world.pinnedVersions(CONSUMERS.adxPinned)[0] === next, 150_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("9c: a failed long-running update is seen at the next observation and repointed again", async () => {
    const before = world.pinnedVersions(CONSUMERS.adxPinned);
    world.addFaults({
      method: "PATCH",
      host: "management.azure.com",
      path: "adx-pinned",
      count: 1,
      action: { kind: "failOperation", code: "InternalServerError", message: "the update failed" },
    });
    const next = await world.newVersion("kv-cmk-1", "adx-key");

    await world.deliver(world.newVersionEvent("kv-cmk-1", "adx-key", next));
    await waitUntil(
      () => world.provisioningState(CONSUMERS.adxPinned) !== "Updating",
      60_000,
      "the update ended",
    );
    expect(world.pinnedVersions(CONSUMERS.adxPinned)).toEqual(before);
    expectNoPinnedVersionDisabled(world);

    await world.timerUntil(() => settled() && world.pinnedVersions(CONSUMERS.adxPinned)[0] === next, 150_000);
    expectNoPinnedVersionDisabled(world);
  });

  it("9d: a failing audit query (500s beyond the SDK's retries) holds old versions", async () => {
    const [old] = await world.supersede("kv-cmk-1", "adx-key", [CONSUMERS.adxPinned]);
    await sleep(5_000);
    world.addFaults({
      method: "POST",
      host: "api.loganalytics.io",
      path: "/query",
      count: 20,
      action: { kind: "status", status: 500 },
    });

    await timerChecked();

    expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);
    const holds = (await world.journal("kv-cmk-1/adx-key")).filter(
      (e) => e.action === "hold" && e.version === old,
    );
    expect(holds[0]?.reason).toBe("evidence-incomplete");
    world.sandbox.store.faults = [];
    await world.timerUntilDisabled("kv-cmk-1", "adx-key", old, 150_000);
    expectNoPinnedVersionDisabled(world);
  });
});
