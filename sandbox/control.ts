/**
 * The control API (`https://localhost:<port>/_sandbox/...`, JSON): what tests, benchmarks
 * and people use to look inside the sandbox and steer it. The route table below is the
 * contract; every body is validated and a bad one is a 400 that changes nothing.
 */
import { parseThrottlingChange, ThrottlingSettingsError, throttlingView } from "./arm/throttling.js";
import {
  type IngestionChange,
  newCorrelationId,
  recordAudit,
  updateIngestion,
  visibleAuditRecords,
} from "./audit.js";
import { applyStateChange, lifecycleOf, parseStateChange } from "./consumers/consumerLifecycle.js";
import { requestUnwrapNow, unwrapSchedule, updateConsumerBehaviour } from "./consumers/consumerSimulation.js";
import { pinnedKeysOf } from "./consumers/pinnedKeys.js";
import {
  addEventSubscription,
  parseEventSubscriptionRequest,
  updateDeliverySwitches,
} from "./eventgrid/eventSubscriptions.js";
import { parseFaultRules } from "./faults.js";
import {
  json,
  readJson,
  SandboxHttpError,
  type SandboxRequest,
  type SandboxResponse,
  type SandboxService,
} from "./http.js";
import { findVault } from "./keyvault/operations.js";
import type {
  LatencyRange,
  LatencySettings,
  SandboxAuditRecord,
  SandboxConsumer,
  VaultKind,
} from "./model.js";
import type { SandboxStore } from "./store.js";

export interface ControlRoute {
  method: "GET" | "POST" | "DELETE";
  path: string;
  /** One line for the route listing in 404 answers. */
  summary: string;
  handle(request: SandboxRequest, store: SandboxStore): SandboxResponse | Promise<SandboxResponse>;
}

function badRequest(message: string): SandboxHttpError {
  return new SandboxHttpError(400, "BadRequest", message);
}

type Fields = Record<string, unknown>;

function bodyObject(request: SandboxRequest, what: string): Fields {
  const body = readJson(request);
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest(`${what} must be a JSON object.`);
  return body as Fields;
}

function rejectUnknown(fields: Fields, allowed: string[], what: string): void {
  const unknown = Object.keys(fields).filter((name) => !allowed.includes(name));
  if (unknown.length > 0)
    throw badRequest(`${what} has unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}.`);
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || !Number.isFinite(ms) ? undefined : new Date(ms).toISOString();
}

// --- GET /_sandbox/state -----------------------------------------------------------------

function vaultsView(store: SandboxStore): unknown[] {
  return [...store.vaults.values()].map((vault) => ({
    name: vault.name,
    kind: vault.kind,
    uri: vault.uri,
    resourceId: vault.resourceId,
    softDelete: vault.softDelete,
    purgeProtection: vault.purgeProtection,
    workspaceId: vault.workspaceId,
    keys: [...vault.keys.values()].map((key) => ({
      name: key.name,
      kty: key.kty,
      size: key.size,
      versions: key.versions.map((version) => ({
        version: version.version,
        enabled: version.enabled,
        created: iso(version.created),
        updated: iso(version.updated),
        notBefore: iso(version.nbf),
        expires: iso(version.exp),
        tags: version.tags,
      })),
      rotationPolicy: key.rotationPolicy,
    })),
  }));
}

/** One consumer as GET /_sandbox/state shows it. */
function consumerView(store: SandboxStore, consumer: SandboxConsumer): unknown {
  const resource = store.armResource(consumer.id);
  const pins = resource ? Object.fromEntries(pinnedKeysOf(store, consumer.kind, resource.body)) : {};
  const properties = (resource?.body.properties ?? {}) as Fields;
  const schedule = unwrapSchedule(store, consumer);
  return {
    id: consumer.id,
    kind: consumer.kind,
    identityObjectId: consumer.identityObjectId,
    state: lifecycleOf(store, consumer),
    provisioningState:
      typeof properties.provisioningState === "string" ? properties.provisioningState : undefined,
    updating: resource?.pendingUpdate !== undefined,
    pins,
    inUse: consumer.usage.map((usage) => ({ ...usage, since: iso(usage.since) })),
    behaviour: consumer.behaviour,
    lastUnwrapAt: iso(schedule.lastUnwrapAt),
    nextUnwrapAt: iso(schedule.nextUnwrapAt),
    failures: consumer.failures.map((failure) => ({ ...failure, at: iso(failure.at) })),
  };
}

function consumersView(store: SandboxStore): unknown[] {
  return [...store.consumers.values()].map((consumer) => consumerView(store, consumer));
}

function auditView(store: SandboxStore): unknown {
  const byOperation: Record<string, number> = {};
  for (const record of store.audit)
    byOperation[record.operationName] = (byOperation[record.operationName] ?? 0) + 1;
  return {
    total: store.audit.length,
    visible: visibleAuditRecords(store).length,
    byOperation,
    retentionMs: store.auditRetentionMs,
    maxRecords: store.auditMaxRecords,
    exactWindowMs: store.auditExactWindowMs,
    droppedThrough: iso(store.auditDroppedThrough),
  };
}

function stateView(store: SandboxStore): unknown {
  return {
    now: iso(store.now()),
    tenantId: store.tenantId,
    vaults: vaultsView(store),
    consumers: consumersView(store),
    audit: auditView(store),
    ingestion: store.ingestion,
    latency: store.latency,
    throttling: throttlingView(store),
    faults: store.faults,
    eventSubscriptions: store.eventSubscriptions,
    deliveries: store.deliveries,
    customTopicEvents: store.publishedEvents.map((event) => ({
      ...event,
      receivedAt: iso(event.receivedAt),
    })),
  };
}

// --- settings ------------------------------------------------------------------------------

function parseLatencyRange(value: unknown): LatencyRange | null {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    throw badRequest('"latencySeconds" must be {"min": n, "max": n} (seconds) or null.');
  }
  const range = value as Fields;
  rejectUnknown(range, ["min", "max"], '"latencySeconds"');
  const bound = (name: "min" | "max"): number => {
    const seconds = range[name];
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0 || seconds > 86_400) {
      throw badRequest(
        `"latencySeconds.${name}" must be a number of seconds from 0 to 86400, not ${JSON.stringify(seconds)}.`,
      );
    }
    return seconds;
  };
  const min = bound("min");
  const max = bound("max");
  if (max < min) throw badRequest(`"latencySeconds.max" (${max}) must be at least "min" (${min}).`);
  return { min, max };
}

function parseIngestion(request: SandboxRequest): IngestionChange {
  const fields = bodyObject(request, "The ingestion settings");
  const allowed = ["delaySeconds", "latencySeconds", "paused", "partialError"];
  rejectUnknown(fields, allowed, "The ingestion settings");
  const change: IngestionChange = {};
  if (fields.delaySeconds !== undefined && fields.latencySeconds !== undefined) {
    throw badRequest('Give "delaySeconds" (a fixed latency) or "latencySeconds" (a range), not both.');
  }
  if (fields.delaySeconds !== undefined) {
    const delay = fields.delaySeconds;
    if (typeof delay !== "number" || !Number.isFinite(delay) || delay < 0) {
      throw badRequest(`"delaySeconds" must be a number of seconds >= 0, not ${JSON.stringify(delay)}.`);
    }
    change.delaySeconds = delay;
  }
  if (fields.latencySeconds !== undefined) change.latencySeconds = parseLatencyRange(fields.latencySeconds);
  for (const name of ["paused", "partialError"] as const) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== "boolean")
      throw badRequest(`"${name}" must be true or false, not ${JSON.stringify(value)}.`);
    change[name] = value;
  }
  if (Object.keys(change).length === 0)
    throw badRequest(`Give at least one of ${allowed.map((name) => `"${name}"`).join(", ")}.`);
  return change;
}

function parseLatency(request: SandboxRequest): Partial<LatencySettings> {
  const fields = bodyObject(request, "The latency settings");
  rejectUnknown(fields, ["armWriteMs", "armReadMs", "lroDurationMs"], "The latency settings");
  const change: Partial<LatencySettings> = {};
  for (const name of ["armWriteMs", "armReadMs", "lroDurationMs"] as const) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 3_600_000) {
      throw badRequest(
        `"${name}" must be a number of milliseconds from 0 to 3600000, not ${JSON.stringify(value)}.`,
      );
    }
    change[name] = value;
  }
  if (Object.keys(change).length === 0)
    throw badRequest('Give at least one of "armWriteMs", "armReadMs", "lroDurationMs".');
  return change;
}

// --- POST /_sandbox/audit ----------------------------------------------------------------

const AUDIT_FIELDS = [
  "time",
  "vault",
  "operationName",
  "id",
  "requestUri",
  "callerObjectId",
  "callerAppId",
  "callerIpAddress",
  "httpStatusCode",
  "resultType",
  "resultSignature",
  "correlationId",
  "durationMs",
];

function timeOf(value: unknown, where: string): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && !Number.isNaN(Date.parse(value))) return Date.parse(value);
  throw badRequest(`${where}.time must be epoch milliseconds or an ISO 8601 date.`);
}

function requiredString(fields: Fields, name: string, where: string): string {
  const value = fields[name];
  if (typeof value !== "string" || value === "")
    throw badRequest(`${where}.${name} must be a non-empty string.`);
  return value;
}

/** Raw audit records, as tests use them to plant evidence; defaults fill what is not given. */
function parseAuditRecords(store: SandboxStore, body: unknown): Omit<SandboxAuditRecord, "visibleAt">[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) throw badRequest("Give one audit record or an array of them.");
  return items.map((item, index) => {
    const where = `records[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw badRequest(`${where} must be an object.`);
    const fields = item as Fields;
    rejectUnknown(fields, AUDIT_FIELDS, where);
    const vaultName = requiredString(fields, "vault", where);
    const vault = findVault(store, vaultName);
    if (!vault) throw badRequest(`${where}.vault "${vaultName}" is not a vault or HSM of the estate.`);
    const status = fields.httpStatusCode ?? 200;
    if (typeof status !== "number" || !Number.isInteger(status) || status < 100 || status > 599) {
      throw badRequest(`${where}.httpStatusCode must be an HTTP status.`);
    }
    const resultType = fields.resultType ?? (status < 400 ? "Success" : "Failure");
    if (resultType !== "Success" && resultType !== "Failure") {
      throw badRequest(`${where}.resultType must be "Success" or "Failure".`);
    }
    const optionalString = (name: string, fallback: string): string => {
      const value = fields[name];
      if (value === undefined) return fallback;
      if (typeof value !== "string") throw badRequest(`${where}.${name} must be a string.`);
      return value;
    };
    const duration = fields.durationMs ?? 0;
    if (typeof duration !== "number" || duration < 0)
      throw badRequest(`${where}.durationMs must be a number >= 0.`);
    const vaultKind: VaultKind = vault.kind;
    return {
      time: fields.time === undefined ? store.now() : timeOf(fields.time, where),
      vault: vault.name,
      vaultKind,
      operationName: requiredString(fields, "operationName", where),
      id: requiredString(fields, "id", where),
      ...(fields.requestUri !== undefined ? { requestUri: optionalString("requestUri", "") } : {}),
      callerObjectId: requiredString(fields, "callerObjectId", where),
      ...(fields.callerAppId !== undefined ? { callerAppId: optionalString("callerAppId", "") } : {}),
      callerIpAddress: optionalString("callerIpAddress", "10.0.0.4"),
      httpStatusCode: status,
      resultType,
      resultSignature: optionalString("resultSignature", status < 400 ? "OK" : String(status)),
      correlationId: optionalString("correlationId", newCorrelationId()),
      durationMs: duration,
    };
  });
}

// --- the route table (the contract) ------------------------------------------------------

export const controlRoutes: ControlRoute[] = [
  {
    method: "GET",
    path: "/_sandbox/state",
    summary:
      "vaults, keys and versions; consumers with pins and versions in use; audit counts; deliveries; custom-topic events",
    handle: (_request, store) => json(200, stateView(store)),
  },
  {
    method: "POST",
    path: "/_sandbox/faults",
    summary:
      "add fault rules: {method?, host?, path?, count?, action:{kind:status|delay|drop|failOperation,...}} or an array",
    handle(request, store) {
      let rules: ReturnType<typeof parseFaultRules>;
      try {
        rules = parseFaultRules(readJson(request));
      } catch (error) {
        if (error instanceof SandboxHttpError) throw error;
        throw badRequest((error as Error).message);
      }
      store.faults = [...store.faults, ...rules];
      return json(200, { added: rules, faults: store.faults });
    },
  },
  {
    method: "DELETE",
    path: "/_sandbox/faults",
    summary: "clear all fault rules",
    handle(_request, store) {
      store.faults = [];
      return json(200, { faults: [] });
    },
  },
  {
    method: "POST",
    path: "/_sandbox/ingestion",
    summary:
      '{"delaySeconds": n | "latencySeconds": {"min": n, "max": n} | null, "paused": bool, "partialError": bool} for the audit log pipeline',
    handle(request, store) {
      updateIngestion(store, parseIngestion(request));
      return json(200, store.ingestion);
    },
  },
  {
    method: "POST",
    path: "/_sandbox/latency",
    summary:
      '{"armWriteMs": n, "armReadMs": n, "lroDurationMs": n} for Resource Manager writes, reads and operations',
    handle(request, store) {
      store.latency = { ...store.latency, ...parseLatency(request) };
      return json(200, store.latency);
    },
  },
  {
    method: "POST",
    path: "/_sandbox/throttling",
    summary:
      '{"enabled": bool, "reads"|"writes"|"deletes": {"size": n, "refillPerSecond": n}, "globalMultiplier": n, "resourceGraph": {"queries": n, "windowSeconds": n}}',
    handle(request, store) {
      try {
        store.throttling = parseThrottlingChange(readJson(request), store.throttling);
      } catch (error) {
        if (error instanceof ThrottlingSettingsError) throw badRequest(error.message);
        throw error;
      }
      return json(200, throttlingView(store));
    },
  },
  {
    method: "POST",
    path: "/_sandbox/audit",
    summary: "append raw audit records ({vault, operationName, id, callerObjectId, time?, ...} or an array)",
    handle(request, store) {
      const records = parseAuditRecords(store, readJson(request));
      for (const record of records) recordAudit(store, record);
      return json(200, { appended: records.length, total: store.audit.length });
    },
  },
  {
    method: "POST",
    path: "/_sandbox/consumers/behaviour",
    summary:
      '{"id": "<resource id>", "lagSeconds": n, "stuckOnVersion": "<version>" or null, "unwrapIntervalSeconds": n, "jitterSeconds": n, "unwrapVersion": "<version>" or null}',
    handle(request, store) {
      const consumer = updateConsumerBehaviour(store, readJson(request));
      // The consumer as the state shows it, plus `usage` as this route has always answered.
      return json(200, { ...(consumerView(store, consumer) as Fields), usage: consumer.usage });
    },
  },
  {
    method: "POST",
    path: "/_sandbox/consumers/unwrap",
    summary:
      '{"id": "<resource id>"}: the consumer makes its next call now (a rare caller reappears); 409 while it is stopped',
    handle(request, store) {
      const consumer = requestUnwrapNow(store, readJson(request));
      return json(202, consumerView(store, consumer));
    },
  },
  {
    method: "POST",
    path: "/_sandbox/consumers/state",
    summary:
      '{"id": "<Kusto or Cassandra cluster id>", "state": "Stopped" | "Running" | "Deallocated"}: stop or start a Kusto cluster, deallocate or start a Cassandra cluster',
    handle(request, store) {
      const change = parseStateChange(store, readJson(request));
      const consumers = applyStateChange(store, change);
      return json(200, {
        id: change.id,
        state: change.state,
        consumers: consumers.map((each) => consumerView(store, each)),
      });
    },
  },
  {
    method: "POST",
    path: "/_sandbox/eventgrid/subscriptions",
    summary: '{"vault": "<name>", "endpoint": "<url>", "schema": "EventGridSchema" or "CloudEventSchema"}',
    handle: (request, store) =>
      json(201, addEventSubscription(store, parseEventSubscriptionRequest(store, readJson(request)))),
  },
  {
    method: "POST",
    path: "/_sandbox/eventgrid/delivery",
    summary: '{"duplicate": bool, "reorder": bool} for Event Grid deliveries',
    handle: (request, store) => json(200, updateDeliverySwitches(store, readJson(request))),
  },
];

const CONTROL_HOSTS = new Set(["localhost", "127.0.0.1"]);

async function handleControl(request: SandboxRequest, store: SandboxStore): Promise<SandboxResponse> {
  const path = request.path.replace(/\/+$/, "");
  const matching = controlRoutes.filter((route) => route.path === path);
  const route = matching.find((candidate) => candidate.method === request.method);
  if (route) return route.handle(request, store);
  if (matching.length > 0) {
    return json(
      405,
      {
        error: {
          code: "MethodNotAllowed",
          message: `${request.method} is not allowed on ${path}; use ${matching.map((candidate) => candidate.method).join(" or ")}.`,
        },
      },
      { allow: matching.map((candidate) => candidate.method).join(", ") },
    );
  }
  return json(404, {
    error: {
      code: "NotFound",
      message: `The control API has no route ${request.method} ${request.path}. Routes: ${controlRoutes
        .map((candidate) => `${candidate.method} ${candidate.path}`)
        .join("; ")}.`,
    },
  });
}

export const controlService: SandboxService = {
  name: "control",
  matches: (host) => CONTROL_HOSTS.has(host),
  handle: handleControl,
};
