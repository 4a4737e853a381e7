/**
 * Microsoft.DocumentDB/cassandraClusters and their dataCenters (Azure Managed Instance for
 * Apache Cassandra), as managedCassandra.json 2025-10-15 describes them. Each data center
 * pins two keys (`managedDiskCustomerKeyUri`, `backupStorageCustomerKeyUri`) and unwraps
 * them with the cluster's system-assigned identity.
 *
 * Keys come from Azure Key Vault only: the CMK support table ("Services that support
 * customer managed keys (CMKs) in Azure Key Vault and Azure Managed HSM",
 * learn.microsoft.com/azure/security/fundamentals/encryption-customer-managed-keys-support)
 * lists Managed Instance for Apache Cassandra with Key Vault and without Managed HSM, so a
 * PATCH naming a Managed HSM key is refused (400 BadRequest; the wording is the sandbox's).
 *
 * A cluster can be deallocated (`properties.deallocated` on the cluster and on each data
 * center, as the spec has it: "Whether the cluster and associated data centers has been
 * deallocated"); it makes no Key Vault calls until it is started. A data center that cannot
 * unwrap its keys shows `provisioningState` "Failed" with `provisionError` (CassandraError:
 * code, message, target, additionalErrorInfo) carrying Key Vault's error code.
 */
import type { SandboxArmResource, SandboxIdentity } from "../model.js";
import type { SandboxStore } from "../store.js";
import { documentDbApiVersions } from "./apiVersions.js";
import { ArmRequestError, badRequest } from "./armErrors.js";
import type { ArmResourceKind, ProvisioningPhase } from "./armResourceKind.js";
import { parseKeyUri } from "./keyReference.js";
import { systemAssignedPrincipal } from "./managedIdentity.js";
import {
  isJsonObject,
  type JsonObject,
  mergeFields,
  normaliseLocation,
  optionalString,
  requireJsonObject,
} from "./patchBody.js";

const style = "cloudError" as const;

export const cassandraKeyPins = {
  managedDisk: "managedDiskCustomerKeyUri",
  backupStorage: "backupStorageCustomerKeyUri",
} as const;

const topLevelRules = { updatable: ["properties"], readOnly: ["id", "name", "type"] };

const propertyRules = {
  updatable: [
    "delegatedSubnetId",
    "nodeCount",
    "base64EncodedCassandraYamlFragment",
    "managedDiskCustomerKeyUri",
    "backupStorageCustomerKeyUri",
    "sku",
    "diskSku",
    "diskCapacity",
    "availabilityZone",
    "authenticationMethodLdapProperties",
    "deallocated",
  ],
  readOnly: [
    "provisioningState",
    "dataCenterLocation",
    "seedNodes",
    "provisionError",
    "privateEndpointIpAddress",
  ],
};

export interface CassandraClusterSeed {
  id: string;
  name: string;
  location: string;
  /** The cluster's system-assigned identity. */
  identity: SandboxIdentity;
  tenantId: string;
  subnetPrefix: string;
}

export function cassandraClusterBody(seed: CassandraClusterSeed, dataCenterCount: number): JsonObject {
  const seedNodes = Array.from({ length: Math.max(1, dataCenterCount) * 3 }, (_, index) => ({
    ipAddress: `10.${seed.subnetPrefix}.${Math.floor(index / 3)}.${(index % 3) + 4}`,
  }));
  return {
    id: seed.id,
    name: seed.name,
    type: "Microsoft.DocumentDB/cassandraClusters",
    location: seed.location,
    tags: {},
    identity: { type: "SystemAssigned", principalId: seed.identity.objectId, tenantId: seed.tenantId },
    properties: {
      provisioningState: "Succeeded",
      delegatedManagementSubnetId: `${seed.id.split("/providers/")[0]}/providers/Microsoft.Network/virtualNetworks/${seed.name}-vnet/subnets/management`,
      cassandraVersion: "4.0",
      authenticationMethod: "Cassandra",
      repairEnabled: true,
      hoursBetweenBackups: 24,
      clientCertificates: [],
      externalGossipCertificates: [],
      gossipCertificates: [],
      externalSeedNodes: [],
      seedNodes,
      deallocated: false,
      cassandraAuditLoggingEnabled: false,
    },
  };
}

export interface CassandraDataCenterSeed {
  clusterId: string;
  name: string;
  location: string;
  index: number;
  managedDiskCustomerKeyUri: string | undefined;
  backupStorageCustomerKeyUri: string | undefined;
}

export function cassandraDataCenterBody(seed: CassandraDataCenterSeed): JsonObject {
  return {
    id: `${seed.clusterId}/dataCenters/${seed.name}`,
    name: seed.name,
    type: "Microsoft.DocumentDB/cassandraClusters/dataCenters",
    properties: {
      provisioningState: "Succeeded",
      dataCenterLocation: seed.location,
      delegatedSubnetId: `${seed.clusterId.split("/providers/")[0]}/providers/Microsoft.Network/virtualNetworks/cassandra-vnet/subnets/${seed.name}`,
      nodeCount: 3,
      seedNodes: [4, 5, 6].map((host) => ({ ipAddress: `192.168.${seed.index}.${host}` })),
      ...(seed.managedDiskCustomerKeyUri
        ? { managedDiskCustomerKeyUri: seed.managedDiskCustomerKeyUri }
        : {}),
      ...(seed.backupStorageCustomerKeyUri
        ? { backupStorageCustomerKeyUri: seed.backupStorageCustomerKeyUri }
        : {}),
      sku: "Standard_DS14_v2",
      diskSku: "P30",
      diskCapacity: 4,
      availabilityZone: false,
      deallocated: false,
    },
  };
}

function dataCenterProperties(body: JsonObject): JsonObject {
  return isJsonObject(body.properties) ? body.properties : {};
}

/** Whether a cluster body (or a data center body) is deallocated. */
export function cassandraDeallocated(body: JsonObject): boolean {
  return dataCenterProperties(body).deallocated === true;
}

/** The body deallocated or started again (cluster and data centers both carry the flag). */
export function withCassandraDeallocated(body: JsonObject, deallocated: boolean): JsonObject {
  return { ...body, properties: { ...dataCenterProperties(body), deallocated } };
}

/** The error a data center shows while it cannot unwrap a key, as its `provisionError`. */
export interface CassandraKeyError {
  code: string;
  message: string;
  target: string;
  additionalErrorInfo?: string;
}

/** A data center body failed on its key (provisioningState Failed, provisionError), or healthy again. */
export function withDataCenterKeyHealth(
  body: JsonObject,
  problem: CassandraKeyError | undefined,
): JsonObject {
  const properties = { ...dataCenterProperties(body) };
  if (problem) {
    return {
      ...body,
      properties: { ...properties, provisioningState: "Failed", provisionError: { ...problem } },
    };
  }
  if (!isJsonObject(properties.provisionError)) return body;
  delete properties.provisionError;
  return { ...body, properties: { ...properties, provisioningState: "Succeeded" } };
}

export function parentClusterId(dataCenterId: string): string {
  return dataCenterId.replace(/\/dataCenters\/[^/]+$/i, "");
}

function mergeDataCenterPatch(_store: SandboxStore, current: JsonObject, patch: unknown): JsonObject {
  const request = requireJsonObject(patch, "body", style);
  const merged = mergeFields(current, request, topLevelRules, "", style);
  if (request.properties !== undefined && request.properties !== null) {
    const requested = requireJsonObject(request.properties, "properties", style);
    const properties = mergeFields(
      dataCenterProperties(current),
      requested,
      propertyRules,
      "properties",
      style,
    );
    for (const field of Object.values(cassandraKeyPins)) {
      const uri = optionalString(requested[field], `properties.${field}`, style);
      const reference = uri === undefined ? undefined : parseKeyUri(uri);
      if (uri !== undefined && !reference) {
        throw badRequest(
          `The value of 'properties.${field}' ('${uri}') is not a valid key identifier; expected https://<vault>.vault.azure.net/keys/<key>/<version>.`,
          style,
        );
      }
      if (reference && /\.managedhsm\.azure\.net\/?$/i.test(reference.vaultUri)) {
        throw badRequest(
          `The key in 'properties.${field}' ('${uri}') is in a Managed HSM. Azure Managed Instance for Apache Cassandra supports customer-managed keys in Azure Key Vault only; use a key in a key vault.`,
          style,
        );
      }
    }
    merged.properties = properties;
  }
  return merged;
}

function withDataCenterPhase(body: JsonObject, phase: ProvisioningPhase): JsonObject {
  const state = { updating: "Updating", succeeded: "Succeeded", failed: "Failed" }[phase];
  return { ...body, properties: { ...dataCenterProperties(body), provisioningState: state } };
}

export const cassandraClusterKind: ArmResourceKind = {
  label: "Managed Cassandra cluster",
  provider: "Microsoft.DocumentDB",
  resourceType: "Microsoft.DocumentDB/cassandraClusters",
  typeSegments: ["cassandraClusters"],
  apiVersions: documentDbApiVersions,
  errorStyle: style,
  topLevel: true,
  present: (_store, resource) => resource.body,
};

export const cassandraDataCenterKind: ArmResourceKind = {
  label: "Managed Cassandra data center",
  provider: "Microsoft.DocumentDB",
  resourceType: "Microsoft.DocumentDB/cassandraClusters/dataCenters",
  typeSegments: ["cassandraClusters", "dataCenters"],
  apiVersions: documentDbApiVersions,
  errorStyle: style,
  topLevel: false,
  present: (_store, resource) => resource.body,
  update: {
    writeAction: "Microsoft.DocumentDB/cassandraClusters/dataCenters/write",
    acceptedStatus: 202,
    merge: mergeDataCenterPatch,
    keyReferences(body) {
      const properties = dataCenterProperties(body);
      const reference = (field: string) => {
        const uri = properties[field];
        return typeof uri === "string" ? parseKeyUri(uri) : undefined;
      };
      return {
        managedDisk: reference(cassandraKeyPins.managedDisk),
        backupStorage: reference(cassandraKeyPins.backupStorage),
      };
    },
    unwrappingPrincipal(store, resource: SandboxArmResource) {
      const cluster = store.armResource(parentClusterId(resource.id));
      return cluster ? systemAssignedPrincipal(cluster.body.identity) : undefined;
    },
    keyProblemError(problem, pin) {
      const field = pin === "managedDisk" ? cassandraKeyPins.managedDisk : cassandraKeyPins.backupStorage;
      return badRequest(
        `The key in '${field}' cannot be used: ${problem.message} Ensure the system assigned identity of the cluster has get, wrapKey and unwrapKey permissions on the key, and the key vault has soft delete and purge protection enabled.`,
        style,
      );
    },
    conflictError(resourceId) {
      return new ArmRequestError(
        409,
        "Conflict",
        `The data center '${resourceId}' is being updated by another operation. Wait for its provisioningState to become Succeeded or Failed, then retry.`,
      );
    },
    withProvisioningPhase: withDataCenterPhase,
    operationLocation(store, resource) {
      const cluster = store.armResource(parentClusterId(resource.id));
      return normaliseLocation(
        String(cluster?.body.location ?? dataCenterProperties(resource.body).dataCenterLocation),
      );
    },
  },
};
