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
