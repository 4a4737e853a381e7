/**
 * Estates for the benchmarks, generated in code: one vault and N consumers split evenly
 * between the consumer kinds asked for (Kusto clusters, Cosmos DB accounts, Cassandra data
 * centers). Every Kusto cluster and Cassandra data center has exactly one pin that can be
 * repointed (a data center's backup key follows the newest version); Cosmos DB accounts
 * follow the newest version by themselves (Cosmos refuses a versioned key URI) and are never
 * repointed.
 *
 * Why two keys: Kusto accepts RSA 2048 only and Cosmos DB needs at least 3072 bits, so no
 * single key can serve both. Kusto clusters and Cassandra data centers use `bench-key`
 * (RSA 2048); Cosmos accounts use `bench-key-cosmos` (RSA 3072), present only when asked for.
 * With `keys` above that minimum, each family gets more keys (`bench-key-2`, …,
 * `bench-key-cosmos-2`, …; the Cosmos family its share of the consumers) and a family's
 * consumers go round-robin over its keys.
 *
 * The service's own identity, its custom roles, the workspace and the outcome-events topic
 * are taken from the default estate, so the bench runs with the same least-privilege setup
 * as `npm start`.
 */
import type {
  Estate,
  EstateConsumer,
  EstateKey,
  EstateKeyVersion,
  EstateThrottling,
  EstateVersionRef,
} from "../sandbox/estate.js";
import { defaultEstate, validateEstate } from "../sandbox/seed.js";

export const BENCH_VAULT = "kv-bench";
/** RSA 2048: the key of the Kusto clusters and Cassandra data centers. */
export const BENCH_KEY = "bench-key";
/** RSA 3072: the key of the Cosmos DB accounts. */
export const BENCH_COSMOS_KEY = "bench-key-cosmos";
const DATA_GROUP = "rg-data";
const KEYS_GROUP = "rg-keys";
const LOCATION = "westeurope";
/** Kusto clusters and Cosmos accounts share a user-assigned identity; each Cassandra cluster has its own (system-assigned). */
const SHARED_CONSUMER_IDENTITY = "uai-bench-consumers";
const DATA_CENTERS_PER_CLUSTER = 5;
const CRYPTO_USER_ROLE = "Key Vault Crypto Service Encryption User";

export type BenchConsumerKind = "kusto" | "cosmos" | "cassandra";

export interface BenchEstateOptions {
  /** How many consumers in all; may be 0. */
  consumers: number;
  /** The kinds the consumers are split between (default: all three). */
  kinds?: readonly BenchConsumerKind[];
  /** Ages in hours of each key's versions, oldest first. */
  versionAgesHours: readonly number[];
  /** Which version every Kusto cluster and Cassandra data center pins (index, 0 = oldest, or "newest"). */
  pinnedVersion: EstateVersionRef;
  /** How many keys in all (default and minimum: one per key family present). */
  keys?: number;
  /** Resource Manager's request budgets in the sandbox (default: Azure's, as in the sandbox). */
  throttling?: EstateThrottling;
}

/** The names of a key family's keys: the first keeps the family's name, the others are numbered. */
function familyKeyNames(family: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => (index === 0 ? family : `${family}-${index + 1}`));
}

/** How many keys each family gets: the Cosmos family its share of the consumers, at least one each. */
export function keySplit(
  keys: number | undefined,
  split: Record<BenchConsumerKind, number>,
): { rsa2048: number; rsa3072: number } {
  const cosmosFamily = split.cosmos > 0 ? 1 : 0;
  const families = 1 + cosmosFamily;
  const total = keys ?? families;
  if (!Number.isInteger(total) || total < families)
    throw new Error(`a bench estate with these kinds needs at least ${families} key(s), not ${keys}`);
  if (!cosmosFamily) return { rsa2048: total, rsa3072: 0 };
  const consumers = split.kusto + split.cosmos + split.cassandra;
  const rsa3072 = Math.min(total - 1, Math.max(1, Math.round((total * split.cosmos) / consumers)));
  return { rsa2048: total - rsa3072, rsa3072 };
}

/** How N consumers split between the kinds: evenly, the first kinds taking the remainder. */
export function consumerSplit(
  total: number,
  kinds: readonly BenchConsumerKind[],
): Record<BenchConsumerKind, number> {
  if (!Number.isInteger(total) || total < 0)
    throw new Error(`a bench estate needs a whole number of consumers, not ${total}`);
  if (total > 0 && kinds.length === 0)
    throw new Error("a bench estate with consumers needs at least one kind");
  const split: Record<BenchConsumerKind, number> = { kusto: 0, cosmos: 0, cassandra: 0 };
  kinds.forEach((kind, index) => {
    split[kind] = Math.floor(total / kinds.length) + (index < total % kinds.length ? 1 : 0);
  });
  return split;
}

function padded(index: number): string {
  return String(index + 1).padStart(3, "0");
}

export function benchEstate(options: BenchEstateOptions): Estate {
  const base = defaultEstate();
  const rotator = base.identities.find((identity) => identity.name === "rotator");
  const workspace = base.workspaces[0];
  const subscription = base.subscriptions[0];
  if (!rotator || !workspace || !subscription) {
    throw new Error(
      "the default estate (sandbox/estates/default.json) lost its rotator identity, workspace or subscription; the bench estate is built from them",
    );
  }
  const subscriptionId = subscription.id;
  const split = consumerSplit(options.consumers, options.kinds ?? ["kusto", "cosmos", "cassandra"]);
  const keyCounts = keySplit(options.keys, split);
  const rsa2048Keys = familyKeyNames(BENCH_KEY, keyCounts.rsa2048);
  const rsa3072Keys = familyKeyNames(BENCH_COSMOS_KEY, keyCounts.rsa3072);
  let nextRsa2048 = 0;
  let nextRsa3072 = 0;
  const pinned = (names: string[], index: number) => ({
    vault: BENCH_VAULT,
    key: names[index % names.length] as string,
    version: options.pinnedVersion,
  });
  const keyRef = () => pinned(rsa2048Keys, nextRsa2048++);
  // Cosmos DB takes a key URI without version only.
  const cosmosKeyRef = () => ({ ...pinned(rsa3072Keys, nextRsa3072++), version: "none" as const });
  const placement = { subscriptionId, resourceGroup: DATA_GROUP, location: LOCATION };

  const consumers: EstateConsumer[] = [];
  const cassandraIdentities: string[] = [];
  // Cassandra clusters first: the sandbox derives a cluster's subnet from its index in this list.
  const clusters = Math.ceil(split.cassandra / DATA_CENTERS_PER_CLUSTER);
  for (let cluster = 0; cluster < clusters; cluster++) {
    const identity = `cassandra-bench-${padded(cluster)}`;
    cassandraIdentities.push(identity);
    const first = cluster * DATA_CENTERS_PER_CLUSTER;
    const count = Math.min(DATA_CENTERS_PER_CLUSTER, split.cassandra - first);
    consumers.push({
      kind: "cassandra",
      name: `cass-bench-${padded(cluster)}`,
      identity,
      ...placement,
      dataCenters: Array.from({ length: count }, (_, dc) => {
        const managedDiskKey = keyRef();
        return {
          name: `dc-${padded(dc)}`,
          location: LOCATION,
          managedDiskKey,
          backupStorageKey: { ...managedDiskKey, version: "none" as const },
        };
      }),
    });
  }
  for (let index = 0; index < split.kusto; index++) {
    consumers.push({
      kind: "kusto",
      name: `adxbench${padded(index)}`,
      identity: SHARED_CONSUMER_IDENTITY,
      ...placement,
      key: keyRef(),
    });
  }
  for (let index = 0; index < split.cosmos; index++) {
    consumers.push({
      kind: "cosmos",
      name: `cosmos-bench-${padded(index)}`,
      identity: SHARED_CONSUMER_IDENTITY,
      ...placement,
      key: cosmosKeyRef(),
      backupPolicy: { type: "Periodic", intervalInMinutes: 240, retentionInHours: 8 },
    });
  }

  const versions: EstateKeyVersion[] = options.versionAgesHours.map((ageHours) => ({ ageHours }));
  const keys: EstateKey[] = [
    ...rsa2048Keys.map((name) => ({ name, kty: "RSA", size: 2048, versions })),
    ...rsa3072Keys.map((name) => ({ name, kty: "RSA", size: 3072, versions })),
  ];
  const subscriptionScope = `/subscriptions/${subscriptionId}`;
  const estate: Estate = {
    ...(base.tenantId ? { tenantId: base.tenantId } : {}),
    subscriptions: [{ id: subscriptionId, resourceGroups: [KEYS_GROUP, DATA_GROUP] }],
    identities: [
      rotator,
      {
        name: SHARED_CONSUMER_IDENTITY,
        objectId: "66666666-0000-0000-0000-000000000001",
        userAssigned: { subscriptionId, resourceGroup: DATA_GROUP },
      },
      ...cassandraIdentities.map((name, index) => ({
        name,
        objectId: `77777777-0000-0000-0000-${String(index + 1).padStart(12, "0")}`,
      })),
    ],
    ...(base.roleDefinitions ? { roleDefinitions: base.roleDefinitions } : {}),
    roleAssignments: [
      { principal: "rotator", role: "CMK Rotator Key Operator", scope: `vault:${BENCH_VAULT}` },
      { principal: "rotator", role: "Reader", scope: subscriptionScope },
      {
        principal: "rotator",
        role: "CMK Rotator Consumer Operator",
        scope: `${subscriptionScope}/resourceGroups/${DATA_GROUP}`,
      },
      {
        principal: "rotator",
        role: "Log Analytics Reader",
        scope: `${subscriptionScope}/resourceGroups/${workspace.resourceGroup}/providers/Microsoft.OperationalInsights/workspaces/${workspace.name}`,
      },
      // At vault scope: one assignment per identity however many keys there are.
      { principal: SHARED_CONSUMER_IDENTITY, role: CRYPTO_USER_ROLE, scope: `vault:${BENCH_VAULT}` },
      ...cassandraIdentities.map((principal) => ({
        principal,
        role: CRYPTO_USER_ROLE,
        scope: `vault:${BENCH_VAULT}`,
      })),
    ],
    workspaces: [{ ...workspace, subscriptionId, resourceGroup: KEYS_GROUP }],
    vaults: [
      {
        name: BENCH_VAULT,
        kind: "vault",
        subscriptionId,
        resourceGroup: KEYS_GROUP,
        location: LOCATION,
        softDelete: true,
        purgeProtection: true,
        softDeleteRetentionInDays: 90,
        workspace: workspace.name,
        keys,
      },
    ],
    consumers,
    ...(base.eventGrid?.customTopics ? { eventGrid: { customTopics: base.eventGrid.customTopics } } : {}),
    // Consumers unwrap rarely, so their background work does not compete with what is measured.
    simulation: { unwrapIntervalSeconds: 3600, defaultLagSeconds: 1 },
    ...(options.throttling ? { throttling: options.throttling } : {}),
  };
  return validateEstate(estate);
}
