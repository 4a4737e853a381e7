/**
 * Resource Graph's `POST /providers/Microsoft.ResourceGraph/resources` over the sandbox's
 * Resource Manager state: the `Resources` table (columns as Resource Graph has them, type in
 * lower case) restricted to the requested subscriptions and to what the caller may read,
 * queried with the sandbox KQL engine, paged with `$top`/`$skip`/`$skipToken`.
 * Child proxy resources (Cassandra data centers) are not in `Resources`, as in Azure; the
 * estate's user-assigned identities are (they are resources of their own).
 *
 * Paging as Resource Graph documents it (resourcegraph.json 2024-04-01 and "Working with
 * large Azure resource data sets"): 100 rows by default, `$top` 1 to 1,000; the skip token
 * captures "the next page size and offset, as well as the context of the query", so later
 * pages keep the first page's size unless `$top` overrides it (and `$skip` overrides the
 * offset); a query that does not project `id` is not paged (`resultTruncated` "true", no
 * skip token). The first page runs the query once and keeps its rows for the pages that
 * follow, so a later page costs only its own rows, not a rebuild of the whole table.
 */
import { createHash, randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { KqlError, type KqlResult, type KqlTable, runKql } from "../kql/index.js";
import type { SandboxStore } from "../store.js";
import { type ArmCaller, callerMay } from "./armCaller.js";
import { ArmRequestError } from "./armErrors.js";
import { isJsonObject, type JsonObject } from "./patchBody.js";

export type QueryRunner = (query: string, tables: KqlTable[], options?: { now?: number }) => KqlResult;

/** Rows per page when the request and its skip token say nothing. */
const DEFAULT_TOP = 100;
/** The largest page Resource Graph returns. */
const MAX_TOP = 1000;

const resourcesColumns: KqlTable["columns"] = [
  { name: "id", type: "string" },
  { name: "name", type: "string" },
  { name: "type", type: "string" },
  { name: "tenantId", type: "string" },
  { name: "kind", type: "string" },
  { name: "location", type: "string" },
  { name: "resourceGroup", type: "string" },
  { name: "subscriptionId", type: "string" },
  { name: "managedBy", type: "string" },
  { name: "sku", type: "dynamic" },
  { name: "plan", type: "dynamic" },
  { name: "properties", type: "dynamic" },
  { name: "tags", type: "dynamic" },
  { name: "identity", type: "dynamic" },
  { name: "zones", type: "dynamic" },
  { name: "extendedLocation", type: "dynamic" },
];

function invalidQuery(message: string, detailCode = "InvalidQuery"): ArmRequestError {
  return new ArmRequestError(
    400,
    "BadRequest",
    "Please provide below info when asking for support: timestamp and correlation id of this request.",
    "cloudError",
    [{ code: detailCode, message }],
  );
}

interface ParsedQueryRequest {
  query: string;
  subscriptions: string[] | undefined;
  /** Undefined: the token's page size, or the default of 100. */
  top: number | undefined;
  /** Undefined: the token's offset, or 0. */
  skip: number | undefined;
  skipToken: string | undefined;
  resultFormat: "objectArray" | "table";
}

function nonNegativeInteger(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw invalidQuery(`The option '${name}' must be a non-negative integer.`, "InvalidRequestOptions");
  }
  return value;
}

export function parseQueryRequest(body: unknown): ParsedQueryRequest {
  if (!isJsonObject(body))
    throw invalidQuery("The request body must be a JSON object with a 'query'.", "InvalidRequest");
  if (typeof body.query !== "string" || body.query.trim() === "") {
    throw invalidQuery("The request must contain a non-empty 'query' string.", "InvalidRequest");
  }
  let subscriptions: string[] | undefined;
  if (body.subscriptions !== undefined && body.subscriptions !== null) {
    if (!Array.isArray(body.subscriptions) || !body.subscriptions.every((id) => typeof id === "string")) {
      throw invalidQuery("'subscriptions' must be an array of subscription ids.", "InvalidRequest");
    }
    subscriptions = body.subscriptions as string[];
  }
  const options = body.options === undefined || body.options === null ? {} : body.options;
  if (!isJsonObject(options)) throw invalidQuery("'options' must be a JSON object.", "InvalidRequestOptions");
  const top = nonNegativeInteger(options.$top, "$top");
  if (top !== undefined && (top < 1 || top > MAX_TOP)) {
    throw invalidQuery(`The option '$top' must be between 1 and ${MAX_TOP}.`, "InvalidRequestOptions");
  }
  const skipToken = options.$skipToken;
  if (skipToken !== undefined && skipToken !== null && typeof skipToken !== "string") {
    throw invalidQuery("The option '$skipToken' must be a string.", "InvalidRequestOptions");
  }
  const resultFormat = options.resultFormat ?? "objectArray";
  if (resultFormat !== "objectArray" && resultFormat !== "table") {
    throw invalidQuery(
      "The option 'resultFormat' must be 'objectArray' or 'table'.",
      "InvalidRequestOptions",
    );
  }
  return {
    query: body.query,
    subscriptions,
    top,
    skip: nonNegativeInteger(options.$skip, "$skip"),
    skipToken: typeof skipToken === "string" && skipToken !== "" ? skipToken : undefined,
    resultFormat,
  };
}

/** Query, scope and caller: a skip token is good only for the request it came from. */
function queryFingerprint(query: string, subscriptions: string[], caller: ArmCaller): string {
  return createHash("sha256")
    .update(`${query}\n${subscriptions.join(",")}\n${caller.objectId}`)
    .digest("hex")
    .slice(0, 16);
}

interface SkipToken {
  /** The result the first page kept (see `resultSnapshots`). */
  snapshot: string;
  offset: number;
  pageSize: number;
  fingerprint: string;
}

function encodeSkipToken(token: SkipToken): string {
  return Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
}

function decodeSkipToken(text: string, fingerprint: string): SkipToken {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (
      isJsonObject(decoded) &&
      typeof decoded.snapshot === "string" &&
      typeof decoded.offset === "number" &&
      Number.isInteger(decoded.offset) &&
      decoded.offset >= 0 &&
      typeof decoded.pageSize === "number" &&
      Number.isInteger(decoded.pageSize) &&
      decoded.pageSize >= 1 &&
      decoded.pageSize <= MAX_TOP &&
      decoded.fingerprint === fingerprint
    ) {
      return {
        snapshot: decoded.snapshot,
        offset: decoded.offset,
        pageSize: decoded.pageSize,
        fingerprint,
      };
    }
  } catch {
    // fall through to the error below
  }
  throw invalidQuery(
    "The $skipToken is invalid or belongs to a different query; start again without it.",
    "InvalidSkipToken",
  );
}

/**
 * Results kept for the pages after the first, per sandbox: at most `MAX_SNAPSHOTS`, each
 * dropped `SNAPSHOT_IDLE_MS` after its last page was read. A token whose result was dropped
 * still works: the query runs again (Resource Graph's own later pages see later data too).
 */
interface ResultSnapshot {
  fingerprint: string;
  result: KqlResult;
  lastReadAt: number;
}

const MAX_SNAPSHOTS = 16;
const SNAPSHOT_IDLE_MS = 60_000;
const resultSnapshots = new WeakMap<SandboxStore, Map<string, ResultSnapshot>>();

function snapshotsOf(store: SandboxStore): Map<string, ResultSnapshot> {
  let snapshots = resultSnapshots.get(store);
  if (!snapshots) {
    snapshots = new Map();
    resultSnapshots.set(store, snapshots);
  }
  const now = performance.now();
  for (const [id, snapshot] of snapshots) {
    if (now - snapshot.lastReadAt > SNAPSHOT_IDLE_MS) snapshots.delete(id);
  }
  return snapshots;
}

function keepSnapshot(store: SandboxStore, fingerprint: string, result: KqlResult): string {
  const snapshots = snapshotsOf(store);
  const id = randomUUID();
  snapshots.set(id, { fingerprint, result, lastReadAt: performance.now() });
  while (snapshots.size > MAX_SNAPSHOTS) {
    const oldest = snapshots.keys().next().value;
    if (oldest === undefined) break;
    snapshots.delete(oldest);
  }
  return id;
}

function keptSnapshot(store: SandboxStore, token: SkipToken): KqlResult | undefined {
  const snapshots = snapshotsOf(store);
  const snapshot = snapshots.get(token.snapshot);
  if (!snapshot || snapshot.fingerprint !== token.fingerprint) return undefined;
  snapshot.lastReadAt = performance.now();
  // Most recently read last, so the least recently read is evicted first.
  snapshots.delete(token.snapshot);
  snapshots.set(token.snapshot, snapshot);
  return snapshot.result;
}

/** Build the `Resources` table over what the caller may read in `subscriptions`. */
export function resourcesTable(store: SandboxStore, caller: ArmCaller, subscriptions: string[]): KqlTable {
  const wanted = new Set(subscriptions.map((id) => id.toLowerCase()));
  const rows: Record<string, unknown>[] = [];
  for (const resource of store.armResources.values()) {
    const segments = resource.id.split("/");
    const subscriptionId = segments[2] ?? "";
    const resourceGroup = segments[3]?.toLowerCase() === "resourcegroups" ? (segments[4] ?? "") : "";
    if (!wanted.has(subscriptionId.toLowerCase())) continue;
    if (resource.type.split("/").length !== 2) continue;
    if (!callerMay(store, caller, `${resource.type}/read`, resource.id)) continue;
    const body = resource.body;
    rows.push({
      id: resource.id,
      name: typeof body.name === "string" ? body.name : (segments[segments.length - 1] ?? ""),
      type: resource.type.toLowerCase(),
      tenantId: store.tenantId,
      kind: typeof body.kind === "string" ? body.kind : "",
      location: typeof body.location === "string" ? body.location.replace(/\s+/g, "").toLowerCase() : "",
      resourceGroup: resourceGroup.toLowerCase(),
      subscriptionId,
      managedBy: typeof body.managedBy === "string" ? body.managedBy : "",
      sku: body.sku ?? null,
      plan: body.plan ?? null,
      properties: body.properties ?? null,
      tags: body.tags ?? null,
      identity: body.identity ?? null,
      zones: body.zones ?? null,
      extendedLocation: body.extendedLocation ?? null,
    });
  }
  rows.push(...userAssignedIdentityRows(store, caller, wanted));
  rows.push(...vaultRows(store, caller, wanted));
  return { name: "Resources", columns: resourcesColumns, rows };
}

/**
 * The estate's user-assigned identities, as Resource Graph lists them
 * (`microsoft.managedidentity/userassignedidentities`, with `properties.principalId`,
 * `clientId` and `tenantId`): they are ARM resources of their own in Azure.
 */
function userAssignedIdentityRows(
  store: SandboxStore,
  caller: ArmCaller,
  subscriptions: ReadonlySet<string>,
): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const identity of store.identities.values()) {
    const id = identity.resourceId;
    if (!id) continue;
    const segments = id.split("/");
    const subscriptionId = segments[2] ?? "";
    if (!subscriptions.has(subscriptionId.toLowerCase())) continue;
    if (!callerMay(store, caller, "Microsoft.ManagedIdentity/userAssignedIdentities/read", id)) continue;
    const vault = [...store.vaults.values()][0];
    rows.push({
      id,
      name: identity.name,
      type: "microsoft.managedidentity/userassignedidentities",
      tenantId: store.tenantId,
      kind: "",
      location: vault?.location?.toLowerCase() ?? "westeurope",
      resourceGroup: (segments[4] ?? "").toLowerCase(),
      subscriptionId,
      managedBy: "",
      sku: null,
      plan: null,
      properties: { tenantId: store.tenantId, principalId: identity.objectId, clientId: identity.clientId },
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
    });
  }
  return rows;
}

/**
 * The estate's vaults and Managed HSMs, as Resource Graph lists them (`microsoft.keyvault/vaults`
 * with `properties.vaultUri`, `enableSoftDelete`, `enablePurgeProtection` and
 * `softDeleteRetentionInDays`; `microsoft.keyvault/managedhsms` with `hsmUri`): ARM resources of
 * their own in Azure, with their region. Azure omits `enablePurgeProtection` until it is turned on.
 */
function vaultRows(
  store: SandboxStore,
  caller: ArmCaller,
  subscriptions: ReadonlySet<string>,
): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const vault of store.vaults.values()) {
    if (!subscriptions.has(vault.subscriptionId.toLowerCase())) continue;
    const type = vault.kind === "vault" ? "Microsoft.KeyVault/vaults" : "Microsoft.KeyVault/managedHSMs";
    if (!callerMay(store, caller, `${type}/read`, vault.resourceId)) continue;
    rows.push({
      id: vault.resourceId,
      name: vault.name,
      type: type.toLowerCase(),
      tenantId: store.tenantId,
      kind: "",
      location: vault.location.replace(/\s+/g, "").toLowerCase(),
      resourceGroup: vault.resourceGroup.toLowerCase(),
      subscriptionId: vault.subscriptionId,
      managedBy: "",
      sku: vault.kind === "vault" ? { family: "A", name: "premium" } : { family: "B", name: "Standard_B1" },
      plan: null,
      properties: {
        tenantId: store.tenantId,
        [vault.kind === "vault" ? "vaultUri" : "hsmUri"]: vault.uri,
        enableSoftDelete: vault.softDelete,
        ...(vault.purgeProtection ? { enablePurgeProtection: true } : {}),
        softDeleteRetentionInDays: vault.softDeleteRetentionInDays,
        ...(vault.kind === "vault" ? { enableRbacAuthorization: true } : {}),
        provisioningState: "Succeeded",
      },
      tags: null,
      identity: null,
      zones: null,
      extendedLocation: null,
    });
  }
  return rows;
}

/** Resource Graph's column data types for the KQL types. */
function columnDataType(type: string): string {
  switch (type) {
    case "long":
    case "int":
      return "integer";
    case "real":
      return "number";
    case "bool":
      return "boolean";
    case "datetime":
      return "datetime";
    case "dynamic":
      return "object";
    default:
      return "string";
  }
}

function plainValue(value: unknown): unknown {
  return value instanceof Date ? value.toISOString() : value;
}

export function answerResourceGraphQuery(
  store: SandboxStore,
  caller: ArmCaller,
  body: unknown,
  runQuery: QueryRunner = runKql,
): JsonObject {
  const request = parseQueryRequest(body);
  const subscriptions = request.subscriptions ?? store.subscriptions.map((subscription) => subscription.id);
  const fingerprint = queryFingerprint(request.query, subscriptions, caller);
  const token = request.skipToken ? decodeSkipToken(request.skipToken, fingerprint) : undefined;
  const offset = request.skip ?? token?.offset ?? 0;
  const pageSize = request.top ?? token?.pageSize ?? DEFAULT_TOP;
  let result = token ? keptSnapshot(store, token) : undefined;
  let snapshot = token?.snapshot;
  if (!result) {
    try {
      result = runQuery(request.query, [resourcesTable(store, caller, subscriptions)], { now: store.now() });
    } catch (error) {
      if (error instanceof KqlError) throw invalidQuery(`${error.code}: ${error.message}`);
      throw error;
    }
    snapshot = undefined;
  }
  const rows = result.rows;
  const page = rows.slice(offset, offset + pageSize);
  const next = offset + page.length;
  const more = next < rows.length;
  // Without an id column Resource Graph cannot page: the rest is cut off.
  const pageable = result.columns.some((column) => column.name === "id");
  let skipToken: string | undefined;
  if (more && pageable) {
    snapshot ??= keepSnapshot(store, fingerprint, result);
    skipToken = encodeSkipToken({ snapshot, offset: next, pageSize, fingerprint });
  }
  const columns = result.columns;
  const data =
    request.resultFormat === "table"
      ? {
          columns: columns.map((column) => ({ name: column.name, type: columnDataType(column.type) })),
          rows: page.map((row) => row.map(plainValue)),
        }
      : page.map((row) =>
          Object.fromEntries(columns.map((column, index) => [column.name, plainValue(row[index])])),
        );
  return {
    totalRecords: rows.length,
    count: page.length,
    resultTruncated: more && !pageable ? "true" : "false",
    ...(skipToken ? { $skipToken: skipToken } : {}),
    data,
    facets: [],
  };
}
