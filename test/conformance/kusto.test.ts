/**
 * Kusto clusters through the real @azure/arm-kusto client (api-version 2023-08-15): get,
 * list by subscription and resource group, and a PATCH long-running operation that
 * repoints the cluster's key; then every exchange against kusto.json 2023-08-15.
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

describe("Kusto clusters conformance", () => {
  const run = useConformanceSandbox();

  it("reads, lists and repoints a cluster's key through the real client", async () => {
    const kusto = run.clients.kusto(SUBSCRIPTION_ID);
    const pinned = await kusto.clusters.get(DATA_RESOURCE_GROUP, "adx-pinned");
    expect(pinned.keyVaultProperties?.keyName).toBe("adx-key");

    const bySubscription: string[] = [];
    for await (const cluster of kusto.clusters.list()) bySubscription.push(cluster.name ?? "");
    expect(bySubscription).toEqual(expect.arrayContaining(["adx-pinned", "adx-latest"]));
    const byGroup: string[] = [];
    for await (const cluster of kusto.clusters.listByResourceGroup(DATA_RESOURCE_GROUP))
      byGroup.push(cluster.name ?? "");
    expect(byGroup).toEqual(expect.arrayContaining(["adx-pinned", "adx-latest"]));

    const newVersion = await run.clients.keys(VAULT_URL).rotateKey("adx-key");
    const updated = await kusto.clusters.beginUpdateAndWait(
      DATA_RESOURCE_GROUP,
      "adx-pinned",
      { keyVaultProperties: { ...pinned.keyVaultProperties, keyVersion: newVersion.properties.version } },
      FAST_LRO,
    );
    expect(updated.keyVaultProperties?.keyVersion).toBe(newVersion.properties.version);
    expect(updated.provisioningState).toBe("Succeeded");
  });

  it("answers a missing cluster with the ARM error shape", async () => {
    await expect(
      run.clients.kusto(SUBSCRIPTION_ID).clusters.get(DATA_RESOURCE_GROUP, "no-such-cluster"),
    ).rejects.toMatchObject({
      statusCode: 404,
    });
  });

  it("every recorded request and response conforms to kusto.json 2023-08-15", () => {
    expectRecordingConforms(run.exchanges(), [
      "Clusters_Get",
      "Clusters_List",
      "Clusters_ListByResourceGroup",
      "Clusters_Update",
    ]);
  });
});
