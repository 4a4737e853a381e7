/**
 * The default estate, changed for migration scenarios: one source key `kv-cmk-1/app-key` with a
 * pinned and a versionless Kusto cluster, a Cosmos DB account and one Cassandra data center's
 * disk URI on it (RSA 2048: Kusto takes only 2048, so the scenarios that move every kind lower
 * Cosmos DB's minimum to 2048), and destination vaults: `kv-dest` in the clusters' region
 * (westeurope) with `dest-key`, `dest2-key` (RSA 2048) and `big-key` (RSA 3072, which Kusto
 * refuses), and `kv-far` in eastus with `far-key` (RSA 2048). Every consumer identity may use them all.
 */
import type { Estate, EstateVault } from "../../../sandbox/estate.js";
import { SUBSCRIPTION } from "./engineWorld.js";

export const SOURCE = { vault: "kv-cmk-1", key: "app-key" } as const;

function vault(name: string, location: string, keys: EstateVault["keys"]): EstateVault {
  return {
    name,
    kind: "vault",
    subscriptionId: SUBSCRIPTION,
    resourceGroup: "rg-keys",
    location,
    softDelete: true,
    purgeProtection: true,
    softDeleteRetentionInDays: 90,
    workspace: "law-audit",
    keys,
  };
}

const CONSUMER_IDENTITIES = ["uai-adx-1", "uai-adx-2", "uai-cosmos-2", "cassandra-1"];

export function migrationEstate(estate: Estate): void {
  const source = estate.vaults.find((candidate) => candidate.name === SOURCE.vault);
  if (!source) throw new Error("the default estate has no kv-cmk-1");
  source.keys.push({
    name: SOURCE.key,
    kty: "RSA",
    size: 2048,
    versions: [{ ageHours: 720 }, { ageHours: 48 }],
  });
  estate.vaults.push(
    vault("kv-dest", "westeurope", [
      { name: "dest-key", kty: "RSA", size: 2048, versions: [{ ageHours: 2 }] },
      { name: "dest2-key", kty: "RSA", size: 2048, versions: [{ ageHours: 2 }] },
      { name: "big-key", kty: "RSA", size: 3072, versions: [{ ageHours: 2 }] },
    ]),
    vault("kv-far", "eastus", [{ name: "far-key", kty: "RSA", size: 2048, versions: [{ ageHours: 2 }] }]),
  );
  for (const consumer of estate.consumers) {
    if (consumer.kind === "kusto" && (consumer.name === "adx-pinned" || consumer.name === "adx-latest")) {
      consumer.key = { ...SOURCE, version: consumer.name === "adx-pinned" ? "newest" : "none" };
    } else if (consumer.kind === "cosmos" && consumer.name === "cosmos-latest") {
      consumer.key = { ...SOURCE, version: "none" };
    } else if (consumer.kind === "cassandra") {
      const west = consumer.dataCenters.find((dataCenter) => dataCenter.name === "dc-west");
      if (west) west.managedDiskKey = { ...SOURCE, version: "newest" };
    }
  }
  for (const name of ["kv-dest", "kv-far"])
    estate.roleAssignments.push({
      principal: "rotator",
      role: "CMK Rotator Key Operator",
      scope: `vault:${name}`,
    });
  for (const principal of CONSUMER_IDENTITIES) {
    for (const scope of [`key:${SOURCE.vault}/${SOURCE.key}`, "vault:kv-dest", "vault:kv-far"])
      estate.roleAssignments.push({ principal, role: "Key Vault Crypto Service Encryption User", scope });
  }
}

/** Settings for the scenarios that move every kind: Cosmos DB takes RSA 2048 too. */
export const EVERY_KIND_ON_2048 = { ROTATOR_MIN_RSA_BITS: "kusto=2048,cosmos=2048,cassandra=2048" };
