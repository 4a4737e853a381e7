/**
 * Azure Data Explorer (Kusto) clusters: one pin, `keyVaultProperties {keyVaultUri, keyName,
 * keyVersion, userIdentity}`. An empty `keyVersion` means the cluster follows the newest
 * version. Kusto does not report a separate "version in use": a pinned cluster's read-back is
 * its `keyVersion` with the update finished and `state` Running; a versionless one has none,
 * and is proven on a newer version only by its own identity's audit records. A cluster with
 * `enableAutoStop` stops itself after days without queries (`state` Stopped) and makes no
 * Key Vault calls until it is started.
 */
import type { ClusterUpdate } from "@azure/arm-kusto";
import type { AzureClientFactory } from "../../azure/clientFactory.js";
import { ValidationError } from "../../errors.js";
import type { ConsumerPin, ConsumerSnapshot, KeyRef } from "../../model.js";
import { describeAzureFailure } from "../azureFailure.js";
import { keyRefFromParts, validateVersion } from "../keyRef.js";
import {
  beginMigrateWith,
  beginRepointWith,
  isRecord,
  normaliseRegion,
  optionalString,
  parseArmId,
  principalIdOfIdentity,
  principalIdsOf,
  readError,
  rowFacts,
} from "./armResource.js";
import type { ConsumerAdapter } from "./consumerAdapter.js";

const TYPE_PATH = ["Microsoft.Kusto", "clusters"] as const;

/** The `KustoManagementClient.clusters` calls used here. */
export interface KustoClustersApi {
  get(resourceGroupName: string, clusterName: string): Promise<unknown>;
  beginUpdate(
    resourceGroupName: string,
    clusterName: string,
    parameters: ClusterUpdate,
    options?: { ifMatch?: string; onResponse?: (rawResponse: { status: number }) => void },
  ): Promise<unknown>;
}

interface KustoKeySettings {
  pin: ConsumerPin;
  keyVaultUri: string;
  userIdentity?: string;
}

/** Reads `keyVaultProperties` (from an ARM GET or a Resource Graph row's properties); undefined without a CMK. */
function keySettingsOf(keyVaultProperties: unknown, subject: string): KustoKeySettings | undefined {
  if (keyVaultProperties === undefined || keyVaultProperties === null) return undefined;
  if (!isRecord(keyVaultProperties)) {
    throw new ValidationError(subject, `${subject}: keyVaultProperties should be an object`);
  }
  const keyVaultUri = optionalString(keyVaultProperties, "keyVaultUri", subject);
  const keyName = optionalString(keyVaultProperties, "keyName", subject);
  if (!keyVaultUri && !keyName) return undefined;
  const key = keyRefFromParts(keyVaultUri, keyName, subject);
  const keyVersion = optionalString(keyVaultProperties, "keyVersion", subject)?.trim();
  const userIdentity = optionalString(keyVaultProperties, "userIdentity", subject);
  return {
    pin: {
      pin: "key",
      key,
      version: keyVersion ? validateVersion(keyVersion, `${subject} keyVersion`) : null,
    },
    keyVaultUri: key.vaultUrl,
    ...(userIdentity ? { userIdentity } : {}),
  };
}

/** A Kusto cluster's JSON: an ARM GET (properties flattened by the SDK) or a Resource Graph row. */
export interface KustoClusterJson {
  id: string;
  subscriptionId: string;
  properties: unknown;
  identity: unknown;
  etag?: unknown;
  /** The cluster's region (an ARM GET has it; a Resource Graph row's properties do not). */
  location?: unknown;
}

/**
 * Everything the service needs to know about a Kusto cluster, from its JSON: the pin, who
 * unwraps (the user-assigned identity in `keyVaultProperties.userIdentity`, else the system
 * identity), every principal it carries, `provisioningState`, its run `state` ("Running",
 * "Stopped", ...: a stopped cluster makes no calls) and the etag. One function, so that an ARM
 * GET and a Resource Graph row are read alike.
 */
export function kustoConsumerFacts(cluster: KustoClusterJson, subject: string): ConsumerSnapshot {
  if (!isRecord(cluster.properties))
    throw new ValidationError(subject, `${subject}: the cluster has no properties object`);
  const properties = cluster.properties;
  const settings = keySettingsOf(properties.keyVaultProperties, subject);
  const identity = settings?.userIdentity ?? principalIdOfIdentity(cluster.identity, undefined);
  const identityPrincipalId = principalIdOfIdentity(cluster.identity, settings?.userIdentity);
  const provisioningState = optionalString(properties, "provisioningState", subject);
  const runState = optionalString(properties, "state", subject);
  // A cluster that cannot reach its key is Unavailable, and says why in stateReason.
  const stateReason =
    runState === "Unavailable" ? optionalString(properties, "stateReason", subject) : undefined;
  const keyStatus = stateReason ? `Unavailable: ${stateReason}` : undefined;
  const etag = optionalString({ etag: cluster.etag }, "etag", subject);
  const principalIds = principalIdsOf(cluster.identity);
  const location =
    typeof cluster.location === "string" && cluster.location.trim() !== ""
      ? normaliseRegion(cluster.location)
      : undefined;
  return {
    id: cluster.id,
    kind: "kusto",
    subscriptionId: cluster.subscriptionId.toLowerCase(),
    pins: settings ? [settings.pin] : [],
    inUse: {},
    ...(identity ? { identity } : {}),
    ...(identityPrincipalId ? { identityPrincipalId } : {}),
    ...(provisioningState ? { provisioningState } : {}),
    ...(runState ? { runState } : {}),
    ...(keyStatus ? { keyStatus } : {}),
    ...(etag ? { etag } : {}),
    ...(principalIds.length > 0 ? { principalIds } : {}),
    ...(location ? { location } : {}),
  };
}

export function createKustoAdapter(
  clustersFor: (subscriptionId: string) => KustoClustersApi,
): ConsumerAdapter {
  /**
   * PATCHes the cluster's key vault properties to `key` and `keyVersion`, keeping the
   * user-assigned identity (a PATCH without it would switch the cluster to its system identity
   * for key access), with If-Match on the etag of the read just before.
   */
  async function update(id: string, fresh: ConsumerSnapshot, key: KeyRef, keyVersion: string): Promise<void> {
    const arm = parseArmId(id, TYPE_PATH, "Kusto cluster");
    const [clusterName = ""] = arm.names;
    const userIdentity = fresh.identity?.startsWith("/") ? fresh.identity : undefined;
    let initialStatus: number | undefined;
    try {
      await clustersFor(arm.subscriptionId).beginUpdate(
        arm.resourceGroup,
        clusterName,
        {
          keyVaultProperties: {
            keyVaultUri: key.vaultUrl,
            keyName: key.keyName,
            keyVersion,
            ...(userIdentity ? { userIdentity } : {}),
          },
        },
        {
          // Kusto honours If-Match on update (kusto.json Clusters_Update): a write that lands
          // after anyone else's change since the read above is refused with 412.
          ...(fresh.etag ? { ifMatch: fresh.etag } : {}),
          onResponse: (rawResponse) => {
            initialStatus ??= rawResponse.status;
          },
        },
      );
    } catch (error) {
      // The Kusto client polls once after the PATCH. A poll request that fails after an
      // accepted PATCH still means the update started (the next observation verifies it);
      // an operation that already ended Failed (no HTTP status on the error) is a failure.
      const accepted = initialStatus !== undefined && initialStatus >= 200 && initialStatus < 300;
      if (accepted && describeAzureFailure(error).status !== undefined) return;
      throw error;
    }
  }

  const adapter: ConsumerAdapter = {
    kind: "kusto",
    resourceGraphType: "microsoft.kusto/clusters",

    async candidatesFromRow(row) {
      const subject = `Kusto cluster ${row.id}`;
      const properties = isRecord(row.properties) ? row.properties : {};
      const settings = keySettingsOf(properties.keyVaultProperties, subject);
      if (!settings) return [];
      parseArmId(row.id, TYPE_PATH, "Kusto cluster");
      const facts = rowFacts(() =>
        kustoConsumerFacts(
          {
            id: row.id,
            subscriptionId: row.subscriptionId,
            ...(row.location !== undefined ? { location: row.location } : {}),
            properties,
            identity: row.identity,
          },
          subject,
        ),
      );
      return [
        {
          id: row.id,
          kind: "kusto",
          subscriptionId: row.subscriptionId.toLowerCase(),
          keys: [{ key: settings.pin.key, version: settings.pin.version }],
          ...(facts ? { facts } : {}),
        },
      ];
    },

    async read(id) {
      const arm = parseArmId(id, TYPE_PATH, "Kusto cluster");
      const [clusterName = ""] = arm.names;
      let cluster: unknown;
      try {
        cluster = await clustersFor(arm.subscriptionId).get(arm.resourceGroup, clusterName);
      } catch (error) {
        throw readError(id, "read Kusto cluster", error);
      }
      const subject = `Kusto cluster ${id}`;
      if (!isRecord(cluster)) throw new ValidationError(subject, `${subject}: the GET returned no object`);
      // The SDK returns the cluster's properties flattened into the resource.
      return kustoConsumerFacts(
        {
          id,
          subscriptionId: arm.subscriptionId,
          properties: cluster,
          identity: cluster.identity,
          etag: cluster.etag,
          location: cluster.location,
        },
        subject,
      );
    },

    beginRepoint(consumer, pin, toVersion, guard) {
      return beginRepointWith(
        consumer,
        pin,
        toVersion,
        guard,
        () => adapter.read(consumer.id),
        (fresh, current) =>
          update(
            consumer.id,
            fresh,
            current.key,
            validateVersion(toVersion, `target version for ${consumer.id}`),
          ),
      );
    },

    beginMigrate(consumer, pin, move) {
      return beginMigrateWith(
        consumer,
        pin,
        move,
        () => adapter.read(consumer.id),
        (fresh) =>
          update(
            consumer.id,
            fresh,
            move.to,
            // An empty keyVersion keeps a versionless cluster versionless on the new key.
            move.toVersion === null
              ? ""
              : validateVersion(move.toVersion, `target version for ${consumer.id}`),
          ),
      );
    },
  };
  return adapter;
}

export function kustoAdapterFromFactory(factory: AzureClientFactory): ConsumerAdapter {
  return createKustoAdapter((subscriptionId) => factory.kusto(subscriptionId).clusters);
}
