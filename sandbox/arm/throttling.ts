/**
 * Resource Manager's request budgets, as Azure documents and answers them, on by default:
 *
 * - **Token buckets** ("Understand how Azure Resource Manager throttles requests", the
 *   token-bucket limits Azure moved to in 2024): per principal and subscription, and per
 *   principal and tenant for requests without a subscription in the path, one bucket per
 *   operation type. Reads (GET, HEAD) 250 tokens refilled at 25 a second; writes (PUT,
 *   PATCH, POST) and deletes 200 at 10 a second. On top, a *global* subscription bucket for
 *   all principals together, 15 times the size and rate of a principal's. Every request
 *   that got past authentication takes one token from each of its buckets, whatever it
 *   answers; the answer says what is left in `x-ms-ratelimit-remaining-subscription-reads`
 *   and `x-ms-ratelimit-remaining-subscription-global-reads` (`-writes`, `-deletes`;
 *   `x-ms-ratelimit-remaining-tenant-reads` for tenant requests), e.g. 249 and 3749 after a
 *   first read. An empty bucket answers 429 `SubscriptionRequestsThrottled` (or
 *   `TenantRequestsThrottled`) with `Retry-After` in whole seconds until a token is back,
 *   and takes nothing.
 * - **Resource Graph's own quota** ("Guidance for throttled requests in Azure Resource
 *   Graph"): at most 15 queries per user in a 5-second window, every page one query, told in
 *   `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss); past it a 429
 *   `RateLimiting` with `Retry-After`. A Resource Graph query (a POST) counts as a tenant
 *   *read* with ARM: a recorded Resource Graph 429 carries
 *   `x-ms-ratelimit-remaining-tenant-reads`.
 *
 * The budgets run on real (monotonic) time, not the sandbox clock: they pace requests, and
 * the SDK waits `Retry-After` in real time. Sizes and rates are settable through
 * `POST /_sandbox/throttling` and the estate's `throttling` field (for tests that need them
 * off or tighter); `GET /_sandbox/state` shows them with what is left in each bucket.
 */
import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import type { SandboxRequest, SandboxResponse } from "../http.js";
import { json } from "../http.js";
import type { ArmThrottlingSettings, TokenBucketLimit } from "../model.js";
import type { SandboxStore } from "../store.js";

export type { ArmThrottlingSettings, TokenBucketLimit } from "../model.js";

export type ArmOperationType = "reads" | "writes" | "deletes";

/** Azure's documented defaults. */
export function defaultArmThrottling(): ArmThrottlingSettings {
  return {
    enabled: true,
    reads: { size: 250, refillPerSecond: 25 },
    writes: { size: 200, refillPerSecond: 10 },
    deletes: { size: 200, refillPerSecond: 10 },
    globalMultiplier: 15,
    resourceGraph: { queries: 15, windowSeconds: 5 },
  };
}

/** A token bucket on a clock of milliseconds; starts full. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly limit: TokenBucketLimit,
    now: number,
  ) {
    this.tokens = limit.size;
    this.updatedAt = now;
  }

  /** Whole tokens left at `now`. */
  remaining(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Whether a token is there at `now` (nothing is taken). */
  hasToken(now: number): boolean {
    this.refill(now);
    return this.tokens >= 1;
  }

  take(now: number): void {
    this.refill(now);
    this.tokens -= 1;
  }

  /** Whole seconds (at least 1) until a token is back. */
  retryAfterSeconds(now: number): number {
    this.refill(now);
    const missing = Math.max(0, 1 - this.tokens);
    return Math.max(1, Math.ceil(missing / this.limit.refillPerSecond));
  }

  private refill(now: number): void {
    const elapsed = Math.max(0, now - this.updatedAt) / 1000;
    this.tokens = Math.min(this.limit.size, this.tokens + elapsed * this.limit.refillPerSecond);
    this.updatedAt = now;
  }
}

/** Resource Graph's per-user quota: `queries` in a window that opens with the first query. */
export class QueryWindow {
  private openedAt: number | undefined;
  private used = 0;

  constructor(readonly limit: ArmThrottlingSettings["resourceGraph"]) {}

  private roll(now: number): void {
    if (this.openedAt !== undefined && now - this.openedAt >= this.limit.windowSeconds * 1000) {
      this.openedAt = undefined;
      this.used = 0;
    }
  }

  /** Takes one query from the quota; false when none is left. */
  take(now: number): boolean {
    this.roll(now);
    if (this.used >= this.limit.queries) return false;
    this.openedAt ??= now;
    this.used += 1;
    return true;
  }

  remaining(now: number): number {
    this.roll(now);
    return this.limit.queries - this.used;
  }

  /** Milliseconds until the quota is whole again (a full window when none is open). */
  resetsAfterMs(now: number): number {
    this.roll(now);
    return this.openedAt === undefined
      ? this.limit.windowSeconds * 1000
      : this.openedAt + this.limit.windowSeconds * 1000 - now;
  }
}

/** `hh:mm:ss`, rounded up to the second, as `x-ms-user-quota-resets-after` has it. */
export function quotaDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

/** The budget state of one sandbox; rebuilt (buckets full) whenever its settings change. */
interface ThrottlingState {
  settings: ArmThrottlingSettings;
  buckets: Map<string, TokenBucket>;
  queryWindows: Map<string, QueryWindow>;
}

const states = new WeakMap<SandboxStore, ThrottlingState>();
/** The budgets' clock: real, monotonic milliseconds. */
const realTime = () => performance.now();

function stateOf(store: SandboxStore): ThrottlingState {
  let state = states.get(store);
  if (!state || state.settings !== store.throttling) {
    state = { settings: store.throttling, buckets: new Map(), queryWindows: new Map() };
    states.set(store, state);
  }
  return state;
}

export function operationTypeOf(method: string, resourceGraph: boolean): ArmOperationType {
  if (resourceGraph) return "reads";
  if (method === "GET" || method === "HEAD") return "reads";
  if (method === "DELETE") return "deletes";
  return "writes";
}

/** The subscription a Resource Manager path is scoped to, if any. */
export function subscriptionOfPath(path: string): string | undefined {
  const match = /^\/subscriptions\/([^/]+)/i.exec(path);
  return match?.[1]?.toLowerCase();
}

const singular: Record<ArmOperationType, string> = { reads: "read", writes: "write", deletes: "delete" };

interface BucketUse {
  key: string;
  limit: TokenBucketLimit;
  /** The remaining-header this bucket answers in. */
  header: string;
  throttledCode: string;
  throttledMessage: (retryAfter: number) => string;
}

function bucketsFor(
  store: SandboxStore,
  settings: ArmThrottlingSettings,
  principal: string,
  operation: ArmOperationType,
  subscription: string | undefined,
): BucketUse[] {
  const limit = settings[operation];
  const verb = singular[operation];
  const advice = (retryAfter: number) =>
    `Please try again after '${retryAfter}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.`;
  if (subscription === undefined) {
    return [
      {
        key: `tenant|${principal}|${operation}`,
        limit,
        header: `x-ms-ratelimit-remaining-tenant-${operation}`,
        throttledCode: "TenantRequestsThrottled",
        throttledMessage: (retryAfter) =>
          `Number of '${verb}' requests for tenant '${store.tenantId}' actor '${principal}' exceeded. ${advice(retryAfter)}`,
      },
    ];
  }
  return [
    {
      key: `subscription|${subscription}|${principal}|${operation}`,
      limit,
      header: `x-ms-ratelimit-remaining-subscription-${operation}`,
      throttledCode: "SubscriptionRequestsThrottled",
      throttledMessage: (retryAfter) =>
        `Number of '${verb}' requests for subscription '${subscription}' actor '${principal}' exceeded. ${advice(retryAfter)}`,
    },
    {
      key: `subscription-global|${subscription}|${operation}`,
      limit: {
        size: limit.size * settings.globalMultiplier,
        refillPerSecond: limit.refillPerSecond * settings.globalMultiplier,
      },
      header: `x-ms-ratelimit-remaining-subscription-global-${operation}`,
      throttledCode: "SubscriptionRequestsThrottled",
      throttledMessage: (retryAfter) =>
        `Number of '${verb}' requests for subscription '${subscription}' exceeded. ${advice(retryAfter)}`,
    },
  ];
}

function bucketOf(state: ThrottlingState, use: BucketUse, now: number): TokenBucket {
  let bucket = state.buckets.get(use.key);
  if (!bucket) {
    bucket = new TokenBucket(use.limit, now);
    state.buckets.set(use.key, bucket);
  }
  return bucket;
}

export type ArmAdmission =
  | { admitted: true; headers: Record<string, string> }
  | { admitted: false; response: SandboxResponse };

/**
 * Charge one authenticated Resource Manager request to its budgets. Admitted: the rate-limit
 * headers its answer carries. Not admitted: the 429 to answer instead (nothing is charged).
 */
export function admitArmRequest(
  store: SandboxStore,
  request: Pick<SandboxRequest, "method" | "path">,
  principal: string,
  options: { resourceGraph: boolean; now?: number },
): ArmAdmission {
  const settings = store.throttling;
  if (!settings.enabled) return { admitted: true, headers: {} };
  const now = options.now ?? realTime();
  const state = stateOf(store);
  const operation = operationTypeOf(request.method, options.resourceGraph);
  const uses = bucketsFor(
    store,
    settings,
    principal.toLowerCase(),
    operation,
    subscriptionOfPath(request.path),
  );
  const buckets = uses.map((use) => ({ use, bucket: bucketOf(state, use, now) }));
  const empty = buckets.find(({ bucket }) => !bucket.hasToken(now));
  if (empty) {
    const retryAfter = empty.bucket.retryAfterSeconds(now);
    const headers: Record<string, string> = { "retry-after": String(retryAfter) };
    for (const { use, bucket } of buckets) headers[use.header] = String(bucket.remaining(now));
    return {
      admitted: false,
      response: json(
        429,
        { error: { code: empty.use.throttledCode, message: empty.use.throttledMessage(retryAfter) } },
        headers,
      ),
    };
  }
  const headers: Record<string, string> = {};
  for (const { use, bucket } of buckets) {
    bucket.take(now);
    headers[use.header] = String(bucket.remaining(now));
  }
  if (!options.resourceGraph) return { admitted: true, headers };

  let window = state.queryWindows.get(principal.toLowerCase());
  if (!window) {
    window = new QueryWindow(settings.resourceGraph);
    state.queryWindows.set(principal.toLowerCase(), window);
  }
  const took = window.take(now);
  headers["x-ms-user-quota-remaining"] = String(window.remaining(now));
  headers["x-ms-user-quota-resets-after"] = quotaDuration(window.resetsAfterMs(now));
  if (took) return { admitted: true, headers };
  headers["retry-after"] = String(Math.max(1, Math.ceil(window.resetsAfterMs(now) / 1000)));
  return {
    admitted: false,
    response: json(
      429,
      {
        error: {
          code: "RateLimiting",
          message: `Please provide below info when asking for support: timestamp = ${new Date(store.now()).toISOString()}, correlationId = ${randomUUID()}.`,
          details: [
            {
              code: "RateLimiting",
              message:
                "Client application has been throttled and should not attempt to repeat the request until an amount of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.",
            },
          ],
        },
      },
      headers,
    ),
  };
}

// --- settings: the control API and the estate --------------------------------------------

/** A bad throttling setting; the message names the field. */
export class ThrottlingSettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ThrottlingSettingsError";
  }
}

type Fields = Record<string, unknown>;

function objectAt(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new ThrottlingSettingsError(`${path} must be an object.`);
  return value as Fields;
}

function rejectUnknown(fields: Fields, allowed: readonly string[], path: string): void {
  const unknown = Object.keys(fields).filter((name) => !allowed.includes(name));
  if (unknown.length > 0)
    throw new ThrottlingSettingsError(
      `${path} has unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}.`,
    );
}

function numberAt(
  fields: Fields,
  name: string,
  path: string,
  range: { min: number; max: number; integer?: boolean; exclusiveMin?: boolean },
): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  const tooSmall = typeof value === "number" && (range.exclusiveMin ? value <= range.min : value < range.min);
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    tooSmall ||
    value > range.max ||
    (range.integer && !Number.isInteger(value))
  ) {
    const kind = range.integer ? "an integer" : "a number";
    const lower = range.exclusiveMin ? `above ${range.min}` : `from ${range.min}`;
    throw new ThrottlingSettingsError(
      `${path}.${name} must be ${kind} ${lower} to ${range.max}, not ${JSON.stringify(value)}.`,
    );
  }
  return value;
}

function bucketAt(value: unknown, path: string, current: TokenBucketLimit): TokenBucketLimit {
  const fields = objectAt(value, path);
  rejectUnknown(fields, ["size", "refillPerSecond"], path);
  return {
    size: numberAt(fields, "size", path, { min: 1, max: 1_000_000, integer: true }) ?? current.size,
    refillPerSecond:
      numberAt(fields, "refillPerSecond", path, { min: 0, max: 1_000_000, exclusiveMin: true }) ??
      current.refillPerSecond,
  };
}

/**
 * Apply a partial change (`{"enabled"?, "reads"?: {"size"?, "refillPerSecond"?}, "writes"?,
 * "deletes"?, "globalMultiplier"?, "resourceGraph"?: {"queries"?, "windowSeconds"?}}`) to
 * `current`; throws ThrottlingSettingsError naming the first bad field, and changes nothing then.
 */
export function parseThrottlingChange(
  value: unknown,
  current: ArmThrottlingSettings,
  path = "throttling",
): ArmThrottlingSettings {
  const fields = objectAt(value, path);
  const allowed = ["enabled", "reads", "writes", "deletes", "globalMultiplier", "resourceGraph"];
  rejectUnknown(fields, allowed, path);
  if (Object.keys(fields).length === 0)
    throw new ThrottlingSettingsError(`${path} must give at least one of ${allowed.join(", ")}.`);
  if (fields.enabled !== undefined && typeof fields.enabled !== "boolean")
    throw new ThrottlingSettingsError(`${path}.enabled must be true or false.`);
  let resourceGraph = current.resourceGraph;
  if (fields.resourceGraph !== undefined) {
    const graphPath = `${path}.resourceGraph`;
    const graph = objectAt(fields.resourceGraph, graphPath);
    rejectUnknown(graph, ["queries", "windowSeconds"], graphPath);
    resourceGraph = {
      queries:
        numberAt(graph, "queries", graphPath, { min: 1, max: 1_000_000, integer: true }) ??
        resourceGraph.queries,
      windowSeconds:
        numberAt(graph, "windowSeconds", graphPath, { min: 0, max: 3600, exclusiveMin: true }) ??
        resourceGraph.windowSeconds,
    };
  }
  return {
    enabled: typeof fields.enabled === "boolean" ? fields.enabled : current.enabled,
    reads:
      fields.reads === undefined ? current.reads : bucketAt(fields.reads, `${path}.reads`, current.reads),
    writes:
      fields.writes === undefined
        ? current.writes
        : bucketAt(fields.writes, `${path}.writes`, current.writes),
    deletes:
      fields.deletes === undefined
        ? current.deletes
        : bucketAt(fields.deletes, `${path}.deletes`, current.deletes),
    globalMultiplier:
      numberAt(fields, "globalMultiplier", path, { min: 1, max: 1000, integer: true }) ??
      current.globalMultiplier,
    resourceGraph,
  };
}

/** The settings and what is left in every bucket that has been used (GET /_sandbox/state). */
export function throttlingView(store: SandboxStore): unknown {
  const state = stateOf(store);
  const now = realTime();
  return {
    ...store.throttling,
    buckets: [...state.buckets].map(([key, bucket]) => ({
      bucket: key,
      size: bucket.limit.size,
      remaining: bucket.remaining(now),
    })),
    resourceGraphUsers: [...state.queryWindows].map(([principal, window]) => ({
      principal,
      remaining: window.remaining(now),
      resetsAfter: quotaDuration(window.resetsAfterMs(now)),
    })),
  };
}
