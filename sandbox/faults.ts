/**
 * Fault rules (POST /_sandbox/faults): per method, host and path, applied a number of
 * times. The server applies status, delay and drop rules before a request reaches its
 * service; "failOperation" rules are left to Resource Manager, which ends a long-running
 * operation Failed with them.
 */
import { randomUUID } from "node:crypto";
import type { FaultRule } from "./model.js";
import type { SandboxStore } from "./store.js";

export type TransportFaultRule = FaultRule & {
  action: Exclude<FaultRule["action"], { kind: "failOperation" }>;
};

function hostMatches(pattern: string, host: string): boolean {
  const lowerPattern = pattern.toLowerCase();
  if (lowerPattern === "*") return true;
  if (lowerPattern.startsWith("*.")) return host.endsWith(lowerPattern.slice(1));
  return lowerPattern === host;
}

export function faultMatches(
  rule: FaultRule,
  request: { method: string; host: string; path: string },
): boolean {
  if (rule.remaining <= 0) return false;
  if (rule.method !== "*" && rule.method.toUpperCase() !== request.method.toUpperCase()) return false;
  if (!hostMatches(rule.host, request.host)) return false;
  try {
    return new RegExp(rule.path).test(request.path);
  } catch {
    return false;
  }
}

/**
 * The first status/delay/drop rule matching the request, with its count taken; exhausted
 * rules are removed.
 */
export function takeTransportFault(
  store: SandboxStore,
  request: { method: string; host: string; path: string },
): TransportFaultRule | undefined {
  const rule = store.faults.find(
    (candidate): candidate is TransportFaultRule =>
      candidate.action.kind !== "failOperation" && faultMatches(candidate, request),
  );
  if (!rule) return undefined;
  rule.remaining -= 1;
  if (rule.remaining <= 0) store.faults = store.faults.filter((candidate) => candidate !== rule);
  return rule;
}

/**
 * The first failOperation rule matching an ARM write, with its count taken (for the
 * Resource Manager service).
 */
export function takeOperationFault(
  store: SandboxStore,
  request: { method: string; host: string; path: string },
): { code: string; message: string } | undefined {
  const rule = store.faults.find(
    (candidate) => candidate.action.kind === "failOperation" && faultMatches(candidate, request),
  );
  if (rule?.action.kind !== "failOperation") return undefined;
  rule.remaining -= 1;
  if (rule.remaining <= 0) store.faults = store.faults.filter((candidate) => candidate !== rule);
  return { code: rule.action.code, message: rule.action.message };
}

const defaultCodes: Record<number, string> = {
  400: "BadRequest",
  404: "NotFound",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

/** The error a status fault answers with, in the `{error:{code,message}}` shape all these services use. */
export function faultResponseBody(
  action: { status: number; code?: string; message?: string },
  host: string,
): { error: { code: string; message: string } } {
  const isKeyVault = host.endsWith(".vault.azure.net") || host.endsWith(".managedhsm.azure.net");
  const code =
    action.code ??
    (action.status === 429 && isKeyVault ? "Throttled" : (defaultCodes[action.status] ?? "Fault"));
  return {
    error: { code, message: action.message ?? `Injected sandbox fault: HTTP ${action.status} (${code}).` },
  };
}

function fail(index: number, problem: string): never {
  throw new Error(`faults[${index}] ${problem}`);
}

/**
 * Parse fault rules from a request body: one rule or an array of rules, each
 * `{method?, host?, path?, count?, action}` (count: how many requests, default 1).
 */
export function parseFaultRules(body: unknown): FaultRule[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw new Error("faults must not be empty");
  return items.map((item, index) => {
    if (typeof item !== "object" || item === null) fail(index, "must be an object");
    const fields = item as Record<string, unknown>;
    const method = fields.method ?? "*";
    const host = fields.host ?? "*";
    const path = fields.path ?? ".*";
    const count = fields.count ?? fields.remaining ?? 1;
    if (typeof method !== "string") fail(index, "method must be a string");
    if (typeof host !== "string") fail(index, "host must be a string");
    if (typeof path !== "string") fail(index, "path must be a regular expression string");
    try {
      new RegExp(path);
    } catch (error) {
      fail(index, `path is not a valid regular expression: ${(error as Error).message}`);
    }
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1)
      fail(index, "count must be a positive integer");
    const action = fields.action;
    if (typeof action !== "object" || action === null) fail(index, "action must be an object");
    const a = action as Record<string, unknown>;
    let parsed: FaultRule["action"];
    switch (a.kind) {
      case "status": {
        if (typeof a.status !== "number" || !Number.isInteger(a.status) || a.status < 400 || a.status > 599) {
          fail(index, "action.status must be an HTTP error status (400-599)");
        }
        if (
          a.retryAfterSeconds !== undefined &&
          (typeof a.retryAfterSeconds !== "number" || a.retryAfterSeconds < 0)
        ) {
          fail(index, "action.retryAfterSeconds must be a non-negative number");
        }
        if (a.code !== undefined && typeof a.code !== "string") fail(index, "action.code must be a string");
        if (a.message !== undefined && typeof a.message !== "string")
          fail(index, "action.message must be a string");
        parsed = {
          kind: "status",
          status: a.status,
          ...(typeof a.retryAfterSeconds === "number" ? { retryAfterSeconds: a.retryAfterSeconds } : {}),
          ...(typeof a.code === "string" ? { code: a.code } : {}),
          ...(typeof a.message === "string" ? { message: a.message } : {}),
        };
        break;
      }
      case "delay":
        if (typeof a.ms !== "number" || a.ms < 0 || a.ms > 600_000)
          fail(index, "action.ms must be 0..600000");
        parsed = { kind: "delay", ms: a.ms };
        break;
      case "drop":
        parsed = { kind: "drop" };
        break;
      case "failOperation":
        if (typeof a.code !== "string" || typeof a.message !== "string") {
          fail(index, "action.code and action.message must be strings");
        }
        parsed = { kind: "failOperation", code: a.code, message: a.message };
        break;
      default:
        fail(index, 'action.kind must be "status", "delay", "drop" or "failOperation"');
    }
    return { id: randomUUID(), method, host, path, action: parsed, remaining: count };
  });
}
