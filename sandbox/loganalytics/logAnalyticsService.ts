/**
 * The Log Analytics query API (api.loganalytics.io/v1, OperationalInsights.json 2022-10-27)
 * over the sandbox's Key Vault audit records:
 *
 *   GET|POST /v1/workspaces/{workspaceId}/query   one query (GET: ?query=&timespan=)
 *   POST     /v1/$batch                           several queries (LogsQueryClient.queryBatch)
 *
 * A caller needs a bearer token for https://api.loganalytics.io and read access to each
 * workspace queried. Errors use the API's ErrorResponse shape.
 */
import { randomUUID } from "node:crypto";
import { json, type SandboxRequest, type SandboxResponse, type SandboxService } from "../http.js";
import { bearerToken, parseSandboxToken, type SandboxTokenClaims } from "../identity.js";
import {
  type KqlColumn,
  KqlError,
  type KqlResult,
  type KqlSourceRow,
  type KqlTable,
  runKql,
} from "../kql/index.js";
import type { SandboxWorkspace } from "../model.js";
import { isAuthorized } from "../rbac.js";
import type { SandboxStore } from "../store.js";
import { AUDIT_TABLE_NAMES, workspaceAuditTables } from "./auditTables.js";
import { parseQueryTimespan } from "./queryTimespan.js";

export const LOG_ANALYTICS_HOST = "api.loganalytics.io";
export const LOG_ANALYTICS_AUDIENCE = "https://api.loganalytics.io";
export const WORKSPACE_QUERY_ACTION = "Microsoft.OperationalInsights/workspaces/query/read";

interface ErrorInfo {
  code: string;
  message: string;
  details?: { code: string; message: string; resources?: string[] }[];
  innererror?: ErrorInfo;
}

/** A request the API refuses: status plus the ErrorResponse body. */
class LogAnalyticsError extends Error {
  constructor(
    readonly status: number,
    readonly info: ErrorInfo,
  ) {
    super(info.message);
    this.name = "LogAnalyticsError";
  }
}

function errorBody(info: ErrorInfo): { error: ErrorInfo & { correlationId: string } } {
  return { error: { ...info, correlationId: randomUUID() } };
}

function errorResponse(error: LogAnalyticsError): SandboxResponse {
  const headers: Record<string, string> =
    error.status === 401
      ? {
          "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token"`,
        }
      : {};
  return json(error.status, errorBody(error.info), headers);
}

function badArgument(message: string, inner?: ErrorInfo): LogAnalyticsError {
  return new LogAnalyticsError(400, {
    code: "BadArgumentError",
    message,
    ...(inner ? { innererror: inner } : {}),
  });
}

// --- Authentication and authorisation ------------------------------------------------------

function authenticate(request: SandboxRequest, store: SandboxStore): SandboxTokenClaims {
  const header = request.headers.authorization;
  const token = bearerToken(Array.isArray(header) ? header[0] : header);
  if (!token) {
    throw new LogAnalyticsError(401, {
      code: "AuthorizationRequiredError",
      message: "Valid authentication was not provided: send a bearer token for https://api.loganalytics.io.",
    });
  }
  const claims = parseSandboxToken(token);
  if (!claims) {
    throw new LogAnalyticsError(401, {
      code: "InvalidTokenError",
      message: "The provided authentication token is not a valid JWT.",
    });
  }
  if (claims.aud.replace(/\/+$/, "").toLowerCase() !== LOG_ANALYTICS_AUDIENCE) {
    throw new LogAnalyticsError(401, {
      code: "InvalidTokenError",
      message: `The provided authentication is not valid for this resource: the token's audience is '${claims.aud}', expected '${LOG_ANALYTICS_AUDIENCE}'.`,
    });
  }
  if (claims.exp * 1000 <= store.now()) {
    throw new LogAnalyticsError(401, {
      code: "InvalidTokenError",
      message: "The provided authentication token has expired; acquire a new one.",
    });
  }
  return claims;
}

function workspaceFor(
  store: SandboxStore,
  workspaceId: string,
  claims: SandboxTokenClaims,
): SandboxWorkspace {
  const workspace =
    store.workspaces.get(workspaceId.toLowerCase()) ??
    [...store.workspaces.values()].find(
      (candidate) =>
        candidate.id.toLowerCase() === workspaceId.toLowerCase() || candidate.name === workspaceId,
    );
  if (!workspace) {
    throw new LogAnalyticsError(404, {
      code: "WorkspaceNotFoundError",
      message: `The workspace '${workspaceId}' could not be found: check the workspace (customer) id.`,
    });
  }
  if (!isAuthorized(store, claims.oid, workspace.resourceId, WORKSPACE_QUERY_ACTION, "control")) {
    throw new LogAnalyticsError(403, {
      code: "InsufficientAccessError",
      message: `The provided credentials have insufficient access to perform the requested operation: principal '${claims.oid}' needs ${WORKSPACE_QUERY_ACTION} on ${workspace.resourceId} (for example the Log Analytics Reader role).`,
    });
  }
  return workspace;
}

// --- Query bodies ---------------------------------------------------------------------------

interface QueryBody {
  query: string;
  timespan?: string;
  workspaces: string[];
}

function parseQueryBody(body: unknown): QueryBody {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badArgument("The request body must be a JSON object with a 'query' string.");
  }
  const fields = body as Record<string, unknown>;
  if (typeof fields.query !== "string" || fields.query.trim() === "") {
    throw badArgument('The request body has no \'query\': send {"query": "<KQL>"}.');
  }
  if (fields.timespan !== undefined && fields.timespan !== null && typeof fields.timespan !== "string") {
    throw badArgument("'timespan' must be an ISO 8601 interval string such as 'PT1H'.");
  }
  const workspaces = fields.workspaces ?? [];
  if (!Array.isArray(workspaces) || workspaces.some((workspace) => typeof workspace !== "string")) {
    throw badArgument("'workspaces' must be an array of workspace id strings.");
  }
  return {
    query: fields.query,
    ...(typeof fields.timespan === "string" ? { timespan: fields.timespan } : {}),
    workspaces: workspaces as string[],
  };
}

function readBody(request: SandboxRequest): unknown {
  if (request.body.length === 0) return undefined;
  try {
    return JSON.parse(request.body.toString("utf8")) as unknown;
  } catch (error) {
    throw badArgument(`The request body is not valid JSON: ${(error as Error).message}`);
  }
}

interface Preferences {
  includeStatistics: boolean;
  includeRender: boolean;
}

/** The Prefer header ("wait=600, include-statistics=true, include-render=true"), read leniently. */
function parsePrefer(value: string | string[] | undefined): Preferences {
  const text = (Array.isArray(value) ? value.join(",") : (value ?? "")).toLowerCase();
  return {
    includeStatistics: /include-statistics\s*=\s*true/.test(text),
    includeRender: /include-render\s*=\s*true/.test(text),
  };
}

// --- Running a query --------------------------------------------------------------------------

/** Tables of several workspaces as one: rows appended, columns the union (a column existing in any workspace). */
function mergeTables(tableSets: KqlTable[][]): KqlTable[] {
  const merged = new Map<string, { name: string; columns: KqlColumn[]; rows: KqlSourceRow[] }>();
  for (const table of tableSets.flat()) {
    const existing = merged.get(table.name);
    if (!existing) {
      merged.set(table.name, { ...table, columns: [...table.columns], rows: [...table.rows] });
      continue;
    }
    // One at a time: a spread of a large table's rows as arguments would overflow the stack.
    for (const row of table.rows) existing.rows.push(row);
    for (const column of table.columns) {
      if (!existing.columns.some((known) => known.name === column.name)) existing.columns.push(column);
    }
  }
  return [...merged.values()];
}

/** The audit tables a query names (a query can read no other); tables not named get no rows. */
function tablesNamedIn(query: string): string[] {
  return AUDIT_TABLE_NAMES.filter((name) => new RegExp(`\\b${name}\\b`).test(query));
}

/** A result cell as the API sends it: datetimes as ISO strings, dynamic values as JSON text. */
function wireValue(value: unknown, type: string): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (type === "dynamic") return typeof value === "string" ? value : JSON.stringify(value);
  return value;
}

function wireTable(result: KqlResult): {
  name: string;
  columns: { name: string; type: string }[];
  rows: unknown[][];
} {
  return {
    name: "PrimaryResult",
    columns: result.columns.map((column) => ({ name: column.name, type: column.type })),
    rows: result.rows.map((row) =>
      row.map((value, index) => wireValue(value, result.columns[index]?.type ?? "string")),
    ),
  };
}

/** The tabular operator in force at `position` of a query (the word after the last pipe before it). */
function operatorAt(query: string, position: number): string | undefined {
  const before = query.slice(0, position);
  const pipe = before.lastIndexOf("|");
  if (pipe < 0) return undefined;
  return /^\s*([a-z][a-z-]*)/i.exec(before.slice(pipe + 1))?.[1];
}

/**
 * A query the language service refused, answered as Log Analytics answers it. A name that
 * resolves to nothing (a column that never received data, a table the workspace lacks) is
 * Kusto's SEM0100 inside a SemanticError inside BadArgumentError "The request had some invalid
 * properties", e.g. "'where' operator: Failed to resolve column or scalar expression named
 * 'identity_claim_oid_g'" (the wording Log Analytics users report, e.g.
 * microsoft/BCTech#107, Azure/azure-quickstart-templates#5174). Other errors carry the
 * language service's own message.
 */
function kqlFailure(error: KqlError, query: string): LogAnalyticsError {
  const diagnostic = error.diagnostic;
  if (diagnostic && (diagnostic.code === "KS142" || diagnostic.code === "KS204")) {
    const name = query.slice(diagnostic.start, diagnostic.start + diagnostic.length);
    const operator = operatorAt(query, diagnostic.start);
    const what = diagnostic.code === "KS142" ? "column or scalar expression" : "table or column expression";
    return new LogAnalyticsError(400, {
      code: "BadArgumentError",
      message: "The request had some invalid properties",
      innererror: {
        code: "SemanticError",
        message: "A semantic error occurred.",
        innererror: {
          code: "SEM0100",
          message: `${operator ? `'${operator}' operator: ` : ""}Failed to resolve ${what} named '${name}'`,
        },
      },
    });
  }
  return badArgument(`The request had some invalid properties: ${error.message}`, {
    code: error.code === "SyntaxError" ? "SyntaxError" : "SemanticError",
    message: error.code === "SyntaxError" ? "A syntax error occurred." : "A semantic error occurred.",
    innererror: { code: error.code, message: error.message },
  });
}

/** Runs one query for one caller; returns the 200 body or throws LogAnalyticsError. */
function executeQuery(
  store: SandboxStore,
  claims: SandboxTokenClaims,
  workspaceId: string,
  body: QueryBody,
  preferences: Preferences,
): unknown {
  const workspaces = [workspaceId, ...body.workspaces].map((id) => workspaceFor(store, id, claims));
  const now = store.now();
  let window: { start: number; end: number } | undefined;
  if (body.timespan) {
    const parsed = parseQueryTimespan(body.timespan, now);
    if ("error" in parsed) throw badArgument(parsed.error);
    window = parsed;
  }
  const named = tablesNamedIn(body.query);
  const tables = mergeTables(
    workspaces.map((workspace) => workspaceAuditTables(store, workspace, window, named)),
  );
  let result: KqlResult;
  try {
    result = runKql(body.query, tables, { now });
  } catch (error) {
    if (error instanceof KqlError) throw kqlFailure(error, body.query);
    throw error;
  }
  const partial = partialErrorOf(store, window, workspaces);
  return {
    tables: [wireTable(result)],
    ...(preferences.includeStatistics
      ? { statistics: { query: { executionTime: 0.001, resourceUsage: {} } } }
      : {}),
    ...(preferences.includeRender ? { render: {} } : {}),
    ...(partial ? { error: partial } : {}),
  };
}

/**
 * The PartialError a result carries: when the control API simulates one, or when the query
 * reaches back to records the sandbox dropped to bound its memory (audit.ts): then the
 * result may lack records, and saying so is the only honest answer.
 */
function partialErrorOf(
  store: SandboxStore,
  window: { start: number; end: number } | undefined,
  workspaces: SandboxWorkspace[],
): ErrorInfo | undefined {
  const details: NonNullable<ErrorInfo["details"]> = [];
  if (store.ingestion.partialError) {
    details.push({
      code: "EngineError",
      message: "Some data could not be read (simulated partial failure): the result may be incomplete.",
      resources: workspaces.map((workspace) => workspace.id),
    });
  }
  const dropped = store.auditDroppedThrough;
  if (dropped !== undefined && (window === undefined || window.start <= dropped)) {
    details.push({
      code: "EngineError",
      message: `The sandbox dropped audit records up to ${new Date(dropped).toISOString()} to keep at most ${store.auditMaxRecords} in memory; a query reaching back that far may lack records.`,
      resources: workspaces.map((workspace) => workspace.id),
    });
  }
  if (details.length === 0) return undefined;
  return { code: "PartialError", message: "There were some errors when processing your query.", details };
}

function singleQuery(request: SandboxRequest, store: SandboxStore, workspaceId: string): SandboxResponse {
  const claims = authenticate(request, store);
  let body: QueryBody;
  if (request.method === "GET") {
    const timespan = request.query.get("timespan");
    body = parseQueryBody({ query: request.query.get("query") ?? "", ...(timespan ? { timespan } : {}) });
  } else {
    body = parseQueryBody(readBody(request));
  }
  return json(200, executeQuery(store, claims, workspaceId, body, parsePrefer(request.headers.prefer)));
}

function batch(request: SandboxRequest, store: SandboxStore): SandboxResponse {
  const claims = authenticate(request, store);
  const body = readBody(request);
  const requests =
    typeof body === "object" && body !== null ? (body as Record<string, unknown>).requests : undefined;
  if (!Array.isArray(requests) || requests.length === 0) {
    throw badArgument('The batch body must be {"requests": [{"id", "workspace", "body": {"query"}}, ...]}.');
  }
  const responses = requests.map((entry: unknown, index) => {
    const fields = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>) : {};
    const id = typeof fields.id === "string" ? fields.id : String(index);
    try {
      if (typeof fields.workspace !== "string")
        throw badArgument(`Batch request '${id}' has no 'workspace'.`);
      const headers =
        typeof fields.headers === "object" && fields.headers !== null
          ? (fields.headers as Record<string, unknown>)
          : {};
      const prefer =
        typeof headers.prefer === "string"
          ? headers.prefer
          : typeof headers.Prefer === "string"
            ? headers.Prefer
            : undefined;
      const result = executeQuery(
        store,
        claims,
        fields.workspace,
        parseQueryBody(fields.body),
        parsePrefer(prefer),
      );
      return {
        id,
        status: 200,
        body: result,
        headers: { "content-type": "application/json; charset=utf-8" },
      };
    } catch (error) {
      if (!(error instanceof LogAnalyticsError)) throw error;
      return {
        id,
        status: error.status,
        body: errorBody(error.info),
        headers: { "content-type": "application/json; charset=utf-8" },
      };
    }
  });
  return json(200, { responses });
}

const workspaceQueryPath = /^\/v1\/workspaces\/([^/]+)\/query\/?$/i;

export const logAnalyticsService: SandboxService = {
  name: "loganalytics",
  matches: (host) => host === LOG_ANALYTICS_HOST,
  async handle(request, store) {
    try {
      const workspaceMatch = workspaceQueryPath.exec(request.path);
      if (workspaceMatch?.[1] && (request.method === "GET" || request.method === "POST")) {
        return singleQuery(request, store, decodeURIComponent(workspaceMatch[1]));
      }
      if (/^\/v1\/\$batch\/?$/i.test(request.path) && request.method === "POST") return batch(request, store);
      throw new LogAnalyticsError(404, {
        code: "PathNotFoundError",
        message: `The requested path does not exist: ${request.method} ${request.path}. The sandbox serves /v1/workspaces/{workspaceId}/query and /v1/$batch.`,
      });
    } catch (error) {
      if (error instanceof LogAnalyticsError) return errorResponse(error);
      throw error;
    }
  },
};
