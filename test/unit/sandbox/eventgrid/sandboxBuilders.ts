/**
 * Small builders for hand-made sandbox stores: a test states only the vaults, keys and
 * versions that matter to it. Times come from a manual clock.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { fixedRsaKeyMaterial } from "../../../../sandbox/keyvault/keyMaterial.js";
import type {
  SandboxClock,
  SandboxKey,
  SandboxKeyVersion,
  SandboxVault,
  VaultKind,
} from "../../../../sandbox/model.js";
import { SandboxStore } from "../../../../sandbox/store.js";

export const START = Date.parse("2026-01-01T00:00:00Z");
export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";

const material = fixedRsaKeyMaterial(generateKeyPairSync("rsa", { modulusLength: 1024 }));

export class ManualClock implements SandboxClock {
  constructor(private time = START) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export function newVersionId(): string {
  return randomBytes(16).toString("hex");
}

export function keyVersion(overrides: Partial<SandboxKeyVersion> = {}): SandboxKeyVersion {
  return {
    version: newVersionId(),
    created: START,
    updated: START,
    enabled: true,
    tags: {},
    keyOps: ["wrapKey", "unwrapKey"],
    material,
    ...overrides,
  };
}

export function key(name: string, versions: SandboxKeyVersion[] = [keyVersion()]): SandboxKey {
  return { name, kty: "RSA", size: 2048, versions };
}

export function vault(name: string, keys: SandboxKey[], kind: VaultKind = "vault"): SandboxVault {
  const provider = kind === "vault" ? "vaults" : "managedHSMs";
  const host = kind === "vault" ? "vault.azure.net" : "managedhsm.azure.net";
  return {
    name,
    kind,
    uri: `https://${name}.${host}/`,
    resourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/${provider}/${name}`,
    subscriptionId: SUBSCRIPTION,
    resourceGroup: "rg-keys",
    location: "westeurope",
    softDelete: true,
    purgeProtection: true,
    softDeleteRetentionInDays: 90,
    workspaceId: "law",
    keys: new Map(keys.map((k) => [k.name.toLowerCase(), k])),
  };
}

export function storeWith(vaults: SandboxVault[], clock = new ManualClock()): SandboxStore {
  const store = new SandboxStore(clock);
  store.subscriptions.push({ id: SUBSCRIPTION, resourceGroups: ["rg-keys", "rg-data"] });
  for (const v of vaults) store.vaults.set(v.name.toLowerCase(), v);
  return store;
}

/** Append a new version to a key, as Key Vault's create does (without the event). */
export function addVersion(
  store: SandboxStore,
  vaultName: string,
  keyName: string,
  overrides: Partial<SandboxKeyVersion> = {},
) {
  const created = keyVersion({ created: store.now(), ...overrides });
  store.vaults.get(vaultName)?.keys.get(keyName)?.versions.push(created);
  return created;
}
