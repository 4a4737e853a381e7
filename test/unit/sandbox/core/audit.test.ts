import { describe, expect, it } from "vitest";
import { recordAudit, updateIngestion, visibleAuditRecords } from "../../../../sandbox/audit.js";
import type { SandboxAuditRecord } from "../../../../sandbox/model.js";
import { SandboxStore } from "../../../../sandbox/store.js";

const START = Date.UTC(2026, 0, 1);

function clockedStore(): { store: SandboxStore; advance(ms: number): void } {
  let now = START;
  return {
    store: new SandboxStore({ now: () => now }),
    advance(ms) {
      now += ms;
    },
  };
}

function auditRecord(
  overrides: Partial<Omit<SandboxAuditRecord, "visibleAt">> = {},
): Omit<SandboxAuditRecord, "visibleAt"> {
  return {
    time: START,
    vault: "kv1",
    vaultKind: "vault",
    operationName: "KeyUnwrap",
    id: "https://kv1.vault.azure.net/keys/k/00000000000000000000000000000001",
    callerObjectId: "caller",
    callerIpAddress: "10.0.0.4",
    httpStatusCode: 200,
    resultType: "Success",
    resultSignature: "OK",
    correlationId: "c",
    durationMs: 1,
    ...overrides,
  };
}

describe("audit visibility", () => {
  it("makes a record visible after the ingestion delay", () => {
    const { store, advance } = clockedStore();
    store.ingestion.delaySeconds = 300;
    recordAudit(store, auditRecord());
    expect(visibleAuditRecords(store)).toHaveLength(0);
    advance(299_999);
    expect(visibleAuditRecords(store)).toHaveLength(0);
    advance(1);
    expect(visibleAuditRecords(store)).toHaveLength(1);
  });

  it("holds records back while paused and releases them after the delay once resumed", () => {
    const { store, advance } = clockedStore();
    updateIngestion(store, { paused: true, delaySeconds: 60 });
    recordAudit(store, auditRecord());
    advance(3_600_000);
    expect(visibleAuditRecords(store)).toHaveLength(0);
    updateIngestion(store, { paused: false });
    expect(visibleAuditRecords(store)).toHaveLength(0);
    advance(60_000);
    expect(visibleAuditRecords(store)).toHaveLength(1);
  });

  it("does not touch visibility of earlier records when settings change without a resume", () => {
    const { store } = clockedStore();
    recordAudit(store, auditRecord());
    const before = store.audit[0]?.visibleAt;
    updateIngestion(store, { delaySeconds: 900, partialError: true });
    expect(store.audit[0]?.visibleAt).toBe(before);
    expect(store.ingestion).toEqual({ delaySeconds: 900, paused: false, partialError: true });
  });
});

describe("audit retention", () => {
  it("drops records older than the retention window", () => {
    const { store, advance } = clockedStore();
    store.auditRetentionMs = 10_000;
    recordAudit(store, auditRecord({ time: START, operationName: "Old" }));
    advance(20_000);
    recordAudit(store, auditRecord({ time: START + 20_000, operationName: "New" }));
    expect(store.audit.map((record) => record.operationName)).toEqual(["New"]);
  });

  it("keeps records inside the window", () => {
    const { store, advance } = clockedStore();
    store.auditRetentionMs = 10_000;
    recordAudit(store, auditRecord({ time: START }));
    advance(5_000);
    recordAudit(store, auditRecord({ time: START + 5_000 }));
    expect(store.audit).toHaveLength(2);
  });
});

describe("per-record ingestion latency", () => {
  it("draws each record's latency from the range, so records become visible out of order", () => {
    const { store, advance } = clockedStore();
    const draws = [0.9, 0.1];
    store.random = () => draws.shift() ?? 0;
    updateIngestion(store, { latencySeconds: { min: 10, max: 1210 } });
    recordAudit(store, auditRecord({ operationName: "First" }));
    recordAudit(store, auditRecord({ operationName: "Second" }));
    // First: 10 + 0.9 * 1200 = 1090 s; second: 10 + 0.1 * 1200 = 130 s.
    advance(130_000);
    expect(visibleAuditRecords(store).map((record) => record.operationName)).toEqual(["Second"]);
    advance(960_000);
    expect(visibleAuditRecords(store).map((record) => record.operationName)).toEqual(["First", "Second"]);
  });

  it("a fixed delaySeconds replaces the range, and null clears it", () => {
    const { store } = clockedStore();
    updateIngestion(store, { latencySeconds: { min: 1, max: 2 } });
    expect(store.ingestion.latencySeconds).toEqual({ min: 1, max: 2 });
    updateIngestion(store, { delaySeconds: 30 });
    expect(store.ingestion).toEqual({ delaySeconds: 30, paused: false, partialError: false });
    updateIngestion(store, { latencySeconds: { min: 5, max: 5 } });
    updateIngestion(store, { latencySeconds: null });
    expect(store.ingestion.latencySeconds).toBeUndefined();
  });
});

describe("audit memory bound", () => {
  const HOUR = 3_600_000;

  it("compacts records older than the exact window to the first and last of each call per hour", () => {
    const { store, advance } = clockedStore();
    store.auditMaxRecords = 50;
    store.auditExactWindowMs = HOUR;
    // 60 identical unwraps a minute apart in the first hour, then one use of another version.
    for (let minute = 0; minute < 60; minute++) {
      store.audit.push({ ...auditRecord({ time: START + minute * 60_000 }), visibleAt: START });
    }
    advance(3 * HOUR);
    recordAudit(store, auditRecord({ time: START + 3 * HOUR, id: "https://kv1.vault.azure.net/keys/k/2" }));
    const times = store.audit.map((record) => record.time - START);
    expect(times).toEqual([0, 59 * 60_000, 3 * HOUR]);
    expect(store.auditDroppedThrough).toBeUndefined();
  });

  it("keeps distinct callers, versions and statuses apart when compacting", () => {
    const { store, advance } = clockedStore();
    store.auditMaxRecords = 10;
    for (let index = 0; index < 12; index++) {
      store.audit.push({
        ...auditRecord({
          time: START + index,
          callerObjectId: index % 2 === 0 ? "a" : "b",
          httpStatusCode: index % 3 === 0 ? 403 : 200,
        }),
        visibleAt: START,
      });
    }
    advance(2 * HOUR);
    recordAudit(store, auditRecord({ time: START + 2 * HOUR }));
    const groups = new Set(store.audit.map((record) => `${record.callerObjectId}/${record.httpStatusCode}`));
    expect(groups).toEqual(new Set(["a/200", "a/403", "b/200", "b/403", "caller/200"]));
  });

  it("drops the oldest when compaction is not enough, and remembers how far", () => {
    const { store, advance } = clockedStore();
    store.auditMaxRecords = 10;
    advance(HOUR);
    // All inside the exact window: nothing to compact.
    for (let index = 0; index < 11; index++) recordAudit(store, auditRecord({ time: START + HOUR + index }));
    expect(store.audit.length).toBeLessThanOrEqual(10);
    expect(store.auditDroppedThrough).toBe(START + HOUR + 1);
    expect(Math.min(...store.audit.map((record) => record.time))).toBe(START + HOUR + 2);
  });
});
