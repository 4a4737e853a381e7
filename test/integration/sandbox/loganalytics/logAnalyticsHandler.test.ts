/**
 * The Log Analytics service handler called in-process with a hand-made store: the
 * protocol details LogsQueryClient does not reach (401s, 404s, GET, batch errors, Prefer).
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { SandboxRequest } from "../../../../sandbox/http.js";
import { mintSandboxToken } from "../../../../sandbox/identity.js";
import { logAnalyticsService } from "../../../../sandbox/loganalytics/logAnalyticsService.js";
import { parseQueryTimespan } from "../../../../sandbox/loganalytics/queryTimespan.js";
import { SandboxStore } from "../../../../sandbox/store.js";
import { auditRecord, CONSUMER_OID, ROTATOR_OID, WORKSPACE_ID } from "./auditRecords.js";

const NOW = Date.parse("2024-05-10T12:00:00Z");
const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
const WORKSPACE_RESOURCE_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.OperationalInsights/workspaces/law-audit`;

function storeWithAudit(): SandboxStore {
  const store = new SandboxStore({ now: () => NOW });
  store.workspaces.set(WORKSPACE_ID, {
    id: WORKSPACE_ID,
    name: "law-audit",
    resourceId: WORKSPACE_RESOURCE_ID,
  });
  store.vaults.set("kv-cmk-1", {
    name: "kv-cmk-1",
    kind: "vault",
    uri: "https://kv-cmk-1.vault.azure.net/",
    resourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-cmk-1`,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: "rg-keys",
    location: "westeurope",
    softDelete: true,
    purgeProtection: true,
    softDeleteRetentionInDays: 90,
    workspaceId: WORKSPACE_ID,
    keys: new Map(),
  });
  store.roleDefinitions.set("Log Analytics Reader", {
    roleName: "Log Analytics Reader",
    actions: ["*/read"],
    notActions: [],
    dataActions: [],
    notDataActions: [],
  });
  store.roleAssignments.push({
    principalId: ROTATOR_OID,
    roleName: "Log Analytics Reader",
    scope: WORKSPACE_RESOURCE_ID,
  });
  store.audit = [auditRecord(NOW, { minutesAgo: 90 }), auditRecord(NOW, { minutesAgo: 10 })];
  return store;
}

function token(oid = ROTATOR_OID, aud = "https://api.loganalytics.io"): string {
  return mintSandboxToken({ oid, aud, tid: "tenant" }, NOW);
}

function request(
  overrides: Partial<SandboxRequest> & { json?: unknown; bearer?: string | null } = {},
): SandboxRequest {
  const { json, bearer = token(), ...rest } = overrides;
  return {
    method: "POST",
    host: "api.loganalytics.io",
    path: `/v1/workspaces/${WORKSPACE_ID}/query`,
    query: new URLSearchParams(),
    headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
    body: Buffer.from(json === undefined ? "" : JSON.stringify(json)),
    remoteAddress: "127.0.0.1",
    ...rest,
  };
}

type ErrorBody = {
  error: { code: string; message: string; innererror?: { code: string; innererror?: { code: string } } };
};

let store: SandboxStore;
beforeEach(() => {
  store = storeWithAudit();
});

describe("Log Analytics service handler", () => {
  it("answers a POST query with PrimaryResult, ISO datetimes and JSON text for dynamic values", async () => {
    const response = await logAnalyticsService.handle(
      request({
        json: { query: "AZKVAuditLogs | project TimeGenerated, Identity | take 1", timespan: "PT1H" },
      }),
      store,
    );
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      tables: [
        {
          name: "PrimaryResult",
          columns: [
            { name: "TimeGenerated", type: "datetime" },
            { name: "Identity", type: "dynamic" },
          ],
          rows: [[new Date(NOW - 600_000).toISOString(), expect.stringContaining(`"oid":"${CONSUMER_OID}"`)]],
        },
      ],
    });
  });

  it("answers a GET query with ?query= and ?timespan=", async () => {
    const query = new URLSearchParams({ query: "AzureDiagnostics | count", timespan: "PT2H" });
    const response = await logAnalyticsService.handle(request({ method: "GET", query }), store);
    expect(response.body).toMatchObject({ tables: [{ rows: [[2]] }] });
  });

  it("adds statistics when the Prefer header asks for them", async () => {
    const response = await logAnalyticsService.handle(
      request({
        json: { query: "AzureDiagnostics | count" },
        headers: { authorization: `Bearer ${token()}`, prefer: "wait=600, include-statistics=true" },
      }),
      store,
    );
    expect(response.body).toHaveProperty("statistics");
  });

  it("answers 401 AuthorizationRequiredError without a token and InvalidTokenError for another audience", async () => {
    const missing = await logAnalyticsService.handle(
      request({ bearer: null, json: { query: "AzureDiagnostics" } }),
      store,
    );
    expect(missing.status).toBe(401);
    expect((missing.body as ErrorBody).error.code).toBe("AuthorizationRequiredError");
    const wrongAudience = await logAnalyticsService.handle(
      request({
        bearer: token(ROTATOR_OID, "https://management.azure.com"),
        json: { query: "AzureDiagnostics" },
      }),
      store,
    );
    expect(wrongAudience.status).toBe(401);
    expect((wrongAudience.body as ErrorBody).error.code).toBe("InvalidTokenError");
  });

  it("answers 404 WorkspaceNotFoundError for an unknown workspace", async () => {
    const response = await logAnalyticsService.handle(
      request({
        path: "/v1/workspaces/00000000-0000-0000-0000-00000000dead/query",
        json: { query: "AzureDiagnostics" },
      }),
      store,
    );
    expect(response.status).toBe(404);
    expect((response.body as ErrorBody).error.code).toBe("WorkspaceNotFoundError");
  });

  it("answers 400 BadArgumentError with the KQL error inside for a syntax error and for a bad timespan", async () => {
    const syntax = await logAnalyticsService.handle(
      request({ json: { query: "AzureDiagnostics | where" } }),
      store,
    );
    expect(syntax.status).toBe(400);
    const body = syntax.body as ErrorBody;
    expect(body.error.code).toBe("BadArgumentError");
    expect(body.error.innererror?.code).toBe("SyntaxError");
    const timespan = await logAnalyticsService.handle(
      request({ json: { query: "AzureDiagnostics", timespan: "yesterday" } }),
      store,
    );
    expect(timespan.status).toBe(400);
    expect((timespan.body as ErrorBody).error.message).toContain("yesterday");
  });

  it("answers each batch request on its own, including its errors", async () => {
    const response = await logAnalyticsService.handle(
      request({
        path: "/v1/$batch",
        json: {
          requests: [
            {
              id: "a",
              workspace: WORKSPACE_ID,
              body: { query: "AzureDiagnostics | count", timespan: "PT30M" },
            },
            {
              id: "b",
              workspace: "00000000-0000-0000-0000-00000000dead",
              body: { query: "AzureDiagnostics" },
            },
          ],
        },
      }),
      store,
    );
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      responses: [
        { id: "a", status: 200, body: { tables: [{ rows: [[1]] }] } },
        { id: "b", status: 404, body: { error: { code: "WorkspaceNotFoundError" } } },
      ],
    });
  });

  it("answers a column the workspace lacks as Log Analytics does: SEM0100 inside SemanticError inside BadArgumentError", async () => {
    const workspace = store.workspaces.get(WORKSPACE_ID);
    if (workspace)
      workspace.objectIdColumn =
        "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";
    const response = await logAnalyticsService.handle(
      request({
        json: {
          query: "AzureDiagnostics | extend Caller = tolower(tostring(identity_claim_oid_g)) | take 1",
          timespan: "PT2H",
        },
      }),
      store,
    );
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      error: {
        code: "BadArgumentError",
        message: "The request had some invalid properties",
        correlationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        innererror: {
          code: "SemanticError",
          message: "A semantic error occurred.",
          innererror: {
            code: "SEM0100",
            message:
              "'extend' operator: Failed to resolve column or scalar expression named 'identity_claim_oid_g'",
          },
        },
      },
    });
    const longColumn = await logAnalyticsService.handle(
      request({
        json: {
          query:
            "AzureDiagnostics | summarize count() by identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
          timespan: "PT2H",
        },
      }),
      store,
    );
    expect(longColumn.body).toMatchObject({ tables: [{ rows: [[CONSUMER_OID, 2]] }] });
  });

  it("answers a query reaching back past records dropped for the memory bound with a PartialError", async () => {
    store.auditDroppedThrough = NOW - 3_600_000;
    const reachesBack = await logAnalyticsService.handle(
      request({ json: { query: "AzureDiagnostics | count", timespan: "PT2H" } }),
      store,
    );
    expect(reachesBack.body).toMatchObject({
      error: {
        code: "PartialError",
        details: [{ code: "EngineError", message: expect.stringContaining("dropped audit records") }],
      },
    });
    const recentOnly = await logAnalyticsService.handle(
      request({ json: { query: "AzureDiagnostics | count", timespan: "PT30M" } }),
      store,
    );
    expect(recentOnly.body).not.toHaveProperty("error");
  });

  it("answers 403 to a caller without a role on the workspace", async () => {
    const response = await logAnalyticsService.handle(
      request({ bearer: token(CONSUMER_OID), json: { query: "AzureDiagnostics" } }),
      store,
    );
    expect(response.status).toBe(403);
  });
});

describe("parseQueryTimespan", () => {
  it("reads a duration ending now, start/end, start/duration and duration/end", () => {
    expect(parseQueryTimespan("PT1H", NOW)).toEqual({ start: NOW - 3_600_000, end: NOW });
    expect(parseQueryTimespan("P1DT12H", NOW)).toEqual({ start: NOW - 36 * 3_600_000, end: NOW });
    expect(parseQueryTimespan("2024-05-10T00:00:00Z/2024-05-10T06:00:00Z", NOW)).toEqual({
      start: Date.parse("2024-05-10T00:00:00Z"),
      end: Date.parse("2024-05-10T06:00:00Z"),
    });
    expect(parseQueryTimespan("2024-05-10T00:00:00Z/PT30M", NOW)).toEqual({
      start: Date.parse("2024-05-10T00:00:00Z"),
      end: Date.parse("2024-05-10T00:30:00Z"),
    });
    expect(parseQueryTimespan("PT1H/2024-05-10T06:00:00Z", NOW)).toEqual({
      start: Date.parse("2024-05-10T05:00:00Z"),
      end: Date.parse("2024-05-10T06:00:00Z"),
    });
  });

  it("refuses what is not an interval", () => {
    expect(parseQueryTimespan("P", NOW)).toHaveProperty("error");
    expect(parseQueryTimespan("1 hour", NOW)).toHaveProperty("error");
    expect(parseQueryTimespan("2024-05-10T06:00:00Z/2024-05-10T00:00:00Z", NOW)).toHaveProperty("error");
  });
});
