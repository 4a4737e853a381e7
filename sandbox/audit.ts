/**
 * The Key Vault audit log as the sandbox keeps it. A record becomes queryable after the
 * ingestion delay (Log Analytics lags real time); while ingestion is paused new records
 * stay invisible until it resumes. Records older than the retention window are dropped so
 * memory stays bounded over long runs.
 */
import type { IngestionSettings, SandboxAuditRecord } from "./model.js";
import type { SandboxStore } from "./store.js";

/** Append an audit record, stamping when it becomes visible, and drop expired records. */
export function recordAudit(store: SandboxStore, record: Omit<SandboxAuditRecord, "visibleAt">): void {
  const visibleAt = store.ingestion.paused
    ? Number.POSITIVE_INFINITY
    : store.now() + store.ingestion.delaySeconds * 1000;
  store.audit.push({ ...record, visibleAt });
  pruneAudit(store);
}

const lastPruneAt = new WeakMap<SandboxStore, number>();

/** Drop records older than `store.auditRetentionMs` (at most once per second of sandbox time). */
export function pruneAudit(store: SandboxStore): void {
  const now = store.now();
  const last = lastPruneAt.get(store);
  if (last !== undefined && now - last < 1000) return;
  lastPruneAt.set(store, now);
  const oldest = now - store.auditRetentionMs;
  if (store.audit.some((record) => record.time < oldest)) {
    store.audit = store.audit.filter((record) => record.time >= oldest);
  }
}

/** Records a Log Analytics query can see now. */
export function visibleAuditRecords(store: SandboxStore): SandboxAuditRecord[] {
  const now = store.now();
  return store.audit.filter((record) => record.visibleAt <= now);
}

/**
 * Change ingestion settings. Resuming gives every record held back by the pause a
 * visibility time of now + delay, as a backlog that arrives after the pipeline restarts.
 */
export function updateIngestion(store: SandboxStore, change: Partial<IngestionSettings>): void {
  const wasPaused = store.ingestion.paused;
  store.ingestion = { ...store.ingestion, ...change };
  if (wasPaused && !store.ingestion.paused) {
    const visibleAt = store.now() + store.ingestion.delaySeconds * 1000;
    for (const record of store.audit) {
      if (record.visibleAt === Number.POSITIVE_INFINITY) record.visibleAt = visibleAt;
    }
  }
}
