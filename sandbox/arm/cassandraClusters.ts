/**
 * Microsoft.DocumentDB/cassandraClusters and their dataCenters (Azure Managed Instance for
 * Apache Cassandra), as managedCassandra.json 2025-10-15 describes them. Each data center
 * pins two keys (`managedDiskCustomerKeyUri`, `backupStorageCustomerKeyUri`) and unwraps
 * them with the cluster's system-assigned identity.
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

function parentClusterId(dataCenterId: string): string {
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
      if (uri !== undefined && !parseKeyUri(uri)) {
        throw badRequest(
          `The value of 'properties.${field}' ('${uri}') is not a valid key identifier; expected https://<vault>.vault.azure.net/keys/<key>/<version>.`,
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
