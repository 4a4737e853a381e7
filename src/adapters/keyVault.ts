/**
 * Key Vault / Managed HSM keys, through `KeyClient` (one per vault URL, from the client
 * factory). Reads versions with the facts preflight needs, reads the key (the canary the
 * audit logs must show), rotates, disables and tags versions. Nothing is ever deleted or
 * purged: this module has no call that could.
 *
 * New versions are created with `rotateKey`: the service copies the current version's type,
 * size and operations itself, on vaults and on Managed HSM alike, in one call and without
 * the rotator having to reconstruct (and possibly get wrong) the key's creation options.
 */
import type { KeyProperties, KeyVaultKey } from "@azure/keyvault-keys";
import type { AzureClientFactory } from "../azure/clientFactory.js";
import { AzureCallError, ValidationError } from "../errors.js";
import { type KeyRef, type KeyVersionFacts, keyRefId, type StepOutcome } from "../model.js";
import {
  type AzureFailure,
  describeAzureFailure,
  failureText,
  isTransient,
  pendingFromFailure,
} from "./azureFailure.js";
import { keyIdOf, type VaultRef, validateName, validateVersion } from "./keyRef.js";

/** The `KeyClient` calls this adapter uses; the real client satisfies it, unit tests fake it. */
export interface KeyVaultKeysClient {
  listPropertiesOfKeys(): AsyncIterable<KeyProperties>;
  listPropertiesOfKeyVersions(name: string): AsyncIterable<KeyProperties>;
  getKey(name: string, options?: { version?: string }): Promise<KeyVaultKey>;
  rotateKey(name: string): Promise<KeyVaultKey>;
  updateKeyProperties(
    name: string,
    keyVersion: string,
    options?: { enabled?: boolean; tags?: Record<string, string> },
  ): Promise<KeyVaultKey>;
}

export interface KeyVaultAdapter {
  /** The keys of one vault or Managed HSM (every key there is managed). Throws AzureCallError. */
  listKeys(vault: VaultRef): Promise<KeyRef[]>;
  /** Every version of the key, oldest first, with type/size/ops for enabled versions. Throws AzureCallError. */
  listVersions(key: KeyRef): Promise<KeyVersionFacts[]>;
  /** A KeyGet of the latest version by the service: the canary the audit logs must show. Throws AzureCallError. */
  readKey(key: KeyRef): Promise<KeyVersionFacts>;
  /** Creates a new version with the same type, size and operations (rotateKey). Throws AzureCallError. */
  createVersion(key: KeyRef): Promise<KeyVersionFacts>;
  /** Disables one version and merges `tags` into its tags. */
  disableVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
  /** Enables one version again (a restore) and merges `tags` into its tags. */
  enableVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
  /** Merges `tags` into one version's tags. */
  tagVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
}

type KeyOperation = "read" | "rotate" | "update";

/** The RBAC data action each call needs, for "lacks <permission>" messages. */
const DATA_ACTIONS: Record<KeyRef["hostKind"], Record<KeyOperation, string>> = {
  vault: {
    read: "Microsoft.KeyVault/vaults/keys/read",
    rotate: "Microsoft.KeyVault/vaults/keys/rotate/action",
    update: "Microsoft.KeyVault/vaults/keys/update/action",
  },
  managedHsm: {
    read: "Microsoft.KeyVault/managedHsm/keys/read/action",
    rotate: "Microsoft.KeyVault/managedHsm/keys/create",
    update: "Microsoft.KeyVault/managedHsm/keys/write/action",
  },
};

/** RSA modulus size in bits from the JWK `n` (big-endian, possibly with leading zero bytes). */
export function modulusBits(n: Uint8Array | undefined): number | undefined {
  if (!n) return undefined;
  let start = 0;
  while (start < n.length && n[start] === 0) start += 1;
  const first = n[start];
  if (first === undefined) return undefined;
  return (n.length - start - 1) * 8 + (32 - Math.clz32(first));
}

function versionFactsFromProperties(key: KeyRef, properties: KeyProperties): KeyVersionFacts {
  const subject = `version of key ${keyRefId(key)}`;
  const version = validateVersion(properties.version, subject);
  if (typeof properties.enabled !== "boolean") {
    throw new ValidationError(
      subject,
      `Key Vault returned version ${version} of ${keyRefId(key)} without "enabled"`,
    );
  }
  if (!(properties.createdOn instanceof Date) || Number.isNaN(properties.createdOn.getTime())) {
    throw new ValidationError(
      subject,
      `Key Vault returned version ${version} of ${keyRefId(key)} without a valid "created" time`,
    );
  }
  return {
    version,
    kid: keyIdOf(key, version),
    enabled: properties.enabled,
    created: properties.createdOn,
    ...(properties.updatedOn ? { updated: properties.updatedOn } : {}),
    ...(properties.notBefore ? { notBefore: properties.notBefore } : {}),
    ...(properties.expiresOn ? { expiresOn: properties.expiresOn } : {}),
    // Key material of a disabled version cannot be read; its type is irrelevant to preflight.
    keyType: "unknown",
    keyOps: [],
    tags: { ...(properties.tags ?? {}) },
    ...(properties.recoveryLevel ? { recoveryLevel: properties.recoveryLevel } : {}),
  };
}

function versionFactsFromKey(key: KeyRef, vaultKey: KeyVaultKey): KeyVersionFacts {
  const facts = versionFactsFromProperties(key, vaultKey.properties);
  const keySize = modulusBits(vaultKey.key?.n);
  return {
    ...facts,
    keyType: vaultKey.keyType ?? vaultKey.key?.kty ?? "unknown",
    ...(keySize !== undefined ? { keySize } : {}),
    keyOps: [...(vaultKey.keyOperations ?? vaultKey.key?.keyOps ?? [])],
  };
}

export function createKeyVaultAdapter(clientFor: (vaultUrl: string) => KeyVaultKeysClient): KeyVaultAdapter {
  function permissionText(key: KeyRef, operation: KeyOperation): string {
    return `the service identity lacks ${DATA_ACTIONS[key.hostKind][operation]} on ${key.vaultName}`;
  }

  function callError(key: KeyRef, operation: KeyOperation, what: string, error: unknown): AzureCallError {
    const failure = describeAzureFailure(error);
    const resourceId = keyIdOf(key);
    const subject = key.keyName ? `key ${keyRefId(key)}` : `vault ${key.vaultName}`;
    let message = `${what} for ${subject} failed: ${failureText(failure)}`;
    if (failure.status === 403)
      message += `; ${permissionText(key, operation)}: grant it or fix the vault's access`;
    if (failure.status === 404) message += "; check the key exists and the vault URL is right";
    return new AzureCallError(
      {
        resourceId,
        operation: what,
        ...(failure.status !== undefined ? { status: failure.status } : {}),
        ...(failure.code ? { azureCode: failure.code } : {}),
      },
      message,
      { cause: error },
    );
  }

  function outcomeOf(key: KeyRef, version: string, what: string, failure: AzureFailure): StepOutcome {
    const subject = `${what} of ${keyRefId(key)} version ${version}`;
    if (isTransient(failure)) return pendingFromFailure(subject, failure);
    if (failure.status === 403) {
      return {
        status: "failed",
        reason: "forbidden",
        detail: `${subject} failed: ${permissionText(key, "update")}`,
      };
    }
    if (failure.status === 404) {
      return {
        status: "failed",
        reason: "not-found",
        detail: `${subject} failed: the key or version does not exist`,
      };
    }
    return {
      status: "failed",
      reason: failure.code ?? "azure-error",
      detail: `${subject} failed: ${failureText(failure)}`,
    };
  }

  async function listVersionProperties(key: KeyRef): Promise<KeyProperties[]> {
    const all: KeyProperties[] = [];
    for await (const properties of clientFor(key.vaultUrl).listPropertiesOfKeyVersions(key.keyName)) {
      all.push(properties);
    }
    return all;
  }

  async function updateVersion(
    key: KeyRef,
    version: string,
    change: { enabled?: boolean },
    tags: Record<string, string>,
    what: string,
  ): Promise<StepOutcome> {
    const normalised = validateVersion(version, `version to ${what} of ${keyRefId(key)}`);
    try {
      // Key Vault replaces the whole tag set on update: read the current tags to merge into them.
      const current = (await listVersionProperties(key)).find((p) => p.version?.toLowerCase() === normalised);
      if (!current) {
        return {
          status: "failed",
          reason: "not-found",
          detail: `${what} of ${keyRefId(key)} version ${normalised} failed: the version does not exist`,
        };
      }
      await clientFor(key.vaultUrl).updateKeyProperties(key.keyName, current.version ?? normalised, {
        ...change,
        tags: { ...(current.tags ?? {}), ...tags },
      });
      return { status: "done", detail: `${what} of ${keyRefId(key)} version ${normalised} done` };
    } catch (error) {
      return outcomeOf(key, normalised, what, describeAzureFailure(error));
    }
  }

  return {
    async listKeys(vault) {
      const keys: KeyRef[] = [];
      try {
        for await (const properties of clientFor(vault.vaultUrl).listPropertiesOfKeys()) {
          keys.push({
            ...vault,
            keyName: validateName(properties.name, `key name listed in ${vault.vaultName}`),
          });
        }
      } catch (error) {
        if (error instanceof ValidationError) throw error;
        throw callError({ ...vault, keyName: "" }, "read", "list keys", error);
      }
      return keys;
    },

    async listVersions(key) {
      let listed: KeyProperties[];
      try {
        listed = await listVersionProperties(key);
      } catch (error) {
        throw callError(key, "read", "list key versions", error);
      }
      const facts: KeyVersionFacts[] = [];
      for (const properties of listed) {
        const base = versionFactsFromProperties(key, properties);
        if (!base.enabled) {
          facts.push(base);
          continue;
        }
        try {
          facts.push(
            versionFactsFromKey(
              key,
              await clientFor(key.vaultUrl).getKey(key.keyName, { version: base.version }),
            ),
          );
        } catch (error) {
          throw callError(key, "read", `get key version ${base.version}`, error);
        }
      }
      return facts.sort(
        (a, b) => a.created.getTime() - b.created.getTime() || a.version.localeCompare(b.version),
      );
    },

    async readKey(key) {
      try {
        return versionFactsFromKey(key, await clientFor(key.vaultUrl).getKey(key.keyName));
      } catch (error) {
        if (error instanceof ValidationError) throw error;
        throw callError(key, "read", "get key", error);
      }
    },

    async createVersion(key) {
      try {
        return versionFactsFromKey(key, await clientFor(key.vaultUrl).rotateKey(key.keyName));
      } catch (error) {
        if (error instanceof ValidationError) throw error;
        throw callError(key, "rotate", "rotate key", error);
      }
    },

    disableVersion(key, version, tags) {
      return updateVersion(key, version, { enabled: false }, tags, "disable");
    },

    enableVersion(key, version, tags) {
      return updateVersion(key, version, { enabled: true }, tags, "enable");
    },

    tagVersion(key, version, tags) {
      return updateVersion(key, version, {}, tags, "tag");
    },
  };
}

/** The production/sandbox adapter: real `KeyClient`s from the factory. */
export function keyVaultAdapterFromFactory(factory: AzureClientFactory): KeyVaultAdapter {
  return createKeyVaultAdapter((vaultUrl) => factory.keys(vaultUrl));
}
