/**
 * Moving a consumer to another key (a migration), over fakes of the adapters' narrow clients:
 * the PATCH names the destination and keeps the identity and the mode; the re-read right
 * before the write leaves alone a consumer already on the destination (never moved back), one
 * whose mode changed, or one that is busy; the resource provider's access error comes back
 * with what to do.
 */
import { describe, expect, it } from "vitest";
import { createCosmosAdapter } from "../../../src/adapters/consumers/cosmos.js";
import { createKustoAdapter } from "../../../src/adapters/consumers/kusto.js";
import { aKeyRef } from "../../builders/index.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const RG = `/subscriptions/${SUB}/resourceGroups/rg1/providers`;
const UAI = `${RG}/Microsoft.ManagedIdentity/userAssignedIdentities/uai1`;
const V1 = "11111111111111111111111111111111";
const V9 = "99999999999999999999999999999999";
const FROM = aKeyRef({ vaultName: "kv1", keyName: "old" });
const TO = aKeyRef({ vaultName: "kv2", keyName: "new" });

function kustoFake(initial: { vault: string; keyName: string; keyVersion: string }) {
  const state = { ...initial, provisioningState: "Succeeded", fail: undefined as Error | undefined };
  const patches: { body: unknown; ifMatch?: string }[] = [];
  const adapter = createKustoAdapter(() => ({
    async get() {
      return {
        etag: `"e${patches.length}"`,
        location: "West Europe",
        provisioningState: state.provisioningState,
        identity: { type: "UserAssigned", userAssignedIdentities: { [UAI]: { principalId: "p1" } } },
        keyVaultProperties: {
          keyVaultUri: state.vault,
          keyName: state.keyName,
          keyVersion: state.keyVersion,
          userIdentity: UAI,
        },
      };
    },
    async beginUpdate(_rg, _name, parameters, options) {
      if (state.fail) throw state.fail;
      options?.onResponse?.({ status: 202 });
      patches.push({ body: parameters, ...(options?.ifMatch ? { ifMatch: options.ifMatch } : {}) });
    },
  }));
  return { adapter, state, patches, id: `${RG}/Microsoft.Kusto/clusters/adx1` };
}

describe("moving a consumer to another key", () => {
  it("a pinned Kusto cluster gets the destination version, its user identity and If-Match; its region is read", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: V1 });
    const consumer = await kusto.adapter.read(kusto.id);
    expect(consumer.location).toBe("westeurope");
    const outcome = await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 });
    expect(outcome.status).toBe("done");
    expect(kusto.patches).toEqual([
      {
        body: {
          keyVaultProperties: { keyVaultUri: TO.vaultUrl, keyName: "new", keyVersion: V9, userIdentity: UAI },
        },
        ifMatch: '"e0"',
      },
    ]);
  });

  it("a versionless Kusto cluster stays versionless on the new key", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: "" });
    const consumer = await kusto.adapter.read(kusto.id);
    expect(
      (await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: null })).status,
    ).toBe("done");
    expect(kusto.patches[0]?.body).toMatchObject({ keyVaultProperties: { keyName: "new", keyVersion: "" } });
  });

  it("a repoint of the source planned before the move, sent after it, is not sent: the move is never undone", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: V1 });
    const planned = await kusto.adapter.read(kusto.id);
    // The migration moved the cluster meanwhile; a stale plan still repoints it on the source.
    Object.assign(kusto.state, { vault: TO.vaultUrl, keyName: "new", keyVersion: V9 });
    const outcome = await kusto.adapter.beginRepoint(planned, "key", "22222222222222222222222222222222", {
      replaceable: new Set([V1, V9]),
    });
    expect(outcome).toMatchObject({ status: "pending" });
    expect(outcome.detail).toContain("no longer uses kv1/old");
    expect(kusto.patches).toEqual([]);
  });

  it("a consumer already on the destination is left alone: never moved back or twice", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: V1 });
    const consumer = await kusto.adapter.read(kusto.id);
    Object.assign(kusto.state, { vault: TO.vaultUrl, keyName: "new", keyVersion: V9 });
    const outcome = await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 });
    expect(outcome).toMatchObject({ status: "pending" });
    expect(kusto.patches).toEqual([]);
  });

  it("a consumer whose mode changed since the plan, or that is busy, waits", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: V1 });
    const consumer = await kusto.adapter.read(kusto.id);
    kusto.state.keyVersion = "";
    expect(
      (await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 })).status,
    ).toBe("pending");
    kusto.state.keyVersion = V1;
    kusto.state.provisioningState = "Updating";
    expect(
      (await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 })).status,
    ).toBe("pending");
    expect(kusto.patches).toEqual([]);
  });

  it("IdentityDoesNotHaveAccessToKeyVault fails with what to grant", async () => {
    const kusto = kustoFake({ vault: FROM.vaultUrl, keyName: "old", keyVersion: V1 });
    const consumer = await kusto.adapter.read(kusto.id);
    kusto.state.fail = Object.assign(new Error("no access"), {
      statusCode: 400,
      code: "IdentityDoesNotHaveAccessToKeyVault",
    });
    const outcome = await kusto.adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 });
    expect(outcome).toMatchObject({ status: "failed", reason: "IdentityDoesNotHaveAccessToKeyVault" });
    expect(outcome.status === "failed" ? outcome.detail : "").toContain(
      "grant it get, wrapKey and unwrapKey",
    );
  });

  it("a Cosmos DB account gets the destination's versionless URI and nothing else; never a version", async () => {
    const patches: unknown[] = [];
    let uri = `${FROM.vaultUrl}keys/old`;
    const adapter = createCosmosAdapter(() => ({
      get: async () => ({
        provisioningState: "Succeeded",
        keyVaultKeyUri: uri,
        defaultIdentity: "FirstPartyIdentity",
      }),
      beginUpdate: async (_rg, _name, parameters) => {
        patches.push(parameters);
        uri = parameters.keyVaultKeyUri;
      },
    }));
    const id = `${RG}/Microsoft.DocumentDB/databaseAccounts/c1`;
    const consumer = await adapter.read(id);
    expect((await adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: V9 })).status).toBe(
      "failed",
    );
    expect(patches).toEqual([]);
    expect(
      (await adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: null })).status,
    ).toBe("done");
    expect(patches).toEqual([{ keyVaultKeyUri: `${TO.vaultUrl}keys/new` }]);
    // Once there, a second move is not sent.
    expect(
      (await adapter.beginMigrate(consumer, "key", { from: FROM, to: TO, toVersion: null })).status,
    ).toBe("pending");
    expect(patches).toHaveLength(1);
  });
});
