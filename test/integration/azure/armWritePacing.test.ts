/**
 * The service's Resource Manager writes stay within the write budget: against the sandbox's
 * token buckets (shrunk to 1 write, refilled at 1 a second), a burst of writes through the
 * client factory waits for the refill by the x-ms-ratelimit-remaining-* headers instead of
 * drawing 429s. Counted from what the sandbox answered, not timed: a slower machine only
 * makes 429s rarer, so "no 429" cannot fail by load; the unpaced burst needs its 6 writes to
 * take less than 5 s in all to draw one (each takes milliseconds).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxControl } from "../../../sandbox/controlClient.js";
import type { RunningSandbox } from "../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../src/azure/clientFactory.js";
import { ArmWritePacer, type AzureRequestInfo } from "../../../src/azure/pipelinePolicies.js";
import { dataGroup, subscriptionId } from "../sandbox/arm/armSandbox.js";
import { startQuietSandbox } from "../sandbox/quietSandbox.js";

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startQuietSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

async function burstOfWrites(pacer: ArmWritePacer | undefined, writes: number) {
  const seen: AzureRequestInfo[] = [];
  const factory = createAzureClientFactory(sandbox.transport("rotator"), {
    onRequest: (info) => seen.push(info),
    ...(pacer ? { armWritePacer: pacer } : {}),
  });
  const clusters = factory.kusto(subscriptionId).clusters;
  for (let write = 0; write < writes; write++) {
    // Each is a PATCH Resource Manager charges a write for, accepted or refused (409 while one runs).
    await clusters
      .beginUpdate(dataGroup, "adx-pinned", { tags: { write: String(write) } })
      .catch(() => undefined);
  }
  return seen.filter((info) => info.api === "resource-manager" && info.method === "PATCH");
}

describe("Resource Manager write pacing", () => {
  it("waits for the refill when the bucket is empty, and draws no 429", async () => {
    const set = await sandboxControl(sandbox, "POST", "/_sandbox/throttling", {
      enabled: true,
      writes: { size: 1, refillPerSecond: 1 },
    });
    expect(set.status).toBe(200);
    const pacer = new ArmWritePacer({ size: 1, refillPerSecond: 1 });
    const patches = await burstOfWrites(pacer, 6);
    expect(patches).toHaveLength(6);
    expect(patches.filter((info) => info.status === "429")).toEqual([]);
  });

  it("is what keeps the burst clean: without it, the same burst draws 429s the SDK has to wait out", async () => {
    await sandboxControl(sandbox, "POST", "/_sandbox/throttling", {
      enabled: true,
      writes: { size: 3, refillPerSecond: 10 },
    });
    const unpaced = new ArmWritePacer({ size: 1_000_000, refillPerSecond: 1_000_000 });
    // A pacer that never believes the headers: its bucket is refilled faster than any answer can drain it.
    const patches = await burstOfWrites(unpaced, 10);
    expect(patches.filter((info) => info.status === "429").length).toBeGreaterThan(0);
  });
});
