import { describe, expect, it } from "vitest";
import { requireApiVersion } from "../../../../sandbox/arm/apiVersions.js";
import { parseKeyUri, sameKeyReference } from "../../../../sandbox/arm/keyReference.js";
import { mergeFields } from "../../../../sandbox/arm/patchBody.js";
import { answerResourceGraphQuery } from "../../../../sandbox/arm/resourceGraph.js";
import { routeArmPath } from "../../../../sandbox/arm/resourceManagerService.js";
import { SandboxStore } from "../../../../sandbox/store.js";

describe("parseKeyUri", () => {
  it("reads versioned and versionless key identifiers of vaults and HSMs", () => {
    expect(parseKeyUri("https://KV1.vault.azure.net/keys/k/abc")).toEqual({
      vaultUri: "https://kv1.vault.azure.net/",
      keyName: "k",
      version: "abc",
    });
    expect(parseKeyUri("https://hsm.managedhsm.azure.net/keys/k")?.version).toBeUndefined();
    expect(parseKeyUri("https://kv1.vault.azure.net/secrets/k")).toBeUndefined();
  });

  it("compares references case-insensitively, with or without a trailing slash", () => {
    const a = { vaultUri: "https://kv1.vault.azure.net", keyName: "K", version: "AB" };
    const b = { vaultUri: "https://kv1.vault.azure.net/", keyName: "k", version: "ab" };
    expect(sameKeyReference(a, b)).toBe(true);
    expect(sameKeyReference(a, { ...b, version: undefined })).toBe(false);
  });
});

describe("mergeFields", () => {
  const rules = { updatable: ["tags"], readOnly: ["state"] };
  it("replaces updatable fields and accepts read-only ones echoed unchanged", () => {
    expect(
      mergeFields(
        { tags: {}, state: "Running" },
        { tags: { a: "b" }, state: "Running" },
        rules,
        "",
        "cloudError",
      ),
    ).toEqual({ tags: { a: "b" }, state: "Running" });
  });
  it("refuses a changed read-only field and an unknown field", () => {
    expect(() =>
      mergeFields({ state: "Running" }, { state: "Stopped" }, rules, "properties", "cloudError"),
    ).toThrow(/properties.state' is read-only/);
    expect(() => mergeFields({}, { nope: 1 }, rules, "", "cosmos")).toThrow(/'nope'/);
  });
});

describe("requireApiVersion", () => {
  it("accepts a listed version and refuses missing, malformed and unknown ones with ARM's codes", () => {
    const query = (value?: string) => new URLSearchParams(value === undefined ? "" : `api-version=${value}`);
    expect(requireApiVersion(query("2023-08-15"), ["2023-08-15"], "clusters")).toBe("2023-08-15");
    expect(() => requireApiVersion(query(), ["2023-08-15"], "clusters")).toThrow(
      expect.objectContaining({ code: "MissingApiVersionParameter" }),
    );
    expect(() => requireApiVersion(query("x"), ["2023-08-15"], "clusters")).toThrow(
      expect.objectContaining({ code: "InvalidApiVersionParameter" }),
    );
    expect(() => requireApiVersion(query("2020-01-01"), ["2023-08-15"], "clusters")).toThrow(
      expect.objectContaining({ code: "NoRegisteredProviderFound" }),
    );
  });
});

describe("routeArmPath", () => {
  it("routes resources, collections, child collections and operation status URLs", () => {
    const rg = "/subscriptions/s/resourceGroups/rg/providers";
    expect(routeArmPath(`${rg}/Microsoft.Kusto/clusters/c1`)).toMatchObject({
      kind: "resource",
      id: `${rg}/Microsoft.Kusto/clusters/c1`,
    });
    expect(routeArmPath("/subscriptions/s/providers/Microsoft.DocumentDB/databaseAccounts")).toMatchObject({
      kind: "collection",
      scope: "/subscriptions/s",
    });
    expect(routeArmPath(`${rg}/Microsoft.DocumentDB/cassandraClusters/c/dataCenters`)).toMatchObject({
      kind: "collection",
      parentId: `${rg}/Microsoft.DocumentDB/cassandraClusters/c`,
    });
    expect(
      routeArmPath("/subscriptions/s/providers/Microsoft.Kusto/locations/westeurope/operationResults/op1"),
    ).toMatchObject({
      kind: "operationStatus",
      provider: "Microsoft.Kusto",
      operationId: "op1",
    });
    expect(
      routeArmPath("/subscriptions/s/providers/Microsoft.DocumentDB/cassandraClusters/x/dataCenters"),
    ).toBeUndefined();
    expect(routeArmPath(`${rg}/Microsoft.Storage/storageAccounts/a`)).toBeUndefined();
  });
});

describe("answerResourceGraphQuery", () => {
  const rows = [["a"], ["b"], ["c"]];
  const runQuery = () => ({ columns: [{ name: "name", type: "string" as const }], rows });
  const store = new SandboxStore({ now: () => 0 });
  store.subscriptions.push({ id: "s", resourceGroups: [] });
  const caller = { objectId: "o" };

  it("pages with $top and a $skipToken tied to the query", () => {
    const first = answerResourceGraphQuery(store, caller, { query: "q", options: { $top: 2 } }, runQuery);
    expect(first).toMatchObject({
      totalRecords: 3,
      count: 2,
      data: [{ name: "a" }, { name: "b" }],
      facets: [],
    });
    const second = answerResourceGraphQuery(
      store,
      caller,
      { query: "q", options: { $top: 2, $skipToken: first.$skipToken } },
      runQuery,
    );
    expect(second).toMatchObject({ count: 1, data: [{ name: "c" }] });
    expect(second.$skipToken).toBeUndefined();
    expect(() =>
      answerResourceGraphQuery(
        store,
        caller,
        { query: "other", options: { $skipToken: first.$skipToken } },
        runQuery,
      ),
    ).toThrow(expect.objectContaining({ status: 400 }));
  });

  it("refuses a request without a query and answers the table format", () => {
    expect(() => answerResourceGraphQuery(store, caller, {}, runQuery)).toThrow(
      expect.objectContaining({ status: 400 }),
    );
    const table = answerResourceGraphQuery(
      store,
      caller,
      { query: "q", options: { resultFormat: "table" } },
      runQuery,
    );
    expect(table.data).toEqual({ columns: [{ name: "name", type: "string" }], rows });
  });
});
