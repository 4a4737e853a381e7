/**
 * The Key Vault audit tables a Log Analytics workspace holds: `AzureDiagnostics` (vaults
 * and Managed HSMs) and the resource-specific `AZKVAuditLogs` (vaults only), built from
 * the sandbox's visible audit records of the vaults that send their logs to the workspace.
 * Columns follow the Azure Monitor table reference (a relevant subset), with Azure's
 * untidy parts:
 *
 * - `AzureDiagnostics` flattens each record's JSON into typed columns (`id_s`,
 *   `httpStatusCode_d`, `identity_claim_…_g`), and a column exists in a workspace only once
 *   a record has put data in it: naming a column that never received data fails the query.
 *   Which column carries a vault caller's object id depends on the workspace
 *   (`objectIdColumn`): `identity_claim_oid_g` in some, the long
 *   `identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g` in others.
 * - Key Vault writes the object's id (`id_s`) only for a call that returned one; a failed
 *   call carries its key only in `requestUri_s`.
 * - Managed HSM records have their own shape (learn.microsoft.com/azure/key-vault/managed-hsm/logging,
 *   sample entry): the identity claim is nested, so the object id is always the long
 *   column; `requestUri`, `httpStatusCode`, `clientInfo`, `PoolName` and `subnetId` sit at
 *   the top level and `properties` holds only `PoolType`, `sku_Family`, `sku_Name`; there is
 *   no `id`, so the key is named only by the request URI.
 */
import { visibleAuditRecords } from "../audit.js";
import { KQL_CELL, type KqlColumn, type KqlLazyRow, type KqlTable } from "../kql/index.js";
import type { ObjectIdColumn, SandboxAuditRecord, SandboxVault, SandboxWorkspace } from "../model.js";
import type { SandboxStore } from "../store.js";
import type { TimeWindow } from "./queryTimespan.js";

const KEY_VAULT_API_VERSION = "7.6";
const CLIENT_INFO = "azsdk-js-keyvault-keys/4.10.2 core-rest-pipeline/1.25.0 Node/22";
const OBJECT_ID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier";
const LONG_OBJECT_ID_COLUMN: ObjectIdColumn =
  "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";
export const DEFAULT_OBJECT_ID_COLUMN: ObjectIdColumn = "identity_claim_oid_g";

/** Columns every AzureDiagnostics table has (Azure Monitor's common columns). */
const azureDiagnosticsBaseColumns: KqlColumn[] = [
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
  { name: "SourceSystem", type: "string" },
  { name: "Type", type: "string" },
  { name: "_ResourceId", type: "string" },
];

/** Columns AzureDiagnostics gets from the Key Vault records' own fields, in the order they are listed. */
const azureDiagnosticsDataColumns: KqlColumn[] = [
  { name: "id_s", type: "string" },
  { name: "identity_claim_oid_g", type: "string" },
  { name: LONG_OBJECT_ID_COLUMN, type: "string" },
  { name: "identity_claim_appid_g", type: "string" },
  { name: "httpStatusCode_d", type: "real" },
  { name: "requestUri_s", type: "string" },
  { name: "clientInfo_s", type: "string" },
  { name: "isAccessPolicyMatch_b", type: "bool" },
  { name: "PoolType_s", type: "string" },
  { name: "sku_Family_s", type: "string" },
  { name: "sku_Name_s", type: "string" },
  { name: "PoolName_s", type: "string" },
  { name: "subnetId_s", type: "string" },
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

export const AUDIT_TABLE_NAMES = ["AzureDiagnostics", "AZKVAuditLogs"] as const;

export function requestUriOf(record: SandboxAuditRecord): string {
  return (
    record.requestUri ??
    `${record.id}${record.id.includes("?") ? "&" : "?"}api-version=${KEY_VAULT_API_VERSION}`
  );
}

/** Whether Key Vault logs the object id (`id`): only a call that returned an object, and never on a Managed HSM. */
export function loggedObjectId(record: SandboxAuditRecord): string | undefined {
  return record.vaultKind === "vault" && record.httpStatusCode < 400 ? record.id : undefined;
}

function appIdOf(store: SandboxStore, record: SandboxAuditRecord): string | undefined {
  if (record.callerAppId) return record.callerAppId;
  if (!record.callerObjectId) return undefined;
  return store.identities.get(record.callerObjectId.toLowerCase())?.clientId;
}

/** Which object-id column a record fills in a workspace. */
export function objectIdColumnFor(workspace: SandboxWorkspace, record: SandboxAuditRecord): ObjectIdColumn {
  return record.vaultKind === "managedHsm"
    ? LONG_OBJECT_ID_COLUMN
    : (workspace.objectIdColumn ?? DEFAULT_OBJECT_ID_COLUMN);
}

/** What a row's cells are computed from: the record, and the workspace and vault it belongs to. */
interface RowContext {
  store: SandboxStore;
  workspace: SandboxWorkspace;
  vault: SandboxVault;
}

type Cell = (record: SandboxAuditRecord, context: RowContext) => unknown;

/** The data columns of a Managed HSM record (vault records have none of them). */
function hsmCell(value: (vault: SandboxVault) => string): Cell {
  return (_record, { vault }) => (vault.kind === "vault" ? undefined : value(vault));
}

/** AzureDiagnostics' cells, by column; a cell that is `undefined` is a column the record put no data in. */
const azureDiagnosticsCells: Readonly<Record<string, Cell>> = {
  TenantId: (_record, { workspace }) => workspace.id,
  TimeGenerated: (record) => new Date(record.time),
  ResourceId: (_record, { vault }) => vault.resourceId.toUpperCase(),
  Category: () => "AuditEvent",
  ResourceGroup: (_record, { vault }) => vault.resourceGroup.toUpperCase(),
  SubscriptionId: (_record, { vault }) => vault.subscriptionId.toUpperCase(),
  ResourceProvider: () => "MICROSOFT.KEYVAULT",
  Resource: (_record, { vault }) => vault.name.toUpperCase(),
  ResourceType: (_record, { vault }) => (vault.kind === "managedHsm" ? "MANAGEDHSMS" : "VAULTS"),
  OperationName: (record) => record.operationName,
  ResultType: (record) => record.resultType,
  CorrelationId: (record) => record.correlationId,
  ResultSignature: (record) => record.resultSignature,
  ResultDescription: () => "",
  DurationMs: (record) => record.durationMs,
  CallerIPAddress: (record) => record.callerIpAddress,
  OperationVersion: () => KEY_VAULT_API_VERSION,
  SourceSystem: () => "Azure",
  Type: () => "AzureDiagnostics",
  _ResourceId: (_record, { vault }) => vault.resourceId.toLowerCase(),
  httpStatusCode_d: (record) => record.httpStatusCode,
  requestUri_s: (record) => requestUriOf(record),
  clientInfo_s: () => CLIENT_INFO,
  id_s: (record) => loggedObjectId(record),
  identity_claim_oid_g: (record, { workspace }) => objectIdIn("identity_claim_oid_g", record, workspace),
  [LONG_OBJECT_ID_COLUMN]: (record, { workspace }) => objectIdIn(LONG_OBJECT_ID_COLUMN, record, workspace),
  identity_claim_appid_g: (record, { store }) => appIdOf(store, record),
  isAccessPolicyMatch_b: (_record, { vault }) => (vault.kind === "vault" ? false : undefined),
  PoolType_s: hsmCell(() => "M-HSM"),
  sku_Family_s: hsmCell(() => "B"),
  sku_Name_s: hsmCell(() => "Standard_B1"),
  PoolName_s: hsmCell((vault) => vault.name),
  subnetId_s: hsmCell(() => "(unknown)"),
};

function objectIdIn(
  column: ObjectIdColumn,
  record: SandboxAuditRecord,
  workspace: SandboxWorkspace,
): string | undefined {
  return record.callerObjectId && objectIdColumnFor(workspace, record) === column
    ? record.callerObjectId
    : undefined;
}

/** The `Identity` claim of an AZKVAuditLogs record: the caller's object id (both spellings) and app id. */
function identityClaim(record: SandboxAuditRecord, store: SandboxStore): Record<string, unknown> {
  const appId = appIdOf(store, record);
  const claim: Record<string, string> = {};
  if (record.callerObjectId) {
    claim.oid = record.callerObjectId;
    claim[OBJECT_ID_CLAIM] = record.callerObjectId;
  }
  if (appId) claim.appid = appId;
  return Object.keys(claim).length > 0 ? { claim } : {};
}

/** AZKVAuditLogs' cells, by column. */
const azkvAuditLogsCells: Readonly<Record<string, Cell>> = {
  TenantId: (_record, { workspace }) => workspace.id,
  TimeGenerated: (record) => new Date(record.time),
  OperationName: (record) => record.operationName,
  OperationVersion: () => KEY_VAULT_API_VERSION,
  ResultType: (record) => record.resultType,
  ResultSignature: (record) => record.resultSignature,
  ResultDescription: () => "",
  DurationMs: (record) => record.durationMs,
  CallerIpAddress: (record) => record.callerIpAddress,
  CorrelationId: (record) => record.correlationId,
  Identity: (record, { store }) => identityClaim(record, store),
  Properties: (record) => {
    const objectId = loggedObjectId(record);
    return {
      ...(objectId ? { id: objectId } : {}),
      requestUri: requestUriOf(record),
      httpStatusCode: record.httpStatusCode,
      clientInfo: CLIENT_INFO,
    };
  },
  Id: (record) => loggedObjectId(record) ?? "",
  RequestUri: (record) => requestUriOf(record),
  HttpStatusCode: (record) => record.httpStatusCode,
  ClientInfo: () => CLIENT_INFO,
  IsRbacAuthorized: (record) => record.httpStatusCode !== 403,
  SourceSystem: () => "Azure",
  Type: () => "AZKVAuditLogs",
  _ResourceId: (_record, { vault }) => vault.resourceId.toLowerCase(),
  _SubscriptionId: (_record, { vault }) => vault.subscriptionId,
};

/**
 * One audit record as a row of a table: its cells are computed when a query reads them, so a
 * query over the whole log copies nothing (a row is this object and no more).
 */
class AuditRow implements KqlLazyRow {
  constructor(
    private readonly cells: Readonly<Record<string, Cell>>,
    private readonly record: SandboxAuditRecord,
    private readonly context: RowContext,
  ) {}

  [KQL_CELL](column: string): unknown {
    return Object.hasOwn(this.cells, column) ? this.cells[column]?.(this.record, this.context) : undefined;
  }
}

function vaultNamed(store: SandboxStore, name: string): SandboxVault | undefined {
  const direct = store.vaults.get(name) ?? store.vaults.get(name.toLowerCase());
  if (direct) return direct;
  for (const vault of store.vaults.values())
    if (vault.name.toLowerCase() === name.toLowerCase()) return vault;
  return undefined;
}

/** Data columns that ever received data, per workspace: once a column exists it stays. */
const columnsWithData = new WeakMap<SandboxStore, Map<string, Set<string>>>();

function workspaceColumns(store: SandboxStore, workspace: SandboxWorkspace): Set<string> {
  let byWorkspace = columnsWithData.get(store);
  if (!byWorkspace) {
    byWorkspace = new Map();
    columnsWithData.set(store, byWorkspace);
  }
  const key = workspace.id.toLowerCase();
  let columns = byWorkspace.get(key);
  if (!columns) {
    columns = new Set();
    byWorkspace.set(key, columns);
  }
  return columns;
}

/** Data columns one record fills in AzureDiagnostics (same rules as azureDiagnosticsRow). */
function dataColumnsOf(
  store: SandboxStore,
  workspace: SandboxWorkspace,
  record: SandboxAuditRecord,
): string[] {
  const columns = ["httpStatusCode_d", "requestUri_s", "clientInfo_s"];
  if (loggedObjectId(record) !== undefined) columns.push("id_s");
  if (record.callerObjectId) columns.push(objectIdColumnFor(workspace, record));
  if (appIdOf(store, record)) columns.push("identity_claim_appid_g");
  if (record.vaultKind === "vault") columns.push("isAccessPolicyMatch_b");
  else columns.push("PoolType_s", "sku_Family_s", "sku_Name_s", "PoolName_s", "subnetId_s");
  return columns;
}

/** The AzureDiagnostics schema of a workspace now: the common columns and every data column that received data. */
export function azureDiagnosticsSchema(store: SandboxStore, workspace: SandboxWorkspace): KqlColumn[] {
  const seen = workspaceColumns(store, workspace);
  return [...azureDiagnosticsBaseColumns, ...azureDiagnosticsDataColumns.filter((c) => seen.has(c.name))];
}

/**
 * The audit tables of `workspace`, holding only records visible now and inside `window`.
 * `tables` limits which tables get rows (a query can only read the tables it names); the
 * others are returned with their schema and no rows.
 */
export function workspaceAuditTables(
  store: SandboxStore,
  workspace: SandboxWorkspace,
  window?: TimeWindow,
  tables: readonly string[] = AUDIT_TABLE_NAMES,
): KqlTable[] {
  const diagnostics: AuditRow[] = [];
  const resourceSpecific: AuditRow[] = [];
  const contexts = new Map<SandboxVault, RowContext>();
  const wantDiagnostics = tables.includes("AzureDiagnostics");
  const wantResourceSpecific = tables.includes("AZKVAuditLogs");
  const seen = workspaceColumns(store, workspace);
  for (const record of visibleAuditRecords(store)) {
    const vault = vaultNamed(store, record.vault);
    if (!vault || vault.workspaceId.toLowerCase() !== workspace.id.toLowerCase()) continue;
    for (const column of dataColumnsOf(store, workspace, record)) seen.add(column);
    if (window && (record.time < window.start || record.time >= window.end)) continue;
    let context = contexts.get(vault);
    if (!context) {
      context = { store, workspace, vault };
      contexts.set(vault, context);
    }
    if (wantDiagnostics) diagnostics.push(new AuditRow(azureDiagnosticsCells, record, context));
    if (wantResourceSpecific && vault.kind === "vault")
      resourceSpecific.push(new AuditRow(azkvAuditLogsCells, record, context));
  }
  return [
    { name: "AzureDiagnostics", columns: azureDiagnosticsSchema(store, workspace), rows: diagnostics },
    { name: "AZKVAuditLogs", columns: azkvAuditLogsColumns, rows: resourceSpecific },
  ];
}
