/**
 * Cosmos DB accounts: a follower. Cosmos DB takes `keyVaultKeyUri` without a version only (a
 * versioned one is refused: "Please provide KeyVault Key Uri without version. We will use
 * latest version of the key") and moves to the newest version of the key by itself, in its
 * own time. So the account's one pin always follows the latest version, whatever its URI
 * spells, and the service never PATCHes an account to a version. The one PATCH it sends is a
 * migration's key swap (the second way to rotate a Cosmos DB key): `keyVaultKeyUri` to the
 * destination key's versionless URI, nothing else (the default identity stays as it is).
 * What the account really uses is `keyVaultKeyUriVersion`, its read-back; the key's state is
 * `customerManagedKeyStatus`; backups taken with a version need it for the account's backup
 * retention (`backupPolicy`).
 */
import type { AzureClientFactory } from "../../azure/clientFactory.js";
import { ValidationError } from "../../errors.js";
import { type BackupRetention, COSMOS_FIRST_PARTY_APP_ID, type ConsumerSnapshot } from "../../model.js";
import { keyIdOf, validateVersion } from "../keyRef.js";
import {
  beginMigrateWith,
  isRecord,
  optionalKeyUri,
  optionalString,
  parseArmId,
  principalIdOfIdentity,
  principalIdsOf,
  readError,
  rowFacts,
} from "./armResource.js";
import type { ConsumerAdapter } from "./consumerAdapter.js";

const TYPE_PATH = ["Microsoft.DocumentDB", "databaseAccounts"] as const;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Azure's default when a Periodic policy omits its retention. */
const DEFAULT_PERIODIC_RETENTION_HOURS = 8;
const CONTINUOUS_TIERS: Record<string, number> = {
  Continuous7Days: 7 * DAY_MS,
  Continuous30Days: 30 * DAY_MS,
};

/**
 * The `CosmosDBManagementClient.databaseAccounts` calls used here: a read, and an update that
 * only ever swaps `keyVaultKeyUri` to another key (a migration), never to a version.
 */
export interface CosmosAccountsApi {
  get(resourceGroupName: string, accountName: string): Promise<unknown>;
  beginUpdate(
    resourceGroupName: string,
    accountName: string,
    parameters: { keyVaultKeyUri: string },
  ): Promise<unknown>;
}

/** Retention of backups from `backupPolicy` (Periodic hours, or the Continuous tier). */
export function backupRetentionOf(backupPolicy: unknown, subject: string): BackupRetention | undefined {
  if (backupPolicy === undefined || backupPolicy === null) return undefined;
  if (!isRecord(backupPolicy))
    throw new ValidationError(subject, `${subject}: backupPolicy should be an object`);
  const type = optionalString(backupPolicy, "type", subject);
  if (type === "Periodic") {
    const periodic = isRecord(backupPolicy.periodicModeProperties) ? backupPolicy.periodicModeProperties : {};
    const hours = periodic.backupRetentionIntervalInHours ?? DEFAULT_PERIODIC_RETENTION_HOURS;
    if (typeof hours !== "number" || !Number.isFinite(hours) || hours < 0) {
      throw new ValidationError(
        subject,
        `${subject}: backupRetentionIntervalInHours should be a number, got ${JSON.stringify(hours)}`,
      );
    }
    return { retentionMs: hours * HOUR_MS, description: `Periodic backups kept ${hours} hours` };
  }
  if (type === "Continuous") {
    const continuous = isRecord(backupPolicy.continuousModeProperties)
      ? backupPolicy.continuousModeProperties
      : {};
    // Accounts created before tiers existed omit the tier: they have 30 days.
    const tier = optionalString(continuous, "tier", subject) ?? "Continuous30Days";
    const retentionMs = CONTINUOUS_TIERS[tier];
    if (retentionMs === undefined)
      throw new ValidationError(
        subject,
        `${subject}: unknown continuous backup tier ${JSON.stringify(tier)}`,
      );
    return { retentionMs, description: `${tier} continuous backup` };
  }
  throw new ValidationError(subject, `${subject}: unknown backupPolicy type ${JSON.stringify(type)}`);
}

/**
 * Who the account unwraps as, from `defaultIdentity`: "UserAssignedIdentity=<ARM id>" (that
 * identity's principal), "SystemAssignedIdentity" (the account's own principal), or
 * "FirstPartyIdentity" (the Azure Cosmos DB application: its records carry the app id, never
 * the account). Without `defaultIdentity` the account may unwrap either way, so both are kept.
 */
function unwrappingIdentityOf(
  account: Record<string, unknown>,
  identityBlock: unknown,
  subject: string,
): Pick<ConsumerSnapshot, "identity" | "identityPrincipalId" | "identityAppId"> {
  const defaultIdentity = optionalString(account, "defaultIdentity", subject)?.trim();
  const identity = isRecord(identityBlock) ? identityBlock : {};
  const systemPrincipal = optionalString(identity, "principalId", subject)?.toLowerCase();
  const userAssigned = defaultIdentity?.match(/^UserAssignedIdentity=(.+)$/i)?.[1];
  if (userAssigned) {
    const principal = principalIdOfIdentity(identityBlock, userAssigned);
    return { identity: userAssigned, ...(principal ? { identityPrincipalId: principal } : {}) };
  }
  if (defaultIdentity === "FirstPartyIdentity") {
    return { identity: defaultIdentity, identityAppId: COSMOS_FIRST_PARTY_APP_ID };
  }
  if (defaultIdentity === "SystemAssignedIdentity") {
    return systemPrincipal
      ? { identity: systemPrincipal, identityPrincipalId: systemPrincipal }
      : { identity: defaultIdentity };
  }
  if (defaultIdentity === undefined || defaultIdentity === "") {
    return {
      ...(systemPrincipal ? { identity: systemPrincipal, identityPrincipalId: systemPrincipal } : {}),
      identityAppId: COSMOS_FIRST_PARTY_APP_ID,
    };
  }
  throw new ValidationError(
    subject,
    `${subject}: defaultIdentity ${JSON.stringify(defaultIdentity)} is none of "FirstPartyIdentity", "SystemAssignedIdentity" or "UserAssignedIdentity=<resource id>"`,
  );
}

/** A Cosmos DB account's JSON: an ARM GET (properties flattened by the SDK) or a Resource Graph row. */
export interface CosmosAccountJson {
  id: string;
  subscriptionId: string;
  properties: unknown;
  identity: unknown;
}

/**
 * Everything the service needs to know about a Cosmos DB account, from its JSON: its key (a
 * follower's pin), the version it really uses (`keyVaultKeyUriVersion`), who unwraps, every
 * principal it carries, provisioning and key status, backup retention. One function, so an ARM
 * GET and a Resource Graph row are read alike.
 */
export function cosmosConsumerFacts(account: CosmosAccountJson, subject: string): ConsumerSnapshot {
  if (!isRecord(account.properties))
    throw new ValidationError(subject, `${subject}: the account has no properties object`);
  const properties = account.properties;
  const parsed = optionalKeyUri(properties, "keyVaultKeyUri", subject);
  const inUseVersion = optionalString(properties, "keyVaultKeyUriVersion", subject)?.trim();
  const unwrapping = unwrappingIdentityOf(properties, account.identity, subject);
  const provisioningState = optionalString(properties, "provisioningState", subject);
  const keyStatus = optionalString(properties, "customerManagedKeyStatus", subject);
  const backupRetention = backupRetentionOf(properties.backupPolicy, subject);
  const principalIds = principalIdsOf(account.identity);
  return {
    id: account.id,
    kind: "cosmos",
    subscriptionId: account.subscriptionId.toLowerCase(),
    // A follower: the version in a (legacy) versioned URI is not what the account uses.
    pins: parsed ? [{ pin: "key", key: parsed.key, version: null }] : [],
    inUse: inUseVersion ? { key: validateVersion(inUseVersion, `${subject} keyVaultKeyUriVersion`) } : {},
    ...unwrapping,
    ...(provisioningState ? { provisioningState } : {}),
    ...(keyStatus ? { keyStatus } : {}),
    ...(backupRetention ? { backupRetention } : {}),
    ...(principalIds.length > 0 ? { principalIds } : {}),
  };
}

export function createCosmosAdapter(
  accountsFor: (subscriptionId: string) => CosmosAccountsApi,
): ConsumerAdapter {
  const adapter: ConsumerAdapter = {
    kind: "cosmos",
    resourceGraphType: "microsoft.documentdb/databaseaccounts",

    async candidatesFromRow(row) {
      const subject = `Cosmos DB account ${row.id}`;
      const properties = isRecord(row.properties) ? row.properties : {};
      const parsed = optionalKeyUri(properties, "keyVaultKeyUri", subject);
      if (!parsed) return [];
      parseArmId(row.id, TYPE_PATH, "Cosmos DB account");
      const facts = rowFacts(() =>
        cosmosConsumerFacts(
          { id: row.id, subscriptionId: row.subscriptionId, properties, identity: row.identity },
          subject,
        ),
      );
      return [
        {
          id: row.id,
          kind: "cosmos",
          subscriptionId: row.subscriptionId.toLowerCase(),
          keys: [parsed],
          ...(facts ? { facts } : {}),
        },
      ];
    },

    async read(id) {
      const arm = parseArmId(id, TYPE_PATH, "Cosmos DB account");
      const [accountName = ""] = arm.names;
      let account: unknown;
      try {
        account = await accountsFor(arm.subscriptionId).get(arm.resourceGroup, accountName);
      } catch (error) {
        throw readError(id, "read Cosmos DB account", error);
      }
      const subject = `Cosmos DB account ${id}`;
      if (!isRecord(account)) throw new ValidationError(subject, `${subject}: the GET returned no object`);
      // The SDK returns the account's properties flattened into the resource.
      return cosmosConsumerFacts(
        { id, subscriptionId: arm.subscriptionId, properties: account, identity: account.identity },
        subject,
      );
    },

    async beginRepoint(consumer, pin, toVersion) {
      // The planner never repoints a follower; should anything ask, nothing is sent.
      return {
        status: "failed",
        reason: "follows-latest",
        detail: `Cosmos DB account ${consumer.id} (${pin}) follows the newest version of its key by itself; it is never patched to version ${toVersion}.`,
      };
    },

    async beginMigrate(consumer, pin, move) {
      if (move.toVersion !== null) {
        return {
          status: "failed",
          reason: "follows-latest",
          detail: `Cosmos DB account ${consumer.id} (${pin}) takes only a versionless key URI; it is never moved to version ${move.toVersion}.`,
        };
      }
      return beginMigrateWith(
        consumer,
        pin,
        move,
        () => adapter.read(consumer.id),
        async () => {
          const arm = parseArmId(consumer.id, TYPE_PATH, "Cosmos DB account");
          const [accountName = ""] = arm.names;
          await accountsFor(arm.subscriptionId).beginUpdate(arm.resourceGroup, accountName, {
            keyVaultKeyUri: keyIdOf(move.to),
          });
        },
      );
    },
  };
  return adapter;
}

export function cosmosAdapterFromFactory(factory: AzureClientFactory): ConsumerAdapter {
  return createCosmosAdapter((subscriptionId) => {
    const accounts = factory.cosmos(subscriptionId).databaseAccounts;
    return {
      get: (resourceGroupName, accountName) => accounts.get(resourceGroupName, accountName),
      beginUpdate: (resourceGroupName, accountName, parameters) =>
        accounts.beginUpdate(resourceGroupName, accountName, parameters),
    };
  });
}
