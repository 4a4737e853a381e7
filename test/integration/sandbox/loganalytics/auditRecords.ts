/** Builders for the audit records and store state the Log Analytics tests query. */
import type { SandboxAuditRecord } from "../../../../sandbox/model.js";

export const WORKSPACE_ID = "a1b2c3d4-0000-4000-8000-000000000001";
export const ROTATOR_OID = "11111111-1111-1111-1111-111111111111";
export const CONSUMER_OID = "22222222-0000-0000-0000-000000000001";
export const KEY_ID = "https://kv-cmk-1.vault.azure.net/keys/adx-key";

export function auditRecord(
  now: number,
  overrides: Partial<SandboxAuditRecord> & { minutesAgo?: number } = {},
): SandboxAuditRecord {
  const { minutesAgo = 10, ...fields } = overrides;
  const time = now - minutesAgo * 60_000;
  return {
    time,
    visibleAt: time,
    vault: "kv-cmk-1",
    vaultKind: "vault",
    operationName: "KeyUnwrap",
    id: `${KEY_ID}/v1`,
    callerObjectId: CONSUMER_OID,
    callerIpAddress: "10.0.0.4",
    httpStatusCode: 200,
    resultType: "Success",
    resultSignature: "OK",
    correlationId: "00000000-0000-0000-0000-00000000c0de",
    durationMs: 12,
    ...fields,
  };
}
