/**
 * Customer-managed key references as the three providers hold them, and the checks the real
 * providers make before they accept one: the vault exists and is recoverable (soft delete +
 * purge protection), the key and version exist, the version is enabled and within its
 * validity window, the key is RSA (of a size the provider accepts) and allows wrap/unwrap,
 * and the resource's identity may get, wrap and unwrap it. Each provider turns a problem
 * into its own error code (see the resource kinds).
 */
import type { SandboxKey, SandboxVault } from "../model.js";
import { isAuthorized, keyVaultDataActions } from "../rbac.js";
import type { SandboxStore } from "../store.js";

export interface KeyReference {
  /** Vault URI as the resource holds it, e.g. "https://kv1.vault.azure.net" (with or without "/"). */
  vaultUri: string;
  keyName: string;
  /** Undefined (or empty) when the resource follows the newest version. */
  version: string | undefined;
}

const keyUriPattern = /^https:\/\/([^/]+)\/keys\/([^/]+)(?:\/([^/]*))?\/?$/i;

/** Parse a key identifier (`https://<vault host>/keys/<name>[/<version>]`); undefined when malformed. */
export function parseKeyUri(uri: string): KeyReference | undefined {
  const match = keyUriPattern.exec(uri.trim());
  if (!match?.[1] || !match[2]) return undefined;
  return {
    vaultUri: `https://${match[1].toLowerCase()}/`,
    keyName: match[2],
    version: match[3] || undefined,
  };
}

export function keyUri(vault: SandboxVault, keyName: string, version: string | undefined): string {
  const base = `${vault.uri}keys/${keyName}`;
  return version ? `${base}/${version}` : base;
}

export function sameKeyReference(a: KeyReference | undefined, b: KeyReference | undefined): boolean {
  if (!a || !b) return a === b;
  return (
    vaultHost(a.vaultUri) === vaultHost(b.vaultUri) &&
    a.keyName.toLowerCase() === b.keyName.toLowerCase() &&
    (a.version ?? "").toLowerCase() === (b.version ?? "").toLowerCase()
  );
}

function vaultHost(uri: string): string | undefined {
  try {
    return new URL(uri).host.toLowerCase();
  } catch {
    return undefined;
  }
}

export function findVaultByUri(store: SandboxStore, uri: string): SandboxVault | undefined {
  const host = vaultHost(uri);
  if (!host) return undefined;
  for (const vault of store.vaults.values()) if (vaultHost(vault.uri) === host) return vault;
  return undefined;
}

export function findKey(vault: SandboxVault, keyName: string): SandboxKey | undefined {
  const exact = vault.keys.get(keyName);
  if (exact) return exact;
  for (const key of vault.keys.values()) if (key.name.toLowerCase() === keyName.toLowerCase()) return key;
  return undefined;
}

export type KeyProblemReason =
  | "VaultNotFound"
  | "SoftDeleteDisabled"
  | "PurgeProtectionDisabled"
  | "KeyNotFound"
  | "VersionNotFound"
  | "VersionDisabled"
  | "VersionNotYetValid"
  | "VersionExpired"
  | "NotRsa"
  | "UnsupportedKeySize"
  | "WrapNotAllowed"
  | "IdentityLacksAccess";

export interface KeyProblem {
  reason: KeyProblemReason;
  /** A sentence naming the key and what is wrong with it. */
  message: string;
}

export interface KeyCheckOptions {
  /** RSA sizes the provider accepts; undefined: any. */
  allowedRsaSizes?: readonly number[];
  /** Object id of the identity the resource unwraps with; undefined: no identity (always lacks access). */
  identityObjectId: string | undefined;
  now: number;
}

/** The first problem with using `reference` as a customer-managed key, or undefined when it is usable. */
export function checkKeyReference(
  store: SandboxStore,
  reference: KeyReference,
  options: KeyCheckOptions,
): KeyProblem | undefined {
  const vault = findVaultByUri(store, reference.vaultUri);
  if (!vault) {
    return { reason: "VaultNotFound", message: `The key vault '${reference.vaultUri}' was not found.` };
  }
  if (!vault.softDelete) {
    return {
      reason: "SoftDeleteDisabled",
      message: `The key vault '${vault.name}' does not have soft delete enabled.`,
    };
  }
  if (!vault.purgeProtection) {
    return {
      reason: "PurgeProtectionDisabled",
      message: `The key vault '${vault.name}' does not have purge protection enabled.`,
    };
  }
  const key = findKey(vault, reference.keyName);
  if (!key || key.versions.length === 0) {
    return {
      reason: "KeyNotFound",
      message: `The key '${reference.keyName}' was not found in key vault '${vault.name}'.`,
    };
  }
  const version = reference.version
    ? key.versions.find((candidate) => candidate.version.toLowerCase() === reference.version?.toLowerCase())
    : key.versions[key.versions.length - 1];
  const versionLabel = `'${key.name}/${reference.version ?? "(newest)"}' in key vault '${vault.name}'`;
  if (!version) {
    return { reason: "VersionNotFound", message: `The key version ${versionLabel} was not found.` };
  }
  if (!version.enabled) {
    return { reason: "VersionDisabled", message: `The key version ${versionLabel} is disabled.` };
  }
  if (version.nbf !== undefined && version.nbf > options.now) {
    return {
      reason: "VersionNotYetValid",
      message: `The key version ${versionLabel} is not valid before ${new Date(version.nbf).toISOString()}.`,
    };
  }
  if (version.exp !== undefined && version.exp <= options.now) {
    return {
      reason: "VersionExpired",
      message: `The key version ${versionLabel} expired at ${new Date(version.exp).toISOString()}.`,
    };
  }
  if (!key.kty.toUpperCase().startsWith("RSA")) {
    return {
      reason: "NotRsa",
      message: `The key '${key.name}' is of type '${key.kty}'; an RSA key is required.`,
    };
  }
  if (options.allowedRsaSizes && !options.allowedRsaSizes.includes(key.size)) {
    return {
      reason: "UnsupportedKeySize",
      message: `The key '${key.name}' is RSA ${key.size}; supported sizes are ${options.allowedRsaSizes.join(", ")}.`,
    };
  }
  const ops = version.keyOps.map((op) => op.toLowerCase());
  if (!ops.includes("wrapkey") || !ops.includes("unwrapkey")) {
    return {
      reason: "WrapNotAllowed",
      message: `The key version ${versionLabel} does not allow the wrapKey and unwrapKey operations.`,
    };
  }
  if (!identityMayUseKey(store, vault, key.name, options.identityObjectId)) {
    return {
      reason: "IdentityLacksAccess",
      message: `The identity '${options.identityObjectId ?? "(none)"}' does not have get, wrapKey and unwrapKey permissions on key '${key.name}' in key vault '${vault.name}'.`,
    };
  }
  return undefined;
}

function identityMayUseKey(
  store: SandboxStore,
  vault: SandboxVault,
  keyName: string,
  objectId: string | undefined,
): boolean {
  if (!objectId) return false;
  const actions = keyVaultDataActions[vault.kind];
  const scope = `${vault.resourceId}/keys/${keyName}`;
  return [actions.read, actions.wrap, actions.unwrap].every((action) =>
    isAuthorized(store, objectId, scope, action, "data"),
  );
}
