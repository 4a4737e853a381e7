import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
} from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import {
  ArmReadPacer,
  ArmWritePacer,
  type AzureRequestInfo,
  azureApiOf,
  azureRequestsPolicy,
  quotaResetMs,
  ResourceGraphPacer,
} from "../../../src/azure/pipelinePolicies.js";

const KUSTO =
  "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx?api-version=2023-08-15";

class FakeClock {
  time = 0;
  slept: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.time += ms;
  }
}

function answer(
  request: PipelineRequest,
  status: number,
  headers: Record<string, string> = {},
): PipelineResponse {
  return { request, status, headers: createHttpHeaders(headers) };
}

function send(
  pacer: { policy(): ReturnType<ArmWritePacer["policy"]> },
  method: string,
  url: string,
  headers: Record<string, string> = {},
  status = 202,
) {
  const request = createPipelineRequest({ url, method: method as "PATCH" });
  return pacer.policy().sendRequest(request, async (sent) => answer(sent, status, headers));
}

describe("azureApiOf", () => {
  it.each([
    ["https://kv-cmk-1.vault.azure.net/keys/k?api-version=2025-07-01", "keyvault"],
    ["https://hsm-1.managedhsm.azure.net/keys/k", "managedhsm"],
    [KUSTO, "resource-manager"],
    [
      "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01",
      "resource-graph",
    ],
    ["https://api.loganalytics.io/v1/workspaces/w/query", "log-analytics"],
    ["https://rotator-events.westeurope-1.eventgrid.azure.net/api/events", "event-grid"],
    ["https://stcmk.table.core.windows.net/rotatorjournal", "table-storage"],
    ["https://example.com/", "other"],
  ])("%s is %s", (url, api) => {
    expect(azureApiOf(url)).toBe(api);
  });
});

describe("azureRequestsPolicy", () => {
  it("reports every request with its API, method, status and duration, and network errors as such", async () => {
    const seen: AzureRequestInfo[] = [];
    let time = 0;
    const policy = azureRequestsPolicy((info) => seen.push(info), { now: () => time });
    const request = createPipelineRequest({ url: KUSTO, method: "GET" });
    await policy.sendRequest(request, async (sent) => {
      time += 12;
      return answer(sent, 429);
    });
    await expect(
      policy.sendRequest(request, async () => {
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      }),
    ).rejects.toThrow("socket hang up");
    expect(seen).toEqual([
      { api: "resource-manager", method: "GET", status: "429", durationMs: 12 },
      { api: "resource-manager", method: "GET", status: "network-error", durationMs: 0 },
    ]);
  });
});

describe("ArmWritePacer", () => {
  it("lets writes through at once while the bucket, as Resource Manager last reported it, has tokens", async () => {
    const clock = new FakeClock();
    const pacer = new ArmWritePacer({ size: 200, refillPerSecond: 10 }, clock);
    await send(pacer, "PATCH", KUSTO, { "x-ms-ratelimit-remaining-subscription-writes": "199" });
    for (let i = 0; i < 20; i++) await send(pacer, "PATCH", KUSTO);
    expect(clock.slept).toEqual([]);
  });

  it("waits for the refill when Resource Manager says no write is left, instead of drawing a 429", async () => {
    const clock = new FakeClock();
    const pacer = new ArmWritePacer({ size: 200, refillPerSecond: 10 }, clock);
    await send(pacer, "PATCH", KUSTO, {
      "x-ms-ratelimit-remaining-subscription-writes": "5",
      "x-ms-ratelimit-remaining-subscription-global-writes": "0",
    });
    await send(pacer, "PATCH", KUSTO);
    await send(pacer, "PUT", KUSTO);
    expect(clock.slept).toEqual([100, 100]);
    expect(pacer.waits.count).toBe(2);
  });

  it("holds every write until a 429's Retry-After has passed", async () => {
    const clock = new FakeClock();
    const pacer = new ArmWritePacer({ size: 200, refillPerSecond: 10 }, clock);
    await send(pacer, "PATCH", KUSTO, { "retry-after": "3" }, 429);
    await send(pacer, "PATCH", KUSTO);
    expect(clock.slept).toEqual([3000]);
  });

  it("never paces reads, Resource Graph queries or other hosts", async () => {
    const clock = new FakeClock();
    const pacer = new ArmWritePacer({ size: 200, refillPerSecond: 10 }, clock);
    await send(pacer, "PATCH", KUSTO, { "x-ms-ratelimit-remaining-subscription-writes": "0" });
    await send(pacer, "GET", KUSTO);
    await send(
      pacer,
      "POST",
      "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01",
    );
    await send(pacer, "POST", "https://kv-cmk-1.vault.azure.net/keys/k/rotate");
    expect(clock.slept).toEqual([]);
  });
});

const GRAPH =
  "https://management.azure.com/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01";

describe("ArmReadPacer", () => {
  it("waits for the refill when Resource Manager says no read is left, and paces only reads", async () => {
    const clock = new FakeClock();
    const pacer = new ArmReadPacer({ size: 250, refillPerSecond: 25 }, clock);
    await send(pacer, "GET", KUSTO, { "x-ms-ratelimit-remaining-subscription-reads": "0" }, 200);
    await send(pacer, "PATCH", KUSTO);
    await send(pacer, "POST", GRAPH);
    expect(clock.slept).toEqual([]);
    await send(pacer, "GET", KUSTO, {}, 200);
    expect(clock.slept).toEqual([40]);
  });

  it("takes the lower of the subscription's and the global bucket, and waits out a 429's Retry-After", async () => {
    const clock = new FakeClock();
    const pacer = new ArmReadPacer({ size: 250, refillPerSecond: 25 }, clock);
    await send(
      pacer,
      "GET",
      KUSTO,
      {
        "x-ms-ratelimit-remaining-subscription-reads": "100",
        "x-ms-ratelimit-remaining-subscription-global-reads": "0",
      },
      200,
    );
    await send(pacer, "GET", KUSTO, { "retry-after": "2" }, 429);
    await send(pacer, "GET", KUSTO, {}, 200);
    expect(clock.slept).toEqual([40, 2000]);
  });
});

describe("ResourceGraphPacer", () => {
  it("reads x-ms-user-quota-resets-after as hh:mm:ss", () => {
    expect(quotaResetMs("00:00:03")).toBe(3000);
    expect(quotaResetMs("1.00:00:01")).toBe(86_401_000);
    expect(quotaResetMs("soon")).toBeUndefined();
  });

  it("a query after one that left no quota waits until the quota resets; a 429 its Retry-After", async () => {
    const clock = new FakeClock();
    const pacer = new ResourceGraphPacer(clock);
    await send(
      pacer,
      "POST",
      GRAPH,
      { "x-ms-user-quota-remaining": "3", "x-ms-user-quota-resets-after": "00:00:04" },
      200,
    );
    await send(
      pacer,
      "POST",
      GRAPH,
      { "x-ms-user-quota-remaining": "0", "x-ms-user-quota-resets-after": "00:00:04" },
      200,
    );
    expect(clock.slept).toEqual([]);
    await send(pacer, "POST", GRAPH, { "retry-after": "2" }, 429);
    expect(clock.slept).toEqual([4000]);
    await send(pacer, "POST", GRAPH, {}, 200);
    expect(clock.slept).toEqual([4000, 2000]);
    // Resource Manager reads and writes are not its business.
    await send(pacer, "GET", KUSTO, { "x-ms-user-quota-remaining": "0" }, 200);
    await send(pacer, "GET", KUSTO, {}, 200);
    expect(clock.slept).toEqual([4000, 2000]);
  });
});
