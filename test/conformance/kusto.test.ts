/**
 * Kusto clusters through the real @azure/arm-kusto client (api-version 2023-08-15): get,
 * list by subscription and resource group, and a PATCH long-running operation that
 * repoints the cluster's key; then every exchange against kusto.json 2023-08-15.
 */
import { describe, expect, it, vi } from "vitest";
import { applyStateChange, reflectKeyHealth } from "../../sandbox/consumers/consumerLifecycle.js";
import { unwrapSchedule, updateConsumerBehaviour } from "../../sandbox/consumers/consumerSimulation.js";
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

  it("reads a stopped cluster and one suspended for its key (state Stopped, Unavailable with stateReason)", async () => {
    const kusto = run.clients.kusto(SUBSCRIPTION_ID);
    const id = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${DATA_RESOURCE_GROUP}/providers/Microsoft.Kusto/clusters/adx-latest`;
    const consumer = run.sandbox.store.consumers.get(id.toLowerCase());
    if (!consumer) throw new Error("no adx-latest");
    applyStateChange(run.sandbox.store, { id, state: "Stopped" });
    const stopped = await kusto.clusters.get(DATA_RESOURCE_GROUP, "adx-latest");
    expect(stopped).toMatchObject({ state: "Stopped", provisioningState: "Succeeded", enableAutoStop: true });
    const restartedAt = run.sandbox.store.now();
    applyStateChange(run.sandbox.store, { id, state: "Running" });
    // A started cluster first unwraps its key again, and shows that unwrap's outcome: wait for
    // it, so the failure set below is what the next read shows, not what the restart overwrote.
    await vi.waitFor(
      () => {
        const { lastUnwrapAt } = unwrapSchedule(run.sandbox.store, consumer);
        if (lastUnwrapAt === undefined || lastUnwrapAt < restartedAt) throw new Error("not restarted yet");
      },
      { timeout: 60_000, interval: 50 },
    );
    // And no periodic unwrap lands between the failure and the read.
    updateConsumerBehaviour(run.sandbox.store, { id, unwrapIntervalSeconds: 3600, jitterSeconds: 0 });
    reflectKeyHealth(run.sandbox.store, consumer, {
      pin: "key",
      vault: "kv-cmk-1",
      key: "adx-key",
      version: consumer.usage[0]?.version ?? "",
      operationName: "KeyUnwrap",
      at: run.sandbox.store.now(),
      status: 403,
      errorCode: "KeyDisabled",
    });
    const suspended = await kusto.clusters.get(DATA_RESOURCE_GROUP, "adx-latest");
    expect(suspended.state).toBe("Unavailable");
    expect(suspended.stateReason).toContain("KeyDisabled");
    reflectKeyHealth(run.sandbox.store, consumer, undefined);
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
