/**
 * Seeding a sandbox from an estate: validate the estate (every error names the bad field),
 * then fill the store with the tenant, subscriptions, identities, roles, workspaces,
 * vaults and keys (real RSA material), and finally run every registered seeder (ARM
 * resources, consumers, Event Grid, ...).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { COSMOS_FIRST_PARTY_APP_ID } from "./arm/cosmosAccounts.js";
import { defaultArmThrottling, parseThrottlingChange, ThrottlingSettingsError } from "./arm/throttling.js";
import type { Estate, EstateKeyRef, EstateVault } from "./estate.js";
import { addKeyVersion, keyScope, MANAGED_HSM_MAX_KEY_VERSIONS } from "./keyvault/operations.js";
import {
  OBJECT_ID_COLUMNS,
  type SandboxKey,
  type SandboxRoleDefinition,
  type SandboxVault,
} from "./model.js";
import { defaultEstateFile } from "./projectPaths.js";
import { builtInRoleDefinitions } from "./rbac.js";
import { sandboxSeeders } from "./registry.js";
import type { SandboxStore } from "./store.js";

/** An estate that cannot be used; the message names the field and what is wrong. */
export class EstateValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EstateValidationError";
  }
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const VAULT_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

type Fields = Record<string, unknown>;

function fail(path: string, problem: string): never {
  throw new EstateValidationError(`Invalid estate: ${path} ${problem}.`);
}

function object(value: unknown, path: string): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(path, "must be an object");
  return value as Fields;
}

function array(
  value: unknown,
  path: string,
  options: { optional?: boolean; nonEmpty?: boolean } = {},
): unknown[] {
  if (value === undefined && options.optional) return [];
  if (!Array.isArray(value)) fail(path, "must be an array");
  if (options.nonEmpty && value.length === 0) fail(path, "must not be empty");
  return value;
}

function text(
  fields: Fields,
  name: string,
  path: string,
  pattern?: RegExp,
  optional = false,
): string | undefined {
  const value = fields[name];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string" || value.length === 0) fail(`${path}.${name}`, "must be a non-empty string");
  if (pattern && !pattern.test(value)) fail(`${path}.${name}`, `("${value}") does not match ${pattern}`);
  return value;
}

function requiredText(fields: Fields, name: string, path: string, pattern?: RegExp): string {
  return text(fields, name, path, pattern) as string;
}

function number(
  fields: Fields,
  name: string,
  path: string,
  range: { min?: number; max?: number; optional?: boolean } = {},
): void {
  const value = fields[name];
  if (value === undefined && range.optional) return;
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`${path}.${name}`, "must be a number");
  if (range.min !== undefined && value < range.min) fail(`${path}.${name}`, `must be at least ${range.min}`);
  if (range.max !== undefined && value > range.max) fail(`${path}.${name}`, `must be at most ${range.max}`);
}

/** Ten years, in hours: the furthest an estate's times may lie from its start. */
const MAX_HOURS = 10 * 366 * 24;
/** ARM resource names as the three resource providers accept them (no slashes, no spaces). */
const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{1,62}$/;

function boolean(fields: Fields, name: string, path: string): void {
  const value = fields[name];
  if (value !== undefined && typeof value !== "boolean") fail(`${path}.${name}`, "must be true or false");
}

function strings(fields: Fields, name: string, path: string): void {
  const value = fields[name];
  if (value === undefined) return;
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    fail(`${path}.${name}`, "must be an array of strings");
  }
}

function stringMap(fields: Fields, name: string, path: string): void {
  const value = fields[name];
  if (value === undefined) return;
  const map = object(value, `${path}.${name}`);
  for (const [key, item] of Object.entries(map)) {
    if (typeof item !== "string") fail(`${path}.${name}.${key}`, "must be a string");
  }
}

function unique(names: string[], path: string): void {
  const seen = new Set<string>();
  for (const name of names) {
    const normalised = name.toLowerCase();
    if (seen.has(normalised)) fail(path, `has "${name}" twice`);
    seen.add(normalised);
  }
}

/**
 * Check an estate parsed from JSON and return it typed. Throws EstateValidationError naming
 * the first bad field (for example `vaults[0].keys[1].versions`).
 */
export function validateEstate(input: unknown): Estate {
  const estate = object(input, "estate");
  text(estate, "tenantId", "estate", GUID, true);

  const subscriptions = new Map<string, Set<string>>();
  array(estate.subscriptions, "subscriptions", { nonEmpty: true }).forEach((item, i) => {
    const path = `subscriptions[${i}]`;
    const fields = object(item, path);
    const id = requiredText(fields, "id", path, GUID);
    const groups = array(fields.resourceGroups, `${path}.resourceGroups`, { nonEmpty: true });
    strings(fields, "resourceGroups", path);
    boolean(fields, "watched", path);
    subscriptions.set(id.toLowerCase(), new Set(groups.map((group) => String(group).toLowerCase())));
  });
  const requireGroup = (fields: Fields, path: string): void => {
    const subscriptionId = requiredText(fields, "subscriptionId", path, GUID);
    const group = requiredText(fields, "resourceGroup", path);
    const groups = subscriptions.get(subscriptionId.toLowerCase());
    if (!groups) fail(`${path}.subscriptionId`, `("${subscriptionId}") is not in subscriptions`);
    if (!groups.has(group.toLowerCase())) {
      fail(`${path}.resourceGroup`, `("${group}") is not a resource group of subscription ${subscriptionId}`);
    }
  };

  const identityFields = new Map<string, Fields>();
  const identities = array(estate.identities, "identities", { nonEmpty: true }).map((item, i) => {
    const path = `identities[${i}]`;
    const fields = object(item, path);
    const name = requiredText(fields, "name", path);
    requiredText(fields, "objectId", path, GUID);
    text(fields, "clientId", path, GUID, true);
    if (fields.userAssigned !== undefined)
      requireGroup(object(fields.userAssigned, `${path}.userAssigned`), `${path}.userAssigned`);
    identityFields.set(name, fields);
    return name;
  });
  unique(identities, "identities");
  const identityNames = new Set(identities);

  const roleNames = new Set(builtInRoleDefinitions.map((role) => role.roleName));
  array(estate.roleDefinitions, "roleDefinitions", { optional: true }).forEach((item, i) => {
    const path = `roleDefinitions[${i}]`;
    const fields = object(item, path);
    const roleName = requiredText(fields, "roleName", path);
    if (roleNames.has(roleName)) fail(`${path}.roleName`, `("${roleName}") is already defined`);
    for (const list of ["actions", "notActions", "dataActions", "notDataActions"])
      strings(fields, list, path);
    roleNames.add(roleName);
  });

  const workspaces = array(estate.workspaces, "workspaces").map((item, i) => {
    const path = `workspaces[${i}]`;
    const fields = object(item, path);
    requiredText(fields, "id", path, GUID);
    requireGroup(fields, path);
    if (
      fields.objectIdColumn !== undefined &&
      !OBJECT_ID_COLUMNS.includes(fields.objectIdColumn as (typeof OBJECT_ID_COLUMNS)[number])
    ) {
      fail(`${path}.objectIdColumn`, `must be one of ${OBJECT_ID_COLUMNS.map((c) => `"${c}"`).join(", ")}`);
    }
    return requiredText(fields, "name", path);
  });
  unique(workspaces, "workspaces");

  const keysByVault = new Map<string, Map<string, number>>();
  const vaultKinds = new Map<string, string>();
  const vaultNames = array(estate.vaults, "vaults").map((item, i) => {
    const path = `vaults[${i}]`;
    const fields = object(item, path);
    const name = requiredText(fields, "name", path, VAULT_NAME);
    if (fields.kind !== "vault" && fields.kind !== "managedHsm")
      fail(`${path}.kind`, 'must be "vault" or "managedHsm"');
    requireGroup(fields, path);
    requiredText(fields, "location", path);
    boolean(fields, "softDelete", path);
    boolean(fields, "purgeProtection", path);
    number(fields, "softDeleteRetentionInDays", path, { min: 7, optional: true });
    const workspace = requiredText(fields, "workspace", path);
    if (!workspaces.includes(workspace)) fail(`${path}.workspace`, `("${workspace}") is not in workspaces`);
    const keys = new Map<string, number>();
    array(fields.keys, `${path}.keys`).forEach((keyItem, k) => {
      const keyPath = `${path}.keys[${k}]`;
      const key = object(keyItem, keyPath);
      const keyName = requiredText(key, "name", keyPath, KEY_NAME);
      if (keys.has(keyName.toLowerCase())) fail(`${path}.keys`, `has "${keyName}" twice`);
      text(key, "kty", keyPath, /^(RSA|RSA-HSM|EC|EC-HSM)$/, true);
      number(key, "size", keyPath, { min: 2048, optional: true });
      strings(key, "keyOps", keyPath);
      const versions = array(key.versions, `${keyPath}.versions`, { nonEmpty: true });
      if (fields.kind === "managedHsm" && versions.length > MANAGED_HSM_MAX_KEY_VERSIONS) {
        fail(
          `${keyPath}.versions`,
          `has ${versions.length}; a Managed HSM keeps at most ${MANAGED_HSM_MAX_KEY_VERSIONS}`,
        );
      }
      versions.forEach((versionItem, v) => {
        const versionPath = `${keyPath}.versions[${v}]`;
        const version = object(versionItem, versionPath);
        number(version, "ageHours", versionPath, { min: 0, max: MAX_HOURS });
        boolean(version, "enabled", versionPath);
        stringMap(version, "tags", versionPath);
        number(version, "expiresInHours", versionPath, { optional: true, min: -MAX_HOURS, max: MAX_HOURS });
        number(version, "notBeforeInHours", versionPath, { optional: true, min: -MAX_HOURS, max: MAX_HOURS });
      });
      keys.set(keyName.toLowerCase(), versions.length);
    });
    keysByVault.set(name.toLowerCase(), keys);
    vaultKinds.set(name.toLowerCase(), String(fields.kind));
    return name;
  });
  unique(vaultNames, "vaults");

  array(estate.roleAssignments, "roleAssignments").forEach((item, i) => {
    const path = `roleAssignments[${i}]`;
    const fields = object(item, path);
    const principal = requiredText(fields, "principal", path);
    if (!identityNames.has(principal)) fail(`${path}.principal`, `("${principal}") is not in identities`);
    const role = requiredText(fields, "role", path);
    if (!roleNames.has(role))
      fail(`${path}.role`, `("${role}") is neither a built-in role nor in roleDefinitions`);
    const scope = requiredText(fields, "scope", path);
    const vaultShorthand = /^vault:(.+)$/.exec(scope);
    const keyShorthand = /^key:([^/]+)\/(.+)$/.exec(scope);
    if (vaultShorthand?.[1] !== undefined && !keysByVault.has(vaultShorthand[1].toLowerCase())) {
      fail(`${path}.scope`, `("${scope}") names a vault that is not in vaults`);
    } else if (keyShorthand?.[1] !== undefined && keyShorthand[2] !== undefined) {
      if (!keysByVault.get(keyShorthand[1].toLowerCase())?.has(keyShorthand[2].toLowerCase())) {
        fail(`${path}.scope`, `("${scope}") names a key that is not in vaults`);
      }
    } else if (!vaultShorthand && !scope.startsWith("/")) {
      fail(
        `${path}.scope`,
        `("${scope}") must be an ARM scope starting with "/", "vault:<name>" or "key:<vault>/<key>"`,
      );
    }
  });

  const checkKeyRef = (value: unknown, path: string): void => {
    const ref = object(value, path);
    const vault = requiredText(ref, "vault", path);
    const key = requiredText(ref, "key", path);
    const versions = keysByVault.get(vault.toLowerCase())?.get(key.toLowerCase());
    if (versions === undefined) fail(path, `names key ${vault}/${key}, which is not in vaults`);
    const version = ref.version;
    const validIndex =
      typeof version === "number" && Number.isInteger(version) && version >= 0 && version < versions;
    if (version !== "newest" && version !== "none" && !validIndex) {
      fail(`${path}.version`, `must be "newest", "none" or a version index from 0 to ${versions - 1}`);
    }
  };
  const simulationFields =
    typeof estate.simulation === "object" && estate.simulation !== null ? (estate.simulation as Fields) : {};
  const defaultInterval =
    typeof simulationFields.unwrapIntervalSeconds === "number" ? simulationFields.unwrapIntervalSeconds : 10;
  const checkBehaviour = (value: unknown, path: string, inherited?: Fields): void => {
    if (value === undefined) return;
    const fields = object(value, path);
    number(fields, "lagSeconds", path, { min: 0, optional: true });
    number(fields, "unwrapIntervalSeconds", path, { min: 1, max: MAX_HOURS * 3600, optional: true });
    number(fields, "jitterSeconds", path, { min: 0, optional: true });
    const interval =
      typeof fields.unwrapIntervalSeconds === "number"
        ? fields.unwrapIntervalSeconds
        : typeof inherited?.unwrapIntervalSeconds === "number"
          ? inherited.unwrapIntervalSeconds
          : defaultInterval;
    if (typeof fields.jitterSeconds === "number" && fields.jitterSeconds > interval) {
      fail(
        `${path}.jitterSeconds`,
        `(${fields.jitterSeconds}) must be at most the unwrap interval (${interval})`,
      );
    }
    if (
      fields.stuckOnVersion !== undefined &&
      fields.stuckOnVersion !== null &&
      typeof fields.stuckOnVersion !== "string"
    ) {
      fail(`${path}.stuckOnVersion`, "must be a string or null");
    }
  };
  const requireVaultKey = (value: unknown, path: string): void => {
    const vault = object(value, path).vault;
    if (typeof vault === "string" && vaultKinds.get(vault.toLowerCase()) === "managedHsm") {
      fail(
        `${path}.vault`,
        `("${vault}") is a Managed HSM; Managed Instance for Apache Cassandra takes customer-managed keys from Key Vault only`,
      );
    }
  };
  const checkDefaultIdentity = (fields: Fields, path: string, identity: string): void => {
    const value = fields.defaultIdentity;
    if (value === undefined) return;
    if (typeof value !== "string") fail(`${path}.defaultIdentity`, "must be a string");
    const own = identityFields.get(identity);
    const userAssigned = own?.userAssigned as Fields | undefined;
    if (value === "FirstPartyIdentity") {
      const firstParty = [...identityFields.values()].some(
        (candidate) => String(candidate.clientId ?? "").toLowerCase() === COSMOS_FIRST_PARTY_APP_ID,
      );
      if (!firstParty) {
        fail(
          `${path}.defaultIdentity`,
          `is "FirstPartyIdentity", but no identity has the Azure Cosmos DB application's clientId ${COSMOS_FIRST_PARTY_APP_ID} (add its service principal, with its object id in the tenant)`,
        );
      }
      return;
    }
    if (value === "SystemAssignedIdentity") {
      if (userAssigned) {
        fail(
          `${path}.defaultIdentity`,
          `is "SystemAssignedIdentity", but identity "${identity}" is user-assigned`,
        );
      }
      return;
    }
    const named = /^UserAssignedIdentity=(.+)$/.exec(value)?.[1];
    if (named === undefined) {
      fail(
        `${path}.defaultIdentity`,
        'must be "FirstPartyIdentity", "SystemAssignedIdentity" or "UserAssignedIdentity=<identity name or ARM id>"',
      );
    }
    if (!userAssigned) {
      fail(
        `${path}.defaultIdentity`,
        `names a user-assigned identity, but identity "${identity}" is not one`,
      );
    }
    const armId = `/subscriptions/${String(userAssigned.subscriptionId)}/resourceGroups/${String(userAssigned.resourceGroup)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity}`;
    if (named !== identity && named.toLowerCase() !== armId.toLowerCase()) {
      fail(
        `${path}.defaultIdentity`,
        `("${value}") must name the account's identity "${identity}" (or ${armId})`,
      );
    }
  };
  const consumerNames = array(estate.consumers, "consumers").map((item, i) => {
    const path = `consumers[${i}]`;
    const fields = object(item, path);
    const name = requiredText(fields, "name", path, RESOURCE_NAME);
    requireGroup(fields, path);
    requiredText(fields, "location", path);
    const identity = requiredText(fields, "identity", path);
    if (!identityNames.has(identity)) fail(`${path}.identity`, `("${identity}") is not in identities`);
    checkBehaviour(fields.behaviour, `${path}.behaviour`);
    switch (fields.kind) {
      case "kusto":
        checkKeyRef(fields.key, `${path}.key`);
        boolean(fields, "enableAutoStop", path);
        number(fields, "autoStopAfterIdleSeconds", path, { min: 1, max: MAX_HOURS * 3600, optional: true });
        break;
      case "cosmos": {
        checkKeyRef(fields.key, `${path}.key`);
        if (object(fields.key, `${path}.key`).version !== "none") {
          fail(
            `${path}.key.version`,
            'must be "none": Cosmos DB refuses a versioned keyVaultKeyUri ("Please provide KeyVault Key Uri without version") and follows the newest version itself',
          );
        }
        checkDefaultIdentity(fields, path, identity);
        number(fields, "pickUpDelaySeconds", path, { min: 0, max: MAX_HOURS * 3600, optional: true });
        const policy = object(fields.backupPolicy, `${path}.backupPolicy`);
        if (policy.type === "Periodic") {
          number(policy, "intervalInMinutes", `${path}.backupPolicy`, { min: 60 });
          number(policy, "retentionInHours", `${path}.backupPolicy`, { min: 8 });
        } else if (policy.type === "Continuous") {
          if (policy.tier !== "Continuous7Days" && policy.tier !== "Continuous30Days") {
            fail(`${path}.backupPolicy.tier`, 'must be "Continuous7Days" or "Continuous30Days"');
          }
        } else {
          fail(`${path}.backupPolicy.type`, 'must be "Periodic" or "Continuous"');
        }
        break;
      }
      case "cassandra":
        array(fields.dataCenters, `${path}.dataCenters`, { nonEmpty: true }).forEach((dcItem, d) => {
          const dcPath = `${path}.dataCenters[${d}]`;
          const dc = object(dcItem, dcPath);
          requiredText(dc, "name", dcPath, RESOURCE_NAME);
          requiredText(dc, "location", dcPath);
          checkKeyRef(dc.managedDiskKey, `${dcPath}.managedDiskKey`);
          checkKeyRef(dc.backupStorageKey, `${dcPath}.backupStorageKey`);
          requireVaultKey(dc.managedDiskKey, `${dcPath}.managedDiskKey`);
          requireVaultKey(dc.backupStorageKey, `${dcPath}.backupStorageKey`);
          checkBehaviour(
            dc.behaviour,
            `${dcPath}.behaviour`,
            typeof fields.behaviour === "object" && fields.behaviour !== null
              ? (fields.behaviour as Fields)
              : {},
          );
        });
        break;
      default:
        fail(`${path}.kind`, 'must be "kusto", "cosmos" or "cassandra"');
    }
    return `${String(fields.kind)}/${name}`;
  });
  unique(consumerNames, "consumers");

  if (estate.eventGrid !== undefined) {
    const eventGrid = object(estate.eventGrid, "eventGrid");
    array(eventGrid.customTopics, "eventGrid.customTopics", { optional: true }).forEach((item, i) => {
      const path = `eventGrid.customTopics[${i}]`;
      const fields = object(item, path);
      requiredText(fields, "name", path);
      requiredText(fields, "host", path, HOST_NAME);
      requiredText(fields, "accessKey", path);
    });
    array(eventGrid.subscriptions, "eventGrid.subscriptions", { optional: true }).forEach((item, i) => {
      const path = `eventGrid.subscriptions[${i}]`;
      const fields = object(item, path);
      const vault = requiredText(fields, "vault", path);
      if (!keysByVault.has(vault.toLowerCase())) fail(`${path}.vault`, `("${vault}") is not in vaults`);
      requiredText(fields, "endpoint", path, /^https?:\/\//);
      if (fields.schema !== "EventGridSchema" && fields.schema !== "CloudEventSchema") {
        fail(`${path}.schema`, 'must be "EventGridSchema" or "CloudEventSchema"');
      }
    });
  }
  if (estate.simulation !== undefined) {
    const simulation = object(estate.simulation, "simulation");
    number(simulation, "unwrapIntervalSeconds", "simulation", { min: 1, optional: true });
    number(simulation, "defaultLagSeconds", "simulation", { min: 0, optional: true });
    if (simulation.ingestionLatencySeconds !== undefined) {
      const range = object(simulation.ingestionLatencySeconds, "simulation.ingestionLatencySeconds");
      number(range, "min", "simulation.ingestionLatencySeconds", { min: 0, max: 86_400 });
      number(range, "max", "simulation.ingestionLatencySeconds", { min: 0, max: 86_400 });
      if ((range.max as number) < (range.min as number)) {
        fail("simulation.ingestionLatencySeconds.max", "must be at least min");
      }
    }
  }
  if (estate.throttling !== undefined) throttlingOf(estate.throttling);
  return input as Estate;
}

/** The estate's Resource Manager budgets over Azure's defaults. */
function throttlingOf(value: unknown) {
  try {
    return parseThrottlingChange(value, defaultArmThrottling());
  } catch (error) {
    if (error instanceof ThrottlingSettingsError)
      throw new EstateValidationError(`Invalid estate: ${error.message}`);
    throw error;
  }
}

/** Read and validate an estate file. */
export function loadEstateFile(path: string): Estate {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new EstateValidationError(`Cannot read estate file ${path}: ${(error as Error).message}`);
  }
  try {
    return validateEstate(parsed);
  } catch (error) {
    if (error instanceof EstateValidationError) throw new EstateValidationError(`${path}: ${error.message}`);
    throw error;
  }
}

/** The default estate (sandbox/estates/default.json), freshly read. */
export function defaultEstate(): Estate {
  return loadEstateFile(defaultEstateFile);
}

export function vaultUri(name: string, kind: EstateVault["kind"]): string {
  return `https://${name.toLowerCase()}.${kind === "vault" ? "vault.azure.net" : "managedhsm.azure.net"}/`;
}

function resourceGroupId(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

const HOUR_MS = 3600 * 1000;

function seedVault(store: SandboxStore, estate: Estate, spec: EstateVault): SandboxVault {
  const workspace = estate.workspaces.find((candidate) => candidate.name === spec.workspace);
  const provider = spec.kind === "vault" ? "Microsoft.KeyVault/vaults" : "Microsoft.KeyVault/managedHSMs";
  const vault: SandboxVault = {
    name: spec.name.toLowerCase(),
    kind: spec.kind,
    uri: vaultUri(spec.name, spec.kind),
    resourceId: `${resourceGroupId(spec.subscriptionId, spec.resourceGroup)}/providers/${provider}/${spec.name}`,
    subscriptionId: spec.subscriptionId,
    resourceGroup: spec.resourceGroup,
    location: spec.location,
    softDelete: spec.softDelete ?? true,
    purgeProtection: spec.purgeProtection ?? false,
    softDeleteRetentionInDays: spec.softDeleteRetentionInDays ?? 90,
    workspaceId: workspace?.id ?? "",
    keys: new Map(),
  };
  const now = store.now();
  for (const keySpec of spec.keys) {
    const key: SandboxKey = {
      name: keySpec.name,
      kty: keySpec.kty ?? (spec.kind === "managedHsm" ? "RSA-HSM" : "RSA"),
      size: keySpec.size ?? 2048,
      versions: [],
    };
    const ordered = [...keySpec.versions].sort((a, b) => b.ageHours - a.ageHours);
    for (const versionSpec of ordered) {
      addKeyVersion(
        store,
        vault,
        key,
        {
          created: now - versionSpec.ageHours * HOUR_MS,
          enabled: versionSpec.enabled ?? true,
          tags: versionSpec.tags,
          keyOps: keySpec.keyOps,
          exp:
            versionSpec.expiresInHours === undefined ? undefined : now + versionSpec.expiresInHours * HOUR_MS,
          nbf:
            versionSpec.notBeforeInHours === undefined
              ? undefined
              : now + versionSpec.notBeforeInHours * HOUR_MS,
        },
        false,
      );
    }
    vault.keys.set(key.name.toLowerCase(), key);
  }
  return vault;
}

function resolveScope(store: SandboxStore, scope: string): string {
  const vaultShorthand = /^vault:(.+)$/.exec(scope);
  if (vaultShorthand?.[1] !== undefined)
    return store.vaults.get(vaultShorthand[1].toLowerCase())?.resourceId ?? scope;
  const keyShorthand = /^key:([^/]+)\/(.+)$/.exec(scope);
  if (keyShorthand?.[1] !== undefined && keyShorthand[2] !== undefined) {
    const vault = store.vaults.get(keyShorthand[1].toLowerCase());
    return vault ? keyScope(vault, keyShorthand[2]) : scope;
  }
  return scope;
}

/** The key version an estate key reference resolves to; undefined for "none" (follow the newest). */
export function resolveEstateKeyRef(store: SandboxStore, ref: EstateKeyRef): string | undefined {
  if (ref.version === "none") return undefined;
  const versions = store.vaults.get(ref.vault.toLowerCase())?.keys.get(ref.key.toLowerCase())?.versions ?? [];
  const version = ref.version === "newest" ? versions.at(-1) : versions[ref.version];
  return version?.version;
}

/** Validate `estate` and seed `store` with it, then run every registered seeder. */
export function seedStore(store: SandboxStore, estate: Estate): void {
  validateEstate(estate);
  if (estate.tenantId) store.tenantId = estate.tenantId;
  if (estate.throttling) store.throttling = throttlingOf(estate.throttling);
  for (const subscription of estate.subscriptions) {
    store.subscriptions.push({
      id: subscription.id,
      resourceGroups: [...subscription.resourceGroups],
      watched: subscription.watched ?? true,
    });
  }
  for (const identity of estate.identities) {
    const resourceId = identity.userAssigned
      ? `${resourceGroupId(identity.userAssigned.subscriptionId, identity.userAssigned.resourceGroup)}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${identity.name}`
      : undefined;
    store.identities.set(identity.objectId.toLowerCase(), {
      name: identity.name,
      objectId: identity.objectId,
      clientId: identity.clientId ?? randomUUID(),
      ...(resourceId ? { resourceId } : {}),
    });
  }
  const customRoles: SandboxRoleDefinition[] = (estate.roleDefinitions ?? []).map((role) => ({
    roleName: role.roleName,
    actions: role.actions ?? [],
    notActions: role.notActions ?? [],
    dataActions: role.dataActions ?? [],
    notDataActions: role.notDataActions ?? [],
  }));
  for (const role of [...builtInRoleDefinitions, ...customRoles])
    store.roleDefinitions.set(role.roleName, role);
  for (const workspace of estate.workspaces) {
    store.workspaces.set(workspace.id.toLowerCase(), {
      id: workspace.id,
      name: workspace.name,
      resourceId: `${resourceGroupId(workspace.subscriptionId, workspace.resourceGroup)}/providers/Microsoft.OperationalInsights/workspaces/${workspace.name}`,
      objectIdColumn: workspace.objectIdColumn ?? "identity_claim_oid_g",
    });
  }
  for (const spec of estate.vaults) {
    const vault = seedVault(store, estate, spec);
    store.vaults.set(vault.name, vault);
  }
  for (const assignment of estate.roleAssignments) {
    const identity = store.identityByName(assignment.principal);
    if (!identity) continue;
    store.roleAssignments.push({
      principalId: identity.objectId,
      roleName: assignment.role,
      scope: resolveScope(store, assignment.scope),
    });
  }
  const latency = estate.simulation?.ingestionLatencySeconds;
  if (latency) store.ingestion = { ...store.ingestion, latencySeconds: { ...latency } };
  for (const topic of estate.eventGrid?.customTopics ?? []) {
    store.customTopics.push({ name: topic.name, host: topic.host.toLowerCase(), accessKey: topic.accessKey });
  }
  for (const seeder of sandboxSeeders) seeder(store, estate);
}
