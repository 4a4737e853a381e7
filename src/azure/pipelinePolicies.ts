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

export interface WriteBudget {
  /** Tokens the bucket holds when full (ARM: 200 writes). */
  size: number;
  /** Tokens added per second (ARM: 10 writes). */
  refillPerSecond: number;
}

/** Resource Manager's write budget per principal and subscription. */
export const ARM_WRITE_BUDGET: WriteBudget = { size: 200, refillPerSecond: 10 };

const WRITE_METHODS = new Set(["PUT", "PATCH", "POST", "DELETE"]);
const REMAINING_WRITES_HEADERS = [
  "x-ms-ratelimit-remaining-subscription-writes",
  "x-ms-ratelimit-remaining-subscription-global-writes",
];

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

/**
 * Paces Resource Manager writes of one principal. The bucket is a local estimate until the
 * first answer says what is left; from then on each answer sets it (less the writes still in
 * flight, which Resource Manager has charged or will), and it refills at the known rate.
 */
export class ArmWritePacer {
  private tokens: number | undefined;
  private updatedAt = 0;
  private inFlight = 0;
  private blockedUntil = 0;
  /** Writes that waited, and how long in all (for the bench and the logs). */
  readonly waits = { count: 0, totalMs: 0 };

  constructor(
    private readonly budget: WriteBudget = ARM_WRITE_BUDGET,
    private readonly clock: PacerClock = realClock,
    private readonly armHost = "management.azure.com",
  ) {}

  policy(): PipelinePolicy {
    return {
      name: "cmkRotatorArmWritePacer",
      sendRequest: async (request, next) => {
        if (!this.isArmWrite(request)) return next(request);
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

  private isArmWrite(request: PipelineRequest): boolean {
    if (!WRITE_METHODS.has(request.method.toUpperCase())) return false;
    try {
      const url = new URL(request.url);
      const host = url.hostname.toLowerCase();
      const isArm = host === this.armHost.toLowerCase() || host === "management.azure.com";
      // A Resource Graph query is a POST, but Resource Manager counts it as a read.
      return isArm && !/\/providers\/microsoft\.resourcegraph\//i.test(url.pathname);
    } catch {
      return false;
    }
  }

  /** Waits until the bucket (as last heard, plus its refill) has a token for this write, and takes it. */
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
    const remaining = REMAINING_WRITES_HEADERS.map((name) => Number(response.headers.get(name))).filter(
      (value) => Number.isFinite(value) && value >= 0,
    );
    if (remaining.length === 0) return;
    // Writes still in flight were sent after this one was charged: count them as taken.
    this.tokens = Math.max(0, Math.min(...remaining) - (this.inFlight - 1));
    this.updatedAt = now;
  }
}
