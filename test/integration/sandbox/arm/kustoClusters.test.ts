import type { KustoManagementClient } from "@azure/arm-kusto";
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
let kusto: KustoManagementClient;
const clusterId = `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.Kusto/Clusters/adx-pinned`;
const uaiId = `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-adx-1`;

beforeAll(async () => {
  sandbox = await startArmSandbox();
  kusto = createAzureClientFactory(sandbox.transport()).kusto(subscriptionId);
});
afterAll(async () => {
  await sandbox?.close();
});

function keyVaultPropertiesFor(version: string, extra: Record<string, string> = {}) {
  return {
    keyVaultUri: "https://kv-cmk-1.vault.azure.net",
    keyName: "adx-key",
    keyVersion: version,
    ...extra,
  };
}

describe("Kusto clusters in the sandbox, through @azure/arm-kusto", () => {
  it("gets a pinned cluster with its key, user-assigned identity and state", async () => {
    const newest = keyNamed(sandbox.store, "kv-cmk-1", "adx-key").versions.at(-1)?.version;
    const cluster = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(cluster.id).toBe(clusterId);
    expect(cluster.keyVaultProperties).toMatchObject({
      keyName: "adx-key",
      keyVersion: newest,
      userIdentity: uaiId,
    });
    expect(cluster.identity?.type).toBe("UserAssigned");
    expect(cluster.identity?.userAssignedIdentities?.[uaiId]?.principalId).toBe(
      "22222222-0000-0000-0000-000000000001",
    );
    expect(cluster.provisioningState).toBe("Succeeded");
    expect(cluster.state).toBe("Running");
  });

  it("lists clusters by subscription and by resource group, a following cluster with an empty version", async () => {
    const all = [];
    for await (const cluster of kusto.clusters.list()) all.push(cluster);
    const inGroup = [];
    for await (const cluster of kusto.clusters.listByResourceGroup(dataGroup)) inGroup.push(cluster);
    expect(all.map((cluster) => cluster.name).sort()).toEqual(["adx-latest", "adx-pinned"]);
    expect(inGroup).toHaveLength(2);
    expect(all.find((cluster) => cluster.name === "adx-latest")?.keyVaultProperties?.keyVersion).toBe("");
  });

  it("repoints to a new version: Running/Updating, then Succeeded, identity kept, change emitted", async () => {
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    const changed: string[] = [];
    sandbox.store.events.on("armResourceChanged", ({ id }) => changed.push(id));
    const poller = await kusto.clusters.beginUpdate(
      dataGroup,
      "adx-pinned",
      { keyVaultProperties: keyVaultPropertiesFor(fresh.version) },
      pollFast,
    );
    const during = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(during.state).toBe("Updating");
    expect(during.keyVaultProperties?.keyVersion).not.toBe(fresh.version);
    finishOperations();
    const result = await poller.pollUntilDone();
    expect(result.keyVaultProperties).toMatchObject({ keyVersion: fresh.version, userIdentity: uaiId });
    expect(result.provisioningState).toBe("Succeeded");
    expect(result.identity?.userAssignedIdentities?.[uaiId]).toBeDefined();
    expect(changed).toContain(clusterId);
  });

  it("refuses a second PATCH while one is running with 409 RequestConflict", async () => {
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    const poller = await kusto.clusters.beginUpdate(
      dataGroup,
      "adx-pinned",
      { keyVaultProperties: keyVaultPropertiesFor(fresh.version) },
      pollFast,
    );
    await expect(
      kusto.clusters.beginUpdateAndWait(dataGroup, "adx-pinned", {
        keyVaultProperties: keyVaultPropertiesFor(fresh.version),
      }),
    ).rejects.toMatchObject({ statusCode: 409, code: "RequestConflict" });
    finishOperations();
    await poller.pollUntilDone();
  });

  it("gives the cluster a new etag on every write, and refuses a stale If-Match with 412 PreconditionFailed", async () => {
    const first = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    const read = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(read.etag).toMatch(/^".+"$/);
    const poller = await kusto.clusters.beginUpdate(
      dataGroup,
      "adx-pinned",
      { keyVaultProperties: keyVaultPropertiesFor(first.version) },
      { ...pollFast, ifMatch: read.etag },
    );
    const accepted = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(accepted.etag).not.toBe(read.etag);
    finishOperations();
    await poller.pollUntilDone();
    const done = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(done.etag).not.toBe(accepted.etag);
    expect(done.keyVaultProperties?.keyVersion).toBe(first.version);

    // A write based on the first read lands after those changes: refused, nothing changes.
    const second = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    const stale = await kusto.clusters
      .beginUpdate(
        dataGroup,
        "adx-pinned",
        { keyVaultProperties: keyVaultPropertiesFor(second.version) },
        { ...pollFast, ifMatch: read.etag },
      )
      .catch((error: unknown) => error);
    expect(stale).toMatchObject({ statusCode: 412, code: "PreconditionFailed" });
    const raw = (stale as { response?: { bodyAsText?: string } }).response?.bodyAsText ?? "";
    expect(JSON.parse(raw)).toMatchObject({ error: { code: "PreconditionFailed" } });
    const after = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(after).toMatchObject({ etag: done.etag, keyVaultProperties: { keyVersion: first.version } });

    // The current etag (or *) is accepted.
    const current = await kusto.clusters.beginUpdate(
      dataGroup,
      "adx-pinned",
      { keyVaultProperties: keyVaultPropertiesFor(second.version) },
      { ...pollFast, ifMatch: after.etag },
    );
    finishOperations();
    await current.pollUntilDone();
    expect((await kusto.clusters.get(dataGroup, "adx-pinned")).keyVaultProperties?.keyVersion).toBe(
      second.version,
    );
  });

  it("ends the operation Failed on a failOperation fault and keeps the old key", async () => {
    const before = (await kusto.clusters.get(dataGroup, "adx-pinned")).keyVaultProperties?.keyVersion;
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    sandbox.store.faults.push({
      id: "fail-kusto",
      method: "PATCH",
      host: "management.azure.com",
      path: "/clusters/adx-pinned$",
      action: { kind: "failOperation", code: "InternalServerError", message: "The cluster update failed." },
      remaining: 1,
    });
    const poller = await kusto.clusters.beginUpdate(
      dataGroup,
      "adx-pinned",
      { keyVaultProperties: keyVaultPropertiesFor(fresh.version) },
      pollFast,
    );
    finishOperations();
    await expect(poller.pollUntilDone()).rejects.toThrow(/failed/i);
    const after = await kusto.clusters.get(dataGroup, "adx-pinned");
    expect(after.keyVaultProperties?.keyVersion).toBe(before);
    expect(after.provisioningState).toBe("Failed");
  });

  describe("validates the key before accepting the update", () => {
    const cases: { name: string; arrange: () => Record<string, string>; code: string }[] = [
      {
        name: "an unknown vault",
        arrange: () => ({
          keyVaultUri: "https://kv-missing.vault.azure.net",
          keyName: "adx-key",
          keyVersion: "",
        }),
        code: "KeyVaultNotFound",
      },
      {
        name: "an unknown key",
        arrange: () => ({ keyVaultUri: "https://kv-cmk-1.vault.azure.net", keyName: "nope", keyVersion: "" }),
        code: "KeyNotFound",
      },
      {
        name: "an unknown version",
        arrange: () => keyVaultPropertiesFor("0123456789abcdef0123456789abcdef"),
        code: "KeyNotFound",
      },
      {
        name: "a disabled version",
        arrange: () =>
          keyVaultPropertiesFor(
            addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key", { enabled: false }).version,
          ),
        code: "InvalidKeyVaultProperties",
      },
      {
        name: "an expired version",
        arrange: () =>
          keyVaultPropertiesFor(
            addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key", { exp: sandbox.store.now() - 1000 }).version,
          ),
        code: "InvalidKeyVaultProperties",
      },
      {
        name: "an RSA 3072 key (Kusto accepts 2048 only)",
        arrange: () => ({
          keyVaultUri: "https://kv-cmk-1.vault.azure.net",
          keyName: "cosmos-key",
          keyVersion: "",
        }),
        code: "InvalidKeyVaultProperties",
      },
      {
        name: "a vault without purge protection",
        arrange: () => {
          cloneVault(sandbox.store, "kv-cmk-1", "kv-no-purge", { purgeProtection: false });
          return { keyVaultUri: "https://kv-no-purge.vault.azure.net", keyName: "adx-key", keyVersion: "" };
        },
        code: "KeyVaultNotPurgeProtected",
      },
      {
        name: "a vault without soft delete",
        arrange: () => {
          cloneVault(sandbox.store, "kv-cmk-1", "kv-no-soft", { softDelete: false });
          return { keyVaultUri: "https://kv-no-soft.vault.azure.net", keyName: "adx-key", keyVersion: "" };
        },
        code: "KeyVaultNotSoftDeleteEnabled",
      },
      {
        name: "a key the cluster's identity may not use",
        arrange: () => {
          const key = keyNamed(sandbox.store, "kv-cmk-1", "adx-key");
          const firstVersion = key.versions.slice(0, 1);
          sandbox.store.vaults
            .get("kv-cmk-1")
            ?.keys.set("adx-key-2", { ...key, name: "adx-key-2", versions: firstVersion });
          return { keyVaultUri: "https://kv-cmk-1.vault.azure.net", keyName: "adx-key-2", keyVersion: "" };
        },
        code: "IdentityDoesNotHaveAccessToKeyVault",
      },
    ];
    for (const testCase of cases) {
      it(`refuses ${testCase.name} with 400 ${testCase.code}`, async () => {
        await expect(
          kusto.clusters.beginUpdate(
            dataGroup,
            "adx-pinned",
            { keyVaultProperties: testCase.arrange() },
            pollFast,
          ),
        ).rejects.toMatchObject({ statusCode: 400, code: testCase.code });
        const cluster = await kusto.clusters.get(dataGroup, "adx-pinned");
        expect(cluster.provisioningState).not.toBe("Running");
      });
    }
  });

  it("answers the operation status URL in Kusto's OperationResult shape", async () => {
    const fresh = addKeyVersion(sandbox.store, "kv-cmk-1", "adx-key");
    const token = await sandbox.transport().credential.getToken("https://management.azure.com/.default");
    const headers = { authorization: `Bearer ${token?.token}` };
    const accepted = await rawRequest(
      sandbox,
      "PATCH",
      `https://management.azure.com${clusterId}?api-version=2023-08-15`,
      { headers, body: { properties: { keyVaultProperties: keyVaultPropertiesFor(fresh.version) } } },
    );
    expect(accepted.body).toMatchObject({ properties: { state: "Updating" } });
    expect(accepted.status).toBe(202);
    const statusUrl = String(accepted.headers["azure-asyncoperation"]);
    expect(statusUrl).toMatch(
      /^https:\/\/management\.azure\.com\/subscriptions\/[^/]+\/providers\/Microsoft\.Kusto\/locations\/westeurope\/operationResults\/[0-9a-f-]+\?api-version=2023-08-15$/,
    );
    expect(accepted.headers.location).toBeUndefined();
    const running = await rawRequest(sandbox, "GET", statusUrl, { headers });
    expect(running.body).toMatchObject({ status: "Running" });
    finishOperations();
    const done = await rawRequest(sandbox, "GET", statusUrl, { headers });
    expect(done.body).toMatchObject({ status: "Succeeded", percentComplete: 100 });
  });
});
