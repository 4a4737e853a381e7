/**
 * Cosmos DB accounts through the real @azure/arm-cosmosdb client (2025-10-15): get (with
 * keyVaultKeyUriVersion and customerManagedKeyStatus, also in the revoke state), list, list
 * by resource group, a PATCH long-running operation with a versionless key URI, and the 400
 * a versioned key URI gets; then every exchange against cosmos-db.json 2025-10-15.
 */
import { describe, expect, it } from "vitest";
import type { AzureClientFactory } from "../../src/azure/clientFactory.js";
import {
  DATA_RESOURCE_GROUP,
  expectRecordingConforms,
  FAST_LRO,
  SUBSCRIPTION_ID,
  useConformanceSandbox,
  VAULT_URL,
} from "./conformanceSandbox.js";

/** Reads cosmos-latest until its customerManagedKeyStatus shows the revoke state (its consumer fails on `version`). */
async function waitForRevoke(clients: AzureClientFactory, version: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const account = await clients
      .cosmos(SUBSCRIPTION_ID)
      .databaseAccounts.get(DATA_RESOURCE_GROUP, "cosmos-latest");
    const status = account.customerManagedKeyStatus ?? "";
    if (status.startsWith("Access to your account is currently revoked")) return status;
    if (Date.now() > deadline)
      throw new Error(`cosmos-latest never showed the revoke state for ${version}: ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("Cosmos DB accounts conformance", () => {
  const run = useConformanceSandbox();

  it("reads, lists and updates an account through the real client; a versioned key URI is refused", async () => {
    const cosmos = run.clients.cosmos(SUBSCRIPTION_ID);
    const account = await cosmos.databaseAccounts.get(DATA_RESOURCE_GROUP, "cosmos-periodic");
    expect(account.keyVaultKeyUri).toBe(`${VAULT_URL}/keys/cosmos-key`);
    expect(account.keyVaultKeyUriVersion).toMatch(/^[0-9a-f]{32}$/);
    expect(account.backupPolicy?.type).toBe("Periodic");
    const firstParty = await cosmos.databaseAccounts.get(DATA_RESOURCE_GROUP, "cosmos-firstparty");
    expect(firstParty.defaultIdentity).toBe("FirstPartyIdentity");

    const all: string[] = [];
    for await (const each of cosmos.databaseAccounts.list()) all.push(each.name ?? "");
    expect(all).toEqual(expect.arrayContaining(["cosmos-periodic", "cosmos-latest", "cosmos-hsm"]));
    const inGroup: string[] = [];
    for await (const each of cosmos.databaseAccounts.listByResourceGroup(DATA_RESOURCE_GROUP))
      inGroup.push(each.name ?? "");
    expect(inGroup).toEqual(expect.arrayContaining(["cosmos-periodic", "cosmos-latest"]));

    const newVersion = await run.clients.keys(VAULT_URL).rotateKey("cosmos-key");
    await expect(
      cosmos.databaseAccounts.beginUpdateAndWait(
        DATA_RESOURCE_GROUP,
        "cosmos-periodic",
        { keyVaultKeyUri: `${VAULT_URL}/keys/cosmos-key/${newVersion.properties.version}` },
        FAST_LRO,
      ),
    ).rejects.toMatchObject({ statusCode: 400, code: "BadRequest" });
    const updated = await cosmos.databaseAccounts.beginUpdateAndWait(
      DATA_RESOURCE_GROUP,
      "cosmos-periodic",
      { keyVaultKeyUri: `${VAULT_URL}/keys/cosmos-key`, disableLocalAuth: true },
      FAST_LRO,
    );
    expect(updated.keyVaultKeyUri).toBe(`${VAULT_URL}/keys/cosmos-key`);
  });

  it("reads an account in the revoke state", async () => {
    const stale = run.sandbox.store.vaults.get("kv-cmk-1")?.keys.get("cosmos-key")?.versions[0];
    const account = run.sandbox.store.armResource(
      `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${DATA_RESOURCE_GROUP}/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-latest`,
    );
    const consumer = account ? run.sandbox.store.consumers.get(account.id.toLowerCase()) : undefined;
    if (!stale || !consumer) throw new Error("no cosmos-latest or cosmos-key");
    stale.enabled = false;
    consumer.behaviour.unwrapVersion = stale.version;
    consumer.behaviour.unwrapIntervalSeconds = 1;
    try {
      const revoked = await waitForRevoke(run.clients, stale.version);
      expect(revoked).toMatch(/\(4002\)\.$/);
    } finally {
      consumer.behaviour.unwrapVersion = null;
      stale.enabled = true;
    }
  });

  it("answers a missing account with the ARM error shape", async () => {
    await expect(
      run.clients.cosmos(SUBSCRIPTION_ID).databaseAccounts.get(DATA_RESOURCE_GROUP, "no-such-account"),
    ).rejects.toMatchObject({ statusCode: 404 });
  });

  it("every recorded request and response conforms to cosmos-db.json 2025-10-15", () => {
    expectRecordingConforms(run.exchanges(), [
      "DatabaseAccounts_Get",
      "DatabaseAccounts_List",
      "DatabaseAccounts_ListByResourceGroup",
      "DatabaseAccounts_Update",
    ]);
  });
});
