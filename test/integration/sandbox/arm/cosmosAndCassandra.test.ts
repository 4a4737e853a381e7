import type { CosmosDBManagementClient } from "@azure/arm-cosmosdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { rawRequest } from "../core/sandboxHttp.js";
import {
  ARM_WRITER,
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
/** Writes Cosmos DB accounts as someone else than the service (whose one write is a migration's key swap). */
let cosmosWriter: CosmosDBManagementClient;
const uaiCosmos1 = `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-cosmos-1`;
const accountIdPrefix = `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.DocumentDB/databaseAccounts`;
const cosmosKeyUri = (version?: string) =>
  `https://kv-cmk-1.vault.azure.net/keys/cosmos-key${version ? `/${version}` : ""}`;

beforeAll(async () => {
  sandbox = await startArmSandbox();
  cosmos = createAzureClientFactory(sandbox.transport()).cosmos(subscriptionId);
  cosmosWriter = createAzureClientFactory(sandbox.transport(ARM_WRITER)).cosmos(subscriptionId);
});
afterAll(async () => {
  await sandbox?.close();
});

describe("Cosmos DB accounts in the sandbox, through @azure/arm-cosmosdb", () => {
  it("gets an account: key URI without version, the version in use, identity, backup policy", async () => {
    const newest = keyNamed(sandbox.store, "kv-cmk-1", "cosmos-key").versions.at(-1)?.version;
    const account = await cosmos.databaseAccounts.get(dataGroup, "cosmos-periodic");
    expect(account.keyVaultKeyUri).toBe(cosmosKeyUri());
    expect(account.keyVaultKeyUriVersion).toBe(newest);
    expect(account.customerManagedKeyStatus).toBe("Access to the configured customer managed key confirmed.");
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
    const before = usage?.version;
    if (usage) usage.version = "00000000000000000000000000000001";
    const reread = await cosmos.databaseAccounts.get(dataGroup, "cosmos-latest");
    expect(reread.keyVaultKeyUriVersion).toBe("00000000000000000000000000000001");
    expect(reread.backupPolicy).toMatchObject({
      type: "Continuous",
      continuousModeProperties: { tier: "Continuous7Days" },
    });
    if (usage && before) usage.version = before;
  });

  it("serves a FirstPartyIdentity account and one with a Managed HSM key", async () => {
    const firstParty = await cosmos.databaseAccounts.get(dataGroup, "cosmos-firstparty");
    expect(firstParty.defaultIdentity).toBe("FirstPartyIdentity");
    expect(firstParty.backupPolicy).toMatchObject({ continuousModeProperties: { tier: "Continuous30Days" } });
    const hsm = await cosmos.databaseAccounts.get(dataGroup, "cosmos-hsm");
    expect(hsm.keyVaultKeyUri).toBe("https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key");
    expect(hsm.keyVaultKeyUriVersion).toBe(
      keyNamed(sandbox.store, "hsm-cmk-1", "cosmos-hsm-key").versions.at(-1)?.version,
    );
  });

  it("lists accounts by subscription", async () => {
    const names = [];
    for await (const account of cosmos.databaseAccounts.list()) names.push(account.name);
    expect(names.sort()).toEqual(["cosmos-firstparty", "cosmos-hsm", "cosmos-latest", "cosmos-periodic"]);
  });

  it("lets the service's own identity swap an account's key to another key (a migration): the account then follows it in its own time", async () => {
    const vault = sandbox.store.vaults.get("kv-cmk-1");
    const other = keyNamed(sandbox.store, "kv-cmk-1", "cassandra-backup-key");
    if (!vault) throw new Error("no kv-cmk-1");
    // The account's identity may use the other key, as a migration's preflight expects of the operator.
    sandbox.store.roleAssignments.push({
      principalId: "33333333-0000-0000-0000-000000000001",
      roleName: "Key Vault Crypto Service Encryption User",
      scope: `${vault.resourceId}/keys/${other.name}`,
    });
    const poller = await cosmos.databaseAccounts.beginUpdate(
      dataGroup,
      "cosmos-periodic",
      { keyVaultKeyUri: "https://kv-cmk-1.vault.azure.net/keys/cassandra-backup-key" },
      pollFast,
    );
    finishOperations();
    const result = await poller.pollUntilDone();
    expect(result.provisioningState).toBe("Succeeded");
    expect(result.keyVaultKeyUri).toBe("https://kv-cmk-1.vault.azure.net/keys/cassandra-backup-key");
    expect(result.defaultIdentity).toBe(`UserAssignedIdentity=${uaiCosmos1}`);
    // What the account really uses follows in its own time (the consumer's pickup): until then
    // keyVaultKeyUriVersion still names the version of the key it wrapped with before.
    const reread = await cosmos.databaseAccounts.get(dataGroup, "cosmos-periodic");
    const versions = [...keyNamed(sandbox.store, "kv-cmk-1", "cosmos-key").versions, ...other.versions].map(
      (version) => version.version,
    );
    expect(versions).toContain(reread.keyVaultKeyUriVersion);
    // Back to its own key for the cases below.
    const back = await cosmos.databaseAccounts.beginUpdate(
      dataGroup,
      "cosmos-periodic",
      { keyVaultKeyUri: cosmosKeyUri() },
      pollFast,
    );
    finishOperations();
    await back.pollUntilDone();
  });

  it("refuses a versioned keyVaultKeyUri with 400 and the provider's words, and changes nothing", async () => {
    const newest = keyNamed(sandbox.store, "kv-cmk-1", "cosmos-key").versions.at(-1)?.version;
    const before = structuredClone(sandbox.store.armResource(`${accountIdPrefix}/cosmos-periodic`)?.body);
    const error = await cosmosWriter.databaseAccounts
      .beginUpdateAndWait(dataGroup, "cosmos-periodic", { keyVaultKeyUri: cosmosKeyUri(newest) }, pollFast)
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, code: "BadRequest" });
    expect(String((error as Error).message)).toMatch(
      /^Please provide KeyVault Key Uri without version\. We will use latest version of the key\r\nActivityId: [0-9a-f-]{36}, Microsoft\.Azure\.Documents\.Common\//,
    );
    // The Cosmos DB provider's bare error shape.
    const token = await sandbox
      .transport(ARM_WRITER)
      .credential.getToken("https://management.azure.com/.default");
    const response = await rawRequest(
      sandbox,
      "PATCH",
      `https://management.azure.com/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-periodic?api-version=2025-10-15`,
      {
        headers: { authorization: `Bearer ${token?.token}` },
        body: { properties: { keyVaultKeyUri: cosmosKeyUri(newest) } },
      },
    );
    expect(response.status).toBe(400);
    expect(response.body).toEqual({
      code: "BadRequest",
      message: expect.stringContaining("without version"),
    });
    expect(sandbox.store.armResource(`${accountIdPrefix}/cosmos-periodic`)?.body).toEqual(before);
  });

  it("accepts a versionless update with an update LRO (200 + Azure-AsyncOperation) and keeps the identity fields", async () => {
    const poller = await cosmosWriter.databaseAccounts.beginUpdate(
      dataGroup,
      "cosmos-periodic",
      { keyVaultKeyUri: cosmosKeyUri(), disableLocalAuth: true },
      pollFast,
    );
    finishOperations();
    const result = await poller.pollUntilDone();
    expect(result.keyVaultKeyUri).toBe(cosmosKeyUri());
    expect(result.disableLocalAuth).toBe(true);
    expect(result.provisioningState).toBe("Succeeded");
    expect(result.defaultIdentity).toBe(`UserAssignedIdentity=${uaiCosmos1}`);
    expect(result.identity?.type).toBe("UserAssigned");
  });

  it("refuses a key the account's identity may not use with 400 BadRequest in Cosmos' error shape", async () => {
    const error = await cosmosWriter.databaseAccounts
      .beginUpdateAndWait(
        dataGroup,
        "cosmos-periodic",
        { keyVaultKeyUri: "https://kv-cmk-1.vault.azure.net/keys/adx-key" },
        pollFast,
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, code: "BadRequest" });
    expect(String((error as Error).message)).toMatch(/get, wrapKey and unwrapKey/);
  });

  it("judges a FirstPartyIdentity account's key by the Cosmos DB principal's rights", async () => {
    const error = await cosmosWriter.databaseAccounts
      .beginUpdateAndWait(
        dataGroup,
        "cosmos-firstparty",
        { keyVaultKeyUri: "https://kv-cmk-1.vault.azure.net/keys/adx-key" },
        pollFast,
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, code: "BadRequest" });
    expect(String((error as Error).message)).toContain("77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f");
  });

  it("refuses a vault without purge protection, and a changed keyVaultKeyUriVersion", async () => {
    cloneVault(sandbox.store, "kv-cmk-1", "kv-cosmos-np", { purgeProtection: false });
    await expect(
      cosmosWriter.databaseAccounts.beginUpdateAndWait(
        dataGroup,
        "cosmos-periodic",
        { keyVaultKeyUri: "https://kv-cosmos-np.vault.azure.net/keys/cosmos-key" },
        pollFast,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadRequest" });
    const token = await sandbox
      .transport(ARM_WRITER)
      .credential.getToken("https://management.azure.com/.default");
    const response = await rawRequest(
      sandbox,
      "PATCH",
      `https://management.azure.com/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-periodic?api-version=2025-10-15`,
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
      /^https:\/\/kv-cmk-1\.vault\.azure\.net\/keys\/cassandra-disk-key\/[0-9a-f]{32}$/,
    );
    expect(dataCenter.properties?.deallocated).toBe(false);
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

  it("refuses a Managed HSM key: Managed Instance for Apache Cassandra takes Key Vault keys only", async () => {
    const hsmKey = keyNamed(sandbox.store, "hsm-cmk-1", "cosmos-hsm-key").versions.at(-1)?.version;
    const error = await cosmos.cassandraDataCenters
      .beginUpdate(
        dataGroup,
        "cassandra-1",
        "dc-east",
        {
          properties: {
            managedDiskCustomerKeyUri: `https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key/${hsmKey}`,
          },
        },
        pollFast,
      )
      .catch((caught: unknown) => caught);
    expect(error).toMatchObject({ statusCode: 400, code: "BadRequest" });
    expect(String((error as Error).message)).toMatch(/Managed HSM.*Azure Key Vault only/);
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
