/**
 * Checks one HTTP exchange against the operation it belongs to: request parameters and
 * body, response status, headers and body. Each function returns the problems found as
 * sentences (empty when the exchange conforms).
 */
import type { ErrorObject } from "ajv";
import { isJsonObject, type JsonObject } from "./swaggerDocuments.js";
import {
  pathParameterValues,
  type SwaggerOperation,
  type SwaggerParameter,
  type SwaggerResponse,
} from "./swaggerSpec.js";

/** The parts of a recorded exchange (sandbox/http.ts `SandboxExchange`) that validation reads. */
export interface ExchangeToValidate {
  method: string;
  host: string;
  path: string;
  query: Record<string, string>;
  requestHeaders: Record<string, string | string[] | undefined>;
  requestBody: unknown;
  status: number;
  responseHeaders: Record<string, string>;
  responseBody: unknown;
}

export type RequestToValidate = Pick<ExchangeToValidate, "path" | "query" | "requestHeaders" | "requestBody">;
export type ResponseToValidate = Pick<ExchangeToValidate, "status" | "responseHeaders" | "responseBody">;

const ASYNC_HEADERS = ["azure-asyncoperation", "location"];

export function validateRequest(
  operation: SwaggerOperation,
  request: RequestToValidate,
  options: { bodyWithheld?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const pathValues = pathParameterValues(operation, request.path);
  for (const parameter of operation.parameters) {
    if (parameter.in === "path") {
      problems.push(...checkParameter(operation, parameter, pathValues[parameter.name]));
    } else if (parameter.in === "query") {
      problems.push(...checkParameter(operation, parameter, lookup(request.query, parameter.name)));
      if (parameter.name === "api-version")
        problems.push(...checkApiVersion(operation, parameter, request.query));
    } else if (parameter.in === "header") {
      problems.push(
        ...checkParameter(operation, parameter, headerValue(request.requestHeaders, parameter.name)),
      );
    } else if (parameter.in === "body" && !options.bodyWithheld) {
      problems.push(...checkBodyParameter(operation, parameter, request.requestBody));
    }
  }
  if (!operation.parameters.some((p) => p.in === "body") && hasContent(request.requestBody)) {
    problems.push(`request body: ${operation.operationId} takes no body, but one was sent`);
  }
  return problems;
}

export function validateResponse(operation: SwaggerOperation, response: ResponseToValidate): string[] {
  const status = String(response.status);
  const declared = operation.responses.get(status);
  const spec =
    declared ??
    (response.status >= 400
      ? (operation.responses.get("default") ?? matchingArmError(operation, response.responseBody))
      : undefined);
  if (!spec) {
    const known = [...operation.responses.keys()].join(", ");
    return [`status ${status}: not declared for ${operation.operationId} (declared: ${known})`];
  }
  const problems: string[] = [];
  const where = declared
    ? `response ${status}`
    : operation.responses.has("default")
      ? `response ${status} (default)`
      : `response ${status} (ARM error contract: the operation declares no default)`;
  for (const [name, header] of Object.entries(spec.headers)) {
    const value = lookup(response.responseHeaders, name);
    if (value === undefined) continue;
    const validate = operation.spec.compiler.validator("response", parameterAsSchema(header), spec.file);
    if (!validate(coerce(value, header)))
      problems.push(`${where} header ${name}: ${formatErrors(validate.errors)}`);
  }
  if (operation.longRunning && (status === "201" || status === "202")) {
    problems.push(...checkAsyncHeaders(operation, where, response.responseHeaders));
  }
  if (spec.schema) {
    if (!hasContent(response.responseBody)) {
      problems.push(`${where} body: missing, the spec declares a schema`);
    } else {
      const validate = operation.spec.compiler.validator("response", spec.schema, spec.file);
      if (!validate(response.responseBody)) problems.push(`${where} body: ${formatErrors(validate.errors)}`);
    }
  } else if (hasContent(response.responseBody)) {
    problems.push(`${where} body: the spec declares no body for this status, but one was sent`);
  }
  return problems;
}

/** The first of the spec's ARM error shapes the body matches, else the first (to report against). */
function matchingArmError(operation: SwaggerOperation, body: unknown): SwaggerResponse | undefined {
  const candidates = operation.spec.armErrorResponses();
  const matching = candidates.find(
    (candidate) =>
      candidate.schema &&
      operation.spec.compiler.validator("response", candidate.schema, candidate.file)(body),
  );
  return matching ?? candidates[0];
}

/** A long-running operation's 201/202 must say where to poll (ARM RPC; final-state-via when declared). */
function checkAsyncHeaders(
  operation: SwaggerOperation,
  where: string,
  headers: Record<string, string>,
): string[] {
  const present = ASYNC_HEADERS.filter((name) => lookup(headers, name) !== undefined);
  if (present.length === 0) {
    return [
      `${where} headers: a long-running ${operation.operationId} must answer with Azure-AsyncOperation or Location`,
    ];
  }
  const via = operation.finalStateVia?.toLowerCase();
  if (via === "location" && !present.includes("location")) {
    return [`${where} headers: final-state-via is location, but no Location header was sent`];
  }
  if (via === "azure-async-operation" && !present.includes("azure-asyncoperation")) {
    return [
      `${where} headers: final-state-via is azure-async-operation, but no Azure-AsyncOperation header was sent`,
    ];
  }
  return [];
}

function checkParameter(
  operation: SwaggerOperation,
  parameter: SwaggerParameter,
  raw: string | undefined,
): string[] {
  const where = `${parameter.in} parameter ${parameter.name}`;
  if (raw === undefined)
    return parameter.required ? [`${where}: required by ${operation.operationId}, missing`] : [];
  const validate = operation.spec.compiler.validator(
    "request",
    parameterAsSchema(parameter.definition),
    parameter.file,
  );
  const value = coerce(raw, parameter.definition);
  return validate(value) ? [] : [`${where}: ${formatErrors(validate.errors)} (value ${JSON.stringify(raw)})`];
}

function checkApiVersion(
  operation: SwaggerOperation,
  parameter: SwaggerParameter,
  query: Record<string, string>,
): string[] {
  const value = lookup(query, "api-version");
  if (value === undefined || Array.isArray(parameter.definition.enum)) return [];
  const accepted = operation.spec.acceptedApiVersions;
  return accepted.includes(value)
    ? []
    : [
        `query parameter api-version: ${value} is not a version of ${operation.spec.name} (accepted: ${accepted.join(", ")})`,
      ];
}

function checkBodyParameter(
  operation: SwaggerOperation,
  parameter: SwaggerParameter,
  body: unknown,
): string[] {
  const where = `body parameter ${parameter.name}`;
  if (!hasContent(body))
    return parameter.required ? [`${where}: required by ${operation.operationId}, missing`] : [];
  if (!isJsonObject(parameter.definition.schema)) return [];
  const validate = operation.spec.compiler.validator("request", parameter.definition.schema, parameter.file);
  return validate(body) ? [] : [`${where}: ${formatErrors(validate.errors)}`];
}

const schemaOfParameter = new WeakMap<JsonObject, JsonObject>();

/**
 * A non-body parameter's or header's own keywords (type, format, enum, pattern, ...) as a
 * schema node; memoised so that its compiled validator is reused.
 */
function parameterAsSchema(definition: JsonObject): JsonObject {
  let schema = schemaOfParameter.get(definition);
  if (!schema) {
    const { name: _name, in: _in, required: _required, description: _description, ...keywords } = definition;
    schema = keywords;
    schemaOfParameter.set(definition, schema);
  }
  return schema;
}

/** Query, path and header values arrive as strings; turn them into the declared type. */
function coerce(raw: string, schema: JsonObject): unknown {
  switch (schema.type) {
    case "integer":
    case "number":
      return raw.trim() !== "" && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case "boolean":
      return raw === "true" ? true : raw === "false" ? false : raw;
    case "array":
      return raw.split(schema.collectionFormat === "pipes" ? "|" : ",");
    default:
      return raw;
  }
}

function lookup(record: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(record)) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

function headerValue(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(",") : value;
  }
  return undefined;
}

export function hasContent(body: unknown): boolean {
  if (body === undefined || body === null) return false;
  if (typeof body === "string") return body.length > 0;
  if (Buffer.isBuffer(body)) return body.length > 0;
  return true;
}

export function formatErrors(errors: ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return "invalid";
  const messages = new Set<string>();
  for (const error of errors) {
    // The if/then/else of a discriminator and the allOf wrappers only repeat the real error.
    if (error.keyword === "if" || error.keyword === "allOf" || error.keyword === "anyOf") continue;
    const at = error.instancePath || "(root)";
    const extra =
      error.keyword === "unevaluatedProperties"
        ? ` "${String((error.params as { unevaluatedProperty?: unknown }).unevaluatedProperty)}" is not defined by the spec`
        : error.keyword === "enum"
          ? ` (allowed: ${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)})`
          : "";
    messages.add(`${at} ${error.message ?? error.keyword}${extra}`);
  }
  return messages.size > 0
    ? [...messages].join("; ")
    : errors.map((e) => `${e.instancePath} ${e.message}`).join("; ");
}
