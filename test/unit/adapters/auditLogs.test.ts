import { describe, expect, it } from "vitest";
import { runKql } from "../../../sandbox/kql/index.js";
import { workspaceAuditTables } from "../../../sandbox/loganalytics/auditTables.js";
import type { ObjectIdColumn, SandboxAuditRecord } from "../../../sandbox/model.js";
import type { SandboxStore } from "../../../sandbox/store.js";
import {
  type AuditQuery,
  auditQueryText,
  createAuditLogReader,
  type LogsQueryApi,
} from "../../../src/adapters/auditLogs.js";
import { parseKeyId } from "../../../src/adapters/keyRef.js";
import type { KeyRef } from "../../../src/model.js";
import { START, key as sandboxKey, storeWith, vault } from "../sandbox/eventgrid/sandboxBuilders.js";

const SERVICE = "11111111-1111-1111-1111-111111111111";
const CONSUMER = "22222222-2222-2222-2222-222222222222";
const OTHER = "33333333-3333-3333-3333-333333333333";
const WORKSPACE = "44444444-4444-4444-4444-444444444444";
const V1 = "a".repeat(32);
const V2 = "b".repeat(32);
const KEY = parseKeyId("https://kv1.vault.azure.net/keys/key1").key;
const HSM_KEY = parseKeyId("https://hsm1.managedhsm.azure.net/keys/hkey").key;
const COLUMNS = ["HostKey", "Version", "Caller", "AppId", "Own", "FirstUse", "LastUse", "Uses"].map(
  (name) => ({
    name,
  }),
);

function at(minutes: number): Date {
  return new Date(Date.UTC(2026, 5, 1, 12, minutes));
}

/**
 * A summary row whose first use is `uses - 1` minutes before its last (one call a minute).
 * `Own` is what the query computes: the service's principal doing one of its own operations.
 */
function row(
  hostKey: string,
  version: string,
  caller: string,
  lastUse: Date,
  uses = 1,
  own = caller === SERVICE,
): unknown[] {
  return [
    hostKey,
    version,
    caller,
    "",
    own,
    new Date(lastUse.getTime() - (uses - 1) * 60_000),
    lastUse,
    uses,
  ];
}

function fakeLogs(answer: () => ReturnType<LogsQueryApi["queryWorkspace"]>) {
  const queries: { workspaceId: string; query: string; timespan: { startTime: Date; endTime: Date } }[] = [];
  const api: LogsQueryApi = {
    queryWorkspace(workspaceId, query, timespan) {
      queries.push({ workspaceId, query, timespan });
      return answer();
    },
  };
  return { api, queries };
}

function request(keys: KeyRef[], overrides: Partial<AuditQuery> = {}): AuditQuery {
  return {
    workspaceId: WORKSPACE,
    table: "AzureDiagnostics",
    keys,
    servicePrincipalId: SERVICE,
    from: at(0),
    to: at(60),
    ...overrides,
  };
}

describe("audit log reader", () => {
  it("answers for every key with one query, excluding the service and taking its newest call as the canary", async () => {
    const { api, queries } = fakeLogs(async () => ({
      status: "Success",
      tables: [
        {
          columnDescriptors: COLUMNS,
          rows: [
            row("kv1.vault.azure.net/key1", V1, CONSUMER, at(10), 5),
            row("kv1.vault.azure.net/key1", V1, OTHER, at(20), 2),
            row("kv1.vault.azure.net/key1", V2, CONSUMER, at(30), 1),
            row("kv1.vault.azure.net/key1", V2, SERVICE, at(50), 3),
            row("kv1.vault.azure.net/key1", "", SERVICE, at(55), 1),
            row("hsm1.managedhsm.azure.net/hkey", V1, CONSUMER, at(40), 9),
          ],
        },
      ],
    }));
    const evidence = await createAuditLogReader(api).readEvidence(request([KEY, HSM_KEY]));
    expect(queries).toHaveLength(1);
    expect(queries[0]?.timespan).toEqual({ startTime: at(0), endTime: at(60) });
    const key1 = evidence["kv1/key1"];
    expect(key1).toMatchObject({
      complete: true,
      canarySeenAt: at(55),
      canaryFirstSeenAt: at(48),
      workspaceId: WORKSPACE,
    });
    expect(key1?.uses).toEqual([
      {
        version: V1,
        lastUse: at(20),
        lastUser: OTHER,
        count: 7,
        byCaller: { [CONSUMER]: at(10), [OTHER]: at(20) },
      },
      { version: V2, lastUse: at(30), lastUser: CONSUMER, count: 1, byCaller: { [CONSUMER]: at(30) } },
    ]);
    expect(evidence["hsm1/hkey"]).toMatchObject({ complete: true, uses: [{ version: V1, count: 9 }] });
    expect(evidence["hsm1/hkey"]?.canarySeenAt).toBeUndefined();
  });

  it("reads the calls that failed with 403 per version and caller, still counting them as use", async () => {
    const columns = [...COLUMNS, { name: "Failed" }];
    const { api, queries } = fakeLogs(async () => ({
      status: "Success",
      tables: [
        {
          columnDescriptors: columns,
          rows: [
            [...row("kv1.vault.azure.net/key1", V1, CONSUMER, at(10), 2), false],
            [...row("kv1.vault.azure.net/key1", V1, OTHER, at(30), 3), true],
            [...row("kv1.vault.azure.net/key1", V1, CONSUMER, at(40), 1), true],
          ],
        },
      ],
    }));
    const evidence = await createAuditLogReader(api).readEvidence(request([KEY]));
    expect(queries[0]?.query).toContain("extend Failed = not(Own) and Status == 403");
    expect(evidence["kv1/key1"]?.uses[0]).toMatchObject({ version: V1, count: 6 });
    expect(evidence["kv1/key1"]?.failures).toEqual([
      {
        version: V1,
        firstFailure: at(28),
        lastFailure: at(40),
        count: 4,
        byCaller: { [OTHER]: at(30), [CONSUMER]: at(40) },
      },
    ]);
  });

  it("counts a crypto operation under the service's identity as use, never as the canary", async () => {
    const { api, queries } = fakeLogs(async () => ({
      status: "Success",
      tables: [
        {
          columnDescriptors: COLUMNS,
          rows: [
            // The service's own reads: the canary.
            row("kv1.vault.azure.net/key1", V2, SERVICE, at(50), 3, true),
            // Unwraps by a consumer that shares the service's identity: use of V1.
            row("kv1.vault.azure.net/key1", V1, SERVICE, at(58), 4, false),
          ],
        },
      ],
    }));
    const evidence = await createAuditLogReader(api).readEvidence(request([KEY]));
    expect(evidence["kv1/key1"]).toMatchObject({ canarySeenAt: at(50), canaryFirstSeenAt: at(48) });
    expect(evidence["kv1/key1"]?.uses).toEqual([
      { version: V1, lastUse: at(58), lastUser: SERVICE, count: 4, byCaller: { [SERVICE]: at(58) } },
    ]);
    // The service's own operations are a closed list; crypto operations are not among them.
    const query = queries[0]?.query ?? "";
    const ownLine = query.split("\n").find((line) => line.includes("extend Own")) ?? "";
    expect(ownLine).toContain("'KeyGet'");
    for (const crypto of ["KeyWrap", "KeyUnwrap", "KeyEncrypt", "KeyDecrypt", "KeySign", "KeyVerify"])
      expect(ownLine).not.toContain(`'${crypto}'`);
  });

  it("a partial result is incomplete evidence, never 'no rows'", async () => {
    const { api } = fakeLogs(async () => ({
      status: "PartialFailure",
      partialTables: [{ columnDescriptors: COLUMNS, rows: [] }],
      partialError: { code: "PartialError", message: "query timed out on one shard" },
    }));
    const evidence = await createAuditLogReader(api).readEvidence(request([KEY]));
    expect(evidence["kv1/key1"]).toMatchObject({ complete: false, uses: [] });
    expect(evidence["kv1/key1"]?.problem).toContain("query timed out on one shard");
  });

  it("a failed query is incomplete evidence with the error", async () => {
    const { api } = fakeLogs(async () => {
      throw Object.assign(new Error("Forbidden"), { statusCode: 403, code: "InsufficientAccessError" });
    });
    const evidence = await createAuditLogReader(api).readEvidence(request([KEY]));
    expect(evidence["kv1/key1"]?.complete).toBe(false);
    expect(evidence["kv1/key1"]?.problem).toContain("InsufficientAccessError");
  });

  it("refuses to build a query from an unvalidated service id", async () => {
    const { api, queries } = fakeLogs(async () => ({ status: "Success", tables: [] }));
    const evidence = await createAuditLogReader(api).readEvidence(
      request([KEY], { servicePrincipalId: "x' or 1==1" }),
    );
    expect(queries).toHaveLength(0);
    expect(evidence["kv1/key1"]?.complete).toBe(false);
  });

  it("builds KQL for both tables from validated identifiers only", () => {
    const diagnostics = auditQueryText("AzureDiagnostics", [KEY, HSM_KEY], SERVICE);
    expect(diagnostics).toContain("AzureDiagnostics");
    expect(diagnostics).toContain("identity_claim_oid_g");
    expect(diagnostics).toContain("('kv1.vault.azure.net/key1', 'hsm1.managedhsm.azure.net/hkey')");
    expect(diagnostics).toContain(`Caller == '${SERVICE}'`);
    const resourceSpecific = auditQueryText("AZKVAuditLogs", [KEY], SERVICE);
    expect(resourceSpecific).toContain("AZKVAuditLogs");
    expect(resourceSpecific).toContain("Identity.claim.oid");
    expect(resourceSpecific).toContain("HttpStatusCode");
  });
});

describe("the audit query on every row shape, run by the sandbox's Kusto engine", () => {
  const LONG: ObjectIdColumn = "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";
  const APP = "a232010e-820c-4083-83bb-3ace5fc29d0b";
  const VAULT_KEY = parseKeyId("https://kv1.vault.azure.net/keys/k").key;
  const HSM = parseKeyId("https://hsm1.managedhsm.azure.net/keys/hk").key;

  function storeOf(objectIdColumn: ObjectIdColumn): SandboxStore {
    const vaults = [vault("kv1", [sandboxKey("k")]), vault("hsm1", [sandboxKey("hk")], "managedHsm")];
    const store = storeWith(vaults);
    for (const each of vaults) each.workspaceId = WORKSPACE;
    store.workspaces.set(WORKSPACE, { id: WORKSPACE, name: "law", resourceId: "/w/law", objectIdColumn });
    return store;
  }

  function record(overrides: Partial<SandboxAuditRecord>): SandboxAuditRecord {
    const id = `https://kv1.vault.azure.net/keys/k/${V1}`;
    return {
      time: START,
      visibleAt: START,
      vault: "kv1",
      vaultKind: "vault",
      operationName: "KeyUnwrap",
      id,
      requestUri: `${id}/unwrapkey?api-version=7.6`,
      callerObjectId: CONSUMER,
      callerIpAddress: "10.0.0.4",
      httpStatusCode: 200,
      resultType: "Success",
      resultSignature: "OK",
      correlationId: "c",
      durationMs: 1,
      ...overrides,
    };
  }

  /** Every shape: a successful unwrap, a failed one (no id_s; the port as real request URIs may carry it), the canary, a first-party caller, a Managed HSM row. */
  function records(): SandboxAuditRecord[] {
    const minute = 60_000;
    return [
      record({ time: START - 30 * minute }),
      record({
        time: START - 20 * minute,
        id: `https://kv1.vault.azure.net/keys/k/${V2}`,
        requestUri: `https://kv1.vault.azure.net:443/keys/k/${V2}/unwrapkey?api-version=7.6`,
        callerObjectId: OTHER,
        httpStatusCode: 403,
        resultType: "Failure",
        resultSignature: "Forbidden",
      }),
      record({
        time: START - 10 * minute,
        id: `https://kv1.vault.azure.net/keys/k/${V2}`,
        requestUri: "https://kv1.vault.azure.net/keys/k/?api-version=7.6",
        operationName: "KeyGet",
        callerObjectId: SERVICE,
      }),
      record({
        time: START - 5 * minute,
        callerObjectId: "77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f",
        callerAppId: APP,
      }),
      record({
        time: START - 2 * minute,
        vault: "hsm1",
        vaultKind: "managedHsm",
        id: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}`,
        requestUri: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}/unwrapkey?api-version=7.6`,
      }),
    ];
  }

  function logsOver(store: SandboxStore): LogsQueryApi {
    return {
      async queryWorkspace(_workspaceId, query) {
        const workspace = store.workspaces.get(WORKSPACE);
        if (!workspace) throw new Error("no workspace");
        const result = runKql(query, workspaceAuditTables(store, workspace), { now: START });
        return {
          status: "Success",
          tables: [{ columnDescriptors: result.columns.map(({ name }) => ({ name })), rows: result.rows }],
        };
      },
    };
  }

  for (const objectIdColumn of ["identity_claim_oid_g", LONG] as const) {
    for (const table of ["AzureDiagnostics", "AZKVAuditLogs"] as const) {
      it(`reads every caller and version in a ${objectIdColumn} workspace from ${table}`, async () => {
        const store = storeOf(objectIdColumn);
        store.audit = records();
        const evidence = await createAuditLogReader(logsOver(store)).readEvidence(
          request([VAULT_KEY, HSM], { table, from: new Date(START - 3_600_000), to: new Date(START) }),
        );
        const vaultEvidence = evidence["kv1/k"];
        expect(vaultEvidence?.complete).toBe(true);
        expect(vaultEvidence?.canarySeenAt).toEqual(new Date(START - 10 * 60_000));
        expect(vaultEvidence?.uses.map((use) => [use.version, Object.keys(use.byCaller).sort()])).toEqual([
          [V1, ["77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f", CONSUMER].sort()],
          // The failed call names its key only in requestUri_s, and still counts as use.
          [V2, [OTHER]],
        ]);
        expect(vaultEvidence?.callerAppIds?.["77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f"]).toBe(APP);
        // AZKVAuditLogs holds vault records only; Managed HSM rows are in AzureDiagnostics.
        expect(evidence["hsm1/hk"]?.uses.map((use) => use.version)).toEqual(
          table === "AzureDiagnostics" ? [V1] : [],
        );
      });
    }
  }

  it("analyses in a workspace that has only Managed HSM rows (no id_s, no short object-id column)", async () => {
    const store = storeOf("identity_claim_oid_g");
    store.audit = records().filter((each) => each.vaultKind === "managedHsm");
    const evidence = await createAuditLogReader(logsOver(store)).readEvidence(
      request([HSM], { from: new Date(START - 3_600_000), to: new Date(START) }),
    );
    expect(evidence["hsm1/hk"]).toMatchObject({ complete: true, uses: [{ version: V1, count: 1 }] });
  });
});
