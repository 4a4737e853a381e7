/**
 * The sandbox's Log Analytics API through the real LogsQueryClient, as the service uses it.
 */
import { LogsQueryResultStatus } from "@azure/monitor-query-logs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { auditQueryText } from "../../../../src/adapters/auditLogs.js";
import { createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { startQuietSandbox } from "../quietSandbox.js";
import { auditRecord, CONSUMER_OID, KEY_ID, ROTATOR_OID, WORKSPACE_ID } from "./auditRecords.js";

let sandbox: RunningSandbox;
/** When the records of each test were written. */
let seededAt: number;

beforeAll(async () => {
  sandbox = await startQuietSandbox();
});

afterAll(async () => {
  await sandbox?.close();
});

beforeEach(() => {
  const now = sandbox.store.now();
  seededAt = now;
  sandbox.store.ingestion = { delaySeconds: 0, paused: false, partialError: false };
  sandbox.store.audit = [
    auditRecord(now, { minutesAgo: 180, id: `${KEY_ID}/v1` }),
    auditRecord(now, {
      minutesAgo: 30,
      id: `${KEY_ID}/v1`,
      callerObjectId: ROTATOR_OID,
      operationName: "KeyGet",
    }),
    auditRecord(now, { minutesAgo: 20, id: `${KEY_ID}/v2` }),
    auditRecord(now, {
      minutesAgo: 5,
      vault: "hsm-cmk-1",
      vaultKind: "managedHsm",
      id: "https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key/v9",
    }),
  ];
});

const logs = () => createAzureClientFactory(sandbox.transport("rotator")).logs();

describe("Log Analytics query API with LogsQueryClient", () => {
  it("queries AzureDiagnostics restricted by the timespan", async () => {
    const result = await logs().queryWorkspace(
      WORKSPACE_ID,
      "AzureDiagnostics | where Category == 'AuditEvent' | project TimeGenerated, id_s, ResourceType, Resource, httpStatusCode_d, requestUri_s | order by TimeGenerated asc",
      { duration: "PT2H" },
    );
    if (result.status !== LogsQueryResultStatus.Success) throw new Error(`query failed: ${result.status}`);
    const [table] = result.tables;
    expect(table?.columnDescriptors.map((column) => `${column.name}:${column.type}`)).toEqual([
      "TimeGenerated:datetime",
      "id_s:string",
      "ResourceType:string",
      "Resource:string",
      "httpStatusCode_d:real",
      "requestUri_s:string",
    ]);
    // Managed HSM records carry no id: the key is only in the request URI.
    expect(table?.rows.map((row) => row[1])).toEqual([`${KEY_ID}/v1`, `${KEY_ID}/v2`, ""]);
    expect(table?.rows[0]?.[0]).toBeInstanceOf(Date);
    expect(table?.rows[2]?.slice(2)).toEqual([
      "MANAGEDHSMS",
      "HSM-CMK-1",
      200,
      "https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key/v9?api-version=7.6",
    ]);
  });

  it("queries AZKVAuditLogs (vaults only) with the caller in the dynamic Identity column", async () => {
    const result = await logs().queryWorkspace(
      WORKSPACE_ID,
      "AZKVAuditLogs | extend Caller = tostring(Identity.claim.oid) | summarize calls = count() by Id, Caller | order by Id asc, Caller asc",
      { duration: "P1D" },
    );
    if (result.status !== LogsQueryResultStatus.Success) throw new Error(`query failed: ${result.status}`);
    expect(result.tables[0]?.rows).toEqual([
      [`${KEY_ID}/v1`, ROTATOR_OID, 1],
      [`${KEY_ID}/v1`, CONSUMER_OID, 1],
      [`${KEY_ID}/v2`, CONSUMER_OID, 1],
    ]);
  });

  it("answers a batch that summarises the last use per version excluding the service itself", async () => {
    const lastUse = (table: string, idColumn: string, callerColumn: string) =>
      `${table} | where isnotempty(${idColumn}) and ${callerColumn} != '${ROTATOR_OID}' | summarize LastUse = max(TimeGenerated) by Version = tostring(split(${idColumn}, '/')[5]) | order by Version asc`;
    const results = await logs().queryBatch([
      {
        workspaceId: WORKSPACE_ID,
        query: lastUse("AzureDiagnostics", "id_s", "identity_claim_oid_g"),
        timespan: { duration: "P1D" },
      },
      {
        workspaceId: WORKSPACE_ID,
        query: lastUse("AZKVAuditLogs", "Id", "tostring(Identity.claim.oid)"),
        timespan: { duration: "PT1H" },
      },
    ]);
    const now = seededAt;
    const [diagnostics, resourceSpecific] = results;
    if (
      diagnostics?.status !== LogsQueryResultStatus.Success ||
      resourceSpecific?.status !== LogsQueryResultStatus.Success
    ) {
      throw new Error(`batch failed: ${JSON.stringify(results)}`);
    }
    expect(diagnostics.tables[0]?.rows).toEqual([
      ["v1", new Date(now - 180 * 60_000)],
      ["v2", new Date(now - 20 * 60_000)],
    ]);
    expect(resourceSpecific.tables[0]?.rows).toEqual([["v2", new Date(now - 20 * 60_000)]]);
  });

  it("reports a partial failure when the sandbox simulates one", async () => {
    sandbox.store.ingestion.partialError = true;
    const result = await logs().queryWorkspace(WORKSPACE_ID, "AzureDiagnostics | count", { duration: "P1D" });
    expect(result.status).toBe(LogsQueryResultStatus.PartialFailure);
    if (result.status === LogsQueryResultStatus.PartialFailure) {
      expect(result.partialError.code).toBe("PartialError");
      expect(result.partialTables[0]?.rows).toEqual([[4]]);
    }
  });

  it("refuses a query with an unknown column with 400 BadArgumentError and Kusto's SEM0100 naming the column", async () => {
    const error = await logs()
      .queryWorkspace(WORKSPACE_ID, "AzureDiagnostics | where NoSuchColumn == 1", { duration: "PT1H" })
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      statusCode: 400,
      code: "BadArgumentError",
      message: "The request had some invalid properties",
    });
    expect(JSON.stringify((error as { details?: unknown }).details)).toContain(
      "'where' operator: Failed to resolve column or scalar expression named 'NoSuchColumn'",
    );
  });

  it("refuses a caller without read access to the workspace with 403", async () => {
    const outsider = createAzureClientFactory(sandbox.transport("uai-adx-1")).logs();
    await expect(
      outsider.queryWorkspace(WORKSPACE_ID, "AzureDiagnostics | count", { duration: "PT1H" }),
    ).rejects.toMatchObject({
      statusCode: 403,
      code: "InsufficientAccessError",
    });
  });

  it("hides records still inside the ingestion delay", async () => {
    const now = sandbox.store.now();
    sandbox.store.audit.push(auditRecord(now, { minutesAgo: 0, id: `${KEY_ID}/v3` }));
    const last = sandbox.store.audit.at(-1);
    if (last) last.visibleAt = now + 600_000;
    const result = await logs().queryWorkspace(
      WORKSPACE_ID,
      "AzureDiagnostics | where id_s endswith '/v3' | count",
      { duration: "PT1H" },
    );
    if (result.status !== LogsQueryResultStatus.Success) throw new Error(`query failed: ${result.status}`);
    expect(result.tables[0]?.rows).toEqual([[0]]);
    if (last) last.visibleAt = now;
    const later = await logs().queryWorkspace(
      WORKSPACE_ID,
      "AzureDiagnostics | where id_s endswith '/v3' | count",
      { duration: "PT1H" },
    );
    if (later.status !== LogsQueryResultStatus.Success) throw new Error(`query failed: ${later.status}`);
    expect(later.tables[0]?.rows).toEqual([[1]]);
  });
});

describe("the service's own audit query", () => {
  it("runs unchanged on both audit tables and finds the consumer's use of each version", async () => {
    const key = {
      vaultUrl: "https://kv-cmk-1.vault.azure.net/",
      vaultName: "kv-cmk-1",
      hostKind: "vault" as const,
      keyName: "adx-key",
    };
    // The service reads versions as Key Vault writes them: 32 hex characters.
    const [v1, v2] = ["1".repeat(32), "2".repeat(32)];
    const now = sandbox.store.now();
    sandbox.store.audit = [
      auditRecord(now, { minutesAgo: 180, id: `${KEY_ID}/${v1}` }),
      auditRecord(now, {
        minutesAgo: 30,
        id: `${KEY_ID}/${v1}`,
        callerObjectId: ROTATOR_OID,
        operationName: "KeyGet",
      }),
      auditRecord(now, { minutesAgo: 20, id: `${KEY_ID}/${v2}` }),
    ];
    for (const table of ["AzureDiagnostics", "AZKVAuditLogs"] as const) {
      const result = await logs().queryWorkspace(WORKSPACE_ID, auditQueryText(table, [key], ROTATOR_OID), {
        duration: "P1D",
      });
      if (result.status !== LogsQueryResultStatus.Success)
        throw new Error(`${table} query failed: ${result.status}`);
      const [summary] = result.tables;
      const column = (name: string) =>
        summary?.columnDescriptors.findIndex((descriptor) => descriptor.name === name) ?? -1;
      const uses = summary?.rows
        .map((row) => `${row[column("Version")]} ${row[column("Caller")]} ${row[column("Uses")]}`)
        .sort();
      expect(uses, table).toEqual([
        `${v1} ${ROTATOR_OID} 1`,
        `${v1} ${CONSUMER_OID} 1`,
        `${v2} ${CONSUMER_OID} 1`,
      ]);
    }
  });
});
