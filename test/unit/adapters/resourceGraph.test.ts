import type { QueryRequest, QueryResponse } from "@azure/arm-resourcegraph";
import { describe, expect, it } from "vitest";
import { createCassandraAdapter } from "../../../src/adapters/consumers/cassandra.js";
import { createCosmosAdapter } from "../../../src/adapters/consumers/cosmos.js";
import { createKustoAdapter } from "../../../src/adapters/consumers/kusto.js";
import {
  createConsumerDiscovery,
  discoveryQuery,
  principalQuery,
} from "../../../src/adapters/resourceGraph.js";
import { AzureCallError } from "../../../src/errors.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const RG = `/subscriptions/${SUB}/resourceGroups/rg1/providers`;
const V1 = "1".repeat(32);

const unused = async () => {
  throw new Error("not used in discovery");
};
const adapters = {
  kusto: createKustoAdapter(() => ({ get: unused, beginUpdate: unused })),
  cosmos: createCosmosAdapter(() => ({ get: unused, beginUpdate: unused })),
  cassandra: createCassandraAdapter(() => ({
    getCluster: unused,
    getDataCenter: unused,
    beginUpdateDataCenter: unused,
    async *listDataCenters() {
      yield {
        id: `${RG}/Microsoft.DocumentDB/cassandraClusters/broken/dataCenters/dc1`,
        properties: { managedDiskCustomerKeyUri: "https://kv1.vault.azure.net/secrets/nope" },
      };
    },
  })),
};

function pagedGraph(pages: unknown[][]) {
  const requests: QueryRequest[] = [];
  return {
    requests,
    api: {
      async resources(query: QueryRequest): Promise<QueryResponse> {
        requests.push(query);
        const index = query.options?.skipToken ? Number(query.options.skipToken) : 0;
        const next = index + 1 < pages.length ? String(index + 1) : undefined;
        return {
          totalRecords: 0,
          count: 0,
          resultTruncated: "false",
          data: pages[index] ?? [],
          ...(next ? { skipToken: next } : {}),
        } as QueryResponse;
      },
    },
  };
}

describe("consumer discovery", () => {
  it("runs one query over every kind's type and follows skip tokens", async () => {
    const { api, requests } = pagedGraph([
      [
        {
          id: `${RG}/Microsoft.Kusto/clusters/adx1`,
          type: "Microsoft.Kusto/clusters",
          subscriptionId: SUB,
          properties: {
            keyVaultProperties: {
              keyVaultUri: "https://kv1.vault.azure.net/",
              keyName: "key1",
              keyVersion: V1,
            },
          },
        },
        {
          id: `${RG}/Microsoft.Kusto/clusters/plain`,
          type: "microsoft.kusto/clusters",
          subscriptionId: SUB,
          properties: {},
        },
      ],
      [
        {
          id: `${RG}/Microsoft.DocumentDB/databaseAccounts/c1`,
          type: "microsoft.documentdb/databaseaccounts",
          subscriptionId: SUB,
          properties: { keyVaultKeyUri: "https://hsm1.managedhsm.azure.net/keys/k2" },
        },
      ],
    ]);
    const result = await createConsumerDiscovery(api, adapters).discover([SUB]);
    expect(requests).toHaveLength(2);
    expect(requests[0]?.query).toBe(discoveryQuery(Object.values(adapters)));
    expect(requests[0]?.query).toContain("'microsoft.documentdb/cassandraclusters'");
    expect(requests[1]?.options?.skipToken).toBe("1");
    // Resource Graph's largest page, on every page.
    expect(requests.map((request) => request.options?.top)).toEqual([1000, 1000]);
    expect(result.problems).toEqual([]);
    expect(
      result.consumers.map((consumer) => [
        consumer.kind,
        consumer.keys[0]?.key.vaultName,
        consumer.keys[0]?.version,
      ]),
    ).toEqual([
      ["kusto", "kv1", V1],
      ["cosmos", "hsm1", null],
    ]);
    // Each candidate carries its facts from the row, marked as such.
    expect(
      result.consumers.map((consumer) => [consumer.facts?.readFrom, consumer.facts?.pins[0]?.version]),
    ).toEqual([
      ["resource-graph", V1],
      ["resource-graph", null],
    ]);
  });

  it("records a row it cannot expand as a problem and keeps the rest", async () => {
    const { api } = pagedGraph([
      [
        {
          id: `${RG}/Microsoft.DocumentDB/cassandraClusters/broken`,
          type: "microsoft.documentdb/cassandraclusters",
          subscriptionId: SUB,
          properties: {},
        },
        {
          id: `${RG}/Microsoft.DocumentDB/databaseAccounts/c1`,
          type: "microsoft.documentdb/databaseaccounts",
          subscriptionId: SUB,
          properties: { keyVaultKeyUri: "https://kv1.vault.azure.net/keys/k" },
        },
      ],
    ]);
    const result = await createConsumerDiscovery(api, adapters).discover([SUB]);
    expect(result.consumers).toHaveLength(1);
    expect(result.problems[0]?.id).toContain("cassandraClusters/broken");
  });

  it("a failed query throws, naming what to grant", async () => {
    const api = {
      resources: async (): Promise<QueryResponse> => {
        throw Object.assign(new Error("denied"), { statusCode: 403, code: "AuthorizationFailed" });
      },
    };
    const error = await createConsumerDiscovery(api, adapters)
      .discover([SUB])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AzureCallError);
    expect((error as Error).message).toContain("Reader");
  });

  it("refuses a subscription that is not a GUID", async () => {
    const { api, requests } = pagedGraph([[]]);
    await expect(createConsumerDiscovery(api, adapters).discover(["sub'"])).rejects.toThrow(/GUID/);
    expect(requests).toHaveLength(0);
  });
});

describe("naming callers through Resource Graph", () => {
  const UAI = `${RG}/Microsoft.ManagedIdentity/userAssignedIdentities/uai-adx`;

  it("names the principals every discovered resource carries, system- and user-assigned, from the discovery rows", async () => {
    const { api } = pagedGraph([
      [
        {
          id: `${RG}/Microsoft.Kusto/clusters/adx-plain`,
          type: "microsoft.kusto/clusters",
          subscriptionId: SUB,
          properties: {},
          identity: {
            type: "SystemAssigned, UserAssigned",
            principalId: "AAAAAAAA-0000-0000-0000-000000000001",
            userAssignedIdentities: { [UAI]: { principalId: "aaaaaaaa-0000-0000-0000-000000000002" } },
          },
        },
      ],
    ]);
    const result = await createConsumerDiscovery(api, adapters).discover([SUB]);
    expect(result.principals).toEqual({
      "aaaaaaaa-0000-0000-0000-000000000001": {
        name: "kusto adx-plain",
        kind: "resource",
        resourceId: `${RG}/Microsoft.Kusto/clusters/adx-plain`,
      },
      "aaaaaaaa-0000-0000-0000-000000000002": {
        name: "user-assigned identity uai-adx (on kusto adx-plain)",
        kind: "user-assigned-identity",
        resourceId: `${RG}/Microsoft.Kusto/clusters/adx-plain`,
      },
    });
  });

  it("resolves the rest with one query: a resource's system identity or a user-assigned identity resource", async () => {
    const { api, requests } = pagedGraph([
      [
        {
          id: `${RG}/Microsoft.Web/sites/func-batch`,
          type: "microsoft.web/sites",
          subscriptionId: SUB,
          SystemPrincipal: "bbbbbbbb-0000-0000-0000-000000000001",
          IdentityPrincipal: "",
        },
        {
          id: `${RG}/Microsoft.ManagedIdentity/userAssignedIdentities/uai-batch`,
          type: "microsoft.managedidentity/userassignedidentities",
          subscriptionId: SUB,
          SystemPrincipal: "",
          IdentityPrincipal: "bbbbbbbb-0000-0000-0000-000000000002",
        },
      ],
    ]);
    const wanted = [
      "BBBBBBBB-0000-0000-0000-000000000001",
      "bbbbbbbb-0000-0000-0000-000000000002",
      "bbbbbbbb-0000-0000-0000-000000000003",
      "not a guid') or 1==1 //",
    ];
    const resolved = await createConsumerDiscovery(api, adapters).resolvePrincipals([SUB], wanted);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.query).toBe(
      principalQuery([
        "bbbbbbbb-0000-0000-0000-000000000001",
        "bbbbbbbb-0000-0000-0000-000000000002",
        "bbbbbbbb-0000-0000-0000-000000000003",
      ]),
    );
    expect(requests[0]?.query).not.toContain("1==1");
    expect(
      Object.fromEntries(Object.entries(resolved.principals).map(([id, who]) => [id, who.name])),
    ).toEqual({
      "bbbbbbbb-0000-0000-0000-000000000001": "microsoft.web/sites func-batch",
      "bbbbbbbb-0000-0000-0000-000000000002": "user-assigned identity uai-batch",
    });
  });

  it("a failed lookup names nobody, says why, and never throws", async () => {
    const api = {
      resources: async (): Promise<QueryResponse> => {
        throw Object.assign(new Error("throttled"), { statusCode: 429, code: "RateLimiting" });
      },
    };
    const resolved = await createConsumerDiscovery(api, adapters).resolvePrincipals(
      [SUB],
      ["bbbbbbbb-0000-0000-0000-000000000001"],
    );
    expect(resolved.principals).toEqual({});
    expect(resolved.problem).toContain("RateLimiting");
  });
});
