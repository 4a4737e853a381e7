/**
 * Kusto clusters through the real @azure/arm-kusto client (api-version 2023-08-15): get,
 * list by subscription and resource group, and a PATCH long-running operation that
 * repoints the cluster's key; then every exchange against kusto.json 2023-08-15.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ConformanceSandbox,
  expectRecordingConforms,
  FAST_LRO,
  SUBSCRIPTION_ID,
  startConformanceSandbox,
  VAULT_URL,
} from "./conformanceSandbox.js";

const RESOURCE_GROUP = "rg-data";

describe("Kusto clusters conformance", () => {
  let run: ConformanceSandbox;

  beforeAll(async () => {
    run = await startConformanceSandbox();
  });

  afterAll(async () => {
    await run?.sandbox.close();
  });

  it("reads, lists and repoints a cluster's key through the real client", async () => {
    const kusto = run.clients.kusto(SUBSCRIPTION_ID);
    const pinned = await kusto.clusters.get(RESOURCE_GROUP, "adx-pinned");
    expect(pinned.keyVaultProperties?.keyName).toBe("adx-key");

    const bySubscription: string[] = [];
    for await (const cluster of kusto.clusters.list()) bySubscription.push(cluster.name ?? "");
    expect(bySubscription).toEqual(expect.arrayContaining(["adx-pinned", "adx-latest"]));
    const byGroup: string[] = [];
    for await (const cluster of kusto.clusters.listByResourceGroup(RESOURCE_GROUP))
      byGroup.push(cluster.name ?? "");
    expect(byGroup).toEqual(expect.arrayContaining(["adx-pinned", "adx-latest"]));

    const newVersion = await run.clients.keys(VAULT_URL).rotateKey("adx-key");
    const updated = await kusto.clusters.beginUpdateAndWait(
      RESOURCE_GROUP,
      "adx-pinned",
      { keyVaultProperties: { ...pinned.keyVaultProperties, keyVersion: newVersion.properties.version } },
      FAST_LRO,
    );
    expect(updated.keyVaultProperties?.keyVersion).toBe(newVersion.properties.version);
    expect(updated.provisioningState).toBe("Succeeded");
  });

  it("answers a missing cluster with the ARM error shape", async () => {
    await expect(
      run.clients.kusto(SUBSCRIPTION_ID).clusters.get(RESOURCE_GROUP, "no-such-cluster"),
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
