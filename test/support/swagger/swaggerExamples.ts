/**
 * The official `x-ms-examples` files as fixtures: validate each against its operation, and
 * turn one into a request that can be replayed (path, query, body) plus the expected
 * response for a status.
 */
import { existsSync, readFileSync } from "node:fs";
import { isJsonObject, type JsonObject } from "./swaggerDocuments.js";
import type { SwaggerOperation } from "./swaggerSpec.js";
import { validateRequest, validateResponse } from "./validateExchange.js";

export interface SwaggerExample {
  file: string;
  operation: SwaggerOperation;
  parameters: JsonObject;
  /** By status code. */
  responses: Map<number, { headers: Record<string, string>; body: unknown }>;
}

export interface ExampleRequest {
  method: string;
  /** Path with parameters substituted (basePath included), e.g. "/v1/workspaces/abc/query". */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

/** Every example an operation lists, with the operation it belongs to. */
export function examplesOf(operations: SwaggerOperation[]): SwaggerExample[] {
  const examples: SwaggerExample[] = [];
  for (const operation of operations) {
    for (const file of operation.exampleFiles) {
      if (existsSync(file)) examples.push(readExample(operation, file));
    }
  }
  return examples;
}

export function readExample(operation: SwaggerOperation, file: string): SwaggerExample {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!isJsonObject(parsed)) throw new Error(`Example ${file} is not a JSON object`);
  const parameters = isJsonObject(parsed.parameters) ? parsed.parameters : {};
  const responses = new Map<number, { headers: Record<string, string>; body: unknown }>();
  for (const [status, raw] of Object.entries(isJsonObject(parsed.responses) ? parsed.responses : {})) {
    const response = isJsonObject(raw) ? raw : {};
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(isJsonObject(response.headers) ? response.headers : {})) {
      headers[name] = String(value);
    }
    responses.set(Number(status), { headers, body: response.body });
  }
  return { file, operation, parameters, responses };
}

/** The request an example describes. */
export function exampleRequest(example: SwaggerExample): ExampleRequest {
  const { operation, parameters } = example;
  let path = operation.pathTemplate;
  const query: Record<string, string> = {};
  const headers: Record<string, string> = {};
  let body: unknown;
  for (const parameter of operation.parameters) {
    const value = parameters[parameter.name];
    if (value === undefined) continue;
    if (parameter.in === "path") {
      const text = String(value);
      path = path.replace(`{${parameter.name}}`, parameter.spansSegments ? text : encodeURIComponent(text));
    } else if (parameter.in === "query")
      query[parameter.name] = Array.isArray(value) ? value.join(",") : String(value);
    else if (parameter.in === "header") headers[parameter.name] = String(value);
    else if (parameter.in === "body") body = value;
  }
  return { method: operation.method, path: `${operation.spec.basePath}${path}`, query, headers, body };
}

/** Problems of an example against its own operation: the request, then every response. */
export function validateExample(example: SwaggerExample): string[] {
  const request = exampleRequest(example);
  const problems = validateRequest(example.operation, {
    path: request.path,
    query: request.query,
    requestHeaders: request.headers,
    requestBody: request.body,
  }).map((problem) => `request: ${problem}`);
  for (const [status, response] of example.responses) {
    problems.push(
      ...validateResponse(example.operation, {
        status,
        responseHeaders: response.headers,
        responseBody: response.body,
      }),
    );
  }
  return problems;
}

/** Maps keyed by data (resource ids, tag names): their keys are values, not property names. */
const DICTIONARY_PROPERTIES = new Set(["tags", "userAssignedIdentities"]);

/**
 * Property paths present in a JSON value ("properties.keyVaultProperties.keyName",
 * array items as "[]", keys of tags and userAssignedIdentities as "*"). Two bodies have
 * the same shape when these sets are equal, whatever the values.
 */
export function propertyPaths(value: unknown, prefix = ""): Set<string> {
  const paths = new Set<string>();
  const visit = (node: unknown, at: string) => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item, `${at}[]`);
    } else if (isJsonObject(node)) {
      const isDictionary = DICTIONARY_PROPERTIES.has(at.split(".").pop() ?? "");
      for (const [key, child] of Object.entries(node)) {
        const name = isDictionary ? "*" : key;
        const childPath = at ? `${at}.${name}` : name;
        paths.add(childPath);
        visit(child, childPath);
      }
    }
  };
  visit(value, prefix);
  return paths;
}
