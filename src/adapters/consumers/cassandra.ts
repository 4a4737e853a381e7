/**
 * Azure Managed Instance for Apache Cassandra: the consumer is a data center, with two pins
 * (`managedDiskCustomerKeyUri`, `backupStorageCustomerKeyUri`), each pinned when its URI has
 * a version segment. The cluster's managed identity unwraps the keys.
 *
 * Discovery: Resource Graph indexes the clusters (`microsoft.documentdb/cassandraclusters`);
 * data centers are child proxy resources, which Resource Graph does not list as rows of
 * their own, and the key URIs live only on them. So each cluster row is expanded here by
 * listing its data centers through Resource Manager (one call per cluster). A timer run may
 * reuse a cluster's listing younger than ROTATOR_DATACENTER_LISTING_MAX_AGE (see
 * `RowExpansionOptions`); the service lists every cluster afresh before it disables anything.
 */
import type { DataCenterResource } from "@azure/arm-cosmosdb";
import type { AzureClientFactory } from "../../azure/clientFactory.js";
import { ValidationError } from "../../errors.js";
import { type ConsumerPin, type ConsumerSnapshot, isProvisioningBusy, type PinName } from "../../model.js";
import { keyIdOf, validateVersion } from "../keyRef.js";
import {
  beginMigrateWith,
  beginRepointWith,
  isRecord,
  optionalBoolean,
  optionalKeyUri,
  optionalString,
  parseArmId,
  principalIdsOf,
  readError,
  rowFacts,
} from "./armResource.js";
import type { ConsumerAdapter, DiscoveredConsumer, RowExpansionOptions } from "./consumerAdapter.js";

const CLUSTER_TYPE_PATH = ["Microsoft.DocumentDB", "cassandraClusters"] as const;
const DATA_CENTER_TYPE_PATH = ["Microsoft.DocumentDB", "cassandraClusters", "dataCenters"] as const;

/** Which data center property holds each pin. */
const PIN_FIELDS: readonly {
  pin: PinName;
  field: "managedDiskCustomerKeyUri" | "backupStorageCustomerKeyUri";
}[] = [
  { pin: "managedDisk", field: "managedDiskCustomerKeyUri" },
  { pin: "backupStorage", field: "backupStorageCustomerKeyUri" },
];

/** The `CosmosDBManagementClient` Cassandra calls used here. */
export interface CassandraApi {
  getCluster(resourceGroupName: string, clusterName: string): Promise<unknown>;
  listDataCenters(resourceGroupName: string, clusterName: string): AsyncIterable<unknown>;
  getDataCenter(resourceGroupName: string, clusterName: string, dataCenterName: string): Promise<unknown>;
  beginUpdateDataCenter(
    resourceGroupName: string,
    clusterName: string,
    dataCenterName: string,
    body: DataCenterResource,
  ): Promise<unknown>;
}

function pinsOf(
  dataCenter: Record<string, unknown>,
  subject: string,
): { pins: ConsumerPin[]; provisioningState?: string; keyStatus?: string } {
  const properties = dataCenter.properties;
  if (!isRecord(properties))
    throw new ValidationError(subject, `${subject}: the data center has no properties object`);
  const pins: ConsumerPin[] = [];
  for (const { pin, field } of PIN_FIELDS) {
    const parsed = optionalKeyUri(properties, field, subject);
    if (parsed) pins.push({ pin, key: parsed.key, version: parsed.version });
  }
  const provisioningState = optionalString(properties, "provisioningState", subject);
  // A failed provisioning says why in provisionError: {code, message, target, ...}.
  const error = isRecord(properties.provisionError) ? properties.provisionError : undefined;
  const code = typeof error?.code === "string" ? error.code : undefined;
  const message = typeof error?.message === "string" ? error.message : undefined;
  const keyStatus = code || message ? [code, message].filter(Boolean).join(": ") : undefined;
  return {
    pins,
    ...(provisioningState ? { provisioningState } : {}),
    ...(keyStatus ? { keyStatus } : {}),
  };
}

/** A Cassandra data center's JSON and its cluster's (an ARM GET each, or Resource Graph's cluster row). */
export interface CassandraDataCenterJson {
  id: string;
  subscriptionId: string;
  /** The data center resource: `{ properties: { managedDiskCustomerKeyUri, ... } }`. */
  dataCenter: unknown;
  /** The cluster resource: `{ properties: { deallocated, ... }, identity: { principalId } }`. */
  cluster: unknown;
}

/**
 * Everything the service needs to know about a Cassandra data center, from its and its
 * cluster's JSON: both pins, `provisioningState`, whether it is deallocated (a deallocated
 * cluster makes no calls), and the cluster's identity (every data center of a cluster unwraps
 * with it). One function, so that ARM GETs and Resource Graph rows are read alike.
 */
export function cassandraConsumerFacts(json: CassandraDataCenterJson, subject: string): ConsumerSnapshot {
  if (!isRecord(json.dataCenter))
    throw new ValidationError(subject, `${subject}: the data center is not an object`);
  const { pins, provisioningState, keyStatus } = pinsOf(json.dataCenter, subject);
  const cluster = isRecord(json.cluster) ? json.cluster : {};
  const clusterSubject = `Cassandra cluster of ${json.id}`;
  const clusterProperties = isRecord(cluster.properties) ? cluster.properties : {};
  const dataCenterProperties = isRecord(json.dataCenter.properties) ? json.dataCenter.properties : {};
  const deallocated =
    optionalBoolean(clusterProperties, "deallocated", clusterSubject) === true ||
    optionalBoolean(dataCenterProperties, "deallocated", subject) === true;
  const identity = isRecord(cluster.identity) ? cluster.identity : {};
  const principalId = optionalString(identity, "principalId", clusterSubject)?.toLowerCase();
  const principalIds = principalIdsOf(cluster.identity);
  return {
    id: json.id,
    kind: "cassandra",
    subscriptionId: json.subscriptionId.toLowerCase(),
    pins,
    inUse: {},
    ...(principalId ? { identity: principalId, identityPrincipalId: principalId } : {}),
    ...(provisioningState ? { provisioningState } : {}),
    ...(keyStatus ? { keyStatus } : {}),
    runState: deallocated ? "Deallocated" : "Running",
    ...(principalIds.length > 0 ? { principalIds } : {}),
  };
}

function updating(dataCenter: unknown): boolean {
  const properties = isRecord(dataCenter) && isRecord(dataCenter.properties) ? dataCenter.properties : {};
  const state = properties.provisioningState;
  return isProvisioningBusy(typeof state === "string" ? state : undefined);
}

/** A cluster's data centers as Resource Manager listed them, and when. */
interface DataCenterListing {
  listedAt: number;
  dataCenters: unknown[];
}

export function createCassandraAdapter(
  apiFor: (subscriptionId: string) => CassandraApi,
  clock: { now(): Date } = { now: () => new Date() },
): ConsumerAdapter {
  // Each cluster's last listing, by lower-case cluster id: a timer run may reuse one younger
  // than its max age (Resource Graph has no data-center rows, and a list per cluster per run
  // passes Resource Manager's read budget at a few hundred clusters). A cluster the service
  // writes to, or reads a data center of afresh, is listed again by the next run.
  const listings = new Map<string, DataCenterListing>();
  const clusterIdOf = (subscriptionId: string, resourceGroup: string, clusterName: string) =>
    `${subscriptionId}/${resourceGroup}/${clusterName}`.toLowerCase();
  const forgetListing = (dataCenterId: string) => {
    try {
      const arm = parseArmId(dataCenterId, DATA_CENTER_TYPE_PATH, "Cassandra data center");
      listings.delete(clusterIdOf(arm.subscriptionId, arm.resourceGroup, arm.names[0] ?? ""));
    } catch {
      // Not a data center id: nothing was listed under it.
    }
  };
  const listDataCenters = async (
    cluster: ReturnType<typeof parseArmId>,
    options: RowExpansionOptions,
  ): Promise<unknown[]> => {
    const [clusterName = ""] = cluster.names;
    const id = clusterIdOf(cluster.subscriptionId, cluster.resourceGroup, clusterName);
    const now = clock.now().getTime();
    const known = listings.get(id);
    const maxAgeMs = options.listingMaxAgeMs ?? 0;
    if (known && maxAgeMs > 0 && now - known.listedAt < maxAgeMs) {
      options.reused?.(new Date(known.listedAt));
      return known.dataCenters;
    }
    const dataCenters: unknown[] = [];
    for await (const dataCenter of apiFor(cluster.subscriptionId).listDataCenters(
      cluster.resourceGroup,
      clusterName,
    ))
      dataCenters.push(dataCenter);
    // A listing with a data center mid-update tells a moment about to change: it is not kept.
    if (!dataCenters.some(updating)) listings.set(id, { listedAt: now, dataCenters });
    else listings.delete(id);
    return dataCenters;
  };
  // Data centers of one cluster read at the same time share the cluster's GET: each cluster is
  // read once, and a read started after it settled reads afresh.
  const clusterReads = new Map<string, Promise<unknown>>();
  const readCluster = (subscriptionId: string, resourceGroup: string, clusterName: string) => {
    const id = clusterIdOf(subscriptionId, resourceGroup, clusterName);
    const known = clusterReads.get(id);
    if (known) return known;
    const reading = apiFor(subscriptionId)
      .getCluster(resourceGroup, clusterName)
      .finally(() => clusterReads.delete(id));
    clusterReads.set(id, reading);
    return reading;
  };
  const adapter: ConsumerAdapter = {
    kind: "cassandra",
    resourceGraphType: "microsoft.documentdb/cassandraclusters",

    async candidatesFromRow(row, options = {}) {
      const cluster = parseArmId(row.id, CLUSTER_TYPE_PATH, "Cassandra cluster");
      const candidates: DiscoveredConsumer[] = [];
      try {
        for (const dataCenter of await listDataCenters(cluster, options)) {
          if (!isRecord(dataCenter)) continue;
          const id = optionalString(dataCenter, "id", `data center of ${row.id}`);
          if (!id) continue;
          const subject = `Cassandra data center ${id}`;
          const { pins } = pinsOf(dataCenter, subject);
          if (pins.length === 0) continue;
          // The listed data center carries its properties, and the row is its cluster's: no GET of either.
          const facts = rowFacts(() =>
            cassandraConsumerFacts(
              {
                id,
                subscriptionId: cluster.subscriptionId,
                dataCenter,
                cluster: { properties: row.properties, identity: row.identity },
              },
              subject,
            ),
          );
          candidates.push({
            id,
            kind: "cassandra",
            subscriptionId: cluster.subscriptionId,
            keys: pins.map(({ key, version }) => ({ key, version })),
            ...(facts ? { facts } : {}),
          });
        }
      } catch (error) {
        if (error instanceof ValidationError) throw error;
        throw readError(row.id, "list data centers of Cassandra cluster", error);
      }
      return candidates;
    },

    async read(id) {
      const arm = parseArmId(id, DATA_CENTER_TYPE_PATH, "Cassandra data center");
      // Read afresh because a decision needs it: the next run lists its cluster again too.
      forgetListing(id);
      const [clusterName = "", dataCenterName = ""] = arm.names;
      const api = apiFor(arm.subscriptionId);
      let dataCenter: unknown;
      let cluster: unknown;
      try {
        [dataCenter, cluster] = await Promise.all([
          api.getDataCenter(arm.resourceGroup, clusterName, dataCenterName),
          readCluster(arm.subscriptionId, arm.resourceGroup, clusterName),
        ]);
      } catch (error) {
        throw readError(id, "read Cassandra data center", error);
      }
      return cassandraConsumerFacts(
        { id, subscriptionId: arm.subscriptionId, dataCenter, cluster },
        `Cassandra data center ${id}`,
      );
    },

    beginRepoint(consumer, pin, toVersion, guard) {
      // The CassandraDataCenters_Update spec takes no If-Match: the re-read just before the write is the guard.
      return beginRepointWith(
        consumer,
        pin,
        toVersion,
        guard,
        () => adapter.read(consumer.id),
        async (_fresh, current) => {
          const arm = parseArmId(consumer.id, DATA_CENTER_TYPE_PATH, "Cassandra data center");
          const [clusterName = "", dataCenterName = ""] = arm.names;
          const field = PIN_FIELDS.find((candidate) => candidate.pin === pin)?.field;
          if (!field) return;
          // Only the one key URI is sent: the other pin and everything else stay as they are.
          await apiFor(arm.subscriptionId).beginUpdateDataCenter(
            arm.resourceGroup,
            clusterName,
            dataCenterName,
            {
              properties: {
                [field]: keyIdOf(
                  current.key,
                  validateVersion(toVersion, `target version for ${consumer.id}`),
                ),
              },
            },
          );
          forgetListing(consumer.id);
        },
      );
    },

    beginMigrate(consumer, pin, move) {
      // Only the URI of this pin, which names the source key, moves; the other stays as it is.
      return beginMigrateWith(
        consumer,
        pin,
        move,
        () => adapter.read(consumer.id),
        async () => {
          const arm = parseArmId(consumer.id, DATA_CENTER_TYPE_PATH, "Cassandra data center");
          const [clusterName = "", dataCenterName = ""] = arm.names;
          const field = PIN_FIELDS.find((candidate) => candidate.pin === pin)?.field;
          if (!field) return;
          const version =
            move.toVersion === null
              ? null
              : validateVersion(move.toVersion, `target version for ${consumer.id}`);
          await apiFor(arm.subscriptionId).beginUpdateDataCenter(
            arm.resourceGroup,
            clusterName,
            dataCenterName,
            { properties: { [field]: keyIdOf(move.to, version) } },
          );
          forgetListing(consumer.id);
        },
      );
    },
  };
  return adapter;
}

export function cassandraAdapterFromFactory(factory: AzureClientFactory): ConsumerAdapter {
  return createCassandraAdapter((subscriptionId) => {
    const client = factory.cosmos(subscriptionId);
    return {
      getCluster: (resourceGroupName, clusterName) =>
        client.cassandraClusters.get(resourceGroupName, clusterName),
      listDataCenters: (resourceGroupName, clusterName) =>
        client.cassandraDataCenters.list(resourceGroupName, clusterName),
      getDataCenter: (resourceGroupName, clusterName, dataCenterName) =>
        client.cassandraDataCenters.get(resourceGroupName, clusterName, dataCenterName),
      beginUpdateDataCenter: (resourceGroupName, clusterName, dataCenterName, body) =>
        client.cassandraDataCenters.beginUpdate(resourceGroupName, clusterName, dataCenterName, body),
    };
  });
}
