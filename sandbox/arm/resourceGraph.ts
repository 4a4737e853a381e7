/**
 * Resource Graph's `POST /providers/Microsoft.ResourceGraph/resources` over the sandbox's
 * Resource Manager state: the `Resources` table (columns as Resource Graph has them, type in
 * lower case) restricted to the requested subscriptions and to what the caller may read,
 * queried with the sandbox KQL engine, paged with `$top`/`$skip`/`$skipToken`.
 * Child proxy resources (Cassandra data centers) are not in `Resources`, as in Azure.
 */
import { createHash } from "node:crypto";
import { KqlError, type KqlResult, type KqlTable, runKql } from "../kql/index.js";
import type { SandboxStore } from "../store.js";
import { type ArmCaller, callerMay } from "./armCaller.js";
import { ArmRequestError } from "./armErrors.js";
import { isJsonObject, type JsonObject } from "./patchBody.js";

export type QueryRunner = (query: string, tables: KqlTable[], options?: { now?: number }) => KqlResult;

const defaultTop = 100;
const maxTop = 1000;

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
  top: number;
  skip: number;
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
  const top = nonNegativeInteger(options.$top, "$top") ?? defaultTop;
  if (top < 1 || top > maxTop) {
    throw invalidQuery(`The option '$top' must be between 1 and ${maxTop}.`, "InvalidRequestOptions");
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
    skip: nonNegativeInteger(options.$skip, "$skip") ?? 0,
    skipToken: typeof skipToken === "string" && skipToken !== "" ? skipToken : undefined,
    resultFormat,
  };
}

function queryFingerprint(query: string, subscriptions: string[]): string {
  return createHash("sha256")
    .update(`${query}\n${subscriptions.join(",")}`)
    .digest("hex")
    .slice(0, 16);
}

function encodeSkipToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ offset, fingerprint }), "utf8").toString("base64url");
}

function decodeSkipToken(token: string, fingerprint: string): number {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (
      isJsonObject(decoded) &&
      typeof decoded.offset === "number" &&
      Number.isInteger(decoded.offset) &&
      decoded.offset >= 0 &&
      decoded.fingerprint === fingerprint
    ) {
      return decoded.offset;
    }
  } catch {
    // fall through to the error below
  }
  throw invalidQuery(
    "The $skipToken is invalid or belongs to a different query; start again without it.",
    "InvalidSkipToken",
  );
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
  return { name: "Resources", columns: resourcesColumns, rows };
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
  const fingerprint = queryFingerprint(request.query, subscriptions);
  const offset = request.skipToken ? decodeSkipToken(request.skipToken, fingerprint) : request.skip;
  let result: KqlResult;
  try {
    result = runQuery(request.query, [resourcesTable(store, caller, subscriptions)], { now: store.now() });
  } catch (error) {
    if (error instanceof KqlError) throw invalidQuery(`${error.code}: ${error.message}`);
    throw error;
  }
  const page = result.rows.slice(offset, offset + request.top);
  const next = offset + page.length;
  const data =
    request.resultFormat === "table"
      ? {
          columns: result.columns.map((column) => ({ name: column.name, type: columnDataType(column.type) })),
          rows: page.map((row) => row.map(plainValue)),
        }
      : page.map((row) =>
          Object.fromEntries(result.columns.map((column, index) => [column.name, plainValue(row[index])])),
        );
  return {
    totalRecords: result.rows.length,
    count: page.length,
    resultTruncated: "false",
    ...(next < result.rows.length ? { $skipToken: encodeSkipToken(next, fingerprint) } : {}),
    data,
    facets: [],
  };
}
