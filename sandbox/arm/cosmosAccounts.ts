/**
 * Microsoft.DocumentDB/databaseAccounts, as cosmos-db.json 2025-10-15 describes it. The key
 * is `properties.keyVaultKeyUri`, always without a version: Cosmos DB refuses a versioned
 * URI with 400 BadRequest "Please provide KeyVault Key Uri without version. We will use
 * latest version of the key" (as users report it, MicrosoftDocs/azure-docs#70179) and
 * follows the newest version of the key by itself, in its own time; `keyVaultKeyUriVersion`
 * (read-only) reports the version the account really uses (the simulated consumer's usage).
 * The account unwraps with `properties.defaultIdentity`: its system- or user-assigned
 * identity, or "FirstPartyIdentity", the Azure Cosmos DB application's own service principal
 * in the tenant (app id a232010e-820c-4083-83bb-3ace5fc29d0b), never the account.
 * `customerManagedKeyStatus` tells whether the account can reach its key (see
 * customerManagedKeyStatusFor).
 */
import { randomUUID } from "node:crypto";
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

/** The application (client) id of "Azure Cosmos DB", the first-party app a FirstPartyIdentity account unwraps as. */
export const COSMOS_FIRST_PARTY_APP_ID = "a232010e-820c-4083-83bb-3ace5fc29d0b";

/**
 * `customerManagedKeyStatus` values, as the provider words them (the CustomerManagedKeyStatus
 * enum of the 2023-09-15 API, e.g. hashicorp/pandora's Cosmos DB definitions, and
 * learn.microsoft.com/azure/cosmos-db/cmk-troubleshooting-guide): confirmed access, or the
 * account in "revoke state" because it cannot use its key.
 */
export const customerManagedKeyConfirmed = "Access to the configured customer managed key confirmed.";

/**
 * The status when the account cannot unwrap with its key. A disabled or expired key, or a
 * default identity without get/wrap/unwrap, is error 4002 ("the default identity is
 * unauthorized to access the Azure Key Vault key": the troubleshooting guide lists a disabled
 * or expired key under it); a key that is not found is 4003.
 */
export function customerManagedKeyRevoked(errorCode: string | undefined, status: number): string {
  const guide = "https://learn.microsoft.com/en-us/azure/cosmos-db/cmk-troubleshooting-guide";
  if (status === 404) {
    return `Access to your account is currently revoked because the correspondent key is not found on the specified Key Vault; for more details about this error and how to restore access to your account please visit ${guide}#azure-key-vault-resource-not-found (4003).`;
  }
  if (status === 401 || status === 403 || errorCode === "KeyDisabled" || errorCode === "ForbiddenByRbac") {
    return `Access to your account is currently revoked because the current default identity no longer has permission to the associated Key Vault key; for more details about this error and how to restore access to your account please visit ${guide}#default-identity-is-unauthorized-to-access-the-azure-key-vault-key (4002).`;
  }
  return `Access to your account is currently revoked because the Azure Cosmos DB service is unable to wrap or unwrap the key; for more details about this error and how to restore access to your account please visit ${guide}#internal-unwrapping-procedure-error (4005).`;
}

/** The service principal of the Azure Cosmos DB application in the estate's tenant, when the estate holds it. */
export function cosmosFirstPartyPrincipal(store: SandboxStore): SandboxIdentity | undefined {
  for (const identity of store.identities.values()) {
    if (identity.clientId.toLowerCase() === COSMOS_FIRST_PARTY_APP_ID) return identity;
  }
  return undefined;
}

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
  /** Key URI without version, or undefined for service-managed keys. */
  keyVaultKeyUri: string | undefined;
  /** `properties.defaultIdentity`; default: derived from `identity`. */
  defaultIdentity?: string;
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
      defaultIdentity: seed.defaultIdentity ?? defaultIdentityFor(seed.identity),
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

/** The version the account really uses: the consumer's usage, else the newest (an account without a simulated consumer). */
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
    const reference = keyVaultKeyUri === undefined ? undefined : parseKeyUri(keyVaultKeyUri);
    if (keyVaultKeyUri !== undefined && !reference) {
      throw badRequest(
        `The keyVaultKeyUri '${keyVaultKeyUri}' is not a valid key identifier; expected https://<vault>.vault.azure.net/keys/<key>.`,
        style,
      );
    }
    if (reference?.version) {
      // The words and shape users get from the provider (MicrosoftDocs/azure-docs#70179).
      throw badRequest(
        `Please provide KeyVault Key Uri without version. We will use latest version of the key\r\nActivityId: ${randomUUID()}, Microsoft.Azure.Documents.Common/2.14.0`,
        style,
      );
    }
    optionalString(requested.defaultIdentity, "properties.defaultIdentity", style);
    merged.properties = properties;
  }
  const defaultIdentity = accountProperties(merged).defaultIdentity;
  if (
    typeof defaultIdentity === "string" &&
    !["FirstPartyIdentity", "SystemAssignedIdentity"].includes(defaultIdentity) &&
    !defaultIdentity.startsWith("UserAssignedIdentity=")
  ) {
    throw badRequest(
      `The defaultIdentity '${defaultIdentity}' is not valid; use "FirstPartyIdentity", "SystemAssignedIdentity" or "UserAssignedIdentity=<identity resource id>".`,
      style,
    );
  }
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

/** Object id of whoever unwraps the account's key: its default identity, or the Cosmos first-party principal. */
export function cosmosUnwrappingPrincipal(store: SandboxStore, body: JsonObject): string | undefined {
  const defaultIdentity = accountProperties(body).defaultIdentity;
  if (typeof defaultIdentity !== "string") return undefined;
  if (defaultIdentity === "FirstPartyIdentity") return cosmosFirstPartyPrincipal(store)?.objectId;
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
    unwrappingPrincipal: (store, _resource, body) => cosmosUnwrappingPrincipal(store, body),
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
