/**
 * Microsoft.DocumentDB/databaseAccounts, as cosmos-db.json 2025-10-15 describes it. The key
 * is `properties.keyVaultKeyUri` (versioned: pinned; versionless: follows the newest
 * version); the account unwraps with `properties.defaultIdentity`. `keyVaultKeyUriVersion`
 * is read-only and reports the version the account really uses (the simulated consumer's
 * usage, else the pinned version, else the newest).
 */
import type { SandboxArmResource, SandboxIdentity } from "../model.js";
import type { SandboxStore } from "../store.js";
import { documentDbApiVersions } from "./apiVersions.js";
import { badRequest, provisioningNotTerminal } from "./armErrors.js";
import type { ArmResourceKind, ProvisioningPhase } from "./armResourceKind.js";
import { findKey, findVaultByUri, type KeyReference, parseKeyUri } from "./keyReference.js";
import {
  identityBlockFor,
  resolveRequestedIdentity,
  systemAssignedPrincipal,
  userAssignedPrincipal,
} from "./managedIdentity.js";
import {
  isJsonObject,
  type JsonObject,
  mergeFields,
  mergeTrackedResourcePatch,
  normaliseLocation,
  optionalString,
  requireJsonObject,
} from "./patchBody.js";

const style = "cosmos" as const;

export const customerManagedKeyConfirmed = "Access to the configured customer managed key confirmed.";

const topLevelRules = {
  updatable: ["tags", "identity", "properties", "location"],
  readOnly: ["id", "name", "type", "kind", "systemData"],
};

const propertyRules = {
  updatable: [
    "consistencyPolicy",
    "ipRules",
    "isVirtualNetworkFilterEnabled",
    "enableAutomaticFailover",
    "capabilities",
    "virtualNetworkRules",
    "enableMultipleWriteLocations",
    "enableCassandraConnector",
    "connectorOffer",
    "disableKeyBasedMetadataWriteAccess",
    "keyVaultKeyUri",
    "defaultIdentity",
    "publicNetworkAccess",
    "enableFreeTier",
    "apiProperties",
    "enableAnalyticalStorage",
    "analyticalStorageConfiguration",
    "backupPolicy",
    "cors",
    "networkAclBypass",
    "networkAclBypassResourceIds",
    "disableLocalAuth",
    "capacity",
    "enablePartitionMerge",
    "minimalTlsVersion",
    "enableBurstCapacity",
    "customerManagedKeyStatus",
    "enablePerRegionPerPartitionAutoscale",
    "enablePriorityBasedExecution",
    "defaultPriorityLevel",
  ],
  readOnly: [
    "provisioningState",
    "documentEndpoint",
    "databaseAccountOfferType",
    "writeLocations",
    "readLocations",
    "locations",
    "failoverPolicies",
    "privateEndpointConnections",
    "instanceId",
    "keysMetadata",
    "keyVaultKeyUriVersion",
    "createMode",
    "restoreParameters",
  ],
};

export type CosmosBackupPolicySeed =
  | { type: "Periodic"; intervalInMinutes: number; retentionInHours: number }
  | { type: "Continuous"; tier: "Continuous7Days" | "Continuous30Days" };

export interface CosmosAccountSeed {
  id: string;
  name: string;
  location: string;
  identity: SandboxIdentity;
  tenantId: string;
  /** Full key URI (versioned or versionless), or undefined for service-managed keys. */
  keyVaultKeyUri: string | undefined;
  backupPolicy: CosmosBackupPolicySeed;
  instanceId: string;
  createdAt: number;
}

function backupPolicyBody(policy: CosmosBackupPolicySeed): JsonObject {
  if (policy.type === "Periodic") {
    return {
      type: "Periodic",
      periodicModeProperties: {
        backupIntervalInMinutes: policy.intervalInMinutes,
        backupRetentionIntervalInHours: policy.retentionInHours,
        backupStorageRedundancy: "Geo",
      },
    };
  }
  return { type: "Continuous", continuousModeProperties: { tier: policy.tier } };
}

export function defaultIdentityFor(identity: SandboxIdentity): string {
  return identity.resourceId ? `UserAssignedIdentity=${identity.resourceId}` : "SystemAssignedIdentity";
}

export function cosmosAccountBody(seed: CosmosAccountSeed): JsonObject {
  const region = normaliseLocation(seed.location);
  const regionEntry = {
    id: `${seed.name}-${region}`,
    locationName: seed.location,
    documentEndpoint: `https://${seed.name}-${region}.documents.azure.com:443/`,
    provisioningState: "Succeeded",
    failoverPriority: 0,
    isZoneRedundant: false,
  };
  return {
    id: seed.id,
    name: seed.name,
    type: "Microsoft.DocumentDB/databaseAccounts",
    location: seed.location,
    tags: {},
    kind: "GlobalDocumentDB",
    identity: identityBlockFor(seed.identity, seed.tenantId),
    systemData: { createdAt: new Date(seed.createdAt).toISOString() },
    properties: {
      provisioningState: "Succeeded",
      documentEndpoint: `https://${seed.name}.documents.azure.com:443/`,
      databaseAccountOfferType: "Standard",
      ipRules: [],
      isVirtualNetworkFilterEnabled: false,
      enableAutomaticFailover: false,
      consistencyPolicy: {
        defaultConsistencyLevel: "Session",
        maxIntervalInSeconds: 5,
        maxStalenessPrefix: 100,
      },
      capabilities: [],
      writeLocations: [regionEntry],
      readLocations: [regionEntry],
      locations: [regionEntry],
      failoverPolicies: [{ id: regionEntry.id, locationName: seed.location, failoverPriority: 0 }],
      virtualNetworkRules: [],
      enableMultipleWriteLocations: false,
      disableKeyBasedMetadataWriteAccess: false,
      ...(seed.keyVaultKeyUri
        ? { keyVaultKeyUri: seed.keyVaultKeyUri, customerManagedKeyStatus: customerManagedKeyConfirmed }
        : {}),
      defaultIdentity: defaultIdentityFor(seed.identity),
      publicNetworkAccess: "Enabled",
      enableFreeTier: false,
      enableAnalyticalStorage: false,
      instanceId: seed.instanceId,
      createMode: "Default",
      backupPolicy: backupPolicyBody(seed.backupPolicy),
      networkAclBypass: "None",
      networkAclBypassResourceIds: [],
      disableLocalAuth: false,
      minimalTlsVersion: "Tls12",
    },
  };
}

function accountProperties(body: JsonObject): JsonObject {
  return isJsonObject(body.properties) ? body.properties : {};
}

/** The version the account really uses: the consumer's usage, else the pinned version, else the newest. */
function keyVaultKeyUriVersion(store: SandboxStore, resource: SandboxArmResource): string | undefined {
  const uri = accountProperties(resource.body).keyVaultKeyUri;
  if (typeof uri !== "string") return undefined;
  const used = store.consumers.get(resource.id.toLowerCase())?.usage.find((usage) => usage.pin === "key");
  if (used) return used.version;
  const reference = parseKeyUri(uri);
  if (!reference) return undefined;
  if (reference.version) return reference.version;
  const vault = findVaultByUri(store, reference.vaultUri);
  const key = vault ? findKey(vault, reference.keyName) : undefined;
  return key?.versions[key.versions.length - 1]?.version;
}

function presentCosmosAccount(store: SandboxStore, resource: SandboxArmResource): JsonObject {
  const version = keyVaultKeyUriVersion(store, resource);
  if (version === undefined) return resource.body;
  return {
    ...resource.body,
    properties: { ...accountProperties(resource.body), keyVaultKeyUriVersion: version },
  };
}

function mergeCosmosPatch(store: SandboxStore, current: JsonObject, patch: unknown): JsonObject {
  const { request, merged } = mergeTrackedResourcePatch(current, patch, topLevelRules, style);
  if (request.identity !== undefined && request.identity !== null) {
    merged.identity = resolveRequestedIdentity(
      store,
      request.identity,
      current.identity,
      ["SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned"],
      style,
    );
  }
  if (request.properties !== undefined && request.properties !== null) {
    const requested = requireJsonObject(request.properties, "properties", style);
    const properties = mergeFields(accountProperties(current), requested, propertyRules, "properties", style);
    const keyVaultKeyUri = optionalString(requested.keyVaultKeyUri, "properties.keyVaultKeyUri", style);
    if (keyVaultKeyUri !== undefined && !parseKeyUri(keyVaultKeyUri)) {
      throw badRequest(
        `The keyVaultKeyUri '${keyVaultKeyUri}' is not a valid key identifier; expected https://<vault>.vault.azure.net/keys/<key>[/<version>].`,
        style,
      );
    }
    optionalString(requested.defaultIdentity, "properties.defaultIdentity", style);
    merged.properties = properties;
  }
  const defaultIdentity = accountProperties(merged).defaultIdentity;
  if (typeof defaultIdentity === "string" && defaultIdentity.startsWith("UserAssignedIdentity=")) {
    const identityId = defaultIdentity.slice("UserAssignedIdentity=".length);
    if (!userAssignedPrincipal(merged.identity, identityId)) {
      throw badRequest(
        `The defaultIdentity '${defaultIdentity}' names an identity that is not assigned to the account. Assign it in the account's identity first.`,
        style,
      );
    }
  }
  return merged;
}

function unwrappingPrincipal(body: JsonObject): string | undefined {
  const defaultIdentity = accountProperties(body).defaultIdentity;
  if (typeof defaultIdentity !== "string") return undefined;
  if (defaultIdentity.startsWith("UserAssignedIdentity=")) {
    return userAssignedPrincipal(body.identity, defaultIdentity.slice("UserAssignedIdentity=".length));
  }
  if (defaultIdentity === "SystemAssignedIdentity") return systemAssignedPrincipal(body.identity);
  return undefined;
}

function withCosmosPhase(body: JsonObject, phase: ProvisioningPhase): JsonObject {
  const state = { updating: "Updating", succeeded: "Succeeded", failed: "Failed" }[phase];
  const properties = accountProperties(body);
  const relabel = (regions: unknown) =>
    Array.isArray(regions)
      ? regions.map((region) => (isJsonObject(region) ? { ...region, provisioningState: state } : region))
      : regions;
  return {
    ...body,
    properties: {
      ...properties,
      provisioningState: state,
      writeLocations: relabel(properties.writeLocations),
      readLocations: relabel(properties.readLocations),
      locations: relabel(properties.locations),
    },
  };
}

export const cosmosAccountKind: ArmResourceKind = {
  label: "Cosmos DB account",
  provider: "Microsoft.DocumentDB",
  resourceType: "Microsoft.DocumentDB/databaseAccounts",
  typeSegments: ["databaseAccounts"],
  apiVersions: documentDbApiVersions,
  errorStyle: style,
  topLevel: true,
  present: presentCosmosAccount,
  update: {
    writeAction: "Microsoft.DocumentDB/databaseAccounts/write",
    acceptedStatus: 200,
    merge: mergeCosmosPatch,
    keyReferences(body) {
      const uri = accountProperties(body).keyVaultKeyUri;
      const reference: KeyReference | undefined = typeof uri === "string" ? parseKeyUri(uri) : undefined;
      return { key: reference };
    },
    unwrappingPrincipal: (_store, _resource, body) => unwrappingPrincipal(body),
    keyProblemError(problem) {
      return badRequest(
        `${problem.message} The Azure Cosmos DB account cannot use this customer-managed key: make sure the key exists and is enabled, the key vault has soft delete and purge protection enabled, and the account's default identity has get, wrapKey and unwrapKey permissions on the key.`,
        style,
      );
    },
    conflictError: provisioningNotTerminal,
    withProvisioningPhase: withCosmosPhase,
    operationLocation: (_store, resource) => normaliseLocation(String(resource.body.location ?? "global")),
  },
};
