/**
 * Audit evidence from Log Analytics: ONE query per workspace (and table) per run, for all
 * keys whose audit logs land there, never one per version. For each key it returns, per
 * version, the last use, last user and count, and per caller the last use — excluding the
 * service's own identity — plus the canary: the newest record of the service's own call on
 * that key, which proves the log pipeline is current. Every caller is named by its object id,
 * with the app id its token carried (a FirstPartyIdentity Cosmos DB account calls as the Azure
 * Cosmos DB application). Vault rows and Managed HSM rows, successful and failed calls, and
 * workspaces of either object-id column are read by the same query (see `auditQueryText`).
 *
 * What counts as use of a version: KeyGet, KeyWrap, KeyUnwrap, KeyEncrypt, KeyDecrypt,
 * KeySign and KeyVerify by anyone, whatever the result (a failed unwrap still proves someone
 * tries to use that version), except the service's own operations (SERVICE_OPERATIONS by its
 * principal): a crypto operation under the service's identity is someone's use, because the
 * service never performs one. Only 401 records are left out: they are the unauthenticated
 * first leg of every SDK call's challenge and carry no caller.
 *
 * A failed query or a partial result makes the evidence incomplete, with the problem; it is
 * never read as "no rows". The KQL contains only validated identifiers (see kqlLiteral.ts).
 */
import type { AzureClientFactory } from "../azure/clientFactory.js";
import { describeError } from "../errors.js";
import { type AuditEvidence, type FailedUse, type KeyRef, keyRefId, type VersionUse } from "../model.js";
import type { AuditTable } from "../settings.js";
import { describeAzureFailure, failureText } from "./azureFailure.js";
import { isGuid, isValidVersion, validateGuid } from "./keyRef.js";
import { kqlList, kqlLiteral } from "./kqlLiteral.js";

export const USE_OPERATIONS = [
  "KeyGet",
  "KeyWrap",
  "KeyUnwrap",
  "KeyEncrypt",
  "KeyDecrypt",
  "KeySign",
  "KeyVerify",
] as const;

/**
 * The operations the service itself performs on keys (src/adapters/keyVault.ts and the key
 * listing in runtime.ts): list keys, list versions, get, rotate (a new version), update (tags,
 * disable). Only these, by the service's principal, are its own and the canary. The service
 * never wraps, unwraps, encrypts, decrypts, signs or verifies: such a call under its identity
 * is someone else using that version with the service's identity, and counts as use.
 */
export const SERVICE_OPERATIONS = ["KeyList", "KeyListVersions", "KeyGet", "KeyRotate", "KeyUpdate"] as const;

interface LogsColumnLike {
  name?: string;
}
interface LogsTableLike {
  columnDescriptors: LogsColumnLike[];
  rows: unknown[][];
}

/** The `LogsQueryClient` call used here. */
export interface LogsQueryApi {
  queryWorkspace(
    workspaceId: string,
    query: string,
    timespan: { startTime: Date; endTime: Date },
  ): Promise<{
    status: string;
    tables?: LogsTableLike[];
    partialTables?: LogsTableLike[];
    partialError?: unknown;
  }>;
}

export interface AuditQuery {
  workspaceId: string;
  table: AuditTable;
  keys: readonly KeyRef[];
  /** Object id of the service's own identity. */
  servicePrincipalId: string;
  from: Date;
  to: Date;
}

export interface AuditLogReader {
  /** Evidence per `keyRefId` for every key in the query; never throws for a failed query. */
  readEvidence(query: AuditQuery): Promise<Record<string, AuditEvidence>>;
}

function hostKeyOf(key: KeyRef): string {
  return `${new URL(key.vaultUrl).host}/${key.keyName}`.toLowerCase();
}

/** The object-id columns AzureDiagnostics may have: which one a workspace fills varies, and a column that never received data does not exist. */
export const OBJECT_ID_COLUMNS = [
  "identity_claim_oid_g",
  "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
] as const;

/** `column_ifexists` of an AzureDiagnostics data column, as a string ('' when the workspace lacks it). */
function optionalColumn(name: string): string {
  return `tostring(column_ifexists('${name}', ''))`;
}

/**
 * The KQL for one workspace and table. Exported for tests and for the sandbox's analyser.
 *
 * It reads every row shape the audit logs have: the caller's object id from whichever object-id
 * column the workspace has (`column_ifexists`, never a direct name: naming a column that does not
 * exist fails the whole query), the caller's app id, and the key from `id_s` (a call that
 * returned an object) or else `requestUri_s` (failed calls, and every Managed HSM row, which has
 * no `id_s`). Host, key name and version are taken from the URI by pattern, so a port
 * (`:443`) or an operation segment (`/unwrapkey`) after the version does not matter.
 */
export function auditQueryText(
  table: AuditTable,
  keys: readonly KeyRef[],
  servicePrincipalId: string,
): string {
  const source =
    table === "AzureDiagnostics"
      ? [
          "AzureDiagnostics",
          "| where Category == 'AuditEvent' and ResourceType in ('VAULTS', 'MANAGEDHSMS')",
          `| extend Caller = tolower(coalesce(${OBJECT_ID_COLUMNS.map(optionalColumn).join(", ")})), AppId = tolower(${optionalColumn("identity_claim_appid_g")})`,
          `| extend Uri = tolower(coalesce(${optionalColumn("id_s")}, ${optionalColumn("requestUri_s")})), Status = toint(column_ifexists('httpStatusCode_d', 0))`,
        ]
      : [
          "AZKVAuditLogs",
          "| extend Caller = tolower(tostring(coalesce(Identity.claim.oid, Identity.claim['http://schemas.microsoft.com/identity/claims/objectidentifier']))), AppId = tolower(tostring(Identity.claim.appid))",
          "| extend Uri = tolower(coalesce(Id, RequestUri)), Status = toint(HttpStatusCode)",
        ];
  const service = kqlLiteral("guid", servicePrincipalId.toLowerCase());
  return [
    ...source,
    "| where Status != 401 and isnotempty(Uri)",
    "| extend HostName = extract('^https://([^/:?]+)', 1, Uri), KeyName = extract('^https://[^/?]+/keys/([^/?]+)', 1, Uri), Version = extract('^https://[^/?]+/keys/[^/?]+/([0-9a-f]{32})([/?]|$)', 1, Uri)",
    "| extend HostKey = strcat(HostName, '/', KeyName)",
    `| where isnotempty(KeyName) and HostKey in ${kqlList("hostKey", keys.map(hostKeyOf))}`,
    `| extend Own = Caller == ${service} and OperationName in ${kqlList("operation", [...SERVICE_OPERATIONS])}`,
    `| where Own or OperationName in ${kqlList("operation", [...USE_OPERATIONS])}`,
    // A crypto operation on a disabled version answers 403 (KeyDisabled): the sign that it is still needed.
    "| extend Failed = not(Own) and Status == 403",
    "| summarize FirstUse = min(TimeGenerated), LastUse = max(TimeGenerated), Uses = count() by HostKey, Version, Caller, AppId, Own, Failed",
  ].join("\n");
}

interface SummaryRow {
  hostKey: string;
  version: string;
  caller: string;
  /** App id of the caller's token (a first-party service's app), or "" when the row has none. */
  appId: string;
  /** The service's own operation (SERVICE_OPERATIONS by its principal): the canary, never use. */
  own: boolean;
  /** Calls that failed with 403 (a crypto operation on a disabled version). */
  failed: boolean;
  firstUse: Date;
  lastUse: Date;
  uses: number;
}

function summaryRows(table: LogsTableLike): SummaryRow[] {
  const index = (name: string) => table.columnDescriptors.findIndex((column) => column.name === name);
  const columns = {
    hostKey: index("HostKey"),
    version: index("Version"),
    caller: index("Caller"),
    appId: index("AppId"),
    own: index("Own"),
    firstUse: index("FirstUse"),
    lastUse: index("LastUse"),
    uses: index("Uses"),
  };
  if (Object.values(columns).some((position) => position < 0)) {
    throw new Error(
      `the result lacks columns: got ${table.columnDescriptors.map((column) => column.name).join(", ")}`,
    );
  }
  // Optional: a result without it (an older query) has no failures.
  const failedColumn = index("Failed");
  return table.rows.map((row) => {
    const timeOf = (raw: unknown) => (raw instanceof Date ? raw : new Date(String(raw)));
    const firstUse = timeOf(row[columns.firstUse]);
    const lastUse = timeOf(row[columns.lastUse]);
    const uses = Number(row[columns.uses]);
    if (Number.isNaN(lastUse.getTime()) || Number.isNaN(firstUse.getTime()) || !Number.isFinite(uses)) {
      throw new Error(`the result has a row with an unreadable time or count: ${JSON.stringify(row)}`);
    }
    return {
      hostKey: String(row[columns.hostKey] ?? ""),
      version: String(row[columns.version] ?? "").toLowerCase(),
      caller: String(row[columns.caller] ?? "").toLowerCase() || "unknown",
      appId: String(row[columns.appId] ?? "").toLowerCase(),
      own: row[columns.own] === true || String(row[columns.own]).toLowerCase() === "true",
      failed:
        failedColumn >= 0 &&
        (row[failedColumn] === true || String(row[failedColumn]).toLowerCase() === "true"),
      firstUse,
      lastUse,
      uses,
    };
  });
}

/** Folds the summary rows of one key into uses per version and the canary. */
function evidenceFrom(rows: readonly SummaryRow[]): {
  uses: VersionUse[];
  failures: FailedUse[];
  callerAppIds: Record<string, string>;
  canarySeenAt?: Date;
  canaryFirstSeenAt?: Date;
} {
  const byVersion = new Map<string, VersionUse>();
  const failedByVersion = new Map<string, FailedUse>();
  const callerAppIds: Record<string, string> = {};
  let canarySeenAt: Date | undefined;
  let canaryFirstSeenAt: Date | undefined;
  for (const row of rows) {
    if (row.own) {
      if (!canarySeenAt || row.lastUse > canarySeenAt) canarySeenAt = row.lastUse;
      if (!canaryFirstSeenAt || row.firstUse < canaryFirstSeenAt) canaryFirstSeenAt = row.firstUse;
      continue;
    }
    // Records without a valid version (e.g. a get of the latest logged without one) name no version.
    if (!isValidVersion(row.version)) continue;
    if (row.appId && isGuid(row.appId)) callerAppIds[row.caller] = row.appId;
    if (row.failed) {
      const failure = failedByVersion.get(row.version) ?? {
        version: row.version,
        firstFailure: row.firstUse,
        lastFailure: row.lastUse,
        count: 0,
        byCaller: {},
      };
      failure.count += row.uses;
      if (row.firstUse < failure.firstFailure) failure.firstFailure = row.firstUse;
      if (row.lastUse > failure.lastFailure) failure.lastFailure = row.lastUse;
      const last = failure.byCaller[row.caller];
      if (!last || row.lastUse > last) failure.byCaller[row.caller] = row.lastUse;
      failedByVersion.set(row.version, failure);
    }
    const use = byVersion.get(row.version) ?? {
      version: row.version,
      lastUse: row.lastUse,
      lastUser: row.caller,
      count: 0,
      byCaller: {},
    };
    use.count += row.uses;
    if (row.lastUse >= use.lastUse) {
      use.lastUse = row.lastUse;
      use.lastUser = row.caller;
    }
    const previous = use.byCaller[row.caller];
    if (!previous || row.lastUse > previous) use.byCaller[row.caller] = row.lastUse;
    byVersion.set(row.version, use);
  }
  const uses = [...byVersion.values()].sort((a, b) => a.version.localeCompare(b.version));
  const failures = [...failedByVersion.values()].sort((a, b) => a.version.localeCompare(b.version));
  return canarySeenAt && canaryFirstSeenAt
    ? { uses, failures, callerAppIds, canarySeenAt, canaryFirstSeenAt }
    : { uses, failures, callerAppIds };
}

export function createAuditLogReader(api: LogsQueryApi): AuditLogReader {
  return {
    async readEvidence(query) {
      const base = { workspaceId: query.workspaceId, from: query.from, to: query.to };
      const incomplete = (problem: string): Record<string, AuditEvidence> =>
        Object.fromEntries(
          query.keys.map((key) => [keyRefId(key), { ...base, key, complete: false, problem, uses: [] }]),
        );
      if (query.keys.length === 0) return {};
      let text: string;
      let servicePrincipalId: string;
      try {
        servicePrincipalId = validateGuid(query.servicePrincipalId, "service principal id");
        validateGuid(query.workspaceId, "workspace id");
        text = auditQueryText(query.table, query.keys, servicePrincipalId);
      } catch (error) {
        return incomplete(`the audit query could not be built: ${describeError(error)}`);
      }
      let tables: LogsTableLike[];
      try {
        const result = await api.queryWorkspace(query.workspaceId, text, {
          startTime: query.from,
          endTime: query.to,
        });
        if (result.status !== "Success" || !result.tables) {
          const reason =
            result.partialError === undefined
              ? result.status
              : describeAzureFailure(result.partialError).message;
          return incomplete(
            `the audit query in workspace ${query.workspaceId} returned a partial result (${reason})`,
          );
        }
        tables = result.tables;
      } catch (error) {
        return incomplete(
          `the audit query in workspace ${query.workspaceId} failed: ${failureText(describeAzureFailure(error))}`,
        );
      }
      let rows: SummaryRow[];
      try {
        const [first] = tables;
        rows = first ? summaryRows(first) : [];
      } catch (error) {
        return incomplete(
          `the audit query in workspace ${query.workspaceId} answered oddly: ${describeError(error)}`,
        );
      }
      const evidence: Record<string, AuditEvidence> = {};
      for (const key of query.keys) {
        const hostKey = hostKeyOf(key);
        const found = evidenceFrom(rows.filter((row) => row.hostKey === hostKey));
        evidence[keyRefId(key)] = { ...base, key, complete: true, ...found };
      }
      return evidence;
    },
  };
}

export function auditLogReaderFromFactory(factory: AzureClientFactory): AuditLogReader {
  return createAuditLogReader(factory.logs());
}
