import { describe, expect, it } from "vitest";
import {
  type ConsumerUnwrap,
  consumerLoop,
  seedConsumers,
  updateConsumerBehaviour,
} from "../../../../sandbox/consumers/consumerSimulation.js";
import { followKeyReferences } from "../../../../sandbox/consumers/followKeyReferences.js";
import type { Estate, EstateConsumer } from "../../../../sandbox/estate.js";
import { SandboxHttpError } from "../../../../sandbox/http.js";
import type { SandboxConsumer } from "../../../../sandbox/model.js";
import type { SandboxStore } from "../../../../sandbox/store.js";
import {
  addVersion,
  key,
  keyVersion,
  ManualClock,
  SUBSCRIPTION,
  storeWith,
  vault,
} from "../eventgrid/sandboxBuilders.js";

const ADX_OID = "aaaaaaaa-0000-0000-0000-000000000001";
const RG = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers`;
const KUSTO_ID = `${RG}/Microsoft.Kusto/clusters/adx-1`;
const COSMOS_ID = `${RG}/Microsoft.DocumentDB/databaseAccounts/cosmos-1`;
const DC_ID = `${RG}/Microsoft.DocumentDB/cassandraClusters/cass-1/dataCenters/dc-east`;

function estateWith(consumers: EstateConsumer[], simulation: Estate["simulation"] = {}): Estate {
  return {
    subscriptions: [{ id: SUBSCRIPTION, resourceGroups: ["rg-data"] }],
    identities: [],
    roleAssignments: [],
    workspaces: [],
    vaults: [],
    consumers,
    simulation,
  };
}

const base = {
  subscriptionId: SUBSCRIPTION,
  resourceGroup: "rg-data",
  location: "westeurope",
  identity: "uai-1",
};

function setUp() {
  const clock = new ManualClock();
  const store = storeWith(
    [
      vault("kv1", [key("adx-key", [keyVersion(), keyVersion()]), key("backup-key")]),
      vault("hsm1", [key("disk-key")], "managedHsm"),
    ],
    clock,
  );
  store.identities.set(ADX_OID, { name: "uai-1", objectId: ADX_OID, clientId: "c" });
  const versions = (vaultName: string, keyName: string) =>
    store.vaults
      .get(vaultName)
      ?.keys.get(keyName)
      ?.versions.map((v) => v.version) ?? [];
  return { clock, store, versions };
}

function kustoBody(keyVersionValue: string) {
  return {
    properties: {
      keyVaultProperties: {
        keyVaultUri: "https://kv1.vault.azure.net/",
        keyName: "adx-key",
        keyVersion: keyVersionValue,
      },
    },
  };
}

function putArm(store: SandboxStore, id: string, body: Record<string, unknown>) {
  store.putArmResource({ id, type: "t", body });
}

function consumer(store: SandboxStore, id: string): SandboxConsumer {
  const found = store.consumers.get(id.toLowerCase());
  if (!found) throw new Error(`no consumer ${id}`);
  return found;
}

describe("simulated consumers: seeding", () => {
  it("build one consumer per Kusto cluster, Cosmos account and Cassandra data center, using the pinned version", () => {
    const { store, versions } = setUp();
    seedConsumers(
      store,
      estateWith([
        { ...base, kind: "kusto", name: "adx-1", key: { vault: "kv1", key: "adx-key", version: 0 } },
        {
          ...base,
          kind: "cosmos",
          name: "cosmos-1",
          key: { vault: "kv1", key: "adx-key", version: "none" },
          backupPolicy: { type: "Continuous", tier: "Continuous7Days" },
          behaviour: { lagSeconds: 30 },
        },
        {
          ...base,
          kind: "cassandra",
          name: "cass-1",
          dataCenters: [
            {
              name: "dc-east",
              location: "eastus",
              managedDiskKey: { vault: "hsm1", key: "disk-key", version: "newest" },
              backupStorageKey: { vault: "kv1", key: "backup-key", version: "newest" },
            },
          ],
        },
      ]),
    );
    expect([...store.consumers.keys()]).toEqual([KUSTO_ID, COSMOS_ID, DC_ID].map((id) => id.toLowerCase()));
    expect(consumer(store, KUSTO_ID)).toMatchObject({
      kind: "kusto",
      identityObjectId: ADX_OID,
      behaviour: { lagSeconds: 5, stuckOnVersion: null },
      usage: [{ pin: "key", vault: "kv1", key: "adx-key", version: versions("kv1", "adx-key")[0] }],
    });
    expect(consumer(store, COSMOS_ID).usage[0]?.version).toBe(versions("kv1", "adx-key")[1]);
    expect(consumer(store, COSMOS_ID).behaviour.lagSeconds).toBe(30);
    expect(consumer(store, DC_ID).usage.map((u) => [u.pin, u.vault, u.key])).toEqual([
      ["managedDisk", "hsm1", "disk-key"],
      ["backupStorage", "kv1", "backup-key"],
    ]);
  });

  it("name the estate field when a consumer refers to something missing", () => {
    const { store } = setUp();
    expect(() =>
      seedConsumers(
        store,
        estateWith([
          { ...base, kind: "kusto", name: "adx-1", key: { vault: "kv1", key: "adx-key", version: 5 } },
        ]),
      ),
    ).toThrow(/estate.consumers\[0\] \(adx-1\).key: key "kv1\/adx-key" has no version for 5/);
    expect(() =>
      seedConsumers(
        store,
        estateWith([
          {
            ...base,
            identity: "ghost",
            kind: "kusto",
            name: "adx-1",
            key: { vault: "kv1", key: "adx-key", version: 0 },
          },
        ]),
      ),
    ).toThrow(/identity "ghost" is not in estate.identities/);
  });
});

describe("simulated consumers: following repoints", () => {
  function seededKusto(version: number | "none", behaviour = {}) {
    const context = setUp();
    seedConsumers(
      context.store,
      estateWith([
        { ...base, kind: "kusto", name: "adx-1", key: { vault: "kv1", key: "adx-key", version }, behaviour },
      ]),
    );
    return { ...context, adx: consumer(context.store, KUSTO_ID) };
  }

  it("read nothing while the ARM resource is missing", () => {
    const { store, clock, adx, versions } = seededKusto(0, { lagSeconds: 0 });
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]?.version).toBe(versions("kv1", "adx-key")[0]);
  });

  it("move to a repointed version only after the lag", () => {
    const { store, clock, adx, versions } = seededKusto(0, { lagSeconds: 10 });
    const [oldVersion, newVersion] = versions("kv1", "adx-key");
    putArm(store, KUSTO_ID, kustoBody(newVersion ?? ""));
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]).toMatchObject({
      version: oldVersion,
      switchingTo: { version: newVersion, noticedAt: clock.now() },
    });
    clock.advance(9_999);
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]?.version).toBe(oldVersion);
    clock.advance(1);
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]).toMatchObject({ version: newVersion, since: clock.now(), switchingTo: undefined });
  });

  it("follow the newest enabled version when versionless", () => {
    const { store, clock, adx } = seededKusto("none", { lagSeconds: 0 });
    putArm(store, KUSTO_ID, kustoBody(""));
    const created = addVersion(store, "kv1", "adx-key");
    addVersion(store, "kv1", "adx-key", { enabled: false });
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]?.version).toBe(created.version);
  });

  it("stay on the stuck version whatever the resource points at", () => {
    const { store, clock, adx, versions } = seededKusto(0, { lagSeconds: 0 });
    const [oldVersion, newVersion] = versions("kv1", "adx-key");
    updateConsumerBehaviour(store, { id: KUSTO_ID, stuckOnVersion: oldVersion });
    putArm(store, KUSTO_ID, kustoBody(newVersion ?? ""));
    clock.advance(60_000);
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]?.version).toBe(oldVersion);
    updateConsumerBehaviour(store, { id: KUSTO_ID, stuckOnVersion: null });
    followKeyReferences(store, adx, clock.now());
    expect(adx.usage[0]?.version).toBe(newVersion);
  });

  it("read Cosmos and Cassandra key URIs, a pin at a time", () => {
    const { store, clock, versions } = setUp();
    seedConsumers(
      store,
      estateWith([
        {
          ...base,
          kind: "cassandra",
          name: "cass-1",
          behaviour: { lagSeconds: 0 },
          dataCenters: [
            {
              name: "dc-east",
              location: "eastus",
              managedDiskKey: { vault: "hsm1", key: "disk-key", version: 0 },
              backupStorageKey: { vault: "kv1", key: "backup-key", version: 0 },
            },
          ],
        },
      ]),
    );
    const newBackup = addVersion(store, "kv1", "backup-key");
    putArm(store, DC_ID, {
      properties: {
        managedDiskCustomerKeyUri: `https://hsm1.managedhsm.azure.net/keys/disk-key/${versions("hsm1", "disk-key")[0]}`,
        backupStorageCustomerKeyUri: `https://kv1.vault.azure.net/keys/backup-key/${newBackup.version}`,
      },
    });
    const dc = consumer(store, DC_ID);
    followKeyReferences(store, dc, clock.now());
    expect(dc.usage.map((u) => u.version)).toEqual([versions("hsm1", "disk-key")[0], newBackup.version]);
  });
});

describe("simulated consumers: unwrapping", () => {
  it("unwrap with the version in use under the consumer's identity, every interval", () => {
    const { store, clock, versions } = setUp();
    seedConsumers(
      store,
      estateWith(
        [{ ...base, kind: "kusto", name: "adx-1", key: { vault: "kv1", key: "adx-key", version: 0 } }],
        {
          unwrapIntervalSeconds: 2,
        },
      ),
    );
    const calls: Parameters<ConsumerUnwrap>[1][] = [];
    const loop = consumerLoop((_store, call) => {
      calls.push(call);
      return { status: 200 };
    });
    loop.tick(store);
    clock.advance(1_999);
    loop.tick(store);
    clock.advance(1);
    loop.tick(store);
    const unwrap = {
      callerObjectId: ADX_OID,
      vault: "kv1",
      key: "adx-key",
      version: versions("kv1", "adx-key")[0],
      operation: "unwrap",
    };
    expect(calls).toEqual([unwrap, unwrap]);
  });
});

describe("POST /_sandbox/consumers/behaviour", () => {
  function statusOf(store: SandboxStore, body: unknown): number {
    try {
      updateConsumerBehaviour(store, body);
      return 200;
    } catch (error) {
      if (error instanceof SandboxHttpError) return error.status;
      throw error;
    }
  }

  it("refuse bad input with 400, an unknown id with 404, and change nothing", () => {
    const { store } = setUp();
    seedConsumers(
      store,
      estateWith([
        { ...base, kind: "kusto", name: "adx-1", key: { vault: "kv1", key: "adx-key", version: 0 } },
      ]),
    );
    const before = structuredClone(consumer(store, KUSTO_ID).behaviour);
    expect(statusOf(store, { id: `${KUSTO_ID}-x`, lagSeconds: 1 })).toBe(404);
    expect(statusOf(store, { id: KUSTO_ID, lagSeconds: -1 })).toBe(400);
    expect(statusOf(store, { id: KUSTO_ID, lagSeconds: "5" })).toBe(400);
    expect(statusOf(store, { id: KUSTO_ID, lagSeconds: 1, stuckOnVersion: 7 })).toBe(400);
    expect(statusOf(store, { id: KUSTO_ID, stuckOnVersion: "0123456789abcdef0123456789abcdef" })).toBe(400);
    expect(statusOf(store, { id: KUSTO_ID, color: "red" })).toBe(400);
    expect(statusOf(store, { id: KUSTO_ID })).toBe(400);
    expect(consumer(store, KUSTO_ID).behaviour).toEqual(before);
    expect(statusOf(store, { id: KUSTO_ID.toUpperCase(), lagSeconds: 2 })).toBe(200);
    expect(consumer(store, KUSTO_ID).behaviour.lagSeconds).toBe(2);
  });
});
