/**
 * The validator must fail where the sandbox would be wrong: each case starts from an
 * official example (valid) and changes one thing.
 */
import { describe, expect, it } from "vitest";
import { AzureSpecCatalog, checkExchanges, describeFailures } from "../support/swagger/azureSpecCatalog.js";
import { findOperation } from "../support/swagger/swaggerSpec.js";
import type { ExchangeToValidate } from "../support/swagger/validateExchange.js";
import { validateRequest, validateResponse } from "../support/swagger/validateExchange.js";

const catalog = new AzureSpecCatalog();
const KV = "kv1.vault.azure.net";
const ARM = "management.azure.com";
const CLUSTER_PATH =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Kusto/clusters/adx1";
const CASSANDRA_DC_PATH =
  "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/dc1";

function keyBundle(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    key: {
      kid: `https://${KV}/keys/k1/0123456789abcdef0123456789abcdef`,
      kty: "RSA",
      key_ops: ["wrapKey"],
      n: "AQAB",
      e: "AQAB",
    },
    attributes: { enabled: true, created: 1700000000, updated: 1700000000, recoveryLevel: "Recoverable" },
    ...overrides,
  };
}

function exchange(overrides: Partial<ExchangeToValidate> = {}): ExchangeToValidate {
  return {
    method: "GET",
    host: KV,
    path: "/keys/k1/0123456789abcdef0123456789abcdef",
    query: { "api-version": "2025-07-01" },
    requestHeaders: { authorization: "Bearer x" },
    requestBody: undefined,
    status: 200,
    responseHeaders: { "content-type": "application/json" },
    responseBody: keyBundle(),
    ...overrides,
  };
}

function problemsOf(candidate: ExchangeToValidate): string[] {
  return checkExchanges(catalog, [candidate]).flatMap((verdict) => verdict.problems);
}

describe("findOperation", () => {
  const keys = catalog.spec("keyVaultKeys");

  it("prefers the template with more literal text", () => {
    expect(findOperation(keys, "GET", KV, "/keys/k1/versions")?.operationId).toBe("GetKeyVersions");
    expect(findOperation(keys, "GET", KV, "/keys/k1/abc")?.operationId).toBe("GetKey");
    expect(findOperation(keys, "GET", KV, "/keys/k1/rotationpolicy")?.operationId).toBe(
      "GetKeyRotationPolicy",
    );
  });

  it("serves any vault or HSM host through x-ms-parameterized-host, and nothing else", () => {
    expect(findOperation(keys, "POST", "hsm1.managedhsm.azure.net", "/keys/k1/create")?.operationId).toBe(
      "CreateKey",
    );
    expect(findOperation(keys, "POST", ARM, "/keys/k1/create")).toBeUndefined();
  });

  it("strips the Log Analytics basePath /v1", () => {
    const logs = catalog.spec("logAnalytics");
    expect(findOperation(logs, "POST", "api.loganalytics.io", "/v1/workspaces/abc/query")?.operationId).toBe(
      "Query_Execute",
    );
    expect(findOperation(logs, "POST", "api.loganalytics.io", "/workspaces/abc/query")).toBeUndefined();
  });

  it("matches ARM literals case-insensitively", () => {
    expect(
      catalog.findOperation("GET", ARM, CLUSTER_PATH.replace("resourceGroups", "resourcegroups"))
        ?.operationId,
    ).toBe("Clusters_Get");
  });
});

describe("checkExchanges", () => {
  it("accepts a conforming Key Vault GetKey", () => {
    expect(problemsOf(exchange())).toEqual([]);
  });

  it("rejects a response property the spec does not define", () => {
    const problems = problemsOf(exchange({ responseBody: keyBundle({ surprise: 1 }) }));
    expect(problems.join()).toContain('"surprise" is not defined by the spec');
  });

  it("rejects an unknown property nested in a type inherited through allOf", () => {
    const cluster = {
      id: CLUSTER_PATH,
      name: "adx1",
      type: "Microsoft.Kusto/Clusters",
      location: "westeurope",
      sku: { name: "Standard_E8ads_v5", tier: "Standard" },
      properties: {
        keyVaultProperties: { keyName: "k", keyVaultUri: "https://kv1.vault.azure.net/", keyVersionX: "v" },
      },
    };
    const problems = problemsOf(
      exchange({
        host: ARM,
        path: CLUSTER_PATH,
        query: { "api-version": "2023-08-15" },
        responseBody: cluster,
      }),
    );
    expect(problems.join()).toContain('"keyVersionX" is not defined by the spec');
  });

  it("enforces enums and formats", () => {
    const body = keyBundle({
      attributes: { enabled: "yes", created: 1.5, recoveryLevel: "Whatever" },
    });
    const problems = problemsOf(exchange({ responseBody: body })).join();
    expect(problems).toContain("/attributes/enabled must be boolean");
    expect(problems).toContain("/attributes/recoveryLevel must be equal to one of the allowed values");
    expect(problems).toContain("/attributes/created");
  });

  it("dispatches on a discriminator (Cosmos backupPolicy type)", () => {
    const cosmos = catalog.spec("cosmos");
    const operation = findOperation(
      cosmos,
      "GET",
      ARM,
      "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.DocumentDB/databaseAccounts/cosmos1",
    );
    expect(operation?.operationId).toBe("DatabaseAccounts_Get");
    const account = (backupPolicy: unknown) => ({
      id: "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.DocumentDB/databaseAccounts/cosmos1",
      name: "cosmos1",
      type: "Microsoft.DocumentDB/databaseAccounts",
      location: "westeurope",
      properties: { backupPolicy },
    });
    const periodic = { type: "Periodic", periodicModeProperties: { backupIntervalInMinutes: 240 } };
    expect(
      validateResponse(operation!, { status: 200, responseHeaders: {}, responseBody: account(periodic) }),
    ).toEqual([]);
    const continuousWithPeriodicFields = {
      type: "Continuous",
      periodicModeProperties: { backupIntervalInMinutes: 240 },
    };
    expect(
      validateResponse(operation!, {
        status: 200,
        responseHeaders: {},
        responseBody: account(continuousWithPeriodicFields),
      }).join(),
    ).toContain('"periodicModeProperties" is not defined by the spec');
  });

  it("rejects an api-version the spec does not describe", () => {
    expect(problemsOf(exchange({ query: { "api-version": "2016-10-01" } })).join()).toContain(
      "api-version: 2016-10-01 is not a version",
    );
    expect(
      problemsOf(
        exchange({
          host: ARM,
          path: CLUSTER_PATH,
          query: { "api-version": "2024-04-13" },
          status: 404,
          responseBody: { error: { code: "x", message: "y" } },
        }),
      ).join(),
    ).toContain("api-version: 2024-04-13");
  });

  it("rejects a success status the operation does not declare, and checks errors against default", () => {
    expect(problemsOf(exchange({ status: 201 })).join()).toContain("status 201: not declared for GetKey");
    expect(
      problemsOf(exchange({ status: 404, responseBody: { error: { code: "KeyNotFound", message: "no" } } })),
    ).toEqual([]);
    expect(problemsOf(exchange({ status: 404, responseBody: { code: "KeyNotFound" } })).join()).toContain(
      "default",
    );
  });

  it("requires Azure-AsyncOperation or Location on a long-running 202", () => {
    const dataCenter = {
      id: CASSANDRA_DC_PATH,
      name: "dc1",
      type: "Microsoft.DocumentDB/cassandraClusters/dataCenters",
      properties: {
        provisioningState: "Updating",
        managedDiskCustomerKeyUri: "https://kv1.vault.azure.net/keys/k1/v1",
      },
    };
    const patch = exchange({
      method: "PATCH",
      host: ARM,
      path: CASSANDRA_DC_PATH,
      query: { "api-version": "2025-10-15" },
      requestBody: { properties: { managedDiskCustomerKeyUri: "https://kv1.vault.azure.net/keys/k1/v2" } },
      status: 202,
      responseBody: dataCenter,
    });
    expect(problemsOf(patch).join()).toContain("must answer with Azure-AsyncOperation or Location");
    const poll = `https://${ARM}/subscriptions/s/providers/Microsoft.DocumentDB/locations/westeurope/operationsStatus/op1`;
    expect(
      problemsOf({ ...patch, responseHeaders: { "Azure-AsyncOperation": `${poll}?api-version=2025-10-15` } }),
    ).toEqual([]);
  });

  it("checks a poll of an Azure-AsyncOperation URL against OperationStatusResult", () => {
    const pollPath =
      "/subscriptions/s/providers/Microsoft.DocumentDB/locations/westeurope/operationsStatus/op1";
    const started = exchange({
      method: "PATCH",
      host: ARM,
      path: CASSANDRA_DC_PATH,
      query: { "api-version": "2025-10-15" },
      requestBody: { properties: {} },
      status: 200,
      responseHeaders: { "azure-asyncoperation": `https://${ARM}${pollPath}?api-version=2025-10-15` },
      responseBody: { properties: {} },
    });
    const poll = exchange({
      host: ARM,
      path: pollPath,
      query: { "api-version": "2025-10-15" },
      responseBody: { state: "Done" },
    });
    const verdicts = checkExchanges(catalog, [started, poll]);
    expect(verdicts[1]?.checkedAs).toContain("OperationStatusResult");
    expect(verdicts[1]?.problems.join()).toContain("must have required property 'status'");
    expect(
      checkExchanges(catalog, [started, { ...poll, responseBody: { status: "Succeeded" } }])[1]?.problems,
    ).toEqual([]);
  });

  it("fails a request outside the specification, names it, and lets the control API through", () => {
    const outside = exchange({ method: "DELETE", path: "/keys/k1/versions/v1/everything" });
    const verdicts = checkExchanges(catalog, [
      outside,
      exchange({ host: "127.0.0.1", path: "/_sandbox/state" }),
    ]);
    expect(describeFailures(verdicts)).toMatch(
      /^DELETE https:\/\/kv1\.vault\.azure\.net\/keys\/k1\/versions\/v1\/everything/,
    );
    expect(describeFailures(verdicts)).toContain("outside the specification");
    expect(verdicts[1]?.problems).toEqual([]);
  });

  it("checks the Key Vault bearer challenge's header instead of the operation's responses", () => {
    const challenge = exchange({
      method: "POST",
      path: "/keys/k1/create",
      requestHeaders: {},
      requestBody: { kty: "RSA" },
      status: 401,
      responseHeaders: {
        "www-authenticate":
          'Bearer authorization="https://login.microsoftonline.com/t1", resource="https://vault.azure.net"',
      },
      responseBody: {
        error: { code: "Unauthorized", message: "AKV10000: Request is missing a Bearer or PoP token." },
      },
    });
    expect(problemsOf(challenge)).toEqual([]);
    expect(problemsOf({ ...challenge, requestBody: undefined })).toEqual([]);
    const wrongResource = { ...challenge, host: "hsm1.managedhsm.azure.net" };
    expect(problemsOf(wrongResource).join()).toContain('expected "https://managedhsm.azure.net"');
  });
});

describe("validateRequest", () => {
  it("rejects a request body property the spec does not define and a missing required body", () => {
    const operation = catalog.findOperation("POST", KV, "/keys/k1/create")!;
    const request = { path: "/keys/k1/create", query: { "api-version": "2025-07-01" }, requestHeaders: {} };
    expect(validateRequest(operation, { ...request, requestBody: { kty: "RSA", key_size: 2048 } })).toEqual(
      [],
    );
    expect(
      validateRequest(operation, { ...request, requestBody: { kty: "RSA", keySize: 2048 } }).join(),
    ).toContain('"keySize" is not defined by the spec');
    expect(validateRequest(operation, { ...request, requestBody: undefined }).join()).toContain(
      "required by CreateKey",
    );
  });

  it("validates query parameters by type and range", () => {
    const operation = catalog.findOperation("GET", KV, "/keys/k1/versions")!;
    const request = { path: "/keys/k1/versions", requestHeaders: {}, requestBody: undefined };
    expect(
      validateRequest(operation, { ...request, query: { "api-version": "2025-07-01", maxresults: "25" } }),
    ).toEqual([]);
    expect(
      validateRequest(operation, {
        ...request,
        query: { "api-version": "2025-07-01", maxresults: "26" },
      }).join(),
    ).toContain("maxresults");
    expect(validateRequest(operation, { ...request, query: {} }).join()).toContain("api-version: required");
  });
});
