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
  /**
   * The AzureDiagnostics column that carries a vault caller's object id in this workspace:
   * "identity_claim_oid_g" (default) or
   * "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g". The other
   * column does not exist there (Managed HSM records always fill the long one).
   */
  objectIdColumn?:
    | "identity_claim_oid_g"
    | "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";
}

export interface EstateConsumerBehaviour {
  /** Seconds between a repoint (or a new version, when following the newest) and the switch. Default: simulation.defaultLagSeconds. */
  lagSeconds?: number;
  stuckOnVersion?: string | null;
  /** How often this consumer unwraps, on average. Default: simulation.unwrapIntervalSeconds. */
  unwrapIntervalSeconds?: number;
  /** Each interval is drawn from unwrapIntervalSeconds ± jitterSeconds (at most the interval). Default 0. */
  jitterSeconds?: number;
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
  /** `properties.enableAutoStop` (default true, as the Kusto API creates clusters). */
  enableAutoStop?: boolean;
  /**
   * With auto-stop, the cluster stops itself after this long without activity (the sandbox
   * runs no queries, so idle time counts from its last start). Default 432000 (5 days: what
   * Azure Data Explorer waits for an inactive cluster with little or no data).
   */
  autoStopAfterIdleSeconds?: number;
}

export type EstateBackupPolicy =
  | { type: "Periodic"; intervalInMinutes: number; retentionInHours: number }
  | { type: "Continuous"; tier: "Continuous7Days" | "Continuous30Days" };

export interface EstateCosmosAccount extends EstateConsumerBase {
  kind: "cosmos";
  /** Cosmos DB takes a key URI without version only: `version` must be "none". */
  key: EstateKeyRef;
  backupPolicy: EstateBackupPolicy;
  /**
   * Who unwraps: "FirstPartyIdentity" (the Azure Cosmos DB application's service principal,
   * which the estate's identities must hold with clientId a232010e-820c-4083-83bb-3ace5fc29d0b),
   * "SystemAssignedIdentity" (the account's own, when `identity` has no userAssigned), or
   * "UserAssignedIdentity=<identity name or ARM id>". Default: the account's `identity`.
   */
  defaultIdentity?: string;
  /** How long the account takes to start using a new version of its key. Default: its lagSeconds. */
  pickUpDelaySeconds?: number;
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

/** Resource Manager's request budgets; what is left out keeps Azure's default (sandbox/arm/throttling.ts). */
export interface EstateThrottling {
  enabled?: boolean;
  reads?: { size?: number; refillPerSecond?: number };
  writes?: { size?: number; refillPerSecond?: number };
  deletes?: { size?: number; refillPerSecond?: number };
  globalMultiplier?: number;
  resourceGraph?: { queries?: number; windowSeconds?: number };
}

export interface Estate {
  tenantId?: string;
  /** `watched: false` leaves a subscription out of the service's ROTATOR_SUBSCRIPTIONS (its consumers stay unknown). */
  subscriptions: { id: string; resourceGroups: string[]; watched?: boolean }[];
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
    /** Per-record ingestion latency of the audit logs, drawn uniformly from this range. Default 0. */
    ingestionLatencySeconds?: { min: number; max: number };
  };
  throttling?: EstateThrottling;
}
