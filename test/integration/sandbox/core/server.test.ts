import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { startQuietSandbox } from "../quietSandbox.js";
import { rawRequest } from "./sandboxHttp.js";

let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startQuietSandbox();
});
afterAll(async () => {
  await sandbox?.close();
});

describe("sandbox server", () => {
  it("serves the real Azure host names over TLS trusted through the sandbox CA", async () => {
    const response = await rawRequest(sandbox, "GET", "https://management.azure.com/anything", {
      headers: { host: "unknown-service.azure.example" },
      servername: "management.azure.com",
    });
    expect(response.status).toBe(404);
    expect(response.body).toMatchObject({ error: { code: "NoSandboxService" } });
    expect(JSON.stringify(response.body)).toContain("unknown-service.azure.example");
  });

  it("answers status faults with Retry-After and the error shape, then stops after the count", async () => {
    sandbox.store.faults.push({
      id: "f1",
      method: "GET",
      host: "management.azure.com",
      path: "^/subscriptions",
      action: { kind: "status", status: 429, retryAfterSeconds: 3 },
      remaining: 1,
    });
    const faulted = await rawRequest(sandbox, "GET", "https://management.azure.com/subscriptions/x");
    expect(faulted.status).toBe(429);
    expect(faulted.headers["retry-after"]).toBe("3");
    expect(faulted.body).toMatchObject({ error: { code: "TooManyRequests" } });
    expect(sandbox.store.faults).toHaveLength(0);
    const next = await rawRequest(sandbox, "GET", "https://management.azure.com/subscriptions/x");
    expect(next.status).not.toBe(429);
  });

  it("drops the connection for a drop fault", async () => {
    sandbox.store.faults.push({
      id: "f2",
      method: "*",
      host: "*",
      path: "^/drop-me$",
      action: { kind: "drop" },
      remaining: 1,
    });
    await expect(rawRequest(sandbox, "GET", "https://management.azure.com/drop-me")).rejects.toThrow(
      /socket hang up|ECONNRESET/,
    );
  });

  it("records exchanges when recording is on", async () => {
    sandbox.store.recording = [];
    await rawRequest(sandbox, "POST", "https://api.loganalytics.io/v1/nothing?x=1", { body: { a: 1 } });
    expect(sandbox.store.recording).toHaveLength(1);
    expect(sandbox.store.recording[0]).toMatchObject({
      method: "POST",
      path: "/v1/nothing",
      query: { x: "1" },
      requestBody: { a: 1 },
    });
    sandbox.store.recording = undefined;
  });
});
