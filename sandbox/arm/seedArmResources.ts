/**
 * Builds the Resource Manager resources of `estate.consumers`: one Kusto cluster or Cosmos DB
 * account per consumer, and a Cassandra cluster with one resource per data center. Runs
 * after the core seeding, so identities, vaults and key versions already exist.
 */
import { createHash } from "node:crypto";
import type { Estate, EstateConsumer, EstateKeyRef } from "../estate.js";
import type { SandboxIdentity, SandboxVault } from "../model.js";
import type { SandboxStore } from "../store.js";
import { cassandraClusterBody, cassandraDataCenterBody } from "./cassandraClusters.js";
import { cosmosAccountBody } from "./cosmosAccounts.js";
import { keyUri } from "./keyReference.js";
import { kustoClusterBody } from "./kustoClusters.js";

function consumerWhere(consumer: EstateConsumer): string {
  return `estate consumer "${consumer.name}" (${consumer.kind})`;
}

function requireIdentity(store: SandboxStore, consumer: EstateConsumer): SandboxIdentity {
  const identity = store.identityByName(consumer.identity);
  if (!identity)
    throw new Error(`${consumerWhere(consumer)}: identity "${consumer.identity}" is not in the estate.`);
  return identity;
}

function requireVault(store: SandboxStore, reference: EstateKeyRef, where: string): SandboxVault {
  const vault = store.vaults.get(reference.vault.toLowerCase());
  if (!vault) throw new Error(`${where}: vault "${reference.vault}" is not in the estate.`);
  return vault;
}

/** The version an estate reference names; undefined for "none" (follows the newest version). */
function resolveEstateKeyRef(store: SandboxStore, reference: EstateKeyRef): string | undefined {
  if (reference.version === "none") return undefined;
  const versions =
    store.vaults.get(reference.vault.toLowerCase())?.keys.get(reference.key.toLowerCase())?.versions ?? [];
  return (reference.version === "newest" ? versions.at(-1) : versions[reference.version])?.version;
}

function resolvedKeyUri(store: SandboxStore, reference: EstateKeyRef, where: string): string {
  const vault = requireVault(store, reference, where);
  const version = resolveEstateKeyRef(store, reference);
  if (reference.version !== "none" && version === undefined) {
    throw new Error(
      `${where}: key "${reference.vault}/${reference.key}" has no version ${JSON.stringify(reference.version)}.`,
    );
  }
  return keyUri(vault, reference.key, version);
}

/** A stable GUID-shaped id derived from a resource id, so reseeding gives the same instance ids. */
function stableGuid(seed: string): string {
  const hex = createHash("sha256").update(seed.toLowerCase()).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function providerBase(consumer: EstateConsumer, provider: string): string {
  return `/subscriptions/${consumer.subscriptionId}/resourceGroups/${consumer.resourceGroup}/providers/${provider}`;
}

/** An estate `defaultIdentity` as the account holds it: "UserAssignedIdentity=<name>" becomes the identity's ARM id. */
function armDefaultIdentity(defaultIdentity: string, identity: SandboxIdentity): string {
  const named = /^UserAssignedIdentity=(.+)$/.exec(defaultIdentity)?.[1];
  if (named === undefined || named.startsWith("/") || !identity.resourceId) return defaultIdentity;
  return `UserAssignedIdentity=${identity.resourceId}`;
}

export function seedArmResources(store: SandboxStore, estate: Estate): void {
  const createdAt = store.now();
  estate.consumers.forEach((consumer, consumerIndex) => {
    const where = consumerWhere(consumer);
    const identity = requireIdentity(store, consumer);
    switch (consumer.kind) {
      case "kusto": {
        const id = `${providerBase(consumer, "Microsoft.Kusto")}/Clusters/${consumer.name}`;
        const vault = requireVault(store, consumer.key, where);
        const version = resolveEstateKeyRef(store, consumer.key);
        if (consumer.key.version !== "none" && version === undefined) {
          throw new Error(
            `${where}: key "${consumer.key.vault}/${consumer.key.key}" has no version ${JSON.stringify(consumer.key.version)}.`,
          );
        }
        const body = kustoClusterBody({
          id,
          name: consumer.name,
          location: consumer.location,
          identity,
          tenantId: store.tenantId,
          key: { vaultUri: vault.uri.replace(/\/$/, ""), keyName: consumer.key.key, version },
          ...(consumer.enableAutoStop !== undefined ? { enableAutoStop: consumer.enableAutoStop } : {}),
          createdAt,
        });
        store.putArmResource({ id, type: "Microsoft.Kusto/Clusters", body });
        break;
      }
      case "cosmos": {
        const id = `${providerBase(consumer, "Microsoft.DocumentDB")}/databaseAccounts/${consumer.name}`;
        const body = cosmosAccountBody({
          id,
          name: consumer.name,
          location: consumer.location,
          identity,
          tenantId: store.tenantId,
          keyVaultKeyUri: resolvedKeyUri(store, consumer.key, where),
          ...(consumer.defaultIdentity
            ? { defaultIdentity: armDefaultIdentity(consumer.defaultIdentity, identity) }
            : {}),
          backupPolicy: consumer.backupPolicy,
          instanceId: stableGuid(id),
          createdAt,
        });
        store.putArmResource({ id, type: "Microsoft.DocumentDB/databaseAccounts", body });
        break;
      }
      case "cassandra": {
        const id = `${providerBase(consumer, "Microsoft.DocumentDB")}/cassandraClusters/${consumer.name}`;
        const clusterBody = cassandraClusterBody(
          {
            id,
            name: consumer.name,
            location: consumer.location,
            identity,
            tenantId: store.tenantId,
            subnetPrefix: String(10 + consumerIndex),
          },
          consumer.dataCenters.length,
        );
        store.putArmResource({ id, type: "Microsoft.DocumentDB/cassandraClusters", body: clusterBody });
        consumer.dataCenters.forEach((dataCenter, index) => {
          const dataCenterWhere = `${where}, data center "${dataCenter.name}"`;
          const body = cassandraDataCenterBody({
            clusterId: id,
            name: dataCenter.name,
            location: dataCenter.location,
            index: index + 1,
            managedDiskCustomerKeyUri: resolvedKeyUri(store, dataCenter.managedDiskKey, dataCenterWhere),
            backupStorageCustomerKeyUri: resolvedKeyUri(store, dataCenter.backupStorageKey, dataCenterWhere),
          });
          store.putArmResource({
            id: `${id}/dataCenters/${dataCenter.name}`,
            type: "Microsoft.DocumentDB/cassandraClusters/dataCenters",
            body,
          });
        });
        break;
      }
    }
  });
}
