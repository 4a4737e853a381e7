/**
 * Cosmos DB accounts through the real @azure/arm-cosmosdb client (2025-10-15): get, list,
 * list by resource group, and a PATCH long-running operation that repoints the account's
 * key; then every exchange against cosmos-db.json 2025-10-15.
 */
import { describe, expect, it } from "vitest";
import {
  DATA_RESOURCE_GROUP,
  expectRecordingConforms,
  FAST_LRO,
  SUBSCRIPTION_ID,
  useConformanceSandbox,
  VAULT_URL,
} from "./conformanceSandbox.js";

describe("Cosmos DB accounts conformance", () => {
  const run = useConformanceSandbox();

  it("reads, lists and repoints an account's key through the real client", async () => {
    const cosmos = run.clients.cosmos(SUBSCRIPTION_ID);
    const pinned = await cosmos.databaseAccounts.get(DATA_RESOURCE_GROUP, "cosmos-pinned");
    expect(pinned.keyVaultKeyUri).toContain("/keys/cosmos-key/");
    expect(pinned.backupPolicy?.type).toBe("Periodic");

    const all: string[] = [];
    for await (const account of cosmos.databaseAccounts.list()) all.push(account.name ?? "");
    expect(all).toEqual(expect.arrayContaining(["cosmos-pinned", "cosmos-latest"]));
    const inGroup: string[] = [];
    for await (const account of cosmos.databaseAccounts.listByResourceGroup(DATA_RESOURCE_GROUP))
      inGroup.push(account.name ?? "");
    expect(inGroup).toEqual(expect.arrayContaining(["cosmos-pinned", "cosmos-latest"]));

    const newVersion = await run.clients.keys(VAULT_URL).rotateKey("cosmos-key");
    const updated = await cosmos.databaseAccounts.beginUpdateAndWait(
      DATA_RESOURCE_GROUP,
      "cosmos-pinned",
      { keyVaultKeyUri: `${VAULT_URL}/keys/cosmos-key/${newVersion.properties.version}` },
      FAST_LRO,
    );
    expect(updated.keyVaultKeyUri).toContain(newVersion.properties.version);
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
