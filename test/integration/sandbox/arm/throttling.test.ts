/**
 * Resource Manager's budgets over HTTP: the remaining-request headers on every answer, the
 * 429 past a bucket, the settings in the state and through the control API and the estate,
 * and the real SDK coping with a 429 by waiting its Retry-After.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { defaultArmThrottling } from "../../../../sandbox/arm/throttling.js";
import { sandboxControl } from "../../../../sandbox/controlClient.js";
import { defaultEstate, EstateValidationError, validateEstate } from "../../../../sandbox/seed.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { rawRequest } from "../core/sandboxHttp.js";
import { startQuietSandbox } from "../quietSandbox.js";
import { dataGroup, subscriptionId } from "./armSandbox.js";

const clusterUrl = `https://management.azure.com/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.Kusto/clusters/adx-pinned?api-version=2023-08-15`;
let sandbox: RunningSandbox;

async function bearer(): Promise<Record<string, string>> {
  const token = await sandbox
    .transport("rotator")
    .credential.getToken("https://management.azure.com/.default");
  return { authorization: `Bearer ${token?.token}` };
}

async function throttling(change: unknown) {
  return sandboxControl(sandbox, "POST", "/_sandbox/throttling", change);
}

beforeAll(async () => {
  sandbox = await startQuietSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});
beforeEach(() => {
  sandbox.store.throttling = defaultArmThrottling();
});

describe("Resource Manager throttling in the sandbox", () => {
  it("is on by default with Azure's buckets, shown in the state", async () => {
    const state = await sandboxControl(sandbox, "GET", "/_sandbox/state");
    expect(state.body).toMatchObject({
      throttling: {
        enabled: true,
        reads: { size: 250, refillPerSecond: 25 },
        writes: { size: 200, refillPerSecond: 10 },
        deletes: { size: 200, refillPerSecond: 10 },
        globalMultiplier: 15,
        resourceGraph: { queries: 15, windowSeconds: 5 },
      },
    });
  });

  it("tells every answer what is left, errors included", async () => {
    // Azure's sizes with a trickle of refill, so the counts do not depend on how fast this runs.
    await throttling({ reads: { refillPerSecond: 0.001 } });
    const read = await rawRequest(sandbox, "GET", clusterUrl, { headers: await bearer() });
    expect(read.status).toBe(200);
    expect(read.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBe("249");
    expect(read.headers["x-ms-ratelimit-remaining-subscription-global-reads"]).toBe("3749");
    const missing = await rawRequest(sandbox, "GET", clusterUrl.replace("adx-pinned", "no-such-cluster"), {
      headers: await bearer(),
    });
    expect(missing.status).toBe(404);
    expect(missing.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBe("248");
    const graph = await rawRequest(
      sandbox,
      "POST",
      "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01",
      { headers: await bearer(), body: { query: "Resources | project id", subscriptions: [subscriptionId] } },
    );
    expect(graph.status).toBe(200);
    expect(graph.headers).toMatchObject({
      "x-ms-ratelimit-remaining-tenant-reads": "249",
      "x-ms-user-quota-remaining": "14",
      "x-ms-user-quota-resets-after": "00:00:05",
    });
  });

  it("answers 429 past a tightened bucket, with Retry-After and ARM's body", async () => {
    const set = await throttling({ reads: { size: 2, refillPerSecond: 0.01 } });
    expect(set.status).toBe(200);
    const headers = await bearer();
    expect((await rawRequest(sandbox, "GET", clusterUrl, { headers })).status).toBe(200);
    expect((await rawRequest(sandbox, "GET", clusterUrl, { headers })).status).toBe(200);
    const throttled = await rawRequest(sandbox, "GET", clusterUrl, { headers });
    expect(throttled.status).toBe(429);
    expect(throttled.headers["retry-after"]).toBe("100");
    expect(throttled.body).toMatchObject({
      error: {
        code: "SubscriptionRequestsThrottled",
        message: expect.stringContaining("Number of 'read' requests for subscription"),
      },
    });
    const state = await sandboxControl(sandbox, "GET", "/_sandbox/state");
    expect((state.body as { throttling: { buckets: unknown[] } }).throttling.buckets).toContainEqual({
      bucket: `subscription|${subscriptionId}|11111111-1111-1111-1111-111111111111|reads`,
      size: 2,
      remaining: 0,
    });
  });

  it("lets the real SDK through a 429 by waiting the Retry-After it was told", async () => {
    await throttling({ reads: { size: 1, refillPerSecond: 1 } });
    const kusto = createAzureClientFactory(sandbox.transport("rotator")).kusto(subscriptionId);
    for (let i = 0; i < 3; i++) {
      await expect(kusto.clusters.get(dataGroup, "adx-pinned")).resolves.toMatchObject({
        name: "adx-pinned",
      });
    }
  });

  it("can be switched off, and refuses a bad setting without changing anything", async () => {
    const bad = await throttling({ reads: { size: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: { message: expect.stringContaining("throttling.reads.size") } });
    expect(sandbox.store.throttling).toEqual(defaultArmThrottling());
    await throttling({ enabled: false });
    const read = await rawRequest(sandbox, "GET", clusterUrl, { headers: await bearer() });
    expect(read.status).toBe(200);
    expect(read.headers["x-ms-ratelimit-remaining-subscription-reads"]).toBeUndefined();
  });
});

describe("throttling in the estate", () => {
  it("seeds the sandbox's budgets and refuses a bad one naming the field", async () => {
    const estate = {
      ...defaultEstate(),
      throttling: { reads: { size: 10 }, resourceGraph: { queries: 100 } },
    };
    const custom = await startQuietSandbox({ estate });
    try {
      expect(custom.store.throttling.reads).toEqual({ size: 10, refillPerSecond: 25 });
      expect(custom.store.throttling.resourceGraph).toEqual({ queries: 100, windowSeconds: 5 });
    } finally {
      await custom.close();
    }
    expect(() => validateEstate({ ...defaultEstate(), throttling: { writes: { size: "many" } } })).toThrow(
      EstateValidationError,
    );
    expect(() => validateEstate({ ...defaultEstate(), throttling: { writes: { size: "many" } } })).toThrow(
      "throttling.writes.size",
    );
  });
});
