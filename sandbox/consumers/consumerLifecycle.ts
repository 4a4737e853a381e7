/**
 * Whether a simulated consumer runs, and how its resource shows that it cannot reach its
 * key. The Resource Manager body is the one truth: a Kusto cluster is stopped when its
 * `properties.state` is "Stopped", a Cassandra data center is silent while its cluster is
 * `deallocated`; a Cosmos DB account always runs. A stopped or deallocated consumer makes
 * no Key Vault calls at all.
 *
 * Control: `POST /_sandbox/consumers/state {"id", "state": "Stopped" | "Running" | "Deallocated"}`
 * stops or starts a Kusto cluster, or deallocates or starts a Cassandra cluster (the
 * deallocation of a cluster covers all its data centers, as CassandraClusters_Deallocate does).
 */
import {
  type CassandraKeyError,
  cassandraDeallocated,
  parentClusterId,
  withCassandraDeallocated,
  withDataCenterKeyHealth,
} from "../arm/cassandraClusters.js";
import { customerManagedKeyConfirmed, customerManagedKeyRevoked } from "../arm/cosmosAccounts.js";
import { keyUri } from "../arm/keyReference.js";
import { kustoClusterStopped, withKustoKeyHealth, withKustoRunState } from "../arm/kustoClusters.js";
import { isJsonObject, type JsonObject } from "../arm/patchBody.js";
import { SandboxHttpError } from "../http.js";
import { findVault } from "../keyvault/operations.js";
import type {
  ConsumerFailure,
  ConsumerLifecycleState,
  SandboxArmResource,
  SandboxConsumer,
} from "../model.js";
import type { SandboxStore } from "../store.js";

/** Apply `change` to a resource's body, and to the body an update in flight will leave it with. */
function updateBody(resource: SandboxArmResource, change: (body: JsonObject) => JsonObject): void {
  resource.body = change(resource.body);
  if (resource.pendingUpdate) resource.pendingUpdate.targetBody = change(resource.pendingUpdate.targetBody);
}

/** What the consumer is doing now, read from its resource (and, for a data center, its cluster). */
export function lifecycleOf(store: SandboxStore, consumer: SandboxConsumer): ConsumerLifecycleState {
  const resource = store.armResource(consumer.id);
  if (!resource) return "Running";
  if (consumer.kind === "kusto") return kustoClusterStopped(resource.body) ? "Stopped" : "Running";
  if (consumer.kind === "cassandra") {
    const cluster = store.armResource(parentClusterId(consumer.id));
    if ((cluster && cassandraDeallocated(cluster.body)) || cassandraDeallocated(resource.body))
      return "Deallocated";
  }
  return "Running";
}

/** Stop a Kusto cluster (auto-stop or by hand); it makes no calls until started. */
export function stopKustoCluster(store: SandboxStore, consumer: SandboxConsumer): void {
  const resource = store.armResource(consumer.id);
  if (resource) updateBody(resource, (body) => withKustoRunState(body, "Stopped"));
}

function isConsumerOfCluster(consumer: SandboxConsumer, clusterId: string): boolean {
  return (
    consumer.kind === "cassandra" && parentClusterId(consumer.id).toLowerCase() === clusterId.toLowerCase()
  );
}

export interface StateChange {
  id: string;
  state: ConsumerLifecycleState;
}

function badRequest(message: string): SandboxHttpError {
  return new SandboxHttpError(400, "BadRequest", message);
}

const STATES: readonly ConsumerLifecycleState[] = ["Running", "Stopped", "Deallocated"];

/** Validate `{"id", "state"}`; 404 for an unknown resource, 400 for a state its kind cannot take. */
export function parseStateChange(store: SandboxStore, body: unknown): StateChange {
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw badRequest('A state change must be a JSON object {"id": "<resource id>", "state": "..."}.');
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((name) => name !== "id" && name !== "state");
  if (unknown.length > 0) throw badRequest(`Unknown field(s) ${unknown.join(", ")}; allowed: id, state.`);
  const { id, state } = fields;
  if (typeof id !== "string" || id === "")
    throw badRequest('"id" must be the resource id of a Kusto or Cassandra cluster.');
  if (typeof state !== "string" || !STATES.includes(state as ConsumerLifecycleState))
    throw badRequest(`"state" must be one of ${STATES.join(", ")}, not ${JSON.stringify(state)}.`);
  const resource = store.armResource(id);
  const consumer = store.consumers.get(id.toLowerCase());
  if (consumer?.kind === "kusto") {
    if (state === "Deallocated")
      throw badRequest(
        `A Kusto cluster is Stopped or Running; "Deallocated" is for Managed Cassandra clusters (${id}).`,
      );
    return { id: consumer.id, state: state as ConsumerLifecycleState };
  }
  if (consumer?.kind === "cosmos")
    throw badRequest(`A Cosmos DB account cannot be stopped or deallocated; it always runs (${id}).`);
  if (consumer?.kind === "cassandra")
    throw badRequest(
      `Data centers are deallocated with their cluster: use the cluster's id ${parentClusterId(consumer.id)}.`,
    );
  if (resource && [...store.consumers.values()].some((each) => isConsumerOfCluster(each, resource.id))) {
    if (state === "Stopped")
      throw badRequest(
        `A Managed Cassandra cluster is Deallocated or Running; "Stopped" is for Kusto clusters (${id}).`,
      );
    return { id: resource.id, state: state as ConsumerLifecycleState };
  }
  throw new SandboxHttpError(
    404,
    "NotFound",
    `No Kusto or Managed Cassandra cluster of the estate has the id ${id}; see GET /_sandbox/state for the consumer ids.`,
  );
}

/** Carry out a validated state change; returns the consumers it concerns. */
export function applyStateChange(store: SandboxStore, change: StateChange): SandboxConsumer[] {
  const consumer = store.consumers.get(change.id.toLowerCase());
  if (consumer?.kind === "kusto") {
    const resource = store.armResource(consumer.id);
    if (resource)
      updateBody(resource, (body) =>
        withKustoRunState(body, change.state === "Stopped" ? "Stopped" : "Running"),
      );
    return [consumer];
  }
  const deallocated = change.state === "Deallocated";
  const cluster = store.armResource(change.id);
  if (cluster) updateBody(cluster, (body) => withCassandraDeallocated(body, deallocated));
  const dataCenters = [...store.consumers.values()].filter((each) => isConsumerOfCluster(each, change.id));
  for (const dataCenter of dataCenters) {
    const resource = store.armResource(dataCenter.id);
    if (resource) updateBody(resource, (body) => withCassandraDeallocated(body, deallocated));
  }
  return dataCenters;
}

function keyUriOf(store: SandboxStore, failure: ConsumerFailure): string {
  const vault = findVault(store, failure.vault);
  return vault
    ? keyUri(vault, failure.key, failure.version)
    : `${failure.vault}/${failure.key}/${failure.version}`;
}

/**
 * Show on the consumer's resource whether it can use its key: `failure` is the unwrap that
 * just failed, undefined when every unwrap of this round succeeded. Kusto suspends the
 * cluster (state "Unavailable" with a stateReason), Cosmos DB reports the revoke state in
 * `customerManagedKeyStatus`, a Cassandra data center fails its provisioning with Key
 * Vault's error code in `provisionError`.
 */
export function reflectKeyHealth(
  store: SandboxStore,
  consumer: SandboxConsumer,
  failure: ConsumerFailure | undefined,
): void {
  const resource = store.armResource(consumer.id);
  if (!resource) return;
  const uri = failure ? keyUriOf(store, failure) : undefined;
  const vaultAnswer = failure
    ? `Key Vault answered ${failure.status}${failure.errorCode ? ` ${failure.errorCode}` : ""}`
    : "";
  switch (consumer.kind) {
    case "kusto":
      updateBody(resource, (body) =>
        withKustoKeyHealth(
          body,
          failure
            ? `The cluster cannot access its customer-managed key ${uri}: ${vaultAnswer} to ${failure.operationName}. It is suspended until access to the key is restored.`
            : undefined,
        ),
      );
      break;
    case "cosmos":
      updateBody(resource, (body) => {
        const properties = isJsonObject(body.properties) ? body.properties : {};
        if (properties.keyVaultKeyUri === undefined) return body;
        const status = failure
          ? customerManagedKeyRevoked(failure.errorCode, failure.status)
          : customerManagedKeyConfirmed;
        return properties.customerManagedKeyStatus === status
          ? body
          : { ...body, properties: { ...properties, customerManagedKeyStatus: status } };
      });
      break;
    case "cassandra": {
      const problem: CassandraKeyError | undefined =
        failure && uri
          ? {
              code: failure.errorCode ?? String(failure.status),
              message: `The data center cannot access the customer-managed key ${uri} (${failure.pin === "managedDisk" ? "managedDiskCustomerKeyUri" : "backupStorageCustomerKeyUri"}): ${vaultAnswer} to ${failure.operationName}.`,
              target: uri,
              additionalErrorInfo: `Key Vault status ${failure.status}`,
            }
          : undefined;
      updateBody(resource, (body) => withDataCenterKeyHealth(body, problem));
      break;
    }
  }
}
