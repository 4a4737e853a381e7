/**
 * The Key Vault audit log as the sandbox keeps it. A record becomes queryable after its own
 * ingestion latency: a fixed delay, or a latency drawn per record from a range, so that
 * records arrive late and out of order as Azure Monitor's resource logs do ("seconds to about
 * 20 minutes"). While ingestion is paused new records stay invisible until it resumes.
 *
 * Memory is bounded two ways. Records older than `auditRetentionMs` (8 days) are dropped,
 * as a workspace's retention drops them. And the log holds at most `auditMaxRecords`: above
 * that, records older than `auditExactWindowMs` (an hour) are compacted to the first and the
 * last record of each distinct call (vault, operation, key id, request, caller, status) in
 * each hour. That keeps what every decision of the service needs (the first and last use of
 * every version by every caller, the first and last of its own reads), only counts over
 * compacted hours become lower bounds. When compaction is not enough the oldest records are
 * dropped, `auditDroppedThrough` remembers how far, and a query reaching back to then answers
 * with a PartialError: nothing may be concluded from records the sandbox threw away.
 */
import { randomBytes } from "node:crypto";
import type { IngestionSettings, LatencyRange, SandboxAuditRecord } from "./model.js";
import type { SandboxStore } from "./store.js";

const HOUR_MS = 3600 * 1000;
/** After dropping, the log is brought this far below its bound so that drops stay rare. */
const DROP_TO_FRACTION = 0.9;

/**
 * A random correlation id (a version-4 GUID) as a flat string of its own. `randomUUID()`'s
 * strings cost about 490 bytes each once stored (measured on Node 22), a Buffer-decoded one
 * about 60: with hundreds of thousands of records that is most of the audit log's memory.
 */
export function newCorrelationId(): string {
  const bytes = randomBytes(16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  const text = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return Buffer.from(text, "latin1").toString("latin1");
}

const internedTexts = new WeakMap<SandboxStore, Map<string, string>>();

/** One shared string per distinct value: audit records repeat the same few ids and callers. */
function intern(store: SandboxStore, value: string): string {
  let texts = internedTexts.get(store);
  if (!texts) {
    texts = new Map();
    internedTexts.set(store, texts);
  }
  const known = texts.get(value);
  if (known !== undefined) return known;
  texts.set(value, value);
  return value;
}

/** The ingestion latency of one record, in ms, drawn from the current settings. */
export function ingestionLatencyMs(
  store: SandboxStore,
  settings: IngestionSettings = store.ingestion,
): number {
  const range = settings.latencySeconds;
  if (!range) return settings.delaySeconds * 1000;
  if (range.max === range.min) return range.min * 1000;
  return (range.min + store.random() * (range.max - range.min)) * 1000;
}

/** Append an audit record, stamping when it becomes visible, and keep the log within its bounds. */
export function recordAudit(store: SandboxStore, record: Omit<SandboxAuditRecord, "visibleAt">): void {
  const visibleAt = store.ingestion.paused
    ? Number.POSITIVE_INFINITY
    : store.now() + ingestionLatencyMs(store);
  // One literal of one shape for every record (cheaper in memory than a spread).
  store.audit.push({
    time: record.time,
    visibleAt,
    vault: intern(store, record.vault),
    vaultKind: record.vaultKind,
    operationName: intern(store, record.operationName),
    id: intern(store, record.id),
    requestUri: record.requestUri === undefined ? undefined : intern(store, record.requestUri),
    callerObjectId: intern(store, record.callerObjectId),
    callerAppId: record.callerAppId === undefined ? undefined : intern(store, record.callerAppId),
    callerIpAddress: intern(store, record.callerIpAddress),
    httpStatusCode: record.httpStatusCode,
    resultType: record.resultType,
    resultSignature: intern(store, record.resultSignature),
    correlationId: record.correlationId,
    durationMs: record.durationMs,
  });
  pruneAudit(store);
}

const lastPruneAt = new WeakMap<SandboxStore, number>();

/**
 * Drop records older than `store.auditRetentionMs` and keep at most `store.auditMaxRecords`
 * (at most once per second of sandbox time, unless the bound is passed).
 */
export function pruneAudit(store: SandboxStore): void {
  const now = store.now();
  const last = lastPruneAt.get(store);
  const overBound = store.audit.length > store.auditMaxRecords;
  if (!overBound && last !== undefined && now - last < 1000) return;
  lastPruneAt.set(store, now);
  const oldest = now - store.auditRetentionMs;
  if (store.audit.some((record) => record.time < oldest)) {
    store.audit = store.audit.filter((record) => record.time >= oldest);
  }
  if (store.audit.length > store.auditMaxRecords) compactAudit(store);
}

function callKey(record: SandboxAuditRecord): string {
  return [
    record.vault,
    record.operationName,
    record.id,
    record.requestUri ?? "",
    record.callerObjectId,
    record.callerAppId ?? "",
    record.callerIpAddress,
    record.httpStatusCode,
    record.resultType,
    Math.floor(record.time / HOUR_MS),
  ].join("\u0000");
}

/** Compact old records to the first and last of each call per hour; drop the oldest if still too many. */
export function compactAudit(store: SandboxStore): void {
  const now = store.now();
  const exactFrom = now - store.auditExactWindowMs;
  const recent: SandboxAuditRecord[] = [];
  const groups = new Map<string, { first: SandboxAuditRecord; last: SandboxAuditRecord }>();
  for (const record of store.audit) {
    // Recent records and records not ingested yet are kept as they are.
    if (record.time >= exactFrom || !(record.visibleAt <= now)) {
      recent.push(record);
      continue;
    }
    const key = callKey(record);
    const group = groups.get(key);
    if (!group) groups.set(key, { first: record, last: record });
    else {
      if (record.time < group.first.time) group.first = record;
      if (record.time >= group.last.time) group.last = record;
    }
  }
  const compacted: SandboxAuditRecord[] = [];
  for (const { first, last } of groups.values()) {
    compacted.push(first);
    if (last !== first) compacted.push(last);
  }
  compacted.sort((a, b) => a.time - b.time);
  store.audit = [...compacted, ...recent];
  if (store.audit.length <= store.auditMaxRecords) return;
  const byTime = [...store.audit].sort((a, b) => a.time - b.time);
  const dropCount = byTime.length - Math.floor(store.auditMaxRecords * DROP_TO_FRACTION);
  const dropped = byTime.slice(0, dropCount);
  const droppedThrough = dropped.reduce((newest, record) => Math.max(newest, record.time), -Infinity);
  const gone = new Set(dropped);
  store.audit = store.audit.filter((record) => !gone.has(record));
  store.auditDroppedThrough = Math.max(store.auditDroppedThrough ?? -Infinity, droppedThrough);
}

/** Records a Log Analytics query can see now. */
export function visibleAuditRecords(store: SandboxStore): SandboxAuditRecord[] {
  const now = store.now();
  return store.audit.filter((record) => record.visibleAt <= now);
}

/** A change of the ingestion settings, as POST /_sandbox/ingestion takes it. */
export type IngestionChange = Partial<Omit<IngestionSettings, "latencySeconds">> & {
  /** A range sets per-record latency; null clears it (back to the fixed delay). */
  latencySeconds?: LatencyRange | null;
};

/**
 * Change ingestion settings. A fixed `delaySeconds` replaces a latency range, and a range
 * overrides the fixed delay. Resuming gives every record held back by the pause a visibility
 * time of now + its latency, as a backlog that arrives after the pipeline restarts.
 */
export function updateIngestion(store: SandboxStore, change: IngestionChange): void {
  const wasPaused = store.ingestion.paused;
  const { latencySeconds, ...rest } = change;
  const next: IngestionSettings = { ...store.ingestion, ...rest };
  if (latencySeconds !== undefined && latencySeconds !== null) next.latencySeconds = { ...latencySeconds };
  else if (latencySeconds === null || rest.delaySeconds !== undefined) delete next.latencySeconds;
  store.ingestion = next;
  if (wasPaused && !store.ingestion.paused) {
    const now = store.now();
    for (const record of store.audit) {
      if (record.visibleAt === Number.POSITIVE_INFINITY) record.visibleAt = now + ingestionLatencyMs(store);
    }
  }
}
