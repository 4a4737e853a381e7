/**
 * One swagger specification (plus every file it references), its operations, and
 * `findOperation` which maps a concrete request (method, host, path) onto an operation's
 * path template.
 */
import path from "node:path";
import { isJsonObject, type JsonObject, SwaggerDocuments, specPath } from "./swaggerDocuments.js";
import { SwaggerSchemaCompiler } from "./swaggerSchemaCompiler.js";

export interface SwaggerParameter {
  name: string;
  in: "path" | "query" | "header" | "body" | "formData";
  required: boolean;
  /** The swagger parameter object (for path/query/header: carries type/format/enum). */
  definition: JsonObject;
  /** File the parameter was defined in: refs inside it are relative to this file. */
  file: string;
  /** True for a path parameter that may span several segments (x-ms-skip-url-encoding). */
  spansSegments: boolean;
}

export interface SwaggerResponse {
  /** Swagger schema node of the body, if any. */
  schema?: JsonObject;
  headers: Record<string, JsonObject>;
  file: string;
}

export interface SwaggerOperation {
  spec: SwaggerSpec;
  operationId: string;
  method: string;
  pathTemplate: string;
  parameters: SwaggerParameter[];
  /** By status code ("200", "202", "default"). */
  responses: Map<string, SwaggerResponse>;
  longRunning: boolean;
  finalStateVia?: string;
  /** Example files (absolute paths) listed under x-ms-examples. */
  exampleFiles: string[];
  /** Matches a request path (basePath already stripped); groups are the path parameters in order. */
  pathPattern: RegExp;
  /** Names of the path parameters in the order of `pathPattern`'s groups. */
  pathParameterNames: string[];
  /** Literal characters in the template: the more, the more specific. */
  specificity: number;
}

export interface SwaggerSpecOptions {
  /** Hosts this spec serves; defaults to the spec's `host`. Needed for x-ms-parameterized-host specs. */
  hostPattern?: RegExp;
  /**
   * api-versions accepted besides the spec's own `info.version`, when the api-version
   * parameter declares no enum (e.g. the Key Vault SDK sends 2025-07-01 while the newest
   * stored spec is 2026-04-01, a superset).
   */
  extraApiVersions?: string[];
}

const ARM_COMMON_TYPES = "specification/common-types/resource-management/v5/types.json";

const HTTP_METHODS = ["get", "put", "post", "patch", "delete", "head", "options"];

export class SwaggerSpec {
  readonly operations: SwaggerOperation[] = [];
  readonly compiler: SwaggerSchemaCompiler;
  readonly basePath: string;
  readonly hostPattern: RegExp;
  readonly apiVersion: string;
  readonly acceptedApiVersions: string[];

  private constructor(
    readonly documents: SwaggerDocuments,
    readonly file: string,
    readonly document: JsonObject,
    options: SwaggerSpecOptions,
  ) {
    const files = new Set(documents.closure(file));
    if (isArmSpec(document))
      for (const common of documents.closure(specPath(ARM_COMMON_TYPES))) files.add(common);
    this.compiler = new SwaggerSchemaCompiler(documents, [...files]);
    this.basePath =
      typeof document.basePath === "string" && document.basePath !== "/" ? document.basePath : "";
    const info = isJsonObject(document.info) ? document.info : {};
    this.apiVersion = typeof info.version === "string" ? info.version : "";
    this.acceptedApiVersions = [this.apiVersion, ...(options.extraApiVersions ?? [])];
    if (options.hostPattern) this.hostPattern = options.hostPattern;
    else if (typeof document.host === "string")
      this.hostPattern = new RegExp(`^${escapeRegExp(document.host)}$`, "i");
    else throw new Error(`Swagger ${file} has no host; pass hostPattern`);
    this.readOperations();
  }

  /**
   * For Resource Manager specs, the error bodies accepted when an operation declares no
   * `default` (old Cosmos DB operations): ARM's common ErrorResponse, which the RPC
   * guarantees, and the spec's own `ErrorResponse` definition when it has one (Cosmos DB
   * answers `{code, message}`).
   */
  armErrorResponses(): SwaggerResponse[] {
    if (!isArmSpec(this.document)) return [];
    if (!this.armErrors) {
      const ownErrorResponse =
        isJsonObject(this.document.definitions) && isJsonObject(this.document.definitions.ErrorResponse);
      this.armErrors = [
        { schema: { $ref: "#/definitions/ErrorResponse" }, headers: {}, file: specPath(ARM_COMMON_TYPES) },
        ...(ownErrorResponse
          ? [{ schema: { $ref: "#/definitions/ErrorResponse" }, headers: {}, file: this.file }]
          : []),
      ];
    }
    return this.armErrors;
  }

  private armErrors: SwaggerResponse[] | undefined;

  /** Loads a spec by its path relative to the azure-specs folder, e.g. "specification/keyvault/.../keys.json". */
  static load(
    relativePath: string,
    options: SwaggerSpecOptions = {},
    documents = new SwaggerDocuments(),
  ): SwaggerSpec {
    const file = specPath(relativePath);
    return new SwaggerSpec(documents, file, documents.load(file), options);
  }

  get name(): string {
    return path.relative(path.resolve(this.file, "../../../.."), this.file);
  }

  private readOperations(): void {
    const paths = isJsonObject(this.document.paths) ? this.document.paths : {};
    for (const [template, pathItem] of Object.entries(paths)) {
      if (!isJsonObject(pathItem)) continue;
      const shared = Array.isArray(pathItem.parameters) ? pathItem.parameters : [];
      for (const method of HTTP_METHODS) {
        const operation = pathItem[method];
        if (!isJsonObject(operation)) continue;
        this.operations.push(this.readOperation(template, method, operation, shared));
      }
    }
  }

  private readOperation(
    template: string,
    method: string,
    operation: JsonObject,
    shared: unknown[],
  ): SwaggerOperation {
    const parameters = new Map<string, SwaggerParameter>();
    for (const raw of [...shared, ...(Array.isArray(operation.parameters) ? operation.parameters : [])]) {
      const parameter = this.resolveParameter(raw);
      parameters.set(`${parameter.in}:${parameter.name}`, parameter);
    }
    const responses = new Map<string, SwaggerResponse>();
    for (const [status, raw] of Object.entries(
      isJsonObject(operation.responses) ? operation.responses : {},
    )) {
      responses.set(status, this.resolveResponse(raw));
    }
    const lroOptions = isJsonObject(operation["x-ms-long-running-operation-options"])
      ? operation["x-ms-long-running-operation-options"]
      : {};
    const examples = isJsonObject(operation["x-ms-examples"]) ? operation["x-ms-examples"] : {};
    const exampleFiles = Object.values(examples)
      .filter(isJsonObject)
      .map((example) => example.$ref)
      .filter((ref): ref is string => typeof ref === "string")
      .map((ref) => path.resolve(path.dirname(this.file), ref));
    const { pattern, names, specificity } = compilePathTemplate(template, [...parameters.values()]);
    return {
      spec: this,
      operationId:
        typeof operation.operationId === "string" ? operation.operationId : `${method} ${template}`,
      method: method.toUpperCase(),
      pathTemplate: template,
      parameters: [...parameters.values()],
      responses,
      longRunning: operation["x-ms-long-running-operation"] === true,
      finalStateVia:
        typeof lroOptions["final-state-via"] === "string" ? lroOptions["final-state-via"] : undefined,
      exampleFiles,
      pathPattern: pattern,
      pathParameterNames: names,
      specificity,
    };
  }

  /** The node `raw` refers to (with the file it is in) when it is a $ref, else `raw` itself. */
  private followRef(raw: unknown): { file: string; node: unknown } {
    if (isJsonObject(raw) && typeof raw.$ref === "string")
      return this.documents.resolveRef(raw.$ref, this.file);
    return { file: this.file, node: raw };
  }

  private resolveParameter(raw: unknown): SwaggerParameter {
    const { file, node } = this.followRef(raw);
    if (!isJsonObject(node) || typeof node.name !== "string" || typeof node.in !== "string") {
      throw new Error(`Malformed parameter in ${this.file}: ${JSON.stringify(raw)}`);
    }
    return {
      name: node.name,
      in: node.in as SwaggerParameter["in"],
      required: node.required === true,
      definition: node,
      file,
      spansSegments: node["x-ms-skip-url-encoding"] === true,
    };
  }

  private resolveResponse(raw: unknown): SwaggerResponse {
    const { file, node } = this.followRef(raw);
    const response = isJsonObject(node) ? node : {};
    const headers: Record<string, JsonObject> = {};
    for (const [name, header] of Object.entries(isJsonObject(response.headers) ? response.headers : {})) {
      if (isJsonObject(header)) headers[name] = header;
    }
    return { schema: isJsonObject(response.schema) ? response.schema : undefined, headers, file };
  }
}

/**
 * The operation of `spec` that serves this request, or undefined ("outside the
 * specification"). Literal segments compare case-insensitively (Azure routes that way);
 * when several templates match, the one with the most literal characters wins
 * (`/keys/{name}/versions` over `/keys/{name}/{version}`).
 */
export function findOperation(
  spec: SwaggerSpec,
  method: string,
  host: string,
  requestPath: string,
): SwaggerOperation | undefined {
  if (!spec.hostPattern.test(host)) return undefined;
  let relative = requestPath;
  if (spec.basePath) {
    if (!relative.toLowerCase().startsWith(spec.basePath.toLowerCase())) return undefined;
    relative = relative.slice(spec.basePath.length);
  }
  let best: SwaggerOperation | undefined;
  for (const operation of spec.operations) {
    if (operation.method !== method.toUpperCase()) continue;
    if (!operation.pathPattern.test(relative)) continue;
    if (!best || operation.specificity > best.specificity) best = operation;
  }
  return best;
}

/** Path parameter values of `requestPath` for `operation` (basePath stripped by the caller or here). */
export function pathParameterValues(
  operation: SwaggerOperation,
  requestPath: string,
): Record<string, string> {
  const basePath = operation.spec.basePath;
  const relative =
    basePath && requestPath.toLowerCase().startsWith(basePath.toLowerCase())
      ? requestPath.slice(basePath.length)
      : requestPath;
  const match = operation.pathPattern.exec(relative);
  const values: Record<string, string> = {};
  operation.pathParameterNames.forEach((name, index) => {
    values[name] = match?.[index + 1] ?? "";
  });
  return values;
}

function compilePathTemplate(
  template: string,
  parameters: SwaggerParameter[],
): { pattern: RegExp; names: string[]; specificity: number } {
  const names: string[] = [];
  let specificity = 0;
  let source = "";
  for (const piece of template.split(/(\{[^}]+\})/)) {
    const parameterMatch = /^\{([^}]+)\}$/.exec(piece);
    if (parameterMatch?.[1]) {
      const name = parameterMatch[1];
      names.push(name);
      const spans = parameters.find((p) => p.in === "path" && p.name === name)?.spansSegments ?? false;
      source += spans ? "(.+?)" : "([^/]*)";
    } else {
      specificity += piece.length;
      source += escapeRegExp(piece);
    }
  }
  return { pattern: new RegExp(`^${source}/?$`, "i"), names, specificity };
}

function isArmSpec(document: JsonObject): boolean {
  return document.host === "management.azure.com";
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
