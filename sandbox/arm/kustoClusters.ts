/**
 * Microsoft.Kusto/clusters (Azure Data Explorer), as kusto.json 2023-08-15 describes it.
 * The customer-managed key lives in `properties.keyVaultProperties`; the cluster unwraps it
 * with the user-assigned identity named by `userIdentity` (or its system identity).
 *
 * `properties.state` (read-only; the spec's State enum: Creating, Unavailable, Running,
 * Deleting, Deleted, Stopping, Stopped, Starting, Updating, Migrated) is "Running", or
 * "Stopped" for a cluster stopped by hand or by auto-stop (`enableAutoStop`, default true:
 * "Azure Data Explorer clusters that have been inactive ... are automatically stopped",
 * MicrosoftDocs/dataexplorer-docs auto-stop-clusters.md; provisioningState stays Succeeded).
 * A cluster that cannot unwrap its key is suspended by the service ("When Azure Data
 * Explorer identifies that access to a customer-managed key is revoked, it will
 * automatically suspend the cluster ... Once access to the key is returned, the cluster will
 * be resumed automatically", dataexplorer-docs security.md): the sandbox shows that as
 * `state` "Unavailable" with a `stateReason` naming the key and Key Vault's answer (the
 * enum has no "Suspended"; the exact stateReason wording is the sandbox's).
 */
import type { SandboxArmResource, SandboxIdentity } from "../model.js";
import type { SandboxStore } from "../store.js";
import { kustoApiVersions } from "./apiVersions.js";
import { ArmRequestError, provisioningNotTerminal } from "./armErrors.js";
import type { ArmResourceKind, ProvisioningPhase } from "./armResourceKind.js";
import type { KeyProblem, KeyProblemReason, KeyReference } from "./keyReference.js";
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

const style = "cloudError" as const;

const topLevelRules = {
  updatable: ["tags", "sku", "zones", "identity", "properties", "location"],
  readOnly: ["id", "name", "type", "etag", "systemData"],
};

const propertyRules = {
  updatable: [
    "trustedExternalTenants",
    "optimizedAutoscale",
    "enableDiskEncryption",
    "enableStreamingIngest",
    "virtualNetworkConfiguration",
    "keyVaultProperties",
    "enablePurge",
    "languageExtensions",
    "enableDoubleEncryption",
    "publicNetworkAccess",
    "allowedIpRangeList",
    "engineType",
    "acceptedAudiences",
    "enableAutoStop",
    "restrictOutboundNetworkAccess",
    "allowedFqdnList",
    "publicIPType",
    "virtualClusterGraduationProperties",
  ],
  readOnly: [
    "state",
    "provisioningState",
    "uri",
    "dataIngestionUri",
    "stateReason",
    "privateEndpointConnections",
    "migrationCluster",
  ],
};

const keyVaultPropertyNames = ["keyVaultUri", "keyName", "keyVersion", "userIdentity"];

export interface KustoClusterSeed {
  id: string;
  name: string;
  location: string;
  identity: SandboxIdentity;
  tenantId: string;
  /** Undefined: no customer-managed key. */
  key: { vaultUri: string; keyName: string; version: string | undefined } | undefined;
  /** Default true, as the Kusto API creates clusters. */
  enableAutoStop?: boolean;
  createdAt: number;
}

export function kustoClusterBody(seed: KustoClusterSeed): JsonObject {
  const region = normaliseLocation(seed.location);
  const keyVaultProperties = seed.key
    ? {
        keyVaultUri: seed.key.vaultUri,
        keyName: seed.key.keyName,
        keyVersion: seed.key.version ?? "",
        ...(seed.identity.resourceId ? { userIdentity: seed.identity.resourceId } : {}),
      }
    : undefined;
  const createdAt = new Date(seed.createdAt).toISOString();
  return {
    id: seed.id,
    name: seed.name,
    type: "Microsoft.Kusto/Clusters",
    location: seed.location,
    tags: {},
    etag: etagFor(seed.createdAt),
    sku: { name: "Standard_E8ads_v5", tier: "Standard", capacity: 2 },
    zones: [],
    identity: identityBlockFor(seed.identity, seed.tenantId),
    systemData: {
      createdBy: "sandbox-seed",
      createdByType: "Application",
      createdAt,
      lastModifiedBy: "sandbox-seed",
      lastModifiedByType: "Application",
      lastModifiedAt: createdAt,
    },
    properties: {
      provisioningState: "Succeeded",
      state: "Running",
      uri: `https://${seed.name}.${region}.kusto.windows.net`,
      dataIngestionUri: `https://ingest-${seed.name}.${region}.kusto.windows.net`,
      trustedExternalTenants: [],
      enableDiskEncryption: false,
      enableStreamingIngest: true,
      enablePurge: false,
      enableDoubleEncryption: false,
      publicNetworkAccess: "Enabled",
      engineType: "V3",
      enableAutoStop: seed.enableAutoStop ?? true,
      restrictOutboundNetworkAccess: "Disabled",
      publicIPType: "IPv4",
      ...(keyVaultProperties ? { keyVaultProperties } : {}),
    },
  };
}

function etagFor(time: number): string {
  return `"${time.toString(16)}"`;
}

function mergeKeyVaultProperties(current: unknown, requested: unknown): JsonObject {
  const patch = requireJsonObject(requested, "properties.keyVaultProperties", style);
  const merged: JsonObject = isJsonObject(current) ? { ...current } : {};
  for (const [name, value] of Object.entries(patch)) {
    if (value === undefined || value === null) continue;
    if (!keyVaultPropertyNames.includes(name)) {
      throw new ArmRequestError(
        400,
        "InvalidKeyVaultProperties",
        `The property 'keyVaultProperties.${name}' is not a key vault property; expected ${keyVaultPropertyNames.join(", ")}.`,
      );
    }
    merged[name] = optionalString(value, `properties.keyVaultProperties.${name}`, style);
  }
  if (typeof merged.keyVaultUri !== "string" || merged.keyVaultUri === "") {
    throw new ArmRequestError(
      400,
      "InvalidKeyVaultProperties",
      "The key vault properties must include keyVaultUri.",
    );
  }
  if (typeof merged.keyName !== "string" || merged.keyName === "") {
    throw new ArmRequestError(
      400,
      "InvalidKeyVaultProperties",
      "The key vault properties must include keyName.",
    );
  }
  try {
    const uri = new URL(merged.keyVaultUri);
    if (uri.protocol !== "https:") throw new Error("not https");
  } catch {
    throw new ArmRequestError(
      400,
      "InvalidKeyVaultProperties",
      `The keyVaultUri '${merged.keyVaultUri}' is not a valid https URI of a key vault.`,
    );
  }
  return merged;
}

function kustoKeyVaultProperties(body: JsonObject): JsonObject | undefined {
  const properties = isJsonObject(body.properties) ? body.properties : {};
  return isJsonObject(properties.keyVaultProperties) ? properties.keyVaultProperties : undefined;
}

function mergeKustoPatch(store: SandboxStore, current: JsonObject, patch: unknown): JsonObject {
  const { request, merged } = mergeTrackedResourcePatch(current, patch, topLevelRules, style);
  if (request.sku !== undefined && request.sku !== null)
    merged.sku = requireJsonObject(request.sku, "sku", style);
  if (request.identity !== undefined && request.identity !== null) {
    merged.identity = resolveRequestedIdentity(
      store,
      request.identity,
      current.identity,
      ["SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned"],
      style,
    );
  }
  const currentProperties = isJsonObject(current.properties) ? current.properties : {};
  if (request.properties !== undefined && request.properties !== null) {
    const requestedProperties = requireJsonObject(request.properties, "properties", style);
    const properties = mergeFields(
      currentProperties,
      requestedProperties,
      propertyRules,
      "properties",
      style,
    );
    if (
      requestedProperties.keyVaultProperties !== undefined &&
      requestedProperties.keyVaultProperties !== null
    ) {
      properties.keyVaultProperties = mergeKeyVaultProperties(
        currentProperties.keyVaultProperties,
        requestedProperties.keyVaultProperties,
      );
    }
    merged.properties = properties;
  }
  const keyVaultProperties = kustoKeyVaultProperties(merged);
  const userIdentity = keyVaultProperties?.userIdentity;
  if (typeof userIdentity === "string" && userIdentity !== "") {
    if (!userAssignedPrincipal(merged.identity, userIdentity)) {
      throw new ArmRequestError(
        400,
        "InvalidKeyVaultProperties",
        `The user identity '${userIdentity}' in keyVaultProperties is not assigned to the cluster. Assign it in the cluster's identity first.`,
      );
    }
  }
  return merged;
}

const kustoKeyErrorCodes: Record<KeyProblemReason, string> = {
  VaultNotFound: "KeyVaultNotFound",
  SoftDeleteDisabled: "KeyVaultNotSoftDeleteEnabled",
  PurgeProtectionDisabled: "KeyVaultNotPurgeProtected",
  KeyNotFound: "KeyNotFound",
  VersionNotFound: "KeyNotFound",
  VersionDisabled: "InvalidKeyVaultProperties",
  VersionNotYetValid: "InvalidKeyVaultProperties",
  VersionExpired: "InvalidKeyVaultProperties",
  NotRsa: "InvalidKeyVaultProperties",
  UnsupportedKeySize: "InvalidKeyVaultProperties",
  WrapNotAllowed: "InvalidKeyVaultProperties",
  IdentityLacksAccess: "IdentityDoesNotHaveAccessToKeyVault",
};

function withKustoPhase(body: JsonObject, phase: ProvisioningPhase): JsonObject {
  const properties = isJsonObject(body.properties) ? body.properties : {};
  const current = typeof properties.state === "string" ? properties.state : "Running";
  // A stopped or suspended cluster stays so through a configuration change.
  const resting = current === "Stopped" || current === "Unavailable" ? current : undefined;
  const phases = {
    updating: { provisioningState: "Running", state: resting ?? "Updating" },
    succeeded: { provisioningState: "Succeeded", state: resting ?? "Running" },
    failed: { provisioningState: "Failed", state: resting ?? "Running" },
  } as const;
  return { ...body, properties: { ...properties, ...phases[phase] } };
}

/** The lifecycle state of a cluster body: "Stopped" when stopped, else running (whatever else it shows). */
export function kustoClusterStopped(body: JsonObject): boolean {
  const properties = isJsonObject(body.properties) ? body.properties : {};
  return properties.state === "Stopped";
}

/** Whether auto-stop is on (`properties.enableAutoStop`, default true). */
export function kustoAutoStopEnabled(body: JsonObject): boolean {
  const properties = isJsonObject(body.properties) ? body.properties : {};
  return properties.enableAutoStop !== false;
}

/** The body with the cluster stopped or running again (a started cluster comes back Running). */
export function withKustoRunState(body: JsonObject, state: "Running" | "Stopped"): JsonObject {
  const properties = isJsonObject(body.properties) ? { ...body.properties } : {};
  delete properties.stateReason;
  return { ...body, properties: { ...properties, state } };
}

/**
 * The body as the cluster shows its key: suspended ("Unavailable" with a reason) while it
 * cannot unwrap, back to "Running" once it can. A stopped cluster is left as it is.
 */
export function withKustoKeyHealth(body: JsonObject, problem: string | undefined): JsonObject {
  const properties = isJsonObject(body.properties) ? { ...body.properties } : {};
  if (properties.state === "Stopped") return body;
  if (problem) return { ...body, properties: { ...properties, state: "Unavailable", stateReason: problem } };
  if (properties.state !== "Unavailable") return body;
  delete properties.stateReason;
  return { ...body, properties: { ...properties, state: "Running" } };
}

export const kustoClusterKind: ArmResourceKind = {
  label: "Kusto cluster",
  provider: "Microsoft.Kusto",
  resourceType: "Microsoft.Kusto/clusters",
  typeSegments: ["clusters"],
  apiVersions: kustoApiVersions,
  errorStyle: style,
  topLevel: true,
  present: (_store, resource) => resource.body,
  update: {
    writeAction: "Microsoft.Kusto/clusters/write",
    acceptedStatus: 202,
    honoursIfMatch: true,
    merge: mergeKustoPatch,
    keyReferences(body) {
      const properties = kustoKeyVaultProperties(body);
      if (
        !properties ||
        typeof properties.keyVaultUri !== "string" ||
        typeof properties.keyName !== "string"
      ) {
        return { key: undefined };
      }
      const reference: KeyReference = {
        vaultUri: properties.keyVaultUri,
        keyName: properties.keyName,
        version:
          typeof properties.keyVersion === "string" && properties.keyVersion !== ""
            ? properties.keyVersion
            : undefined,
      };
      return { key: reference };
    },
    unwrappingPrincipal(_store, _resource: SandboxArmResource, body) {
      const userIdentity = kustoKeyVaultProperties(body)?.userIdentity;
      if (typeof userIdentity === "string" && userIdentity !== "")
        return userAssignedPrincipal(body.identity, userIdentity);
      return systemAssignedPrincipal(body.identity);
    },
    allowedRsaSizes: [2048],
    keyProblemError(problem: KeyProblem) {
      return new ArmRequestError(400, kustoKeyErrorCodes[problem.reason], problem.message);
    },
    conflictError: provisioningNotTerminal,
    withProvisioningPhase: withKustoPhase,
    operationLocation: (_store, resource) => normaliseLocation(String(resource.body.location ?? "global")),
  },
};
