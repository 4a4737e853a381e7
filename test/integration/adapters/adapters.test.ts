/**
 * The adapters against the sandbox with the real SDK clients from the service's client
 * factory: Key Vault, discovery, the same contract suite for every consumer kind, and the
 * audit evidence query on both tables.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSandbox, startSandbox } from "../../../sandbox/server.js";
import { createAuditLogReader } from "../../../src/adapters/auditLogs.js";
import type { ConsumerAdapter } from "../../../src/adapters/consumers/consumerAdapter.js";
import { type ConsumerAdapters, createConsumerAdapters } from "../../../src/adapters/consumers/registry.js";
import { parseKeyId } from "../../../src/adapters/keyRef.js";
import { type KeyVaultAdapter, keyVaultAdapterFromFactory } from "../../../src/adapters/keyVault.js";
import { consumerDiscoveryFromFactory, type DiscoveryResult } from "../../../src/adapters/resourceGraph.js";
import { type AzureClientFactory, createAzureClientFactory } from "../../../src/azure/clientFactory.js";
import type { ConsumerKind, ConsumerSnapshot, KeyRef, PinName } from "../../../src/model.js";
import { observe } from "../../../src/observe/observe.js";
import { silentLog } from "../../../src/rotation/log.js";

const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
const WORKSPACE = "a1b2c3d4-0000-4000-8000-000000000001";
const SERVICE_OID = "11111111-1111-1111-1111-111111111111";
const key = (id: string): KeyRef => parseKeyId(id).key;
const ADX_KEY = key("https://kv-cmk-1.vault.azure.net/keys/adx-key");
const COSMOS_KEY = key("https://kv-cmk-1.vault.azure.net/keys/cosmos-key");
const DISK_KEY = key("https://kv-cmk-1.vault.azure.net/keys/cassandra-disk-key");
const HSM_KEY = key("https://hsm-cmk-1.managedhsm.azure.net/keys/cosmos-hsm-key");

let sandbox: RunningSandbox;
let factory: AzureClientFactory;
let keyVault: KeyVaultAdapter;
let adapters: ConsumerAdapters;
let discovered: DiscoveryResult;

beforeAll(async () => {
  sandbox = await startSandbox();
  sandbox.store.latency = { ...sandbox.store.latency, armWriteMs: 0, lroDurationMs: 300 };
  factory = createAzureClientFactory(sandbox.transport("rotator"));
  keyVault = keyVaultAdapterFromFactory(factory);
  adapters = createConsumerAdapters(factory);
  discovered = await consumerDiscoveryFromFactory(factory, adapters).discover([SUBSCRIPTION]);
});

afterAll(async () => {
  await sandbox?.close();
});

async function waitUntilSettled(adapter: ConsumerAdapter, id: string): Promise<ConsumerSnapshot> {
  // A deadline, not a count of attempts: on a loaded machine each read takes longer.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const snapshot = await adapter.read(id);
    if (snapshot.provisioningState === "Succeeded") return snapshot;
    if (Date.now() > deadline) throw new Error(`${id} did not settle within 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Key Vault adapter on the sandbox", () => {
  it("lists keys, lists versions with preflight facts, and reads the key", async () => {
    const keys = await keyVault.listKeys({
      vaultUrl: ADX_KEY.vaultUrl,
      vaultName: "kv-cmk-1",
      hostKind: "vault",
    });
    expect(keys.map((k) => k.keyName)).toContain("adx-key");
    const versions = await keyVault.listVersions(ADX_KEY);
    expect(versions.length).toBeGreaterThan(0);
    const newest = versions.at(-1);
    expect(newest).toMatchObject({ enabled: true, keyType: "RSA" });
    expect(newest?.keySize).toBeGreaterThanOrEqual(2048);
    expect(newest?.keyOps).toEqual(expect.arrayContaining(["wrapKey", "unwrapKey"]));
    expect(newest?.recoveryLevel).toBeDefined();
    expect((await keyVault.readKey(ADX_KEY)).version).toBe(newest?.version);
  });

  it("reads Managed HSM keys as RSA-HSM", async () => {
    const versions = await keyVault.listVersions(HSM_KEY);
    expect(versions.at(-1)?.keyType).toBe("RSA-HSM");
  });

  it("tags a version, merging into its existing tags", async () => {
    const [oldest] = await keyVault.listVersions(COSMOS_KEY);
    if (!oldest) throw new Error("no version");
    expect((await keyVault.tagVersion(COSMOS_KEY, oldest.version, { first: "1" })).status).toBe("done");
    expect((await keyVault.tagVersion(COSMOS_KEY, oldest.version, { second: "2" })).status).toBe("done");
    const after = (await keyVault.listVersions(COSMOS_KEY)).find((v) => v.version === oldest.version);
    expect(after?.tags).toMatchObject({ first: "1", second: "2" });
  });

  it("a version that does not exist fails as not-found", async () => {
    expect(await keyVault.disableVersion(COSMOS_KEY, "f".repeat(32), {})).toMatchObject({
      status: "failed",
      reason: "not-found",
    });
  });

  it("an identity without rights gets a failed step naming the missing permission", async () => {
    const denied = keyVaultAdapterFromFactory(createAzureClientFactory(sandbox.transport("operator")));
    const [oldest] = await keyVault.listVersions(COSMOS_KEY);
    const outcome = await denied.tagVersion(COSMOS_KEY, oldest?.version ?? "", { x: "y" });
    expect(outcome.status).toBe("failed");
    expect(outcome.status === "failed" && outcome.detail).toMatch(
      /lacks Microsoft\.KeyVault\/vaults\/keys\/(read|update\/action) on kv-cmk-1/,
    );
  });
});

describe("discovery on the sandbox", () => {
  it("finds every CMK consumer of the three kinds, Cassandra per data center", () => {
    expect(discovered.problems).toEqual([]);
    const names = discovered.consumers
      .map((consumer) => `${consumer.kind}:${consumer.id.split("/").at(-1)}`)
      .sort();
    expect(names).toEqual([
      "cassandra:dc-east",
      "cassandra:dc-west",
      "cosmos:cosmos-firstparty",
      "cosmos:cosmos-hsm",
      "cosmos:cosmos-latest",
      "cosmos:cosmos-periodic",
      "kusto:adx-latest",
      "kusto:adx-pinned",
    ]);
  });
});

describe("naming callers on the sandbox", () => {
  it("names the principals of every discovered resource from the discovery rows", () => {
    expect(discovered.principals["22222222-0000-0000-0000-000000000001"]?.name).toBe(
      "user-assigned identity uai-adx-1 (on kusto adx-pinned)",
    );
    expect(discovered.principals["44444444-0000-0000-0000-000000000001"]?.name).toBe("cassandra cassandra-1");
  });

  it("resolves a user-assigned identity no consumer carries with one Resource Graph query, and leaves a bare principal unnamed", async () => {
    const discovery = consumerDiscoveryFromFactory(factory, adapters);
    // The rotator's own identity is a user-assigned identity in rg-keys; the operator is a person, no resource.
    const resolved = await discovery.resolvePrincipals(
      [SUBSCRIPTION],
      [SERVICE_OID, "55555555-0000-0000-0000-000000000001"],
    );
    expect(resolved.problem).toBeUndefined();
    expect(resolved.principals).toEqual({
      [SERVICE_OID]: {
        name: "user-assigned identity rotator",
        kind: "user-assigned-identity",
        resourceId: expect.stringMatching(/userAssignedIdentities\/rotator$/i),
      },
    });
  });
});

interface ContractCase {
  kind: ConsumerKind;
  name: string;
  pin: PinName;
  key: KeyRef;
  identity: string;
}

/** The kinds that can be pinned: Cosmos DB is a follower (below). */
const CASES: ContractCase[] = [
  { kind: "kusto", name: "adx-pinned", pin: "key", key: ADX_KEY, identity: "uai-adx-1" },
  {
    kind: "cassandra",
    name: "dc-east",
    pin: "managedDisk",
    key: DISK_KEY,
    identity: "44444444-0000-0000-0000-000000000001",
  },
];

describe.each(CASES)("$kind consumer contract on the sandbox", (contract) => {
  let id: string;
  let adapter: ConsumerAdapter;

  beforeAll(() => {
    const found = discovered.consumers.find(
      (consumer) => consumer.kind === contract.kind && consumer.id.endsWith(`/${contract.name}`),
    );
    if (!found) throw new Error(`${contract.name} not discovered`);
    id = found.id;
    adapter = adapters[contract.kind];
  });

  it("reads the pin, the version in use where reported, and the identity", async () => {
    const snapshot = await adapter.read(id);
    const versions = await keyVault.listVersions(contract.key);
    const pin = snapshot.pins.find((candidate) => candidate.pin === contract.pin);
    expect(pin?.key.keyName).toBe(contract.key.keyName);
    expect(pin?.version).toBe(versions.at(-1)?.version);
    expect(snapshot.provisioningState).toBe("Succeeded");
    expect(snapshot.identity).toContain(contract.identity);
  });

  it("begins a repoint, answers pending to a second one during the update, and the next read shows the new version with the identity kept", async () => {
    const before = await adapter.read(id);
    const created = await keyVault.createVersion(contract.key);
    const guard = { replaceable: replaceableOf(before, contract.pin) };
    const first = await adapter.beginRepoint(before, contract.pin, created.version, guard);
    expect(first).toMatchObject({ status: "done" });
    // The stale snapshot still says Succeeded, but the read right before the write sees the update.
    const second = await adapter.beginRepoint(before, contract.pin, created.version, guard);
    expect(second.status).toBe("pending");
    const after = await waitUntilSettled(adapter, id);
    expect(after.pins.find((candidate) => candidate.pin === contract.pin)?.version).toBe(created.version);
    expect(after.identity).toBe(before.identity);
  });

  it("a validation error from the resource provider surfaces as failed", async () => {
    const before = await waitUntilSettled(adapter, id);
    const outcome = await adapter.beginRepoint(before, contract.pin, "0".repeat(32), {
      replaceable: replaceableOf(before, contract.pin),
    });
    expect(outcome.status).toBe("failed");
    // Kusto answers KeyNotFound; Cassandra answers BadRequest with the reason in the message.
    expect(outcome.status === "failed" && `${outcome.reason} ${outcome.detail}`).toMatch(/key/i);
    expect(outcome.status === "failed" && outcome.detail).toContain(contract.name);
  });
});

/** The version a consumer pins now, as the one a repoint in these tests may replace. */
function replaceableOf(consumer: ConsumerSnapshot, pin: PinName): Set<string> {
  const version = consumer.pins.find((candidate) => candidate.pin === pin)?.version;
  return new Set(version ? [version] : []);
}

describe("cosmos consumer on the sandbox: a follower", () => {
  it("reads a pin that follows the newest version, the version in use from keyVaultKeyUriVersion, and the identity", async () => {
    const id = discovered.consumers.find((consumer) => consumer.id.endsWith("/cosmos-periodic"))?.id ?? "";
    const snapshot = await adapters.cosmos.read(id);
    const versions = await keyVault.listVersions(COSMOS_KEY);
    expect(snapshot.pins).toEqual([
      { pin: "key", key: expect.objectContaining({ keyName: "cosmos-key" }), version: null },
    ]);
    expect(snapshot.inUse.key).toBe(versions.at(-1)?.version);
    expect(snapshot.identity).toContain("uai-cosmos-1");
    expect(snapshot.backupRetention?.retentionMs).toBe(8 * 3_600_000);
  });

  it("never sends a PATCH: a repoint request is refused before anything reaches Resource Manager", async () => {
    const id = discovered.consumers.find((consumer) => consumer.id.endsWith("/cosmos-periodic"))?.id ?? "";
    const before = structuredClone(sandbox.store.armResource(id)?.body);
    const created = await keyVault.createVersion(COSMOS_KEY);
    sandbox.store.recording = [];
    const outcome = await adapters.cosmos.beginRepoint(
      await adapters.cosmos.read(id),
      "key",
      created.version,
      { replaceable: new Set() },
    );
    const methods = sandbox.store.recording.map((exchange) => exchange.method);
    sandbox.store.recording = undefined;
    expect(outcome).toMatchObject({ status: "failed", reason: "follows-latest" });
    expect(methods).not.toContain("PATCH");
    expect(sandbox.store.armResource(id)?.body).toEqual(before);
  });
});

describe("audit evidence and observe on the sandbox", () => {
  it("answers complete evidence for both tables with one query each", async () => {
    const reader = createAuditLogReader(factory.logs());
    const to = new Date(sandbox.store.now());
    const from = new Date(to.getTime() - 3_600_000);
    for (const table of ["AzureDiagnostics", "AZKVAuditLogs"] as const) {
      const evidence = await reader.readEvidence({
        workspaceId: WORKSPACE,
        table,
        keys: [ADX_KEY, COSMOS_KEY],
        servicePrincipalId: SERVICE_OID,
        from,
        to,
      });
      expect(evidence["kv-cmk-1/adx-key"], table).toMatchObject({ complete: true });
      expect(evidence["kv-cmk-1/adx-key"]?.problem, table).toBeUndefined();
    }
  });

  it("observes a snapshot of the managed keys with consumers and evidence", async () => {
    const now = new Date(sandbox.store.now());
    const snapshot = await observe(
      {
        keyVault,
        discovery: consumerDiscoveryFromFactory(factory, adapters),
        consumers: adapters,
        audit: createAuditLogReader(factory.logs()),
        config: {
          managedVaults: [
            {
              vaultUrl: ADX_KEY.vaultUrl,
              vaultName: "kv-cmk-1",
              hostKind: "vault",
              workspaceId: WORKSPACE,
              auditTable: "AZKVAuditLogs",
            },
            {
              vaultUrl: HSM_KEY.vaultUrl,
              vaultName: "hsm-cmk-1",
              hostKind: "managedHsm",
              workspaceId: WORKSPACE,
              auditTable: "AzureDiagnostics",
            },
          ],
          subscriptions: [SUBSCRIPTION],
          servicePrincipalId: SERVICE_OID,
          quietPeriodMs: 3_600_000,
          ingestionMarginMs: 600_000,
        },
        log: silentLog,
      },
      { keys: [ADX_KEY, COSMOS_KEY, DISK_KEY, HSM_KEY] },
      now,
    );
    expect(snapshot.unreadableKeys).toEqual({});
    expect(snapshot.keys).toHaveLength(4);
    expect(snapshot.consumers.map((consumer) => consumer.id.split("/").at(-1)).sort()).toEqual([
      "adx-latest",
      "adx-pinned",
      "cosmos-firstparty",
      "cosmos-hsm",
      "cosmos-latest",
      "cosmos-periodic",
      "dc-east",
      "dc-west",
    ]);
    for (const evidence of Object.values(snapshot.evidence))
      expect(evidence, evidence.problem).toMatchObject({ complete: true });
  });
});
