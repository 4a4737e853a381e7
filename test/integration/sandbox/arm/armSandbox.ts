/** Builders for Resource Manager integration tests: a sandbox on the default estate plus small store tweaks. */
import { randomBytes } from "node:crypto";
import type { SandboxKey, SandboxKeyVersion, SandboxVault } from "../../../../sandbox/model.js";
import { defaultEstate } from "../../../../sandbox/seed.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import type { SandboxStore } from "../../../../sandbox/store.js";
import { startQuietSandbox } from "../quietSandbox.js";

export const subscriptionId = "00000000-0000-0000-0000-000000000001";
export const dataGroup = "rg-data";
export const pollFast = { updateIntervalInMs: 20 };

const lroDurationMs = 60_000;
let clockOffsetMs = 0;

/** An identity of the ARM test estate with Contributor on the data resource group (the service may not write Cosmos accounts). */
export const ARM_WRITER = "arm-writer";

/**
 * A sandbox on the default estate (plus ARM_WRITER) whose long-running operations end only
 * when a test calls `finishOperations`: the clock runs with real time plus an offset the test
 * moves forward.
 */
export async function startArmSandbox(): Promise<RunningSandbox> {
  const estate = defaultEstate();
  estate.identities.push({ name: ARM_WRITER, objectId: "99999999-0000-0000-0000-0000000000aa" });
  estate.roleAssignments.push({
    principal: ARM_WRITER,
    role: "Contributor",
    scope: `/subscriptions/${subscriptionId}/resourceGroups/${dataGroup}`,
  });
  const sandbox = await startQuietSandbox({ estate, clock: { now: () => Date.now() + clockOffsetMs } });
  sandbox.store.latency = { armWriteMs: 0, lroDurationMs };
  return sandbox;
}

/** Move the sandbox clock past the duration of every running operation. */
export function finishOperations(): void {
  clockOffsetMs += lroDurationMs + 1;
}

export function vaultNamed(store: SandboxStore, name: string): SandboxVault {
  const vault = store.vaults.get(name);
  if (!vault) throw new Error(`test estate has no vault ${name}`);
  return vault;
}

export function keyNamed(store: SandboxStore, vaultName: string, keyName: string): SandboxKey {
  const key = vaultNamed(store, vaultName).keys.get(keyName.toLowerCase());
  if (!key) throw new Error(`test estate has no key ${vaultName}/${keyName}`);
  return key;
}

/** Append a version to a key (reusing the newest version's key material). */
export function addKeyVersion(
  store: SandboxStore,
  vaultName: string,
  keyName: string,
  overrides: Partial<SandboxKeyVersion> = {},
): SandboxKeyVersion {
  const key = keyNamed(store, vaultName, keyName);
  const newest = key.versions.at(-1);
  if (!newest) throw new Error(`key ${keyName} has no versions`);
  const version: SandboxKeyVersion = {
    ...newest,
    version: randomBytes(16).toString("hex"),
    created: store.now(),
    updated: store.now(),
    enabled: true,
    tags: {},
    exp: undefined,
    nbf: undefined,
    ...overrides,
  };
  key.versions.push(version);
  return version;
}

/** A copy of a vault under another name, with its keys, and the given settings. */
export function cloneVault(
  store: SandboxStore,
  fromName: string,
  toName: string,
  settings: Partial<Pick<SandboxVault, "softDelete" | "purgeProtection">>,
): SandboxVault {
  const source = vaultNamed(store, fromName);
  const clone: SandboxVault = {
    ...source,
    ...settings,
    name: toName,
    uri: `https://${toName}.vault.azure.net/`,
    resourceId: source.resourceId.replace(/[^/]+$/, toName),
    keys: new Map(source.keys),
  };
  store.vaults.set(toName, clone);
  return clone;
}
