import { describe, expect, it } from "vitest";
import {
  admitArmRequest,
  defaultArmThrottling,
  parseThrottlingChange,
  QueryWindow,
  quotaDuration,
  ThrottlingSettingsError,
  TokenBucket,
} from "../../../../sandbox/arm/throttling.js";
import { SandboxStore } from "../../../../sandbox/store.js";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx-1`;
const GRAPH = "/providers/Microsoft.ResourceGraph/resources";
const ROTATOR = "11111111-1111-1111-1111-111111111111";
const OTHER = "22222222-2222-2222-2222-222222222222";

function storeWith(change: unknown = undefined): SandboxStore {
  const store = new SandboxStore();
  if (change !== undefined) store.throttling = parseThrottlingChange(change, defaultArmThrottling());
  return store;
}

function admitted(result: ReturnType<typeof admitArmRequest>): Record<string, string> {
  if (!result.admitted) throw new Error(`throttled: ${JSON.stringify(result.response.body)}`);
  return result.headers;
}

describe("TokenBucket", () => {
  it("starts full, refills at its rate up to its size, and says when the next token is back", () => {
    const bucket = new TokenBucket({ size: 250, refillPerSecond: 25 }, 0);
    for (let i = 0; i < 250; i++) bucket.take(0);
    expect(bucket.hasToken(0)).toBe(false);
    expect(bucket.retryAfterSeconds(0)).toBe(1);
    expect(bucket.remaining(1_000)).toBe(25);
    expect(bucket.remaining(60_000)).toBe(250);
    const slow = new TokenBucket({ size: 1, refillPerSecond: 0.1 }, 0);
    slow.take(0);
    expect(slow.retryAfterSeconds(0)).toBe(10);
    expect(slow.retryAfterSeconds(5_000)).toBe(5);
  });
});

describe("QueryWindow", () => {
  it("allows its queries in a window that opens with the first one", () => {
    const window = new QueryWindow({ queries: 15, windowSeconds: 5 });
    expect(window.remaining(0)).toBe(15);
    for (let i = 0; i < 15; i++) expect(window.take(1_000 + i)).toBe(true);
    expect(window.take(3_000)).toBe(false);
    expect(window.resetsAfterMs(3_000)).toBe(3_000);
    expect(window.take(6_000)).toBe(true);
    expect(window.remaining(6_000)).toBe(14);
    expect(quotaDuration(3_000)).toBe("00:00:03");
    expect(quotaDuration(4_001)).toBe("00:00:05");
  });
});

describe("admitArmRequest", () => {
  it("answers a first read with 249 left for the principal and 3749 for the subscription", () => {
    const store = storeWith();
    const headers = admitted(
      admitArmRequest(store, { method: "GET", path: CLUSTER }, ROTATOR, { resourceGraph: false, now: 0 }),
    );
    expect(headers).toEqual({
      "x-ms-ratelimit-remaining-subscription-reads": "249",
      "x-ms-ratelimit-remaining-subscription-global-reads": "3749",
    });
    const write = admitted(
      admitArmRequest(store, { method: "PATCH", path: CLUSTER }, ROTATOR, { resourceGraph: false, now: 0 }),
    );
    expect(write).toEqual({
      "x-ms-ratelimit-remaining-subscription-writes": "199",
      "x-ms-ratelimit-remaining-subscription-global-writes": "2999",
    });
  });

  it("throttles the 251st read of a burst with Retry-After and ARM's body, charging nothing, and admits again once refilled", () => {
    const store = storeWith();
    const read = (now: number, principal = ROTATOR) =>
      admitArmRequest(store, { method: "GET", path: CLUSTER }, principal, { resourceGraph: false, now });
    for (let i = 0; i < 250; i++) admitted(read(0));
    const throttled = read(0);
    expect(throttled.admitted).toBe(false);
    if (throttled.admitted) return;
    expect(throttled.response.status).toBe(429);
    expect(throttled.response.headers).toMatchObject({
      "retry-after": "1",
      "x-ms-ratelimit-remaining-subscription-reads": "0",
      "x-ms-ratelimit-remaining-subscription-global-reads": "3500",
    });
    expect(throttled.response.body).toEqual({
      error: {
        code: "SubscriptionRequestsThrottled",
        message: `Number of 'read' requests for subscription '${SUBSCRIPTION}' actor '${ROTATOR}' exceeded. Please try again after '1' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`,
      },
    });
    // Another principal has a bucket of its own; writes have their own bucket too.
    expect(admitted(read(0, OTHER))["x-ms-ratelimit-remaining-subscription-reads"]).toBe("249");
    admitted(
      admitArmRequest(store, { method: "PATCH", path: CLUSTER }, ROTATOR, { resourceGraph: false, now: 0 }),
    );
    // A second later 25 tokens are back.
    expect(admitted(read(1_000))["x-ms-ratelimit-remaining-subscription-reads"]).toBe("24");
  });

  it("throttles every principal together once the subscription's global bucket is empty", () => {
    const store = storeWith({ reads: { size: 2 }, globalMultiplier: 2 });
    const read = (principal: string) =>
      admitArmRequest(store, { method: "GET", path: CLUSTER }, principal, { resourceGraph: false, now: 0 });
    admitted(read(ROTATOR));
    admitted(read(ROTATOR));
    admitted(read(OTHER));
    admitted(read(OTHER));
    const third = read("33333333-3333-3333-3333-333333333333");
    expect(third.admitted).toBe(false);
    if (third.admitted) return;
    expect(third.response.body).toMatchObject({ error: { code: "SubscriptionRequestsThrottled" } });
  });

  it("counts a Resource Graph query as a tenant read and against the user's 15 queries per 5 seconds", () => {
    const store = storeWith();
    const query = (now: number) =>
      admitArmRequest(store, { method: "POST", path: GRAPH }, ROTATOR, { resourceGraph: true, now });
    expect(admitted(query(0))).toEqual({
      "x-ms-ratelimit-remaining-tenant-reads": "249",
      "x-ms-user-quota-remaining": "14",
      "x-ms-user-quota-resets-after": "00:00:05",
    });
    for (let i = 1; i < 15; i++) admitted(query(100));
    const throttled = query(2_000);
    expect(throttled.admitted).toBe(false);
    if (throttled.admitted) return;
    expect(throttled.response.status).toBe(429);
    expect(throttled.response.headers).toMatchObject({
      "retry-after": "3",
      "x-ms-user-quota-remaining": "0",
      "x-ms-user-quota-resets-after": "00:00:03",
    });
    expect(throttled.response.body).toMatchObject({
      error: { code: "RateLimiting", details: [{ code: "RateLimiting" }] },
    });
    expect(admitted(query(5_000))["x-ms-user-quota-remaining"]).toBe("14");
  });

  it("charges nothing and adds no headers when throttling is off", () => {
    const store = storeWith({ enabled: false });
    expect(
      admitted(
        admitArmRequest(store, { method: "GET", path: CLUSTER }, ROTATOR, { resourceGraph: false, now: 0 }),
      ),
    ).toEqual({});
  });

  it("starts with full buckets of the new size when the settings change", () => {
    const store = storeWith({ reads: { size: 1, refillPerSecond: 0.001 } });
    const read = () =>
      admitArmRequest(store, { method: "GET", path: CLUSTER }, ROTATOR, { resourceGraph: false, now: 0 });
    admitted(read());
    expect(read().admitted).toBe(false);
    store.throttling = parseThrottlingChange({ reads: { size: 5 } }, store.throttling);
    expect(admitted(read())["x-ms-ratelimit-remaining-subscription-reads"]).toBe("4");
  });
});

describe("parseThrottlingChange", () => {
  it("keeps what a change leaves out and refuses bad values, naming the field", () => {
    const changed = parseThrottlingChange(
      { reads: { size: 10 }, resourceGraph: { queries: 100 } },
      defaultArmThrottling(),
    );
    expect(changed.reads).toEqual({ size: 10, refillPerSecond: 25 });
    expect(changed.writes).toEqual({ size: 200, refillPerSecond: 10 });
    expect(changed.resourceGraph).toEqual({ queries: 100, windowSeconds: 5 });
    for (const [bad, field] of [
      [{ reads: { size: 0 } }, "throttling.reads.size"],
      [{ reads: { refillPerSecond: 0 } }, "throttling.reads.refillPerSecond"],
      [{ writes: { size: 1.5 } }, "throttling.writes.size"],
      [{ enabled: "yes" }, "throttling.enabled"],
      [{ reads: { burst: 3 } }, "throttling.reads has unknown field"],
      [{ resourceGraph: { windowSeconds: -1 } }, "throttling.resourceGraph.windowSeconds"],
      [{}, "at least one"],
      [[], "throttling must be an object"],
    ] as const) {
      expect(() => parseThrottlingChange(bad, defaultArmThrottling())).toThrow(ThrottlingSettingsError);
      expect(() => parseThrottlingChange(bad, defaultArmThrottling())).toThrow(field);
    }
  });
});
