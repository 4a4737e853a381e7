/**
 * Managed Cassandra through the real @azure/arm-cosmosdb client (2025-10-15): clusters get
 * and list by subscription, data centers get, list and a PATCH long-running operation that
 * repoints the backup key; then every exchange against managedCassandra.json 2025-10-15.
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
