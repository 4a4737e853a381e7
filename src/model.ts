/**
 * The service's vocabulary: what observation gathers (a `Snapshot`), what the planner
 * decides (a `Plan` of actions, holds and blocks, each with a reason code and a sentence),
 * and what apply reports (`StepOutcome`). Everything here is plain data so the planner
 * stays a pure function and every path (event, timer, HTTP, dashboard, plan command)
 * shares it.
 */

export type VaultHostKind = "vault" | "managedHsm";
export type ConsumerKind = "kusto" | "cosmos" | "cassandra";
export type RotatorMode = "enforce" | "report";

/** A managed key: `https://<vault>.vault.azure.net/keys/<name>` or on `*.managedhsm.azure.net`. */
export interface KeyRef {
  /** Vault URL with trailing slash, lower case host: "https://kv1.vault.azure.net/". */
  vaultUrl: string;
  /** Vault or HSM name: the first label of the host. */
  vaultName: string;
  hostKind: VaultHostKind;
  keyName: string;
}

/**
 * The one canonical identity of a key: "<vaultName>/<keyName>" in lower case (vault names are
 * globally unique, and Key Vault compares key names case-insensitively, so `ADX-KEY` and
 * `adx-key` are one key). Everything keyed by a key uses it: leases, journal partitions,
 * idempotency fingerprints, plan targets, evidence, views and outcome events. URLs sent to
 * Azure keep `keyName` as spelled.
 */
export function keyRefId(key: KeyRef): string {
  return `${key.vaultName}/${key.keyName}`.toLowerCase();
}

/** Managed HSM keeps at most this many versions of a key; the next one is refused. */
export const MANAGED_HSM_VERSION_CAP = 100;
/** From this many versions of a Managed HSM key on, the plan and the dashboard warn. */
export const MANAGED_HSM_VERSION_WARNING = 90;

/**
 * The Azure Cosmos DB application. A Cosmos DB account with `defaultIdentity:
 * "FirstPartyIdentity"` unwraps as this application's service principal in the tenant, so its
 * audit records name the application (by app id), never the account.
 */
export const COSMOS_FIRST_PARTY_APP_ID = "a232010e-820c-4083-83bb-3ace5fc29d0b";

/** Facts about one key version, as read from Key Vault / Managed HSM. */
export interface KeyVersionFacts {
  /** 32 hex characters, lower case. */
  version: string;
  /** Full versioned key id: "https://kv1.vault.azure.net/keys/k/<version>". */
  kid: string;
  enabled: boolean;
  created: Date;
  updated?: Date;
  notBefore?: Date;
  expiresOn?: Date;
  /** "RSA", "RSA-HSM", "EC", ... */
  keyType: string;
  /** RSA modulus size in bits when known. */
  keySize?: number;
  keyOps: string[];
  tags: Record<string, string>;
  /** e.g. "Recoverable+Purgeable", "Recoverable" (purge protected), "CustomizedRecoverable". */
  recoveryLevel?: string;
}

export interface KeySnapshot {
  key: KeyRef;
  /** Oldest first by `created`. */
  versions: KeyVersionFacts[];
  /**
   * The key's current version, as a versionless GET returns it: the newest, even among
   * versions created in the same second (Key Vault's `created` has whole seconds).
   */
  currentVersion?: string;
}

/** Which key reference on a consumer: Kusto and Cosmos have one, a Cassandra data center two. */
export type PinName = "key" | "managedDisk" | "backupStorage";

export interface ConsumerPin {
  pin: PinName;
  key: KeyRef;
  /** The pinned version, or null when the consumer follows the newest version. */
  version: string | null;
}

export interface BackupRetention {
  /** How long backups taken with a key version need that version, in ms. */
  retentionMs: number;
  /** "Periodic" or "Continuous7Days"/"Continuous30Days", for the sentence. */
  description: string;
}

/** Terminal provisioning states; any other state (Updating, Creating, Kusto's Running, ...) is busy. */
const SETTLED_PROVISIONING_STATES = new Set(["succeeded", "failed", "canceled", "cancelled"]);

/**
 * Whether a resource is still busy with an earlier change. Unknown states count as busy, so
 * nothing is planned on a resource whose state the service does not understand.
 */
export function isProvisioningBusy(provisioningState: string | undefined): boolean {
  if (!provisioningState) return false;
  return !SETTLED_PROVISIONING_STATES.has(provisioningState.toLowerCase());
}

export interface ConsumerSnapshot {
  /** ARM id of the resource holding the pins (a Cassandra data center for Cassandra). */
  id: string;
  kind: ConsumerKind;
  subscriptionId: string;
  /** Object id or ARM id of the identity the consumer unwraps with, when known. */
  identity?: string;
  /**
   * Object id (principal id) of that identity, as audit records name their caller; resolved
   * from the resource's identity block when `identity` is a user-assigned identity's ARM id.
   */
  identityPrincipalId?: string;
  pins: ConsumerPin[];
  /** Version really in use per pin, where the service reports it (Cosmos keyVaultKeyUriVersion). */
  inUse: Partial<Record<PinName, string>>;
  /** "Succeeded", "Updating", "Failed", ... */
  provisioningState?: string;
  /** Cosmos `customerManagedKeyStatus` and similar. */
  keyStatus?: string;
  /**
   * The resource's ETag, where its provider honours `If-Match` on update (Kusto clusters): a
   * repoint sends it, so a write that lands after someone else's change is refused (412).
   */
  etag?: string;
  backupRetention?: BackupRetention;
  /**
   * App id the consumer's calls carry instead of an identity of its own: a FirstPartyIdentity
   * Cosmos DB account calls as the Azure Cosmos DB application (COSMOS_FIRST_PARTY_APP_ID).
   */
  identityAppId?: string;
  /**
   * Whether the consumer runs, for kinds that can stop: a Kusto cluster's `state` ("Running",
   * "Stopped", "Starting", "Unavailable", ...), a Cassandra data center "Deallocated" (its or
   * its cluster's `deallocated`) or "Running". Absent for kinds that always run (Cosmos DB).
   */
  runState?: string;
  /** Every principal id the resource carries (system-assigned and user-assigned), lower case. */
  principalIds?: string[];
  /**
   * Where these facts come from: the Resource Graph row discovery fetched (it may lag Resource
   * Manager), or a fresh ARM GET (absent means a fresh read). A disable is planned only on
   * fresh reads of every consumer of its key (`src/plan/freshReads.ts`).
   */
  readFrom?: "resource-graph";
  /** The resource's region, normalised ("westeurope"), where known: a Kusto cluster needs its key vault in it. */
  location?: string;
}

/** Whether a consumer makes calls now: it has no run state, or it is Running (or updating while running). */
export function isRunning(consumer: ConsumerSnapshot): boolean {
  const state = consumer.runState?.toLowerCase();
  return state === undefined || state === "running" || state === "updating";
}

/** Who a caller in the audit logs is, in words a person acts on. */
export interface CallerAttribution {
  /** "kusto adx-pinned", "user-assigned identity uai-batch", "the rotator itself", ... */
  name: string;
  kind: "consumer" | "first-party-app" | "service" | "resource" | "user-assigned-identity";
  /** ARM id of the resource the caller is, or unwraps for, when known. */
  resourceId?: string;
}

/** Use of one key version seen in the audit logs (service identity excluded). */
export interface VersionUse {
  version: string;
  lastUse: Date;
  /** Caller object id of the last use. */
  lastUser: string;
  count: number;
  /** Last use per caller object id. */
  byCaller: Record<string, Date>;
}

/**
 * What the audit logs say about one key over the evidence window. `complete` is false when
 * the query failed or returned a partial result: then nothing may be concluded.
 */
export interface AuditEvidence {
  key: KeyRef;
  workspaceId: string;
  complete: boolean;
  /** Why evidence is incomplete (query error, partial result, no workspace). */
  problem?: string;
  /** Window the query covered. */
  from: Date;
  to: Date;
  /** Newest audit record of the service's own read of this key: the canary. */
  canarySeenAt?: Date;
  /**
   * Oldest audit record of the service's own reads of this key in the window. The service
   * reads every managed key on every run, so this shows how far back the log pipeline is
   * proven to have been flowing: an empty result before it proves nothing.
   */
  canaryFirstSeenAt?: Date;
  uses: VersionUse[];
  /** App id per caller object id, where the records carry one (first-party services' tokens). */
  callerAppIds?: Record<string, string>;
  /**
   * Calls that failed with Key Vault's 403 on a version (a crypto operation on a disabled
   * version answers 403 KeyDisabled), per version: the signs that a disabled version is still
   * needed. Also counted in `uses` (a failed unwrap is use).
   */
  failures?: FailedUse[];
}

/** Calls that failed with 403 on one key version (service identity's own operations excluded). */
export interface FailedUse {
  version: string;
  firstFailure: Date;
  lastFailure: Date;
  count: number;
  /** Last failure per caller object id. */
  byCaller: Record<string, Date>;
}

/** An operator's (or a restore's) freeze of a key's retirement: nothing of the key retires until it is unfrozen. */
export interface FreezeRecord {
  reason: string;
  at: Date;
  /** "operator", or "cmk-rotator" for a freeze a restore wrote. */
  by: string;
}

export interface Snapshot {
  observedAt: Date;
  keys: KeySnapshot[];
  consumers: ConsumerSnapshot[];
  /** By `keyRefId`. */
  evidence: Record<string, AuditEvidence>;
  /** Keys that could not be read this time, by `keyRefId`, with the reason. */
  unreadableKeys: Record<string, string>;
  /** Who the callers in the evidence are, by lower-case object id (consumers, apps, resources, the service). */
  callers?: Record<string, CallerAttribution>;
  /** Keys whose retirement is frozen (hold `retirement-frozen`), by `keyRefId`. */
  freezes?: Record<string, FreezeRecord>;
  /** Why the freeze records could not be read: then nothing retires at all. */
  freezeProblem?: string;
  /** Migrations stored for keys in this snapshot (active and cancelled), by source key id. */
  migrations?: MigrationIntent[];
  /** Vault facts from Resource Manager (location, soft delete, purge protection), by lower-case vault name. */
  vaults?: Record<string, VaultFacts>;
  /**
   * Set when some consumers came from a listing an earlier run made (Cassandra data centers):
   * how many rows, and when the oldest listing was made. No disable is applied from such a
   * snapshot: the service lists afresh and plans again first.
   */
  reusedListings?: { rows: number; oldestListedAt: Date };
}

/** What Resource Manager says about a vault or Managed HSM: where it is and how it keeps deleted keys. */
export interface VaultFacts {
  /** Normalised region ("westeurope"). */
  location?: string;
  softDelete?: boolean;
  purgeProtection?: boolean;
}

export type MigrationState = "active" | "cancelled";

/**
 * A stored intent to move every consumer of `source` to `destination` (the second way to
 * rotate: swap the key, not the version). Every later run keeps moving the consumers still on
 * the source until none is left; cancelling stops further moves, and nothing moves back.
 */
export interface MigrationIntent {
  source: KeyRef;
  destination: KeyRef;
  requestedAt: Date;
  reason: string;
  /** Disable the source's newest version too, once nothing references it and the evidence proves no use. */
  retireSource: boolean;
  state: MigrationState;
  /** The run that stored the intent. */
  runId: string;
  cancelledAt?: Date;
  cancelReason?: string;
}

export interface Policy {
  quietPeriodMs: number;
  emergencyQuietPeriodMs: number;
  /** How far behind `now` the newest canary may be for the pipeline to count as current. */
  ingestionMarginMs: number;
  /** The longest delay allowed for between a Key Vault call and its audit record being queryable. */
  maxIngestionLatencyMs: number;
  /**
   * Object id of the service's own identity: a consumer unwrapping with it cannot be told
   * apart from the service in the audit logs.
   */
  servicePrincipalId: string;
  mode: RotatorMode;
  /** Minimum RSA size per consumer kind. */
  minRsaBits: Record<ConsumerKind, number>;
  /** RSA sizes a consumer kind accepts at all, where its service documents a closed list. */
  acceptedRsaBits: Partial<Record<ConsumerKind, readonly number[]>>;
  /**
   * ROTATOR_RESTORE_WATCH: how long after the service disabled a version it watches for signs it
   * is still needed (default DEFAULT_RESTORE_WATCH_MS, 7 days).
   */
  restoreWatchMs?: number;
}

/** ROTATOR_RESTORE_WATCH's default, P7D. */
export const DEFAULT_RESTORE_WATCH_MS = 7 * 24 * 3600 * 1000;

/** Tag names the service writes on key versions. */
export const TAGS = {
  compromised: "cmk-rotator-compromised",
  compromisedReason: "cmk-rotator-compromised-reason",
  disabledBy: "cmk-rotator-disabled-by",
  disabledAt: "cmk-rotator-disabled-at",
  evidence: "cmk-rotator-evidence",
  lastUse: "cmk-rotator-last-use",
  supersededBy: "cmk-rotator-superseded-by",
  restoredAt: "cmk-rotator-restored-at",
  restoredReason: "cmk-rotator-restored-reason",
} as const;

export interface RepointAction {
  type: "repoint";
  key: KeyRef;
  consumerId: string;
  consumerKind: ConsumerKind;
  pin: PinName;
  from: string;
  to: string;
  reason: ReasonCode;
  message: string;
}

export interface DisableAction {
  type: "disable";
  key: KeyRef;
  version: string;
  evidence: {
    supersededAt: Date;
    quietPeriodMs: number;
    windowFrom: Date;
    windowTo: Date;
    canarySeenAt: Date;
    lastUse?: Date;
    workspaceId: string;
  };
  /**
   * Set when the version is the newest of a migrated key's source and the migration asked for
   * `retireSource`: the live re-check then allows the newest, and refuses while anything references the key.
   */
  retiresMigrationSource?: true;
  reason: ReasonCode;
  message: string;
}

/**
 * Moves one pin of a consumer from the migration's source key to its destination key, keeping
 * the pin's mode: a pinned pin gets `to` (the destination's newest version that passes the
 * consumer's preflight), a follower (`from` null) stays versionless (`to` null).
 */
export interface MigrateAction {
  type: "migrate";
  key: KeyRef;
  toKey: KeyRef;
  consumerId: string;
  consumerKind: ConsumerKind;
  pin: PinName;
  from: string | null;
  to: string | null;
  reason: ReasonCode;
  message: string;
}

export type PlannedAction = RepointAction | DisableAction | MigrateAction;

/** What showed that a disabled version is still needed. */
export type RestoreTrigger = "failed-use" | "consumer-key-error";

/** A sign that a version the service disabled is still needed, and by whom. */
export interface RestoreSign {
  trigger: RestoreTrigger;
  /** Who failed: a caller's name (or object id), or a consumer's kind and id. */
  who: string;
  /** Object id of the caller, or ARM id of the consumer. */
  id: string;
  /** When it was seen failing (the last failed call), or observed in error. */
  at: Date;
  /** The failed call or the consumer's status, in words. */
  detail: string;
}

/**
 * Re-enable a version the service disabled within ROTATOR_RESTORE_WATCH, because someone
 * still needs it: an update of the version (enabled, tags), never anything else.
 */
export interface RestoreAction {
  type: "restore";
  key: KeyRef;
  version: string;
  disabledAt: Date;
  signs: RestoreSign[];
  reason: ReasonCode;
  message: string;
}

/** A compromised version someone still needs: never re-enabled automatically, an operator decides. */
export interface RestoreNeeded {
  type: "restore-needed";
  key: KeyRef;
  version: string;
  disabledAt: Date;
  signs: RestoreSign[];
  reason: ReasonCode;
  message: string;
}

export interface Hold {
  type: "hold";
  key: KeyRef;
  version: string;
  reason: ReasonCode;
  message: string;
  /** When the hold can lift at the earliest, if known. */
  until?: Date;
  /** Consumer or caller the hold concerns, if any. */
  concerns?: string;
}

/** Something a person should know about a key that holds nothing and blocks nothing (yet). */
export interface Warning {
  type: "warning";
  key: KeyRef;
  reason: ReasonCode;
  message: string;
}

export interface Block {
  type: "block";
  key: KeyRef;
  version: string;
  reason: ReasonCode;
  message: string;
}

export type ReasonCode =
  | "consumer-lags"
  | "quiet-period-elapsed-unused"
  | "newest-version"
  | "pinned-by-consumer"
  | "in-use-by-consumer"
  | "superseded-recently"
  | "used-recently"
  | "pipeline-not-current"
  | "pipeline-history-too-short"
  /**
   * A consumer of the key unwraps with the service's own identity: its use cannot be told
   * apart from the service's own calls in the audit logs, so no old version is disabled.
   */
  | "consumer-shares-rotator-identity"
  | "evidence-incomplete"
  /**
   * A consumer of the key is not proven off this version: no read-back newer than it (with its
   * update finished and the consumer running), or for a follower without read-back no audit
   * record of its own identity on a newer version.
   */
  | "consumer-not-proven-switched"
  /**
   * A consumer of the key is stopped or deallocated: it makes no calls, and when it starts it
   * needs the version its data was last wrapped with. Held until it has run again and proven its switch.
   */
  | "consumer-stopped"
  /** A Managed HSM key nears (or has reached) the cap of 100 versions. */
  | "hsm-version-cap-near"
  | "backup-retention"
  | "repoint-in-progress"
  | "already-disabled"
  | "preflight-disabled"
  | "preflight-expired"
  | "preflight-not-yet-valid"
  | "preflight-not-rsa"
  | "preflight-key-too-small"
  | "preflight-key-size-unsupported"
  | "preflight-missing-key-ops"
  | "preflight-not-purge-protected"
  /** The version carries TAGS.compromised: it is never a target. */
  | "preflight-compromised"
  /** A consumer pins a version the key does not list: reported, never guessed about. */
  | "pinned-version-unknown"
  /** A consumer pins a version newer than the target (the newest is blocked): it stays. */
  | "consumer-ahead-of-target"
  | "no-valid-target"
  /** A version the service disabled is failing someone's calls (403 in the audit logs): enable it again. */
  | "failed-use-after-disable"
  /** A consumer's own status shows a Key Vault error on a version the service disabled: enable it again. */
  | "consumer-key-error-after-disable"
  /** A compromised version is still needed: never re-enabled automatically, an operator decides. */
  | "compromised-version-needed"
  /** Retirement of the key is frozen (after a restore, or by an operator) until an operator unfreezes it. */
  | "retirement-frozen"
  /** A consumer is moved from a migration's source key to its destination key. */
  | "migration"
  /** A consumer of a migration's source is not moved: its destination fails a check for it (the message says which). */
  | "migration-held"
  /** Nothing references a migrated key any more; its newest version stays enabled (no `retireSource`). */
  | "migration-source-unused"
  /** A migrated key's newest version, with `retireSource`, unused for the quiet period. */
  | "migration-source-retired"
  | "report-mode";

export interface Plan {
  now: Date;
  actions: PlannedAction[];
  holds: Hold[];
  blocks: Block[];
  /** Warnings per key (a Managed HSM key near its version cap). */
  warnings?: Warning[];
  /** Newest enabled version passing preflight, per `keyRefId`; absent when none. */
  targets: Record<string, string>;
  /** The policy's mode, for views: in report mode apply acts on nothing. */
  mode?: RotatorMode;
  /** Versions the service disabled that someone still needs: re-enable them. */
  restores?: RestoreAction[];
  /** Compromised versions someone still needs: an operator decides. */
  restoresNeeded?: RestoreNeeded[];
  /** Each migration of a key in the snapshot: consumers moved, waiting and held. */
  migrations?: MigrationProgress[];
}

export interface MigrationConsumer {
  consumerId: string;
  consumerKind: ConsumerKind;
  pin: PinName;
  /** The pin's version, or null for a follower. */
  version: string | null;
}

export interface MigrationProgress {
  source: string;
  destination: string;
  state: MigrationState;
  requestedAt: Date;
  reason: string;
  retireSource: boolean;
  cancelledAt?: Date;
  cancelReason?: string;
  /** Pins on the destination key now. */
  moved: MigrationConsumer[];
  /** Pins still on the source with a move planned or waiting for the consumer (busy, stopped). */
  waiting: (MigrationConsumer & { why: string })[];
  /** Pins still on the source that are not moved, and why. */
  held: (MigrationConsumer & { reason: ReasonCode; message: string })[];
  /** Nothing references the source any more. */
  complete: boolean;
}

/** The three outcomes of a step: done, pending (try later, no error) or failed (with a reason). */
export type StepOutcome =
  | { status: "done"; detail?: string }
  | { status: "pending"; detail: string; retryAfterMs?: number }
  | { status: "failed"; reason: string; detail: string };
