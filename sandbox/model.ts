/**
 * The sandbox's in-memory model of an Azure estate: what the estate file seeds and what
 * every sandbox service (Key Vault, Resource Manager, Resource Graph, Log Analytics, Event
 * Grid) reads and writes. One `SandboxState` per running sandbox; nothing is persisted.
 *
 * Times are epoch milliseconds taken from the sandbox clock (`SandboxState.clock`).
 */
import type { RsaKeyMaterial } from "./keyvault/keyMaterial.js";

/** An Entra identity of the estate. A bearer token's `oid` claim names one of these. */
export interface SandboxIdentity {
  /** Short name used in estate files, e.g. "rotator" or "uai-adx1". */
  name: string;
  objectId: string;
  clientId: string;
  /** ARM id of the user-assigned identity, when it is one. */
  resourceId?: string;
}

/** A role assignment, as in Azure RBAC: the role's actions apply to `scope` and below. */
export interface SandboxRoleAssignment {
  principalId: string;
  /** A built-in role name ("Key Vault Crypto Service Encryption User", "Reader", ...) or a custom role name from the estate. */
  roleName: string;
  /** ARM scope: subscription, resource group, resource (vault), or a key (`<vault id>/keys/<name>`). */
  scope: string;
}

export interface SandboxRoleDefinition {
  roleName: string;
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

export type VaultKind = "vault" | "managedHsm";

export interface SandboxKeyVersion {
  /** 32 lowercase hex characters. */
  version: string;
  created: number;
  updated: number;
  enabled: boolean;
  /** Not-before and expiry, epoch ms, when set. */
  nbf?: number;
  exp?: number;
  tags: Record<string, string>;
  keyOps: string[];
  /** RSA key material for wrap/unwrap (RSA-OAEP, RSA-OAEP-256, RSA1_5), derived on first use. */
  material: RsaKeyMaterial;
}

export interface SandboxKey {
  name: string;
  /** "RSA" or "RSA-HSM" (HSM keys), "EC" for negative tests. */
  kty: string;
  /** RSA modulus size in bits. */
  size: number;
  /** Oldest first. The newest version is the last element. */
  versions: SandboxKeyVersion[];
  /** Key Vault rotation policy body as last set (KeyRotationPolicy JSON), if any. */
  rotationPolicy?: Record<string, unknown>;
}

export interface SandboxVault {
  name: string;
  kind: VaultKind;
  /** e.g. "https://kv1.vault.azure.net/" or "https://hsm1.managedhsm.azure.net/". Always ends with "/". */
  uri: string;
  /** ARM id, e.g. /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/kv1 (managedHSMs for HSMs). */
  resourceId: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  softDelete: boolean;
  purgeProtection: boolean;
  softDeleteRetentionInDays: number;
  /** Log Analytics workspace (customer id) that receives this vault's audit logs. */
  workspaceId: string;
  keys: Map<string, SandboxKey>;
}

/**
 * The column of `AzureDiagnostics` that carries a vault caller's object id. Which one a
 * workspace has depends on how its Key Vault records were flattened: some workspaces hold
 * `identity_claim_oid_g`, others the long claim name, and a column that never received data
 * does not exist in that workspace at all.
 */
export type ObjectIdColumn =
  | "identity_claim_oid_g"
  | "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g";

export const OBJECT_ID_COLUMNS: readonly ObjectIdColumn[] = [
  "identity_claim_oid_g",
  "identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g",
];

export interface SandboxWorkspace {
  /** Customer id (GUID) used in `/v1/workspaces/{id}/query`. */
  id: string;
  name: string;
  resourceId: string;
  /** Where vault rows put the caller's object id (default `identity_claim_oid_g`). */
  objectIdColumn?: ObjectIdColumn;
}

/** One Key Vault data-plane call, as the audit log records it. */
export interface SandboxAuditRecord {
  time: number;
  /** When the record becomes queryable (time + ingestion delay at write time). */
  visibleAt: number;
  vault: string;
  vaultKind: VaultKind;
  /** Key Vault operation name: KeyGet, KeyUnwrap, KeyCreate, ... */
  operationName: string;
  /** Versioned key id when the call named a version or created one, else the key id, or the vault uri. */
  id: string;
  /**
   * The URL the caller sent (path and api-version). Default: `id` with the api-version. A
   * failed call is logged with this only: Key Vault writes `id` for calls that returned an
   * object, and Managed HSM records never carry it.
   */
  requestUri?: string;
  callerObjectId: string;
  /** The caller's application (client) id, as the token's `appid` claim names it, when known. */
  callerAppId?: string;
  callerIpAddress: string;
  httpStatusCode: number;
  resultType: "Success" | "Failure";
  resultSignature: string;
  correlationId: string;
  durationMs: number;
}

export type ConsumerKind = "kusto" | "cosmos" | "cassandra";

/**
 * A Resource Manager resource held by the sandbox. `body` is the resource exactly as GET
 * returns it (id, name, type, location, identity, properties, ...). Cassandra data centers
 * are resources of their own (type Microsoft.DocumentDB/cassandraClusters/dataCenters).
 */
export interface SandboxArmResource {
  id: string;
  type: string;
  body: Record<string, unknown>;
  /** A PATCH in flight: the resource is Updating until `completesAt`. */
  pendingUpdate?: SandboxPendingUpdate;
}

export interface SandboxPendingUpdate {
  operationId: string;
  startedAt: number;
  completesAt: number;
  /** The body the resource will have when the operation succeeds. */
  targetBody: Record<string, unknown>;
  /** When set, the operation ends Failed with this error instead. */
  failWith?: { code: string; message: string };
}

export interface SandboxAsyncOperation {
  id: string;
  resourceId: string;
  status: "InProgress" | "Succeeded" | "Failed" | "Canceled";
  startTime: number;
  endTime?: number;
  error?: { code: string; message: string };
}

/** How a simulated consumer behaves (see POST /_sandbox/consumers/behaviour). */
export interface ConsumerBehaviour {
  /** How long after a repoint (or a new version, when it follows the newest) the consumer moves; for Cosmos the pick-up delay. */
  lagSeconds: number;
  /** When set, the consumer keeps using this version whatever it is pointed at. */
  stuckOnVersion: string | null;
  /** How often the consumer unwraps, on average. */
  unwrapIntervalSeconds: number;
  /** Each interval is drawn from unwrapIntervalSeconds ± jitterSeconds (uniformly). */
  jitterSeconds: number;
  /** When set, every unwrap of the pin whose key has this version tries exactly this version (a stale caller). */
  unwrapVersion: string | null;
}

/** An unwrap (or the wrap of a switch) that a simulated consumer could not do. */
export interface ConsumerFailure {
  pin: string;
  vault: string;
  key: string;
  version: string;
  operationName: "KeyUnwrap" | "KeyWrap";
  /** Epoch ms. */
  at: number;
  status: number;
  errorCode?: string;
}

/** What a consumer is doing: running, or silent because its cluster is stopped or deallocated. */
export type ConsumerLifecycleState = "Running" | "Stopped" | "Deallocated";

/**
 * A key reference that a consumer actually uses right now, per pin. For Kusto and Cosmos
 * there is one pin ("key"); a Cassandra data center has "managedDisk" and "backupStorage".
 */
export interface ConsumerUsage {
  pin: string;
  vault: string;
  key: string;
  version: string;
  /** Since when the consumer uses this version (epoch ms). */
  since: number;
  /** A newer reference the consumer has noticed and will use once its lag has passed. */
  switchingTo?: { vault: string; key: string; version: string; noticedAt: number };
}

export interface SandboxConsumer {
  /** ARM id of the resource that holds the key reference (for Cassandra: the data center). */
  id: string;
  kind: ConsumerKind;
  /** Identity that unwraps with the key (for a Cosmos FirstPartyIdentity account: the Cosmos first-party principal). */
  identityObjectId: string;
  behaviour: ConsumerBehaviour;
  usage: ConsumerUsage[];
  /** The unwraps it could not do, oldest first (the newest CONSUMER_FAILURES_KEPT). */
  failures: ConsumerFailure[];
}

export type EventSchema = "EventGridSchema" | "CloudEventSchema";

export interface SandboxEventSubscription {
  id: string;
  vault: string;
  endpoint: string;
  schema: EventSchema;
  /** True once the SubscriptionValidation handshake succeeded. */
  validated: boolean;
  /** Why the handshake failed for good; such a subscription gets no events. */
  validationError?: string;
}

export interface SandboxDelivery {
  subscriptionId: string;
  eventId: string;
  eventType: string;
  attempt: number;
  status: "pending" | "delivered" | "failed";
  lastStatusCode?: number;
  lastError?: string;
  at: number;
  /** When the next attempt is due, while pending. */
  nextAttemptAt?: number;
}

export interface SandboxPublishedEvent {
  topic: string;
  receivedAt: number;
  event: Record<string, unknown>;
}

export interface FaultRule {
  id: string;
  /** HTTP method, or "*" for any. */
  method: string;
  /** Host to match ("*" or e.g. "management.azure.com"). */
  host: string;
  /** Regular expression matched against the request path (without query). */
  path: string;
  /** What to do. */
  action:
    | { kind: "status"; status: number; retryAfterSeconds?: number; code?: string; message?: string }
    | { kind: "delay"; ms: number }
    | { kind: "drop" }
    | { kind: "failOperation"; code: string; message: string };
  /** How many more requests this rule applies to. */
  remaining: number;
}

/** A range of seconds a per-record latency is drawn from (uniformly). */
export interface LatencyRange {
  min: number;
  max: number;
}

export interface IngestionSettings {
  /** Fixed ingestion latency of every record, used while `latencySeconds` is not set. */
  delaySeconds: number;
  /** Per-record latency drawn from this range, so records arrive out of order; overrides `delaySeconds`. */
  latencySeconds?: LatencyRange;
  paused: boolean;
  /** When true, the next Log Analytics queries answer with a PartialError. */
  partialError: boolean;
}

export interface LatencySettings {
  /** Added to every Resource Manager write (PUT/PATCH/POST). */
  armWriteMs: number;
  /** Added to every Resource Manager read (GET of a resource, a list, an operation) and Resource Graph query; 0 when absent. */
  armReadMs?: number;
  /** How long a long-running operation stays InProgress. */
  lroDurationMs: number;
}

/** One token bucket: `size` tokens, refilled at `refillPerSecond`. */
export interface TokenBucketLimit {
  size: number;
  refillPerSecond: number;
}

/** Resource Manager's request budgets (see arm/throttling.ts). */
export interface ArmThrottlingSettings {
  enabled: boolean;
  /** Per principal and subscription (per principal and tenant without a subscription). */
  reads: TokenBucketLimit;
  writes: TokenBucketLimit;
  deletes: TokenBucketLimit;
  /** The subscription's global bucket, for all principals together, is this many times a principal's. */
  globalMultiplier: number;
  /** Resource Graph's per-user quota: `queries` per window of `windowSeconds`. */
  resourceGraph: { queries: number; windowSeconds: number };
}

/** A clock the sandbox reads; tests may install their own. */
export interface SandboxClock {
  now(): number;
}
