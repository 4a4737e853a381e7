/**
 * The Key Vault audit tables a Log Analytics workspace holds: `AzureDiagnostics` (vaults
 * and Managed HSMs) and the resource-specific `AZKVAuditLogs` (vaults only), built from
 * the sandbox's visible audit records of the vaults that send their logs to the workspace.
 * Columns follow the Azure Monitor table reference (a relevant subset).
 */
import { visibleAuditRecords } from "../audit.js";
import type { KqlColumn, KqlTable } from "../kql/index.js";
import type { SandboxAuditRecord, SandboxVault, SandboxWorkspace } from "../model.js";
import type { SandboxStore } from "../store.js";
import type { TimeWindow } from "./queryTimespan.js";

const KEY_VAULT_API_VERSION = "7.6";
const CLIENT_INFO = "azsdk-js-keyvault-keys/4.10.2 core-rest-pipeline/1.25.0 Node/22";
const OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";

const azureDiagnosticsColumns: KqlColumn[] = [
  { name: "TenantId", type: "string" },
  { name: "TimeGenerated", type: "datetime" },
  { name: "ResourceId", type: "string" },
  { name: "Category", type: "string" },
  { name: "ResourceGroup", type: "string" },
  { name: "SubscriptionId", type: "string" },
  { name: "ResourceProvider", type: "string" },
  { name: "Resource", type: "string" },
  { name: "ResourceType", type: "string" },
  { name: "OperationName", type: "string" },
  { name: "ResultType", type: "string" },
  { name: "CorrelationId", type: "string" },
  { name: "ResultSignature", type: "string" },
  { name: "ResultDescription", type: "string" },
  { name: "DurationMs", type: "long" },
  { name: "CallerIPAddress", type: "string" },
  { name: "OperationVersion", type: "string" },
  { name: "id_s", type: "string" },
  { name: "identity_claim_oid_g", type: "string" },
  { name: "identity_claim_appid_g", type: "string" },
  { name: "httpStatusCode_d", type: "real" },
  { name: "requestUri_s", type: "string" },
  { name: "clientInfo_s", type: "string" },
  { name: "isAccessPolicyMatch_b", type: "bool" },
  { name: "SourceSystem", type: "string" },
  { name: "Type", type: "string" },
  { name: "_ResourceId", type: "string" },
];

const azkvAuditLogsColumns: KqlColumn[] = [
  { name: "TenantId", type: "string" },
  { name: "TimeGenerated", type: "datetime" },
  { name: "OperationName", type: "string" },
  { name: "OperationVersion", type: "string" },
  { name: "ResultType", type: "string" },
  { name: "ResultSignature", type: "string" },
  { name: "ResultDescription", type: "string" },
  { name: "DurationMs", type: "int" },
  { name: "CallerIpAddress", type: "string" },
  { name: "CorrelationId", type: "string" },
  { name: "Identity", type: "dynamic" },
  { name: "Properties", type: "dynamic" },
  { name: "Id", type: "string" },
  { name: "RequestUri", type: "string" },
  { name: "HttpStatusCode", type: "int" },
  { name: "ClientInfo", type: "string" },
  { name: "IsRbacAuthorized", type: "bool" },
  { name: "SourceSystem", type: "string" },
  { name: "Type", type: "string" },
  { name: "_ResourceId", type: "string" },
  { name: "_SubscriptionId", type: "string" },
];

function requestUriOf(record: SandboxAuditRecord): string {
  return `${record.id}${record.id.includes("?") ? "&" : "?"}api-version=${KEY_VAULT_API_VERSION}`;
}

function azureDiagnosticsRow(
  store: SandboxStore,
  workspace: SandboxWorkspace,
  vault: SandboxVault,
  record: SandboxAuditRecord,
): Record<string, unknown> {
  const appId =
    [...store.identities.values()].find((identity) => identity.objectId === record.callerObjectId)
      ?.clientId ?? "";
  return {
    TenantId: workspace.id,
    TimeGenerated: new Date(record.time),
    ResourceId: vault.resourceId.toUpperCase(),
    Category: "AuditEvent",
    ResourceGroup: vault.resourceGroup.toUpperCase(),
    SubscriptionId: vault.subscriptionId.toUpperCase(),
    ResourceProvider: "MICROSOFT.KEYVAULT",
    Resource: vault.name.toUpperCase(),
    ResourceType: vault.kind === "managedHsm" ? "MANAGEDHSMS" : "VAULTS",
    OperationName: record.operationName,
    ResultType: record.resultType,
    CorrelationId: record.correlationId,
    ResultSignature: record.resultSignature,
    ResultDescription: "",
    DurationMs: record.durationMs,
    CallerIPAddress: record.callerIpAddress,
    OperationVersion: KEY_VAULT_API_VERSION,
    id_s: record.id,
    identity_claim_oid_g: record.callerObjectId,
    identity_claim_appid_g: appId,
    httpStatusCode_d: record.httpStatusCode,
    requestUri_s: requestUriOf(record),
    clientInfo_s: CLIENT_INFO,
    isAccessPolicyMatch_b: false,
    SourceSystem: "Azure",
    Type: "AzureDiagnostics",
    _ResourceId: vault.resourceId.toLowerCase(),
  };
}

function azkvAuditLogsRow(
  store: SandboxStore,
  workspace: SandboxWorkspace,
  vault: SandboxVault,
  record: SandboxAuditRecord,
): Record<string, unknown> {
  const appId = [...store.identities.values()].find(
    (identity) => identity.objectId === record.callerObjectId,
  )?.clientId;
  const requestUri = requestUriOf(record);
  return {
    TenantId: workspace.id,
    TimeGenerated: new Date(record.time),
    OperationName: record.operationName,
    OperationVersion: KEY_VAULT_API_VERSION,
    ResultType: record.resultType,
    ResultSignature: record.resultSignature,
    ResultDescription: "",
    DurationMs: record.durationMs,
    CallerIpAddress: record.callerIpAddress,
    CorrelationId: record.correlationId,
    Identity: {
      claim: {
        oid: record.callerObjectId,
        [OBJECT_ID_CLAIM]: record.callerObjectId,
        ...(appId ? { appid: appId } : {}),
      },
    },
    Properties: { id: record.id, requestUri, httpStatusCode: record.httpStatusCode, clientInfo: CLIENT_INFO },
    Id: record.id,
    RequestUri: requestUri,
    HttpStatusCode: record.httpStatusCode,
    ClientInfo: CLIENT_INFO,
    IsRbacAuthorized: record.httpStatusCode !== 403,
    SourceSystem: "Azure",
    Type: "AZKVAuditLogs",
    _ResourceId: vault.resourceId.toLowerCase(),
    _SubscriptionId: vault.subscriptionId,
  };
}

function vaultNamed(store: SandboxStore, name: string): SandboxVault | undefined {
  const direct = store.vaults.get(name) ?? store.vaults.get(name.toLowerCase());
  if (direct) return direct;
  for (const vault of store.vaults.values())
    if (vault.name.toLowerCase() === name.toLowerCase()) return vault;
  return undefined;
}

/** The audit tables of `workspace`, holding only records visible now and inside `window`. */
export function workspaceAuditTables(
  store: SandboxStore,
  workspace: SandboxWorkspace,
  window?: TimeWindow,
): KqlTable[] {
  const diagnostics: Record<string, unknown>[] = [];
  const resourceSpecific: Record<string, unknown>[] = [];
  for (const record of visibleAuditRecords(store)) {
    if (window && (record.time < window.start || record.time >= window.end)) continue;
    const vault = vaultNamed(store, record.vault);
    if (!vault || vault.workspaceId.toLowerCase() !== workspace.id.toLowerCase()) continue;
    diagnostics.push(azureDiagnosticsRow(store, workspace, vault, record));
    if (vault.kind === "vault") resourceSpecific.push(azkvAuditLogsRow(store, workspace, vault, record));
  }
  return [
    { name: "AzureDiagnostics", columns: azureDiagnosticsColumns, rows: diagnostics },
    { name: "AZKVAuditLogs", columns: azkvAuditLogsColumns, rows: resourceSpecific },
  ];
}
