/**
 * The audit tables a workspace holds, as the queries see them: which object-id column a
 * workspace has, a column that never received data does not exist, a failed call has no
 * `id_s`, and Managed HSM rows have their own shape.
 */
import { describe, expect, it } from "vitest";
import { runKql } from "../../../../sandbox/kql/index.js";
import { workspaceAuditTables } from "../../../../sandbox/loganalytics/auditTables.js";
import type { ObjectIdColumn, SandboxAuditRecord } from "../../../../sandbox/model.js";
import type { SandboxStore } from "../../../../sandbox/store.js";
import { key, START, storeWith, vault } from "../eventgrid/sandboxBuilders.js";

const LONG: ObjectIdColumn = "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";
const CALLER = "22222222-0000-0000-0000-000000000001";
const APP = "aaaaaaaa-0000-0000-0000-000000000001";
const V1 = "0123456789abcdef0123456789abcdef";

function storeWithWorkspace(objectIdColumn: ObjectIdColumn, withHsm: boolean): SandboxStore {
  const vaults = [vault("kv1", [key("k")])];
  if (withHsm) vaults.push(vault("hsm1", [key("hk")], "managedHsm"));
  const store = storeWith(vaults);
  for (const each of vaults) each.workspaceId = "law";
  store.workspaces.set("law", { id: "law", name: "law", resourceId: "/w/law", objectIdColumn });
  store.identities.set(CALLER, { name: "uai", objectId: CALLER, clientId: APP });
  return store;
}

function record(overrides: Partial<SandboxAuditRecord> = {}): SandboxAuditRecord {
  const id = `https://kv1.vault.azure.net/keys/k/${V1}`;
  return {
    time: START,
    visibleAt: START,
    vault: "kv1",
    vaultKind: "vault",
    operationName: "KeyUnwrap",
    id,
    requestUri: `${id}/unwrapkey?api-version=7.4`,
    callerObjectId: CALLER,
    callerIpAddress: "10.0.0.4",
    httpStatusCode: 200,
    resultType: "Success",
    resultSignature: "OK",
    correlationId: "c",
    durationMs: 1,
    ...overrides,
  };
}

function query(store: SandboxStore, text: string) {
  const workspace = store.workspaces.get("law");
  if (!workspace) throw new Error("no workspace");
  return runKql(text, workspaceAuditTables(store, workspace), { now: START });
}

describe("AzureDiagnostics per workspace", () => {
  it("a workspace with the long object-id column has no identity_claim_oid_g: naming it fails", () => {
    const store = storeWithWorkspace(LONG, false);
    store.audit = [record()];
    expect(query(store, `AzureDiagnostics | project ${LONG}, identity_claim_appid_g`).rows).toEqual([
      [CALLER, APP],
    ]);
    expect(() => query(store, "AzureDiagnostics | where identity_claim_oid_g == 'x'")).toThrow(
      /The name 'identity_claim_oid_g' does not refer to any known column/,
    );
  });

  it("a workspace with identity_claim_oid_g has no long column until a Managed HSM record lands there", () => {
    const store = storeWithWorkspace("identity_claim_oid_g", true);
    store.audit = [record()];
    expect(query(store, "AzureDiagnostics | project identity_claim_oid_g").rows).toEqual([[CALLER]]);
    expect(() => query(store, `AzureDiagnostics | project ${LONG}`)).toThrow(
      /does not refer to any known column/,
    );
    store.audit.push(
      record({
        vault: "hsm1",
        vaultKind: "managedHsm",
        id: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}`,
        requestUri: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}/unwrapkey?api-version=7.4`,
      }),
    );
    expect(
      query(store, `AzureDiagnostics | where ResourceType == 'MANAGEDHSMS' | project ${LONG}`).rows,
    ).toEqual([[CALLER]]);
    // Once a column exists it stays, even after the records that filled it are gone.
    store.audit = [record()];
    expect(query(store, `AzureDiagnostics | project ${LONG}`).rows).toEqual([[""]]);
  });

  it("no column of the Key Vault records exists before any record arrived", () => {
    const store = storeWithWorkspace("identity_claim_oid_g", false);
    expect(() => query(store, "AzureDiagnostics | where isnotempty(id_s)")).toThrow(/'id_s' does not refer/);
    expect(query(store, "AzureDiagnostics | count").rows).toEqual([[0]]);
  });

  it("a failed call carries the key only in requestUri_s, without id_s", () => {
    const store = storeWithWorkspace("identity_claim_oid_g", false);
    store.audit = [
      record(),
      record({ httpStatusCode: 403, resultType: "Failure", resultSignature: "Forbidden" }),
    ];
    expect(
      query(
        store,
        "AzureDiagnostics | project id_s, requestUri_s, httpStatusCode_d | order by httpStatusCode_d asc",
      ).rows,
    ).toEqual([
      [
        `https://kv1.vault.azure.net/keys/k/${V1}`,
        `https://kv1.vault.azure.net/keys/k/${V1}/unwrapkey?api-version=7.4`,
        200,
      ],
      ["", `https://kv1.vault.azure.net/keys/k/${V1}/unwrapkey?api-version=7.4`, 403],
    ]);
    expect(
      query(store, "AZKVAuditLogs | project Id, HttpStatusCode | order by HttpStatusCode asc").rows,
    ).toEqual([
      [`https://kv1.vault.azure.net/keys/k/${V1}`, 200],
      ["", 403],
    ]);
  });

  it("a Managed HSM row has its own shape: nested identity, pool fields, no id_s", () => {
    const store = storeWithWorkspace("identity_claim_oid_g", true);
    store.audit = [
      record(),
      record({
        vault: "hsm1",
        vaultKind: "managedHsm",
        id: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}`,
        requestUri: `https://hsm1.managedhsm.azure.net/keys/hk/${V1}/unwrapkey?api-version=7.4`,
      }),
    ];
    const rows = query(
      store,
      `AzureDiagnostics | where ResourceType == 'MANAGEDHSMS' | project id_s, identity_claim_oid_g, ${LONG}, identity_claim_appid_g, requestUri_s, PoolType_s, sku_Name_s, PoolName_s, Resource`,
    ).rows;
    expect(rows).toEqual([
      [
        "",
        "",
        CALLER,
        APP,
        `https://hsm1.managedhsm.azure.net/keys/hk/${V1}/unwrapkey?api-version=7.4`,
        "M-HSM",
        "Standard_B1",
        "hsm1",
        "HSM1",
      ],
    ]);
    expect(query(store, "AZKVAuditLogs | count").rows).toEqual([[1]]);
  });
});
