/**
 * Simulated consumers in a running sandbox: they unwrap under their own identities (audit
 * records appear), a pinned consumer moves after a repoint only once its lag has passed, a
 * versionless one follows a new version, a stuck one stays, a staged stale version fails
 * the way its service shows it, and a stopped cluster comes back to the version it stopped with.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxControl } from "../../../../sandbox/controlClient.js";
import type { SandboxConsumer } from "../../../../sandbox/model.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { type AzureClientFactory, createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import { pause, SUBSCRIPTION, startFastSandbox, VAULT_URL, waitFor } from "../eventgrid/sandboxHarness.js";

const DATA = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers`;
const ADX_PINNED = `${DATA}/Microsoft.Kusto/clusters/adx-pinned`;
const ADX_LATEST = `${DATA}/Microsoft.Kusto/clusters/adx-latest`;
const COSMOS_LATEST = `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-latest`;
const UAI_ADX_1 = "22222222-0000-0000-0000-000000000001";
const UAI_COSMOS_HSM = "33333333-0000-0000-0000-000000000003";

describe("sandbox simulated consumers", () => {
  let sandbox: RunningSandbox;
  let clients: AzureClientFactory;

  function consumer(id: string): SandboxConsumer {
    const found = sandbox.store.consumers.get(id.toLowerCase());
    if (!found) throw new Error(`no simulated consumer ${id}`);
    return found;
  }

  function versionInUse(id: string): string | undefined {
    return consumer(id).usage[0]?.version;
  }

  async function setBehaviour(body: Record<string, unknown>) {
    const answer = await sandboxControl(sandbox, "POST", "/_sandbox/consumers/behaviour", body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  }

  beforeAll(async () => {
    sandbox = await startFastSandbox();
    clients = createAzureClientFactory(sandbox.transport());
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  it("unwrap with the version in use, under their own identities", async () => {
    const pinned = versionInUse(ADX_PINNED);
    const record = await waitFor("a KeyUnwrap by uai-adx-1", () =>
      sandbox.store.audit.find(
        (each) => each.operationName === "KeyUnwrap" && each.callerObjectId === UAI_ADX_1,
      ),
    );
    expect(record).toMatchObject({ httpStatusCode: 200, id: `${VAULT_URL}keys/adx-key/${pinned}` });
    await waitFor("a KeyUnwrap by the Cosmos account on the HSM", () =>
      sandbox.store.audit.find(
        (each) =>
          each.operationName === "KeyUnwrap" &&
          each.callerObjectId === UAI_COSMOS_HSM &&
          each.vaultKind === "managedHsm",
      ),
    );
  });

  it("move to a repointed version only once the lag has passed", async () => {
    await setBehaviour({ id: ADX_PINNED, lagSeconds: 3600 });
    const before = versionInUse(ADX_PINNED);
    const created = await clients.keys(VAULT_URL).createKey("adx-key", "RSA", { keySize: 2048 });
    const target = created.properties.version ?? "";
    await clients.kusto(SUBSCRIPTION).clusters.beginUpdateAndWait("rg-data", "adx-pinned", {
      keyVaultProperties: { keyVaultUri: VAULT_URL, keyName: "adx-key", keyVersion: target },
    });
    await waitFor(
      "the consumer to notice the repoint",
      () => consumer(ADX_PINNED).usage[0]?.switchingTo?.version === target,
    );
    expect(versionInUse(ADX_PINNED)).toBe(before);

    await setBehaviour({ id: ADX_PINNED, lagSeconds: 0 });
    await waitFor("the consumer to use the new version", () => versionInUse(ADX_PINNED) === target);
    await waitFor("a KeyUnwrap with the new version", () =>
      sandbox.store.audit.find(
        (each) => each.operationName === "KeyUnwrap" && each.id.endsWith(`/adx-key/${target}`),
      ),
    );
  });

  it("follow the newest version when versionless", async () => {
    const created = await clients.keys(VAULT_URL).rotateKey("adx-key");
    await waitFor("adx-latest to follow", () => versionInUse(ADX_LATEST) === created.properties.version);
  });

  it("stay on the stuck version until released", async () => {
    const stuck = versionInUse(COSMOS_LATEST);
    await setBehaviour({ id: COSMOS_LATEST, stuckOnVersion: stuck });
    const created = await clients.keys(VAULT_URL).rotateKey("cosmos-key");
    await pause(2500);
    expect(versionInUse(COSMOS_LATEST)).toBe(stuck);

    await setBehaviour({ id: COSMOS_LATEST, stuckOnVersion: null });
    await waitFor(
      "cosmos-latest to move on",
      () => versionInUse(COSMOS_LATEST) === created.properties.version,
    );
  });

  it("try a staged stale version: Key Vault's 403, the failure in the state, the account in revoke state", async () => {
    const stale = sandbox.store.vaults.get("kv-cmk-1")?.keys.get("cosmos-key")?.versions[0];
    if (!stale) throw new Error("no cosmos-key version");
    stale.enabled = false;
    try {
      await setBehaviour({ id: COSMOS_LATEST, unwrapVersion: stale.version, unwrapIntervalSeconds: 1 });
      await waitFor("the failed unwrap", () =>
        consumer(COSMOS_LATEST).failures.find((failure) => failure.version === stale.version),
      );
      const state = await sandboxControl(sandbox, "GET", "/_sandbox/state");
      const shown = (
        state.body as { consumers: { id: string; failures: { version: string; at: string }[] }[] }
      ).consumers.find((each) => each.id === COSMOS_LATEST);
      expect(shown?.failures.at(-1)).toMatchObject({
        version: stale.version,
        status: 403,
        errorCode: "KeyDisabled",
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      const account = await clients.cosmos(SUBSCRIPTION).databaseAccounts.get("rg-data", "cosmos-latest");
      expect(account.customerManagedKeyStatus).toMatch(
        /^Access to your account is currently revoked .*\(4002\)\.$/,
      );
      expect(
        sandbox.store.audit.some(
          (each) => each.httpStatusCode === 403 && each.id.endsWith(`/cosmos-key/${stale.version}`),
        ),
      ).toBe(true);
    } finally {
      stale.enabled = true;
      await setBehaviour({ id: COSMOS_LATEST, unwrapVersion: null });
    }
    const keyStatus = () =>
      (sandbox.store.armResource(COSMOS_LATEST)?.body.properties as { customerManagedKeyStatus?: string })
        ?.customerManagedKeyStatus ?? "";
    await waitFor("the account to confirm its key again", () => keyStatus().includes("confirmed"));
    const account = await clients.cosmos(SUBSCRIPTION).databaseAccounts.get("rg-data", "cosmos-latest");
    expect(account.customerManagedKeyStatus).toBe("Access to the configured customer managed key confirmed.");
  });

  it("a stopped Kusto cluster is silent; started, it unwraps the version it stopped with first", async () => {
    const stoppedWith = versionInUse(ADX_PINNED);
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/consumers/state", {
          id: ADX_PINNED,
          state: "Stopped",
        })
      ).status,
    ).toBe(200);
    const cluster = await clients.kusto(SUBSCRIPTION).clusters.get("rg-data", "adx-pinned");
    expect(cluster.state).toBe("Stopped");
    await pause(300);
    const silentFrom = sandbox.store.audit.length;
    await pause(2500);
    expect(sandbox.store.audit.slice(silentFrom).some((each) => each.callerObjectId === UAI_ADX_1)).toBe(
      false,
    );
    await sandboxControl(sandbox, "POST", "/_sandbox/consumers/state", { id: ADX_PINNED, state: "Running" });
    const first = await waitFor("the first unwrap after the start", () =>
      sandbox.store.audit.slice(silentFrom).find((each) => each.callerObjectId === UAI_ADX_1),
    );
    expect(first).toMatchObject({
      operationName: "KeyUnwrap",
      id: `${VAULT_URL}keys/adx-key/${stoppedWith}`,
    });
  });

  it("refuse a behaviour for an unknown consumer or with bad types", async () => {
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/consumers/behaviour", {
          id: `${ADX_PINNED}x`,
          lagSeconds: 1,
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/consumers/behaviour", {
          id: ADX_PINNED,
          lagSeconds: "1",
        })
      ).status,
    ).toBe(400);
  });
});
