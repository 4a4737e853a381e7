import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { startQuietSandbox } from "../quietSandbox.js";
import { rawRequest } from "./sandboxHttp.js";

let sandbox: RunningSandbox;

function control(method: string, path: string, body?: unknown) {
  return rawRequest(
    sandbox,
    method,
    `https://localhost:${sandbox.port}${path}`,
    body === undefined ? {} : { body },
  );
}

beforeAll(async () => {
  sandbox = await startQuietSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

describe("control API", () => {
  it("shows vaults, keys, versions and consumers with their pins in the state", async () => {
    const response = await control("GET", "/_sandbox/state");
    expect(response.status).toBe(200);
    const state = response.body as {
      vaults: {
        name: string;
        keys: { name: string; versions: { version: string; enabled: boolean; created: string }[] }[];
      }[];
      consumers: { id: string; pins: Record<string, unknown> }[];
      audit: { total: number };
    };
    const adx = state.vaults
      .find((vault) => vault.name === "kv-cmk-1")
      ?.keys.find((key) => key.name === "adx-key");
    expect(adx?.versions).toHaveLength(2);
    expect(adx?.versions[0]).toMatchObject({
      enabled: true,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(state.consumers.length).toBeGreaterThan(0);
    expect(typeof state.audit.total).toBe("number");
    expect(sandbox.stateUrl).toBe(`https://localhost:${sandbox.port}/_sandbox/state`);
  });

  it("adds and clears fault rules, and refuses a bad rule without changing anything", async () => {
    const added = await control("POST", "/_sandbox/faults", {
      method: "GET",
      host: "management.azure.com",
      path: "^/subscriptions",
      count: 2,
      action: { kind: "status", status: 503, retryAfterSeconds: 1 },
    });
    expect(added.status).toBe(200);
    expect(sandbox.store.faults).toHaveLength(1);
    expect(sandbox.store.faults[0]).toMatchObject({ remaining: 2, action: { kind: "status", status: 503 } });

    const bad = await control("POST", "/_sandbox/faults", [
      { action: { kind: "drop" } },
      { path: "([", action: { kind: "drop" } },
    ]);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("faults[1] path is not a valid regular expression");
    expect(sandbox.store.faults).toHaveLength(1);

    expect((await control("DELETE", "/_sandbox/faults")).status).toBe(200);
    expect(sandbox.store.faults).toEqual([]);
  });

  it("sets ingestion delay, pause and partial errors; resuming releases paused records", async () => {
    expect((await control("POST", "/_sandbox/ingestion", { paused: true, delaySeconds: 0 })).status).toBe(
      200,
    );
    const appended = await control("POST", "/_sandbox/audit", {
      vault: "kv-cmk-1",
      operationName: "KeyUnwrap",
      id: "https://kv-cmk-1.vault.azure.net/keys/adx-key/00000000000000000000000000000001",
      callerObjectId: "22222222-0000-0000-0000-000000000001",
    });
    expect(appended.status).toBe(200);
    expect(sandbox.store.audit.at(-1)?.visibleAt).toBe(Number.POSITIVE_INFINITY);
    await control("POST", "/_sandbox/ingestion", { paused: false, partialError: true });
    expect(sandbox.store.ingestion).toEqual({ delaySeconds: 0, paused: false, partialError: true });
    expect(sandbox.store.audit.at(-1)?.visibleAt).toBeLessThanOrEqual(Date.now());
    await control("POST", "/_sandbox/ingestion", { partialError: false });
  });

  it("sets a per-record latency range, and a fixed delay again", async () => {
    const range = await control("POST", "/_sandbox/ingestion", { latencySeconds: { min: 5, max: 1200 } });
    expect(range.status).toBe(200);
    expect(range.body).toMatchObject({ latencySeconds: { min: 5, max: 1200 } });
    expect(sandbox.store.ingestion.latencySeconds).toEqual({ min: 5, max: 1200 });
    await control("POST", "/_sandbox/ingestion", { delaySeconds: 0 });
    expect(sandbox.store.ingestion.latencySeconds).toBeUndefined();
  });

  it("stops and starts a Kusto cluster and deallocates a Cassandra cluster; the state and ARM show it", async () => {
    const data = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers";
    const adx = `${data}/Microsoft.Kusto/clusters/adx-latest`;
    const cassandra = `${data}/Microsoft.DocumentDB/cassandraClusters/cassandra-1`;
    const stopped = await control("POST", "/_sandbox/consumers/state", { id: adx, state: "Stopped" });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ state: "Stopped", consumers: [{ id: adx, state: "Stopped" }] });
    expect(sandbox.store.armResource(adx)?.body.properties).toMatchObject({ state: "Stopped" });
    const deallocated = await control("POST", "/_sandbox/consumers/state", {
      id: cassandra,
      state: "Deallocated",
    });
    expect(deallocated.status).toBe(200);
    const state = (await control("GET", "/_sandbox/state")).body as {
      consumers: { id: string; state: string; failures: unknown[]; behaviour: Record<string, unknown> }[];
    };
    const byName = (name: string) => state.consumers.filter((consumer) => consumer.id.includes(name));
    expect(byName("adx-latest").map((consumer) => consumer.state)).toEqual(["Stopped"]);
    expect(byName("cassandra-1").map((consumer) => consumer.state)).toEqual(["Deallocated", "Deallocated"]);
    expect(byName("adx-pinned")[0]).toMatchObject({
      state: "Running",
      failures: [],
      behaviour: { unwrapIntervalSeconds: 10, jitterSeconds: 0, unwrapVersion: null },
    });
    await control("POST", "/_sandbox/consumers/state", { id: adx, state: "Running" });
    await control("POST", "/_sandbox/consumers/state", { id: cassandra, state: "Running" });
    expect(sandbox.store.armResource(adx)?.body.properties).toMatchObject({ state: "Running" });
    expect(sandbox.store.armResource(cassandra)?.body.properties).toMatchObject({ deallocated: false });
  });

  it("makes a consumer call now (a rare caller reappears), and refuses a stopped one with 409", async () => {
    const data = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers";
    const adx = `${data}/Microsoft.Kusto/clusters/adx-pinned`;
    await control("POST", "/_sandbox/consumers/behaviour", { id: adx, unwrapIntervalSeconds: 86_400 });
    const before = Date.now();
    const now = await control("POST", "/_sandbox/consumers/unwrap", { id: adx });
    expect(now.status).toBe(202);
    const nextUnwrapAt = Date.parse(String((now.body as { nextUnwrapAt?: string }).nextUnwrapAt));
    expect(nextUnwrapAt).toBeLessThanOrEqual(Date.now());
    expect(nextUnwrapAt).toBeGreaterThanOrEqual(before - 1_000);
    expect((await control("POST", "/_sandbox/consumers/unwrap", { id: `${adx}-nope` })).status).toBe(404);
    expect((await control("POST", "/_sandbox/consumers/unwrap", { id: adx, now: true })).status).toBe(400);
    await control("POST", "/_sandbox/consumers/state", { id: adx, state: "Stopped" });
    const stopped = await control("POST", "/_sandbox/consumers/unwrap", { id: adx });
    expect(stopped.status).toBe(409);
    expect(JSON.stringify(stopped.body)).toContain("makes no calls");
    await control("POST", "/_sandbox/consumers/state", { id: adx, state: "Running" });
    await control("POST", "/_sandbox/consumers/behaviour", { id: adx, unwrapIntervalSeconds: 10 });
  });

  it.each([
    ["/_sandbox/ingestion", { delaySeconds: -1 }, "delaySeconds"],
    ["/_sandbox/ingestion", { delaySeconds: 1, latencySeconds: { min: 1, max: 2 } }, "not both"],
    ["/_sandbox/ingestion", { latencySeconds: { min: 9, max: 2 } }, "must be at least"],
    ["/_sandbox/ingestion", { latencySeconds: { min: 1 } }, "latencySeconds.max"],
    [
      "/_sandbox/consumers/state",
      {
        id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx-pinned",
        state: "Deallocated",
      },
      "Stopped or Running",
    ],
    [
      "/_sandbox/consumers/behaviour",
      {
        id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx-pinned",
        unwrapIntervalSeconds: 5,
        jitterSeconds: 6,
      },
      "at most",
    ],
    [
      "/_sandbox/consumers/behaviour",
      {
        id: "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx-pinned",
        unwrapVersion: "0123456789abcdef0123456789abcdef",
      },
      "is not a version of a key",
    ],
    ["/_sandbox/ingestion", { paused: "yes" }, "paused"],
    ["/_sandbox/ingestion", { surprise: 1 }, "unknown field(s) surprise"],
    ["/_sandbox/latency", { armWriteMs: "fast" }, "armWriteMs"],
    ["/_sandbox/audit", { vault: "nope", operationName: "KeyGet", id: "x", callerObjectId: "y" }, "nope"],
    ["/_sandbox/audit", { vault: "kv-cmk-1", operationName: "KeyGet", callerObjectId: "y" }, "records[0].id"],
  ])("refuses a bad body for %s", async (path, body, mentioned) => {
    const before = JSON.stringify({ ingestion: sandbox.store.ingestion, latency: sandbox.store.latency });
    const auditCount = sandbox.store.audit.length;
    const response = await control("POST", path, body);
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toContain(mentioned);
    expect(JSON.stringify({ ingestion: sandbox.store.ingestion, latency: sandbox.store.latency })).toBe(
      before,
    );
    expect(sandbox.store.audit.length).toBe(auditCount);
  });

  it("sets Resource Manager latency", async () => {
    const response = await control("POST", "/_sandbox/latency", { armWriteMs: 5, lroDurationMs: 100 });
    expect(response.body).toEqual({ armWriteMs: 5, lroDurationMs: 100 });
    expect(sandbox.store.latency).toEqual({ armWriteMs: 5, lroDurationMs: 100 });
  });

  it("answers unknown routes with 404 listing the routes, and wrong methods with 405", async () => {
    const unknown = await control("GET", "/_sandbox/nothing");
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.body)).toContain("GET /_sandbox/state");
    const wrongMethod = await control("DELETE", "/_sandbox/state");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe("GET");
  });
});
