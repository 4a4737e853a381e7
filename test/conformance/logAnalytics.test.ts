/**
 * The Log Analytics query API through the real LogsQueryClient (@azure/monitor-query-logs,
 * /v1): a workspace query over the Key Vault audit records and a query the service must
 * refuse; then every exchange against OperationalInsights.json 2022-10-27.
 */
import { LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  expectRecordingConforms,
  useConformanceSandbox,
  VAULT_URL,
  WORKSPACE_ID,
} from "./conformanceSandbox.js";

describe("Log Analytics query conformance", () => {
  const run = useConformanceSandbox();

  beforeAll(async () => {
    await run.clients.keys(VAULT_URL).getKey("adx-key");
    // Audit records arrive with the default estate's ingestion latency (1 to 4 s): the queries
    // below name the read's columns, which exist once a record carrying them is visible.
    const store = run.sandbox.store;
    const deadline = Date.now() + 60_000;
    while (
      !store.audit.some((record) => record.operationName === "KeyGet" && record.visibleAt <= store.now())
    ) {
      if (Date.now() > deadline) throw new Error("the key read's audit record never became visible");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("answers a workspace query over AzureDiagnostics and AZKVAuditLogs with tables", async () => {
    const logs = run.clients.logs();
    const diagnostics = await logs.queryWorkspace(
      WORKSPACE_ID,
      'AzureDiagnostics | where Category == "AuditEvent" and OperationName == "KeyGet" | project TimeGenerated, id_s, OperationName, identity_claim_oid_g, httpStatusCode_d',
      { duration: "PT1H" },
    );
    expect(diagnostics.status).toBe(LogsQueryResultStatus.Success);
    const resourceSpecific = await logs.queryWorkspace(
      WORKSPACE_ID,
      'AZKVAuditLogs | where OperationName == "KeyGet" | summarize calls = count() by Id',
      { duration: "PT1H" },
    );
    expect(resourceSpecific.status).toBe(LogsQueryResultStatus.Success);
  });

  it("refuses a query naming an unknown table with the service's error shape", async () => {
    await expect(
      run.clients.logs().queryWorkspace(WORKSPACE_ID, "NoSuchTable | take 1", { duration: "PT1H" }),
    ).rejects.toMatchObject({
      statusCode: 400,
    });
  });

  it("every recorded request and response conforms (OperationalInsights.json, keys.json)", () => {
    expectRecordingConforms(run.exchanges(), ["GetKey", "Query_Execute"]);
  });
});
