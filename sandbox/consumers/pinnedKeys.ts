/**
 * Where each consumer kind holds its customer-managed key in its Resource Manager body, and
 * the estate's version references resolved against the seeded keys. A consumer has one pin
 * ("key") for Kusto and Cosmos, two ("managedDisk", "backupStorage") per Cassandra data center.
 */
import { findKey, findVaultByUri, parseKeyUri } from "../arm/keyReference.js";
import type { EstateKeyRef } from "../estate.js";
import { findVault } from "../keyvault/operations.js";
import type { ConsumerKind, SandboxKey } from "../model.js";
import type { SandboxStore } from "../store.js";

/** A key reference read from a resource: `version` is undefined when it follows the newest version. */
export interface PinnedKey {
  vault: string;
  key: string;
  version: string | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function pinFromUri(store: SandboxStore, uri: unknown): PinnedKey | undefined {
  if (typeof uri !== "string") return undefined;
  const reference = parseKeyUri(uri);
  if (!reference) return undefined;
  const vault = findVaultByUri(store, reference.vaultUri);
  if (!vault) return undefined;
  return { vault: vault.name, key: reference.keyName, version: reference.version };
}

/** The key references in a resource body, by pin; a pin that is absent or unreadable is left out. */
export function pinnedKeysOf(
  store: SandboxStore,
  kind: ConsumerKind,
  body: Record<string, unknown>,
): Map<string, PinnedKey> {
  const properties = record(body.properties) ?? {};
  const pins = new Map<string, PinnedKey>();
  const add = (pin: string, value: PinnedKey | undefined) => {
    if (value) pins.set(pin, value);
  };
  switch (kind) {
    case "kusto": {
      const keyVault = record(properties.keyVaultProperties);
      if (!keyVault || typeof keyVault.keyVaultUri !== "string" || typeof keyVault.keyName !== "string")
        break;
      const vault = findVaultByUri(store, keyVault.keyVaultUri);
      if (!vault) break;
      const version =
        typeof keyVault.keyVersion === "string" && keyVault.keyVersion !== ""
          ? keyVault.keyVersion
          : undefined;
      add("key", { vault: vault.name, key: keyVault.keyName, version });
      break;
    }
    case "cosmos":
      add("key", pinFromUri(store, properties.keyVaultKeyUri));
      break;
    case "cassandra":
      add("managedDisk", pinFromUri(store, properties.managedDiskCustomerKeyUri));
      add("backupStorage", pinFromUri(store, properties.backupStorageCustomerKeyUri));
      break;
  }
  return pins;
}

export function lookUpKey(store: SandboxStore, vaultName: string, keyName: string): SandboxKey | undefined {
  const vault = findVault(store, vaultName);
  return vault ? findKey(vault, keyName) : undefined;
}

/** The newest enabled version of a key: what a consumer that follows the latest version uses. */
export function newestEnabledVersion(key: SandboxKey): string | undefined {
  for (let index = key.versions.length - 1; index >= 0; index--) {
    const version = key.versions[index];
    if (version?.enabled) return version.version;
  }
  return undefined;
}

/**
 * The version an estate reference names: an index (0 = oldest), "newest", or "none" (follows
 * the newest enabled version). Throws naming `where` when the estate is inconsistent.
 */
export function resolveEstateVersion(store: SandboxStore, reference: EstateKeyRef, where: string): string {
  const key = lookUpKey(store, reference.vault, reference.key);
  if (!key)
    throw new Error(`${where}: key "${reference.vault}/${reference.key}" is not in the estate's vaults.`);
  const version =
    reference.version === "none"
      ? newestEnabledVersion(key)
      : reference.version === "newest"
        ? key.versions.at(-1)?.version
        : key.versions[reference.version]?.version;
  if (!version) {
    throw new Error(
      `${where}: key "${reference.vault}/${reference.key}" has no version for ${JSON.stringify(reference.version)} (it has ${key.versions.length} version(s)).`,
    );
  }
  return version;
}
