/**
 * The estate file format: what a sandbox is seeded with. `npm run sandbox -- --estate FILE`
 * and `npm start -- --estate FILE` read one; `estates/default.json` covers every case the
 * service must handle. Key versions are generated at seed time, so consumers refer to a
 * version by its index (0 = oldest) or "newest", or "none" to follow the newest version.
 */

export type EstateVersionRef = number | "newest" | "none";

export interface EstateKeyRef {
  vault: string;
  key: string;
  version: EstateVersionRef;
}

export interface EstateKeyVersion {
  /** How long before the sandbox start the version was created. */
  ageHours: number;
  enabled?: boolean;
  tags?: Record<string, string>;
  /** Expiry relative to start (negative: already expired). */
  expiresInHours?: number;
  /** Not-before relative to start (positive: not yet valid). */
  notBeforeInHours?: number;
}

export interface EstateKey {
  name: string;
  /** "RSA" (default; "RSA-HSM" on Managed HSM), or "EC" for negative cases. */
  kty?: string;
  /** RSA size in bits, default 2048. */
  size?: number;
  /** Default: encrypt, decrypt, sign, verify, wrapKey, unwrapKey. */
  keyOps?: string[];
  /** Oldest first. */
  versions: EstateKeyVersion[];
}

export interface EstateVault {
  name: string;
  kind: "vault" | "managedHsm";
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  softDelete?: boolean;
  purgeProtection?: boolean;
  softDeleteRetentionInDays?: number;
  /** Name of the workspace receiving this vault's audit logs. */
  workspace: string;
  keys: EstateKey[];
}

export interface EstateIdentity {
  name: string;
  objectId: string;
  clientId?: string;
  /** Present for a user-assigned managed identity (gives it an ARM id). */
  userAssigned?: { subscriptionId: string; resourceGroup: string };
}

export interface EstateRoleDefinition {
  roleName: string;
  actions?: string[];
  notActions?: string[];
  dataActions?: string[];
  notDataActions?: string[];
}

export interface EstateRoleAssignment {
  /** Identity name. */
  principal: string;
  /** Built-in role name or a roleDefinitions entry. */
  role: string;
  /** ARM scope; "vault:<name>" and "key:<vault>/<key>" are accepted shorthands. */
  scope: string;
}

export interface EstateWorkspace {
  id: string;
  name: string;
  subscriptionId: string;
  resourceGroup: string;
}

export interface EstateConsumerBehaviour {
  lagSeconds?: number;
  stuckOnVersion?: string | null;
}

interface EstateConsumerBase {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  /** Identity name the consumer unwraps with. */
  identity: string;
  behaviour?: EstateConsumerBehaviour;
}

export interface EstateKustoCluster extends EstateConsumerBase {
  kind: "kusto";
  key: EstateKeyRef;
}

export type EstateBackupPolicy =
  | { type: "Periodic"; intervalInMinutes: number; retentionInHours: number }
  | { type: "Continuous"; tier: "Continuous7Days" | "Continuous30Days" };

export interface EstateCosmosAccount extends EstateConsumerBase {
  kind: "cosmos";
  key: EstateKeyRef;
  backupPolicy: EstateBackupPolicy;
}

export interface EstateCassandraDataCenter {
  name: string;
  location: string;
  managedDiskKey: EstateKeyRef;
  backupStorageKey: EstateKeyRef;
  behaviour?: EstateConsumerBehaviour;
}

export interface EstateCassandraCluster extends EstateConsumerBase {
  kind: "cassandra";
  dataCenters: EstateCassandraDataCenter[];
}

export type EstateConsumer = EstateKustoCluster | EstateCosmosAccount | EstateCassandraCluster;

export interface EstateCustomTopic {
  name: string;
  host: string;
  accessKey: string;
  /** Where the topic lives (its ARM id); default: the estate's first subscription and resource group. */
  subscriptionId?: string;
  resourceGroup?: string;
}

export interface EstateEventSubscription {
  vault: string;
  endpoint: string;
  schema: "EventGridSchema" | "CloudEventSchema";
}

export interface Estate {
  tenantId?: string;
  subscriptions: { id: string; resourceGroups: string[] }[];
  identities: EstateIdentity[];
  roleDefinitions?: EstateRoleDefinition[];
  roleAssignments: EstateRoleAssignment[];
  workspaces: EstateWorkspace[];
  vaults: EstateVault[];
  consumers: EstateConsumer[];
  eventGrid?: { customTopics?: EstateCustomTopic[]; subscriptions?: EstateEventSubscription[] };
  simulation?: {
    /** How often each consumer unwraps with the version it uses. Default 10. */
    unwrapIntervalSeconds?: number;
    /** Lag between a repoint and the consumer using the new version. Default 5. */
    defaultLagSeconds?: number;
  };
}
