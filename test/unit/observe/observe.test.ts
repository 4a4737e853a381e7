import { describe, expect, it } from "vitest";
import type { AuditLogReader, AuditQuery } from "../../../src/adapters/auditLogs.js";
import type { ConsumerAdapter, DiscoveredConsumer } from "../../../src/adapters/consumers/consumerAdapter.js";
import type { ConsumerAdapters } from "../../../src/adapters/consumers/registry.js";
import { parseKeyId } from "../../../src/adapters/keyRef.js";
import type { KeyVaultAdapter } from "../../../src/adapters/keyVault.js";
import type { ConsumerDiscovery, DiscoveryResult } from "../../../src/adapters/resourceGraph.js";
import {
  type CallerAttribution,
  COSMOS_FIRST_PARTY_APP_ID,
  type ConsumerKind,
  type ConsumerSnapshot,
  type KeyRef,
  type KeyVersionFacts,
  type VersionUse,
} from "../../../src/model.js";
import {
  confirmConsumers,
  type ObserveConfig,
  type ObserveDeps,
  observe,
} from "../../../src/observe/observe.js";
import { silentLog } from "../../../src/rotation/log.js";

const NOW = new Date(Date.UTC(2026, 5, 1, 12));
const HOUR = 3_600_000;
const V1 = "1".repeat(32);
const V2 = "2".repeat(32);
const WS1 = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa";
const WS2 = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb";
const KEY_A = parseKeyId("https://kv1.vault.azure.net/keys/key-a").key;
const KEY_B = parseKeyId("https://kv1.vault.azure.net/keys/key-b").key;
const HSM_KEY = parseKeyId("https://hsm1.managedhsm.azure.net/keys/key-h").key;

const CONFIG: ObserveConfig = {
  managedVaults: [
    {
      vaultUrl: KEY_A.vaultUrl,
      vaultName: "kv1",
      hostKind: "vault",
      workspaceId: WS1,
      auditTable: "AZKVAuditLogs",
    },
    {
      vaultUrl: HSM_KEY.vaultUrl,
      vaultName: "hsm1",
      hostKind: "managedHsm",
      workspaceId: WS2,
      auditTable: "AzureDiagnostics",
    },
  ],
  subscriptions: ["00000000-0000-0000-0000-000000000001"],
  servicePrincipalId: "11111111-1111-1111-1111-111111111111",
  quietPeriodMs: 24 * HOUR,
  ingestionMarginMs: HOUR,
};

function version(v: string, createdHoursAgo: number): KeyVersionFacts {
  return {
    version: v,
    kid: `x/${v}`,
    enabled: true,
    created: new Date(NOW.getTime() - createdHoursAgo * HOUR),
    keyType: "RSA",
    keySize: 2048,
    keyOps: ["wrapKey", "unwrapKey"],
    tags: {},
  };
}

function consumer(
  id: string,
  kind: ConsumerKind,
  key: KeyRef,
  overrides: Partial<ConsumerSnapshot> = {},
): ConsumerSnapshot {
  return {
    id,
    kind,
    subscriptionId: "sub",
    pins: [{ pin: "key", key, version: V1 }],
    inUse: {},
    provisioningState: "Succeeded",
    ...overrides,
  };
}

function discovered(snapshot: ConsumerSnapshot): DiscoveredConsumer {
  return {
    id: snapshot.id,
    kind: snapshot.kind,
    subscriptionId: snapshot.subscriptionId,
    keys: snapshot.pins.map((pin) => ({ key: pin.key, version: pin.version })),
  };
}

interface World {
  unreadableKeys?: string[];
  consumers?: ConsumerSnapshot[];
  unreadableConsumers?: string[];
  discoveryProblems?: DiscoveryResult["problems"];
  /** Principals the discovered resources carry. */
  principals?: DiscoveryResult["principals"];
  /** What the extra Resource Graph query names. */
  resolvable?: Record<string, CallerAttribution>;
  /** Uses per key name, and the app id per caller, that the audit query answers. */
  uses?: Record<string, VersionUse[]>;
  callerAppIds?: Record<string, string>;
  /** Consumers whose Resource Graph row carries their facts, with what the row (maybe stale) says. */
  rows?: Record<string, Partial<ConsumerSnapshot>>;
}

function depsFor(world: World) {
  const calls = {
    reads: [] as string[],
    canary: [] as string[],
    audit: [] as AuditQuery[],
    resolved: [] as string[][],
  };
  const keyVault: KeyVaultAdapter = {
    listKeys: async () => [],
    async listVersions(key) {
      if (world.unreadableKeys?.includes(key.keyName)) throw new Error(`403 on ${key.keyName}`);
      return [version(V1, 48), version(V2, 2)];
    },
    async readKey(key) {
      calls.canary.push(key.keyName);
      return version(V2, 2);
    },
    createVersion: async () => version(V2, 0),
    disableVersion: async () => ({ status: "done" }),
    enableVersion: async () => ({ status: "done" }),
    tagVersion: async () => ({ status: "done" }),
  };
  const all = world.consumers ?? [];
  const discovery: ConsumerDiscovery = {
    discover: async () => ({
      consumers: all.map((snapshot) => {
        const row = world.rows?.[snapshot.id];
        return row
          ? { ...discovered(snapshot), facts: { ...snapshot, ...row, readFrom: "resource-graph" as const } }
          : discovered(snapshot);
      }),
      problems: world.discoveryProblems ?? [],
      principals: world.principals ?? {},
    }),
    async resolvePrincipals(_subscriptions, principalIds) {
      calls.resolved.push([...principalIds]);
      const resolvable = world.resolvable ?? {};
      return {
        principals: Object.fromEntries(
          principalIds.flatMap((id) => (resolvable[id] ? [[id, resolvable[id]]] : [])),
        ),
      };
    },
  };
  const adapter = (kind: ConsumerKind): ConsumerAdapter => ({
    kind,
    resourceGraphType: kind,
    candidatesFromRow: async () => [],
    async read(id) {
      calls.reads.push(id);
      if (world.unreadableConsumers?.includes(id)) throw new Error(`GET ${id} failed`);
      const found = all.find((candidate) => candidate.id === id);
      if (!found) throw new Error("unknown");
      return found;
    },
    beginRepoint: async () => ({ status: "done" }),
    beginMigrate: async () => ({ status: "done" }),
  });
  const consumers: ConsumerAdapters = {
    kusto: adapter("kusto"),
    cosmos: adapter("cosmos"),
    cassandra: adapter("cassandra"),
  };
  const audit: AuditLogReader = {
    async readEvidence(query) {
      calls.audit.push(query);
      return Object.fromEntries(
        query.keys.map((key) => [
          `${key.vaultName}/${key.keyName}`,
          {
            key,
            workspaceId: query.workspaceId,
            complete: true,
            from: query.from,
            to: query.to,
            uses: world.uses?.[key.keyName] ?? [],
            callerAppIds: world.callerAppIds ?? {},
            canarySeenAt: NOW,
          },
        ]),
      );
    },
  };
  const deps: ObserveDeps = { keyVault, discovery, consumers, audit, config: CONFIG, log: silentLog };
  return { deps, calls };
}

describe("observe", () => {
  it("gathers versions, the canary read, consumers of the keys in scope and one audit query per workspace", async () => {
    const { deps, calls } = depsFor({
      consumers: [
        consumer("/adx-a", "kusto", KEY_A),
        consumer("/cosmos-h", "cosmos", HSM_KEY),
        consumer("/elsewhere", "kusto", parseKeyId("https://kv9.vault.azure.net/keys/k").key),
      ],
    });
    const snapshot = await observe(deps, { keys: [KEY_A, KEY_B, HSM_KEY] }, NOW);
    expect(snapshot.observedAt).toBe(NOW);
    expect(snapshot.keys.map((key) => key.key.keyName)).toEqual(["key-a", "key-b", "key-h"]);
    expect(calls.canary).toEqual(["key-a", "key-b", "key-h"]);
    expect(snapshot.consumers.map((c) => c.id)).toEqual(["/adx-a", "/cosmos-h"]);
    expect(calls.reads.sort()).toEqual(["/adx-a", "/cosmos-h"]);
    expect(
      calls.audit.map((query) => [query.workspaceId, query.table, query.keys.map((key) => key.keyName)]),
    ).toEqual([
      [WS1, "AZKVAuditLogs", ["key-a", "key-b"]],
      [WS2, "AzureDiagnostics", ["key-h"]],
    ]);
    expect(Object.keys(snapshot.evidence).sort()).toEqual(["hsm1/key-h", "kv1/key-a", "kv1/key-b"]);
    expect(Object.values(snapshot.evidence).every((evidence) => evidence.complete)).toBe(true);
    expect(snapshot.unreadableKeys).toEqual({});
  });

  it("widens the evidence window to the longest backup retention plus the ingestion margin", async () => {
    const retention = { retentionMs: 30 * 24 * HOUR, description: "Continuous30Days continuous backup" };
    const { deps, calls } = depsFor({
      consumers: [consumer("/cosmos-a", "cosmos", KEY_A, { backupRetention: retention })],
    });
    await observe(deps, { keys: [KEY_A] }, NOW);
    expect(calls.audit[0]?.to).toEqual(NOW);
    expect(calls.audit[0]?.from).toEqual(new Date(NOW.getTime() - 30 * 24 * HOUR - HOUR));
  });

  it("ends the evidence window after this run's own canary reads when given a clock", async () => {
    const { deps, calls } = depsFor({ consumers: [] });
    const afterReads = new Date(NOW.getTime() + 1_500);
    await observe({ ...deps, clock: { now: () => afterReads } }, { keys: [KEY_A] }, NOW);
    expect(calls.audit[0]?.to).toEqual(afterReads);
    // A clock behind `now` never shortens the window.
    const earlier = depsFor({ consumers: [] });
    await observe(
      { ...earlier.deps, clock: { now: () => new Date(NOW.getTime() - 5_000) } },
      { keys: [KEY_A] },
      NOW,
    );
    expect(earlier.calls.audit[0]?.to).toEqual(NOW);
  });

  it("records an unreadable key and carries on with the others", async () => {
    const { deps } = depsFor({ unreadableKeys: ["key-a"] });
    const snapshot = await observe(deps, { keys: [KEY_A, KEY_B] }, NOW);
    expect(snapshot.keys.map((key) => key.key.keyName)).toEqual(["key-b"]);
    expect(snapshot.unreadableKeys["kv1/key-a"]).toContain("403 on key-a");
  });

  it("an unreadable consumer is left out and makes its key's evidence incomplete", async () => {
    const { deps } = depsFor({
      consumers: [
        consumer("/adx-a", "kusto", KEY_A),
        consumer("/broken", "cosmos", KEY_A),
        consumer("/adx-b", "kusto", KEY_B),
      ],
      unreadableConsumers: ["/broken"],
    });
    const snapshot = await observe(deps, { keys: [KEY_A, KEY_B] }, NOW);
    expect(snapshot.consumers.map((c) => c.id)).toEqual(["/adx-a", "/adx-b"]);
    expect(snapshot.evidence["kv1/key-a"]).toMatchObject({ complete: false });
    expect(snapshot.evidence["kv1/key-a"]?.problem).toContain("/broken could not be read");
    expect(snapshot.evidence["kv1/key-b"]?.complete).toBe(true);
  });

  it("incomplete discovery makes every key's evidence incomplete", async () => {
    const { deps } = depsFor({
      discoveryProblems: [{ id: "/cassandra-x", message: "list data centers failed" }],
    });
    const snapshot = await observe(deps, { keys: [KEY_A, HSM_KEY] }, NOW);
    for (const evidence of Object.values(snapshot.evidence)) {
      expect(evidence.complete).toBe(false);
      expect(evidence.problem).toContain("list data centers failed");
    }
  });

  it("a key outside the managed vaults has no workspace, so its evidence is incomplete", async () => {
    const stray = parseKeyId("https://kv9.vault.azure.net/keys/k").key;
    const { deps, calls } = depsFor({});
    const snapshot = await observe(deps, { keys: [stray] }, NOW);
    expect(calls.audit).toHaveLength(0);
    expect(snapshot.evidence["kv9/k"]?.problem).toContain("not a managed vault");
  });

  it("spells a consumer's key as the scope does, so pins and evidence share one key id", async () => {
    const upper = parseKeyId("https://kv1.vault.azure.net/keys/KEY-A").key;
    const { deps } = depsFor({ consumers: [consumer("/adx-a", "kusto", upper)] });
    const snapshot = await observe(deps, { keys: [KEY_A] }, NOW);
    expect(snapshot.consumers[0]?.pins[0]?.key.keyName).toBe("key-a");
  });

  it("names every caller: a consumer, the Cosmos DB first-party app by app id, a resource discovery saw, the rest with one more query", async () => {
    const [kustoPrincipal, firstParty, discoveredResource, batch, nobody] = [
      "22222222-2222-2222-2222-222222222222",
      "77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f",
      "33333333-3333-3333-3333-333333333333",
      "44444444-4444-4444-4444-444444444444",
      "55555555-5555-5555-5555-555555555555",
    ];
    const use = (caller: string): VersionUse => ({
      version: V1,
      lastUse: NOW,
      lastUser: caller,
      count: 1,
      byCaller: { [caller]: NOW },
    });
    const { deps, calls } = depsFor({
      consumers: [
        consumer(
          "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx-a",
          "kusto",
          KEY_A,
          {
            identityPrincipalId: kustoPrincipal,
          },
        ),
      ],
      uses: { "key-a": [kustoPrincipal, firstParty, discoveredResource, batch, nobody].map(use) },
      callerAppIds: { [firstParty]: COSMOS_FIRST_PARTY_APP_ID },
      principals: {
        [discoveredResource]: { name: "kusto adx-other", kind: "resource", resourceId: "/adx-other" },
      },
      resolvable: {
        [batch]: {
          name: "user-assigned identity uai-batch",
          kind: "user-assigned-identity",
          resourceId: "/uai",
        },
      },
    });
    const snapshot = await observe(deps, { keys: [KEY_A] }, NOW);
    expect(
      Object.fromEntries(Object.entries(snapshot.callers ?? {}).map(([id, who]) => [id, who.name])),
    ).toEqual({
      [kustoPrincipal]: "kusto adx-a",
      [firstParty]: "the Azure Cosmos DB application (FirstPartyIdentity accounts)",
      [discoveredResource]: "kusto adx-other",
      [batch]: "user-assigned identity uai-batch",
    });
    // One lookup for every caller nobody could name, never one per caller.
    expect(calls.resolved).toEqual([[batch, nobody]]);
  });

  it("fails as a whole when discovery fails: nothing can be planned without consumers", async () => {
    const { deps } = depsFor({});
    deps.discovery = {
      discover: async () => {
        throw new Error("Resource Graph down");
      },
      resolvePrincipals: async () => ({ principals: {} }),
    };
    await expect(observe(deps, { keys: [KEY_A] }, NOW)).rejects.toThrow("Resource Graph down");
  });

  it("takes consumers' facts from the Resource Graph rows and reads none through Resource Manager", async () => {
    const { deps, calls } = depsFor({
      consumers: [consumer("/adx-a", "kusto", KEY_A), consumer("/cosmos-a", "cosmos", KEY_A)],
      rows: { "/adx-a": {}, "/cosmos-a": {} },
    });
    const snapshot = await observe(deps, { keys: [KEY_A] }, NOW);
    expect(calls.reads).toEqual([]);
    expect(snapshot.consumers.map((c) => [c.id, c.readFrom])).toEqual([
      ["/adx-a", "resource-graph"],
      ["/cosmos-a", "resource-graph"],
    ]);
  });

  it("reads a consumer through Resource Manager only when its row could not tell its facts", async () => {
    const { deps, calls } = depsFor({
      consumers: [consumer("/adx-a", "kusto", KEY_A), consumer("/odd-row", "kusto", KEY_A)],
      rows: { "/adx-a": {} },
    });
    const snapshot = await observe(deps, { keys: [KEY_A] }, NOW);
    expect(calls.reads).toEqual(["/odd-row"]);
    expect(snapshot.consumers.find((c) => c.id === "/odd-row")?.readFrom).toBeUndefined();
  });

  it("confirmConsumers puts fresh reads in place of the named rows, and an unreadable one makes its key's evidence incomplete", async () => {
    const { deps, calls } = depsFor({
      consumers: [
        consumer("/adx-a", "kusto", KEY_A, { pins: [{ pin: "key", key: KEY_A, version: V1 }] }),
        consumer("/gone", "kusto", KEY_A),
        consumer("/adx-b", "kusto", KEY_B),
      ],
      // The rows lag: they still show /adx-a on V2.
      rows: { "/adx-a": { pins: [{ pin: "key", key: KEY_A, version: V2 }] }, "/gone": {}, "/adx-b": {} },
      unreadableConsumers: ["/gone"],
    });
    const observed = await observe(deps, { keys: [KEY_A, KEY_B] }, NOW);
    expect(observed.consumers.find((c) => c.id === "/adx-a")?.pins[0]?.version).toBe(V2);
    const confirmed = await confirmConsumers(deps, observed, ["/adx-a", "/gone"]);
    expect(calls.reads.sort()).toEqual(["/adx-a", "/gone"]);
    const fresh = confirmed.consumers.find((c) => c.id === "/adx-a");
    expect(fresh?.pins[0]?.version).toBe(V1);
    expect(fresh?.readFrom).toBeUndefined();
    expect(confirmed.consumers.map((c) => c.id)).toEqual(["/adx-a", "/adx-b"]);
    expect(confirmed.evidence["kv1/key-a"]?.complete).toBe(false);
    expect(confirmed.evidence["kv1/key-a"]?.problem).toContain("/gone could not be read");
    expect(confirmed.evidence["kv1/key-b"]?.complete).toBe(true);
  });

  it("a backup retention read afresh that is longer than the audit window the row gave makes the key's evidence incomplete", async () => {
    const long = { retentionMs: 30 * 24 * HOUR, description: "Continuous30Days continuous backup" };
    const short = { retentionMs: 7 * 24 * HOUR, description: "Continuous7Days continuous backup" };
    const { deps } = depsFor({
      consumers: [consumer("/cosmos-a", "cosmos", KEY_A, { backupRetention: long })],
      rows: { "/cosmos-a": { backupRetention: short } },
    });
    const observed = await observe(deps, { keys: [KEY_A] }, NOW);
    expect(observed.evidence["kv1/key-a"]?.from).toEqual(new Date(NOW.getTime() - 7 * 24 * HOUR - HOUR));
    const confirmed = await confirmConsumers(deps, observed, ["/cosmos-a"]);
    expect(confirmed.evidence["kv1/key-a"]?.complete).toBe(false);
    expect(confirmed.evidence["kv1/key-a"]?.problem).toContain("keeps backups for 720 hours");
    // Where the row was right, the window covers it and the evidence stays complete.
    const same = depsFor({
      consumers: [consumer("/cosmos-a", "cosmos", KEY_A, { backupRetention: long })],
      rows: { "/cosmos-a": {} },
    });
    const again = await confirmConsumers(same.deps, await observe(same.deps, { keys: [KEY_A] }, NOW), [
      "/cosmos-a",
    ]);
    expect(again.evidence["kv1/key-a"]?.complete).toBe(true);
  });
});
