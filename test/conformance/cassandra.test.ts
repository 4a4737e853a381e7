/**
 * Managed Cassandra through the real @azure/arm-cosmosdb client (2025-10-15): clusters get
 * and list by subscription, data centers get, list and a PATCH long-running operation that
 * repoints the backup key; then every exchange against managedCassandra.json 2025-10-15.
 */
import { describe, expect, it } from "vitest";
import { applyStateChange, reflectKeyHealth } from "../../sandbox/consumers/consumerLifecycle.js";
import {
  DATA_RESOURCE_GROUP,
  expectRecordingConforms,
  FAST_LRO,
  SUBSCRIPTION_ID,
  useConformanceSandbox,
  VAULT_URL,
} from "./conformanceSandbox.js";

const CLUSTER = "cassandra-1";

describe("Managed Cassandra conformance", () => {
  const run = useConformanceSandbox();

  it("reads clusters and data centers and repoints a data center's backup key through the real client", async () => {
    const cosmos = run.clients.cosmos(SUBSCRIPTION_ID);
    const cluster = await cosmos.cassandraClusters.get(DATA_RESOURCE_GROUP, CLUSTER);
    expect(cluster.identity?.type).toBe("SystemAssigned");
    const clusters: string[] = [];
    for await (const each of cosmos.cassandraClusters.listBySubscription()) clusters.push(each.name ?? "");
    expect(clusters).toContain(CLUSTER);

    const dataCenters: string[] = [];
    for await (const each of cosmos.cassandraDataCenters.list(DATA_RESOURCE_GROUP, CLUSTER))
      dataCenters.push(each.name ?? "");
    expect(dataCenters.sort()).toEqual(["dc-east", "dc-west"]);
    const east = await cosmos.cassandraDataCenters.get(DATA_RESOURCE_GROUP, CLUSTER, "dc-east");
    expect(east.properties?.backupStorageCustomerKeyUri).toContain("/keys/cassandra-backup-key/");

    const newVersion = await run.clients.keys(VAULT_URL).rotateKey("cassandra-backup-key");
    const newUri = `${VAULT_URL}/keys/cassandra-backup-key/${newVersion.properties.version}`;
    const updated = await cosmos.cassandraDataCenters.beginUpdateAndWait(
      DATA_RESOURCE_GROUP,
      CLUSTER,
      "dc-east",
      { properties: { backupStorageCustomerKeyUri: newUri } },
      FAST_LRO,
    );
    expect(updated.properties?.backupStorageCustomerKeyUri).toBe(newUri);
    expect(updated.properties?.managedDiskCustomerKeyUri).toBe(east.properties?.managedDiskCustomerKeyUri);
  });

  it("reads a deallocated cluster and its data centers, and a data center failed on its key", async () => {
    const cosmos = run.clients.cosmos(SUBSCRIPTION_ID);
    const clusterId = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${DATA_RESOURCE_GROUP}/providers/Microsoft.DocumentDB/cassandraClusters/${CLUSTER}`;
    applyStateChange(run.sandbox.store, { id: clusterId, state: "Deallocated" });
    expect((await cosmos.cassandraClusters.get(DATA_RESOURCE_GROUP, CLUSTER)).properties?.deallocated).toBe(
      true,
    );
    expect(
      (await cosmos.cassandraDataCenters.get(DATA_RESOURCE_GROUP, CLUSTER, "dc-west")).properties
        ?.deallocated,
    ).toBe(true);
    applyStateChange(run.sandbox.store, { id: clusterId, state: "Running" });
    const dataCenter = run.sandbox.store.consumers.get(`${clusterId}/dataCenters/dc-west`.toLowerCase());
    if (!dataCenter) throw new Error("no dc-west");
    reflectKeyHealth(run.sandbox.store, dataCenter, {
      pin: "managedDisk",
      vault: "kv-cmk-1",
      key: "cassandra-disk-key",
      version: dataCenter.usage[0]?.version ?? "",
      operationName: "KeyUnwrap",
      at: run.sandbox.store.now(),
      status: 403,
      errorCode: "KeyDisabled",
    });
    const failed = await cosmos.cassandraDataCenters.get(DATA_RESOURCE_GROUP, CLUSTER, "dc-west");
    expect(failed.properties?.provisioningState).toBe("Failed");
    expect(failed.properties?.provisionError?.code).toBe("KeyDisabled");
    reflectKeyHealth(run.sandbox.store, dataCenter, undefined);
  });

  it("every recorded request and response conforms to managedCassandra.json 2025-10-15", () => {
    expectRecordingConforms(run.exchanges(), [
      "CassandraClusters_Get",
      "CassandraClusters_ListBySubscription",
      "CassandraDataCenters_List",
      "CassandraDataCenters_Get",
      "CassandraDataCenters_Update",
    ]);
  });
});
