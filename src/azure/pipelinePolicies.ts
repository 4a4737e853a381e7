/**
 * The two policies every SDK client of the service carries (attached in clientFactory.ts,
 * per retry, so each HTTP attempt passes them):
 *
 *   azureRequestsPolicy   tells `onRequest` about every request: which API, method, status
 *                         (or "network-error") and how long it took, for the metrics
 *   armWritePacer         keeps Resource Manager writes within the write budget: a token bucket
 *                         of 200 refilled at 10/s per principal and subscription ("Understand how
 *                         Azure Resource Manager throttles requests"), re-synced from every
 *                         answer's x-ms-ratelimit-remaining-subscription-writes (and -global-
 *                         writes); when it is empty, writes wait for the refill instead of
 *                         drawing 429s, and after a 429 every write waits out its Retry-After
 *   armReadPacer          the same for reads (GET, HEAD): 250 refilled at 25/s, re-synced from
 *                         x-ms-ratelimit-remaining-subscription-reads (and -global-reads)
 *   resourceGraphPacer    Resource Graph's own quota (15 queries per user in 5 s): when an answer's
 *                         x-ms-user-quota-remaining is 0, the next query waits out
 *                         x-ms-user-quota-resets-after; after a 429, its Retry-After
 */
import type { PipelinePolicy, PipelineRequest, PipelineResponse } from "@azure/core-rest-pipeline";

/** A policy as SDK clients take it in `additionalPolicies` (core-client's AdditionalPolicyConfig). */
export interface AdditionalPolicyConfig {
  policy: PipelinePolicy;
  position: "perCall" | "perRetry";
}

/** The Azure APIs the service calls, as metrics name them. */
export type AzureApi =
  | "keyvault"
  | "managedhsm"
  | "resource-manager"
  | "resource-graph"
  | "log-analytics"
  | "event-grid"
  | "table-storage"
  | "other";

export interface AzureRequestInfo {
  api: AzureApi;
  method: string;
  /** The HTTP status, or "network-error" when no answer came. */
  status: string;
  durationMs: number;
}

/** Which API a request goes to, by host (and for Resource Manager, by provider). */
export function azureApiOf(url: string, armHost = "management.azure.com"): AzureApi {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "other";
  }
  const host = parsed.hostname.toLowerCase();
  if (host.endsWith(".vault.azure.net")) return "keyvault";
  if (host.endsWith(".managedhsm.azure.net")) return "managedhsm";
  if (host === armHost.toLowerCase() || host === "management.azure.com") {
    return /\/providers\/microsoft\.resourcegraph\//i.test(parsed.pathname)
      ? "resource-graph"
      : "resource-manager";
  }
  if (host === "api.loganalytics.io" || host.endsWith(".loganalytics.io")) return "log-analytics";
  if (host.endsWith(".eventgrid.azure.net")) return "event-grid";
  if (host.endsWith(".table.core.windows.net") || parsed.pathname.startsWith("/devstoreaccount1"))
    return "table-storage";
  return "other";
}

export function azureRequestsPolicy(
  onRequest: (info: AzureRequestInfo) => void,
  options: { armHost?: string; now?: () => number } = {},
): PipelinePolicy {
  const now = options.now ?? (() => performance.now());
  return {
    name: "cmkRotatorAzureRequests",
    async sendRequest(request, next) {
      const started = now();
      const api = azureApiOf(request.url, options.armHost);
      const report = (status: string) => {
        try {
          onRequest({ api, method: request.method, status, durationMs: now() - started });
        } catch {
          // Metrics never break a request.
        }
      };
      try {
        const response = await next(request);
        report(String(response.status));
        return response;
      } catch (error) {
        const status = (error as { statusCode?: unknown }).statusCode;
        report(typeof status === "number" ? String(status) : "network-error");
        throw error;
      }
    },
  };
}

export interface RequestBudget {
  /** Tokens the bucket holds when full (ARM: 200 writes, 250 reads). */
  size: number;
  /** Tokens added per second (ARM: 10 writes, 25 reads). */
  refillPerSecond: number;
}

/** The write budget's name where it was first used. */
export type WriteBudget = RequestBudget;

/** Resource Manager's write budget per principal and subscription. */
export const ARM_WRITE_BUDGET: RequestBudget = { size: 200, refillPerSecond: 10 };

/** Resource Manager's read budget per principal and subscription. */
export const ARM_READ_BUDGET: RequestBudget = { size: 250, refillPerSecond: 25 };

const WRITE_METHODS = new Set(["PUT", "PATCH", "POST", "DELETE"]);
const READ_METHODS = new Set(["GET", "HEAD"]);
const REMAINING_HEADERS = {
  writes: [
    "x-ms-ratelimit-remaining-subscription-writes",
    "x-ms-ratelimit-remaining-subscription-global-writes",
  ],
  reads: [
    "x-ms-ratelimit-remaining-subscription-reads",
    "x-ms-ratelimit-remaining-subscription-global-reads",
  ],
} as const;

export interface PacerClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: PacerClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

function retryAfterMs(response: PipelineResponse): number | undefined {
  const value = response.headers.get("retry-after");
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function isResourceGraph(url: URL): boolean {
  return /\/providers\/microsoft\.resourcegraph\//i.test(url.pathname);
}

function armUrl(request: PipelineRequest, armHost: string): URL | undefined {
  try {
    const url = new URL(request.url);
    const host = url.hostname.toLowerCase();
    return host === armHost.toLowerCase() || host === "management.azure.com" ? url : undefined;
  } catch {
    return undefined;
  }
}

/** Requests that waited, and how long in all (for the bench and the logs). */
export interface PacerWaits {
  count: number;
  totalMs: number;
}

/**
 * Paces one kind of Resource Manager request of one principal under its token bucket. The
 * bucket is a local estimate until the first answer says what is left; from then on each
 * answer sets it (less the requests still in flight, which Resource Manager has charged or
 * will), and it refills at the known rate. After a 429 every request of the kind waits out
 * its Retry-After.
 */
class ArmBudgetPacer {
  private tokens: number | undefined;
  private updatedAt = 0;
  private inFlight = 0;
  private blockedUntil = 0;
  readonly waits: PacerWaits = { count: 0, totalMs: 0 };

  constructor(
    private readonly operation: "reads" | "writes",
    private readonly budget: RequestBudget,
    private readonly clock: PacerClock,
    private readonly armHost: string,
  ) {}

  policy(): PipelinePolicy {
    return {
      name: this.operation === "writes" ? "cmkRotatorArmWritePacer" : "cmkRotatorArmReadPacer",
      sendRequest: async (request, next) => {
        if (!this.paces(request)) return next(request);
        await this.admit();
        this.inFlight++;
        try {
          const response = await next(request);
          this.observe(response);
          return response;
        } finally {
          this.inFlight--;
        }
      },
    };
  }

  private paces(request: PipelineRequest): boolean {
    const url = armUrl(request, this.armHost);
    // A Resource Graph query is a POST with a quota of its own (resourceGraphPacer).
    if (!url || isResourceGraph(url)) return false;
    const methods = this.operation === "writes" ? WRITE_METHODS : READ_METHODS;
    return methods.has(request.method.toUpperCase());
  }

  /** Waits until the bucket (as last heard, plus its refill) has a token for this request, and takes it. */
  private async admit(): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      let waitMs = Math.max(0, this.blockedUntil - now);
      if (waitMs === 0 && this.tokens !== undefined) {
        const elapsed = (now - this.updatedAt) / 1000;
        this.tokens = Math.min(this.budget.size, this.tokens + elapsed * this.budget.refillPerSecond);
        this.updatedAt = now;
        if (this.tokens >= 1) {
          this.tokens -= 1;
          return;
        }
        waitMs = ((1 - this.tokens) / this.budget.refillPerSecond) * 1000;
      }
      if (waitMs === 0) return;
      this.waits.count++;
      this.waits.totalMs += waitMs;
      await this.clock.sleep(waitMs);
    }
  }

  private observe(response: PipelineResponse): void {
    const now = this.clock.now();
    if (response.status === 429) {
      const wait = retryAfterMs(response) ?? 1000 / this.budget.refillPerSecond;
      this.blockedUntil = Math.max(this.blockedUntil, now + wait);
    }
    const remaining = REMAINING_HEADERS[this.operation]
      .map((name) => Number(response.headers.get(name)))
      .filter((value) => Number.isFinite(value) && value >= 0);
    if (remaining.length === 0) return;
    // Requests still in flight were sent after this one was charged: count them as taken.
    this.tokens = Math.max(0, Math.min(...remaining) - (this.inFlight - 1));
    this.updatedAt = now;
  }
}

/** Paces Resource Manager writes of one principal under the write budget. */
export class ArmWritePacer extends ArmBudgetPacer {
  constructor(
    budget: RequestBudget = ARM_WRITE_BUDGET,
    clock: PacerClock = realClock,
    armHost = "management.azure.com",
  ) {
    super("writes", budget, clock, armHost);
  }
}

/** Paces Resource Manager reads (GET, HEAD) of one principal under the read budget. */
export class ArmReadPacer extends ArmBudgetPacer {
  constructor(
    budget: RequestBudget = ARM_READ_BUDGET,
    clock: PacerClock = realClock,
    armHost = "management.azure.com",
  ) {
    super("reads", budget, clock, armHost);
  }
}

/** `hh:mm:ss` (or `d.hh:mm:ss`) as x-ms-user-quota-resets-after has it, in milliseconds. */
export function quotaResetMs(value: string | undefined): number | undefined {
  const match = value?.trim().match(/^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$/);
  if (!match) return undefined;
  const [, days = "0", hours = "0", minutes = "0", seconds = "0"] = match;
  return (((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds)) * 1000;
}

function quotaExhausted(response: PipelineResponse): boolean {
  const remaining = response.headers.get("x-ms-user-quota-remaining");
  return remaining !== undefined && remaining.trim() !== "" && Number(remaining) <= 0;
}

/**
 * Paces Resource Graph queries under the per-user quota ("Guidance for throttled requests in
 * Azure Resource Graph"): an answer with `x-ms-user-quota-remaining: 0` makes the next query
 * wait `x-ms-user-quota-resets-after`; a 429 makes it wait `Retry-After`.
 */
export class ResourceGraphPacer {
  private blockedUntil = 0;
  readonly waits: PacerWaits = { count: 0, totalMs: 0 };

  constructor(
    private readonly clock: PacerClock = realClock,
    private readonly armHost = "management.azure.com",
  ) {}

  policy(): PipelinePolicy {
    return {
      name: "cmkRotatorResourceGraphPacer",
      sendRequest: async (request, next) => {
        const url = armUrl(request, this.armHost);
        if (!url || !isResourceGraph(url)) return next(request);
        for (;;) {
          const waitMs = this.blockedUntil - this.clock.now();
          if (waitMs <= 0) break;
          this.waits.count++;
          this.waits.totalMs += waitMs;
          await this.clock.sleep(waitMs);
        }
        const response = await next(request);
        const now = this.clock.now();
        if (response.status === 429) {
          this.blockedUntil = Math.max(this.blockedUntil, now + (retryAfterMs(response) ?? 5000));
        } else if (quotaExhausted(response)) {
          const reset = quotaResetMs(response.headers.get("x-ms-user-quota-resets-after"));
          this.blockedUntil = Math.max(this.blockedUntil, now + (reset ?? 5000));
        }
        return response;
      },
    };
  }
}
