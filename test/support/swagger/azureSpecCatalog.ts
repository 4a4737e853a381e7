/**
 * The official specifications the sandbox imitates, and `checkExchanges`, which holds
 * every recorded exchange against the right one. An exchange that matches no operation
 * of any spec for its host is "outside the specification", with three exceptions that
 * are protocol rather than API: the sandbox's own control API, the Key Vault bearer
 * challenge, and the polling of an ARM long-running operation's status URL.
 */

import {
  EVENT_GRID_PUBLISH_API_VERSION,
  eventGridEventProblems,
  KEY_VAULT_EVENT_DATA_DEFINITIONS,
} from "./eventGridEvents.js";
import { SwaggerDocuments, specPath } from "./swaggerDocuments.js";
import { findOperation, type SwaggerOperation, SwaggerSpec } from "./swaggerSpec.js";
import {
  type ExchangeToValidate,
  formatErrors,
  hasContent,
  validateRequest,
  validateResponse,
} from "./validateExchange.js";

export const SPEC_FILES = {
  keyVaultKeys: "specification/keyvault/data-plane/Keys/stable/2026-04-01/keys.json",
  kusto: "specification/azure-kusto/resource-manager/Microsoft.Kusto/Kusto/stable/2023-08-15/kusto.json",
  cosmos:
    "specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/stable/2025-10-15/cosmos-db.json",
  cassandra:
    "specification/cosmos-db/resource-manager/Microsoft.DocumentDB/DocumentDB/stable/2025-10-15/managedCassandra.json",
  logAnalytics:
    "specification/operationalinsights/data-plane/Microsoft.OperationalInsights/stable/2022-10-27/OperationalInsights.json",
  resourceGraph:
    "specification/resourcegraph/resource-manager/Microsoft.ResourceGraph/stable/2024-04-01/resourcegraph.json",
  keyVaultEvents: "specification/eventgrid/data-plane/Microsoft.KeyVault/stable/2018-01-01/KeyVault.json",
  commonTypesV5: "specification/common-types/resource-management/v5/types.json",
} as const;

/** The api-version @azure/keyvault-keys 4.10.2 sends; the stored 2026-04-01 spec is the nearest (a superset). */
export const KEY_VAULT_SDK_API_VERSION = "2025-07-01";
/**
 * The api-version @azure/arm-cosmosdb 17.0.0 really sends (KnownVersions.V20260315). No
 * 2026-03-15 swagger is stored under azure-specs, so its requests are held against the
 * nearest stored one, 2025-10-15.
 */
export const COSMOS_SDK_API_VERSION = "2026-03-15";

const KEY_VAULT_HOSTS = /^[a-z0-9-]+\.(vault\.azure\.net|managedhsm\.azure\.net)$/i;
const EVENT_GRID_TOPIC_HOSTS = /^[a-z0-9-]+\.[a-z0-9-]+\.eventgrid\.azure\.net$/i;
/** Specs that describe payloads only (no host, no paths). */
const PAYLOAD_ONLY_SPECS = new Set<keyof typeof SPEC_FILES>(["keyVaultEvents", "commonTypesV5"]);

export class AzureSpecCatalog {
  private readonly documents = new SwaggerDocuments();
  private readonly specs = new Map<string, SwaggerSpec>();

  spec(name: keyof typeof SPEC_FILES): SwaggerSpec {
    let spec = this.specs.get(name);
    if (!spec) {
      const options =
        name === "keyVaultKeys"
          ? { hostPattern: KEY_VAULT_HOSTS, extraApiVersions: [KEY_VAULT_SDK_API_VERSION] }
          : name === "cosmos" || name === "cassandra"
            ? { extraApiVersions: [COSMOS_SDK_API_VERSION] }
            : PAYLOAD_ONLY_SPECS.has(name)
              ? { hostPattern: /^$/ }
              : {};
      spec = SwaggerSpec.load(SPEC_FILES[name], options, this.documents);
      this.specs.set(name, spec);
    }
    return spec;
  }

  /** The specs whose operations a request to `host` may belong to. */
  specsForHost(host: string): SwaggerSpec[] {
    if (KEY_VAULT_HOSTS.test(host)) return [this.spec("keyVaultKeys")];
    if (host === "api.loganalytics.io") return [this.spec("logAnalytics")];
    if (host === "management.azure.com")
      return [this.spec("kusto"), this.spec("cosmos"), this.spec("cassandra"), this.spec("resourceGraph")];
    return [];
  }

  findOperation(method: string, host: string, path: string): SwaggerOperation | undefined {
    for (const spec of this.specsForHost(host)) {
      const operation = findOperation(spec, method, host, path);
      if (operation) return operation;
    }
    return undefined;
  }

  /** The ARM async-operation status body (common-types v5 OperationStatusResult, which managedCassandra.json loads). */
  operationStatusProblems(body: unknown): string[] {
    const validate = this.spec("cassandra").compiler.validator(
      "response",
      this.operationStatusSchema,
      this.commonTypesV5,
    );
    return validate(body) ? [] : [`body: ${formatErrors(validate.errors)}`];
  }

  /** The `data` of a Key Vault event against KeyVault.json (closed: only the listed fields). */
  keyVaultEventDataProblems(eventType: string, data: unknown): string[] {
    const definition = KEY_VAULT_EVENT_DATA_DEFINITIONS[eventType];
    if (!definition) return [`event type ${eventType} is not a Key Vault event of KeyVault.json`];
    const spec = this.spec("keyVaultEvents");
    let schema = this.eventDataSchemas.get(definition);
    if (!schema) {
      schema = { $ref: `#/definitions/${definition}` };
      this.eventDataSchemas.set(definition, schema);
    }
    const validate = spec.compiler.validator("response", schema, spec.file);
    return validate(data) ? [] : [`${eventType} data: ${formatErrors(validate.errors)}`];
  }

  private readonly eventDataSchemas = new Map<string, { $ref: string }>();
  private readonly commonTypesV5 = specPath(SPEC_FILES.commonTypesV5);
  private readonly operationStatusSchema = { $ref: "#/definitions/OperationStatusResult" };
}

export interface ExchangeVerdict {
  exchange: ExchangeToValidate;
  /** "Clusters_Get (kusto.json)", "control API", "Key Vault challenge", ... */
  checkedAs: string;
  problems: string[];
}

/**
 * Validates every exchange; returns one verdict per exchange. Polling URLs are learnt
 * from earlier responses' Azure-AsyncOperation / Location headers, so pass the exchanges
 * in the order they happened.
 */
export function checkExchanges(
  catalog: AzureSpecCatalog,
  exchanges: ExchangeToValidate[],
): ExchangeVerdict[] {
  const pollingUrls = new Set<string>();
  return exchanges.map((exchange) => {
    const verdict = checkExchange(catalog, exchange, pollingUrls);
    for (const name of ["azure-asyncoperation", "location"]) {
      const url = headerOf(exchange.responseHeaders, name);
      if (url) pollingUrls.add(withoutQuery(url));
    }
    return verdict;
  });
}

function checkExchange(
  catalog: AzureSpecCatalog,
  exchange: ExchangeToValidate,
  pollingUrls: Set<string>,
): ExchangeVerdict {
  if (isControlApi(exchange)) return { exchange, checkedAs: "sandbox control API", problems: [] };
  if (EVENT_GRID_TOPIC_HOSTS.test(exchange.host)) {
    return {
      exchange,
      checkedAs: "PublishEvents (EventGrid.json 2018-01-01)",
      problems: publishProblems(exchange),
    };
  }
  const operation = catalog.findOperation(exchange.method, exchange.host, exchange.path);
  const url = `https://${exchange.host}${exchange.path}`.toLowerCase();
  if (!operation && exchange.method === "GET" && pollingUrls.has(url)) {
    const problems = exchange.status === 200 ? catalog.operationStatusProblems(exchange.responseBody) : [];
    if (exchange.status !== 200)
      problems.push(`status ${exchange.status}: an operation status poll answers 200`);
    return {
      exchange,
      checkedAs: "ARM async operation status (common-types v5 OperationStatusResult)",
      problems,
    };
  }
  if (!operation) {
    return {
      exchange,
      checkedAs: "no operation",
      problems: [
        `outside the specification: no operation of ${specNames(catalog, exchange.host)} serves this request`,
      ],
    };
  }
  const checkedAs = `${operation.operationId} (${operation.spec.name})`;
  if (isBearerChallenge(exchange)) {
    // The Key Vault client sends its first, unauthenticated request without the body (it only
    // wants the challenge), so the request is checked without it.
    const requestProblems = validateRequest(
      operation,
      { ...exchange, requestBody: undefined },
      { bodyWithheld: true },
    );
    return {
      exchange,
      checkedAs: `${checkedAs}, bearer challenge`,
      problems: [...requestProblems.map((problem) => `request ${problem}`), ...challengeProblems(exchange)],
    };
  }
  const requestProblems = validateRequest(operation, exchange).map((problem) => `request ${problem}`);
  return { exchange, checkedAs, problems: [...requestProblems, ...validateResponse(operation, exchange)] };
}

/** One line per failing exchange: which exchange, checked as which operation, and what is wrong. */
export function describeFailures(verdicts: ExchangeVerdict[]): string {
  return verdicts
    .filter((verdict) => verdict.problems.length > 0)
    .map((verdict) => {
      const { exchange } = verdict;
      const query = new URLSearchParams(exchange.query).toString();
      const name = `${exchange.method} https://${exchange.host}${exchange.path}${query ? `?${query}` : ""} -> ${exchange.status}`;
      return `${name}\n  checked as ${verdict.checkedAs}\n${verdict.problems.map((problem) => `  - ${problem}`).join("\n")}`;
    })
    .join("\n");
}

/** Event Grid's PublishEvents: POST /api/events, a JSON array of EventGridEvents, 200 with an empty body. */
function publishProblems(exchange: ExchangeToValidate): string[] {
  const problems: string[] = [];
  if (exchange.method !== "POST" || exchange.path !== "/api/events") {
    problems.push(`outside the specification: Event Grid topics serve POST /api/events only`);
  }
  const apiVersion = exchange.query["api-version"];
  if (apiVersion !== EVENT_GRID_PUBLISH_API_VERSION)
    problems.push(
      `request query parameter api-version: ${apiVersion ?? "missing"}, expected ${EVENT_GRID_PUBLISH_API_VERSION}`,
    );
  if (!Array.isArray(exchange.requestBody)) problems.push("request body: must be a JSON array of events");
  else
    exchange.requestBody.forEach((event, index) => {
      for (const problem of eventGridEventProblems(event))
        problems.push(`request body [${index}] ${problem}`);
    });
  if (exchange.status === 200) {
    if (hasContent(exchange.responseBody))
      problems.push("response 200 body: PublishEvents answers 200 with no body");
  } else if (exchange.status < 400) {
    problems.push(`status ${exchange.status}: PublishEvents declares 200 and errors only`);
  }
  return problems;
}

function isControlApi(exchange: ExchangeToValidate): boolean {
  return (
    (exchange.host === "localhost" || exchange.host === "127.0.0.1") && exchange.path.startsWith("/_sandbox/")
  );
}

/** The unauthenticated first request of a Key Vault client and its 401 challenge. */
function isBearerChallenge(exchange: ExchangeToValidate): boolean {
  return (
    exchange.status === 401 &&
    headerOf(exchange.requestHeaders, "authorization") === undefined &&
    headerOf(exchange.responseHeaders, "www-authenticate") !== undefined
  );
}

function challengeProblems(exchange: ExchangeToValidate): string[] {
  const challenge = headerOf(exchange.responseHeaders, "www-authenticate") ?? "";
  const problems: string[] = [];
  if (!/^Bearer\s/i.test(challenge))
    problems.push(`WWW-Authenticate "${challenge}" is not a Bearer challenge`);
  if (!/authorization="https:\/\/login\.microsoftonline\.com\/[^"]+"/i.test(challenge))
    problems.push(
      `WWW-Authenticate "${challenge}" lacks authorization="https://login.microsoftonline.com/{tenant}"`,
    );
  const resource = /resource="([^"]+)"/i.exec(challenge)?.[1];
  const expected = exchange.host.endsWith(".managedhsm.azure.net")
    ? "https://managedhsm.azure.net"
    : "https://vault.azure.net";
  if (resource !== expected)
    problems.push(`WWW-Authenticate resource is ${resource ?? "missing"}, expected "${expected}"`);
  if (hasContent(exchange.responseBody) && typeof exchange.responseBody !== "object")
    problems.push("the challenge body is not JSON");
  return problems;
}

function specNames(catalog: AzureSpecCatalog, host: string): string {
  const names = catalog.specsForHost(host).map((spec) => spec.name);
  return names.length > 0
    ? names.join(", ")
    : `any spec (host ${host} is not an Azure host the sandbox imitates)`;
}

function headerOf(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && value !== undefined)
      return Array.isArray(value) ? value.join(",") : value;
  }
  return undefined;
}

function withoutQuery(url: string): string {
  const at = url.indexOf("?");
  return (at < 0 ? url : url.slice(0, at)).toLowerCase();
}
