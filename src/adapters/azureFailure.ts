/**
 * What an Azure SDK call failure says, in one shape: HTTP status, the service's error code
 * and message, and how long the service asked us to wait. Both SDK generations (core-client
 * `RestError` and the modular clients' `createRestError`) put these in the same places.
 */
import type { StepOutcome } from "../model.js";

export interface AzureFailure {
  status?: number;
  code?: string;
  message: string;
  retryAfterMs?: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

function stringField(record: Record<string, unknown>, name: string): string | undefined {
  const value = record[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

interface HeaderReader {
  get(name: string): string | undefined;
}

function headersOf(error: Record<string, unknown>): HeaderReader | undefined {
  const response = error.response;
  if (!isRecord(response)) return undefined;
  const headers = response.headers;
  if (isRecord(headers) && typeof headers.get === "function") {
    const get = headers.get as (name: string) => unknown;
    return {
      get(name) {
        const value = get.call(headers, name);
        return typeof value === "string" ? value : undefined;
      },
    };
  }
  return undefined;
}

/** Parses `Retry-After` (seconds or HTTP date) or `retry-after-ms`, relative to `nowMs`. */
export function parseRetryAfterMs(headers: HeaderReader, nowMs: number): number | undefined {
  for (const name of ["retry-after-ms", "x-ms-retry-after-ms"]) {
    const value = headers.get(name);
    if (value !== undefined && /^\d+$/.test(value.trim())) return Number(value.trim());
  }
  const retryAfter = headers.get("retry-after")?.trim();
  if (!retryAfter) return undefined;
  if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
  const at = Date.parse(retryAfter);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The error body's `{ error: { code, message } }`, when the SDK kept it. */
function bodyError(error: Record<string, unknown>): { code?: string; message?: string } {
  const candidates = [error.details, isRecord(error.response) ? error.response.parsedBody : undefined];
  for (const candidate of candidates) {
    if (!isRecord(candidate)) continue;
    const inner = isRecord(candidate.error) ? candidate.error : candidate;
    const code = stringField(inner, "code");
    const message = stringField(inner, "message");
    if (code || message) return { ...(code ? { code } : {}), ...(message ? { message } : {}) };
  }
  return {};
}

/**
 * Reads status, code, message and Retry-After from anything an SDK call threw. `nowMs` only
 * serves an HTTP-date Retry-After.
 */
export function describeAzureFailure(error: unknown, nowMs = 0): AzureFailure {
  if (!isRecord(error)) return { message: String(error) };
  const status = typeof error.statusCode === "number" ? error.statusCode : undefined;
  const fromBody = bodyError(error);
  const code = fromBody.code ?? stringField(error, "code");
  const message = fromBody.message ?? stringField(error, "message") ?? "unknown error";
  const headers = headersOf(error);
  const retryAfterMs = headers ? parseRetryAfterMs(headers, nowMs) : undefined;
  return {
    message,
    ...(status !== undefined ? { status } : {}),
    ...(code ? { code } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  };
}

/** "403 Forbidden (code): message" style text for a failure. */
export function failureText(failure: AzureFailure): string {
  const status = failure.status === undefined ? "" : `HTTP ${failure.status}`;
  const code = failure.code ? ` ${failure.code}` : "";
  const prefix = `${status}${code}`.trim();
  return prefix ? `${prefix}: ${failure.message}` : failure.message;
}

/** Throttling and server errors the SDK already retried: try again later. */
export function isTransient(failure: AzureFailure): boolean {
  return failure.status === 429 || (failure.status !== undefined && failure.status >= 500);
}

/** Pending outcome for a throttled / unavailable call, carrying Retry-After when the service gave one. */
export function pendingFromFailure(what: string, failure: AzureFailure): StepOutcome {
  return {
    status: "pending",
    detail: `${what} was refused for now (${failureText(failure)}); will retry later`,
    ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
  };
}

/**
 * What the resource providers' access errors call for, in words a person acts on: the
 * consumer's identity, not the service's, reaches the key.
 */
const ACTIONABLE_CODES: Record<string, string> = {
  IdentityDoesNotHaveAccessToKeyVault:
    "the consumer's identity cannot use the key: grant it get, wrapKey and unwrapKey on the key (the Key Vault Crypto Service Encryption User role), then the next run moves it",
  KeyVaultAccessForbidden:
    "the consumer's identity is refused by the key vault: grant it get, wrapKey and unwrapKey on the key and check the vault's firewall",
  InvalidKeyVaultProperties: "the key reference was refused: check the destination key URI and version",
  PurgeProtectionDisabled:
    "the key vault lacks purge protection: enable soft delete and purge protection on it",
  SoftDeleteDisabled: "the key vault lacks soft delete: enable soft delete and purge protection on it",
};

export function actionableHint(code: string | undefined): string {
  const hint = code ? ACTIONABLE_CODES[code] : undefined;
  return hint ? `; ${hint}` : "";
}
