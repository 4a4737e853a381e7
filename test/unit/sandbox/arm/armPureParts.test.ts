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
  const runQuery = () => ({ columns: [{ name: "id", type: "string" as const }], rows });
  const store = new SandboxStore({ now: () => 0 });
  store.subscriptions.push({ id: "s", resourceGroups: [] });
  const caller = { objectId: "o" };

  it("pages with $top and a $skipToken tied to the query", () => {
    const first = answerResourceGraphQuery(store, caller, { query: "q", options: { $top: 2 } }, runQuery);
    expect(first).toMatchObject({
      totalRecords: 3,
      count: 2,
      resultTruncated: "false",
      data: [{ id: "a" }, { id: "b" }],
      facets: [],
    });
    const second = answerResourceGraphQuery(
      store,
      caller,
      { query: "q", options: { $top: 2, $skipToken: first.$skipToken } },
      runQuery,
    );
    expect(second).toMatchObject({ count: 1, data: [{ id: "c" }] });
    expect(second.$skipToken).toBeUndefined();
    expect(() =>
      answerResourceGraphQuery(
        store,
        caller,
        { query: "other", options: { $skipToken: first.$skipToken } },
        runQuery,
      ),
    ).toThrow(expect.objectContaining({ status: 400 }));
    expect(() =>
      answerResourceGraphQuery(
        store,
        { objectId: "someone-else" },
        { query: "q", options: { $skipToken: first.$skipToken } },
        runQuery,
      ),
    ).toThrow(expect.objectContaining({ status: 400 }));
  });

  it("runs the query once for all its pages, keeping the first page's size unless $top or $skip override it", () => {
    const many = Array.from({ length: 2_500 }, (_, index) => [`r${index}`]);
    let runs = 0;
    const counted = () => {
      runs += 1;
      return { columns: [{ name: "id", type: "string" as const }], rows: many };
    };
    const first = answerResourceGraphQuery(store, caller, { query: "big", options: { $top: 1000 } }, counted);
    const second = answerResourceGraphQuery(
      store,
      caller,
      { query: "big", options: { $skipToken: first.$skipToken } },
      counted,
    );
    expect(second).toMatchObject({
      count: 1000,
      data: expect.arrayContaining([{ id: "r1000" }, { id: "r1999" }]),
    });
    const third = answerResourceGraphQuery(
      store,
      caller,
      { query: "big", options: { $skipToken: second.$skipToken } },
      counted,
    );
    expect(third).toMatchObject({ count: 500 });
    expect(third.$skipToken).toBeUndefined();
    const overridden = answerResourceGraphQuery(
      store,
      caller,
      { query: "big", options: { $skipToken: first.$skipToken, $top: 3, $skip: 10 } },
      counted,
    );
    expect(overridden.data).toEqual([{ id: "r10" }, { id: "r11" }, { id: "r12" }]);
    expect(runs).toBe(1);
    const byDefault = answerResourceGraphQuery(store, caller, { query: "big" }, counted);
    expect(byDefault.count).toBe(100);
    expect(() =>
      answerResourceGraphQuery(store, caller, { query: "big", options: { $top: 1001 } }, counted),
    ).toThrow(expect.objectContaining({ status: 400 }));
  });

  it("does not page a result without an id column: the rest is truncated", () => {
    const names = () => ({ columns: [{ name: "name", type: "string" as const }], rows });
    const answer = answerResourceGraphQuery(store, caller, { query: "q", options: { $top: 2 } }, names);
    expect(answer).toMatchObject({ totalRecords: 3, count: 2, resultTruncated: "true" });
    expect(answer.$skipToken).toBeUndefined();
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
    expect(table.data).toEqual({ columns: [{ name: "id", type: "string" }], rows });
  });
});
