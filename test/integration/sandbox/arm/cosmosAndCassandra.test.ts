import type { CosmosDBManagementClient } from "@azure/arm-cosmosdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { rawRequest } from "../core/sandboxHttp.js";
import {
  addKeyVersion,
  cloneVault,
  dataGroup,
  finishOperations,
  keyNamed,
  pollFast,
  startArmSandbox,
  subscriptionId,
} from "./armSandbox.js";

let sandbox: RunningSandbox;
let cosmos: CosmosDBManagementClient;
const uaiCosmos1 = `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-cosmos-1`;
const cosmosKeyUri = (version?: string) =>
  `https://kv-cmk-1.vault.azure.net/keys/cosmos-key${version ? `/${version}` : ""}`;

beforeAll(async () => {
  sandbox = await startArmSandbox();
  cosmos = createAzureClientFactory(sandbox.transport()).cosmos(subscriptionId);
});
afterAll(async () => {
  await sandbox?.close();
});

describe("Cosmos DB accounts in the sandbox, through @azure/arm-cosmosdb", () => {
  it("gets a pinned account: versioned key URI, the version in use, identity, backup policy", async () => {
    const newest = keyNamed(sandbox.store, "kv-cmk-1", "cosmos-key").versions.at(-1)?.version;
    const account = await cosmos.databaseAccounts.get(dataGroup, "cosmos-pinned");
    expect(account.keyVaultKeyUri).toBe(cosmosKeyUri(newest));
    expect(account.keyVaultKeyUriVersion).toBe(newest);
    expect(account.defaultIdentity).toBe(`UserAssignedIdentity=${uaiCosmos1}`);
    expect(account.identity?.userAssignedIdentities?.[uaiCosmos1]?.principalId).toBe(
      "33333333-0000-0000-0000-000000000001",
    );
    expect(account.backupPolicy).toMatchObject({
      type: "Periodic",
      periodicModeProperties: { backupIntervalInMinutes: 240, backupRetentionIntervalInHours: 8 },
    });
  });

  it("reports the version a versionless account really uses, from the consumer's usage", async () => {
    const account = await cosmos.databaseAccounts.get(dataGroup, "cosmos-latest");
    expect(account.keyVaultKeyUri).toBe(cosmosKeyUri());
    const consumerId = account.id?.toLowerCase() ?? "";
    const usage = sandbox.store.consumers.get(consumerId)?.usage.find((entry) => entry.pin === "key");
    expect(usage).toBeDefined();
    if (usage) usage.version = "00000000000000000000000000000001";
    const reread = await cosmos.databaseAccounts.get(dataGroup, "cosmos-latest");
    expect(reread.keyVaultKeyUriVersion).toBe("00000000000000000000000000000001");
    expect(reread.backupPolicy).toMatchObject({
      type: "Continuous",
      continuousModeProperties: { tier: "Continuous7Days" },
    });
  });

  it("lists accounts by subscription", async () => {
    const names = [];
    for await (const account of cosmos.databaseAccounts.list()) names.push(account.name);
    expect(names.sort()).toEqual(["cosmos-latest", "cosmos-pinned"]);
  });

  it("repoints with an update LRO (200 + Azure-AsyncOperation) and keeps the identity fields", async () => {
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "cosmos-key");
    const poller = await cosmos.databaseAccounts.beginUpdate(
      dataGroup,
      "cosmos-pinned",
      { keyVaultKeyUri: cosmosKeyUri(fresh.version) },
      pollFast,
    );
    finishOperations();
    const result = await poller.pollUntilDone();
    expect(result.keyVaultKeyUri).toBe(cosmosKeyUri(fresh.version));
    expect(result.provisioningState).toBe("Succeeded");
    expect(result.defaultIdentity).toBe(`UserAssignedIdentity=${uaiCosmos1}`);
    expect(result.identity?.type).toBe("UserAssigned");
  });

  it("refuses a key the account's identity may not use with 400 BadRequest in Cosmos' error shape", async () => {
    const error = await cosmos.databaseAccounts
      .beginUpdateAndWait(
        dataGroup,
        "cosmos-pinned",
        { keyVaultKeyUri: "https://kv-cmk-1.vault.azure.net/keys/adx-key" },
        pollFast,
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, code: "BadRequest" });
    expect(String((error as Error).message)).toMatch(/get, wrapKey and unwrapKey/);
  });

  it("refuses a vault without purge protection, and a changed keyVaultKeyUriVersion", async () => {
    cloneVault(sandbox.store, "kv-cmk-1", "kv-cosmos-np", { purgeProtection: false });
    await expect(
      cosmos.databaseAccounts.beginUpdateAndWait(
        dataGroup,
        "cosmos-pinned",
        { keyVaultKeyUri: "https://kv-cosmos-np.vault.azure.net/keys/cosmos-key" },
        pollFast,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadRequest" });
    const token = await sandbox.transport().credential.getToken("https://management.azure.com/.default");
    const response = await rawRequest(
      sandbox,
      "PATCH",
      `https://management.azure.com/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-pinned?api-version=2025-10-15`,
      {
        headers: { authorization: `Bearer ${token?.token}` },
        body: { properties: { keyVaultKeyUriVersion: "abc" } },
      },
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: "BadRequest" });
  });
});

describe("Managed Cassandra clusters and data centers in the sandbox, through @azure/arm-cosmosdb", () => {
  it("gets a cluster with its system-assigned identity and lists it by subscription", async () => {
    const cluster = await cosmos.cassandraClusters.get(dataGroup, "cassandra-1");
    expect(cluster.identity).toMatchObject({
      type: "SystemAssigned",
      principalId: "44444444-0000-0000-0000-000000000001",
    });
    const names = [];
    for await (const listed of cosmos.cassandraClusters.listBySubscription()) names.push(listed.name);
    expect(names).toEqual(["cassandra-1"]);
  });

  it("gets and lists data centers with both key URIs", async () => {
    const dataCenter = await cosmos.cassandraDataCenters.get(dataGroup, "cassandra-1", "dc-east");
    expect(dataCenter.properties?.managedDiskCustomerKeyUri).toMatch(
      /^https:\/\/hsm-cmk-1\.managedhsm\.azure\.net\/keys\/cassandra-disk-key\/[0-9a-f]{32}$/,
    );
    expect(dataCenter.properties?.backupStorageCustomerKeyUri).toMatch(
      /kv-cmk-1\.vault\.azure\.net\/keys\/cassandra-backup-key\//,
    );
    const names = [];
    for await (const listed of cosmos.cassandraDataCenters.list(dataGroup, "cassandra-1"))
      names.push(listed.name);
    expect(names.sort()).toEqual(["dc-east", "dc-west"]);
  });

  it("repoints the backup key of a data center and keeps the disk key", async () => {
    const before = await cosmos.cassandraDataCenters.get(dataGroup, "cassandra-1", "dc-west");
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "cassandra-backup-key");
    const backupUri = `https://kv-cmk-1.vault.azure.net/keys/cassandra-backup-key/${fresh.version}`;
    const poller = await cosmos.cassandraDataCenters.beginUpdate(
      dataGroup,
      "cassandra-1",
      "dc-west",
      { properties: { backupStorageCustomerKeyUri: backupUri } },
      pollFast,
    );
    const during = await cosmos.cassandraDataCenters.get(dataGroup, "cassandra-1", "dc-west");
    expect(during.properties?.provisioningState).toBe("Updating");
    await expect(
      cosmos.cassandraDataCenters.beginUpdate(dataGroup, "cassandra-1", "dc-west", {
        properties: { nodeCount: 4 },
      }),
    ).rejects.toMatchObject({ statusCode: 409 });
    finishOperations();
    const result = await poller.pollUntilDone();
    expect(result.properties?.backupStorageCustomerKeyUri).toBe(backupUri);
    expect(result.properties?.managedDiskCustomerKeyUri).toBe(before.properties?.managedDiskCustomerKeyUri);
    expect(result.properties?.provisioningState).toBe("Succeeded");
  });

  it("refuses a key the cluster identity may not use", async () => {
    await expect(
      cosmos.cassandraDataCenters.beginUpdate(
        dataGroup,
        "cassandra-1",
        "dc-west",
        { properties: { backupStorageCustomerKeyUri: "https://kv-cmk-1.vault.azure.net/keys/cosmos-key" } },
        pollFast,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadRequest" });
  });
});
