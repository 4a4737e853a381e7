/**
 * Small builders for the engine's vocabulary, so a test states only what matters to it.
 * Every builder returns a valid baseline; pass overrides for the one thing under test.
 *
 *   const key = aKeySnapshot({ versions: [aVersion(0, { ageMs: 3 * DAY }), aVersion(1, { ageMs: DAY })] });
 *   const kusto = aConsumer({ pins: [aPin(key, versionId(0))] });
 */
import type {
  AuditEvidence,
  ConsumerPin,
  ConsumerSnapshot,
  KeyRef,
  KeySnapshot,
  KeyVersionFacts,
  PinName,
  Policy,
  Snapshot,
  VersionUse,
} from "../../src/model.js";
import { keyRefId } from "../../src/model.js";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The fixed "now" of builder-made data. */
export const NOW = new Date("2025-06-01T12:00:00.000Z");

export const SERVICE_PRINCIPAL_ID = "22222222-2222-2222-2222-222222222222";
export const WORKSPACE_ID = "11111111-1111-1111-1111-111111111111";
export const SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001";

/** A deterministic 32-hex version id: versionId(0) = "000…0", versionId(10) = "000…a". */
export function versionId(index: number): string {
  return index.toString(16).padStart(32, "0");
}

export function ago(ms: number, now: Date = NOW): Date {
  return new Date(now.getTime() - ms);
}

export function aKeyRef(overrides: Partial<KeyRef> = {}): KeyRef {
  const vaultName = overrides.vaultName ?? "kv1";
  const hostKind = overrides.hostKind ?? "vault";
  const host = hostKind === "vault" ? "vault.azure.net" : "managedhsm.azure.net";
  return {
    vaultName,
    hostKind,
    vaultUrl: overrides.vaultUrl ?? `https://${vaultName}.${host}/`,
    keyName: overrides.keyName ?? "cmk",
  };
}

export interface VersionOptions extends Partial<KeyVersionFacts> {
  /** Age at NOW; default: (10 - index) days, so a higher index is newer. */
  ageMs?: number;
  key?: KeyRef;
  now?: Date;
}

/** A valid RSA 3072 wrap/unwrap version on a purge-protected vault. */
export function aVersion(index: number, options: VersionOptions = {}): KeyVersionFacts {
  const { ageMs, key = aKeyRef(), now = NOW, ...facts } = options;
  const version = facts.version ?? versionId(index);
  return {
    version,
    kid: `${key.vaultUrl}keys/${key.keyName}/${version}`,
    enabled: true,
    created: ago(ageMs ?? (10 - index) * DAY, now),
    keyType: "RSA",
    keySize: 3072,
    keyOps: ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"],
    tags: {},
    recoveryLevel: "Recoverable",
    ...facts,
  };
}

export function aKeySnapshot(overrides: Partial<KeySnapshot> = {}): KeySnapshot {
  const key = overrides.key ?? aKeyRef();
  return {
    key,
    versions: overrides.versions ?? [aVersion(0, { key }), aVersion(1, { key })],
    ...(overrides.currentVersion ? { currentVersion: overrides.currentVersion } : {}),
  };
}

/**
 * The key most planner tests start from: v0 10 days old, v1 3 days old and the newest, v2,
 * 2 days old (so v1 was superseded 2 days ago).
 */
export function aKeyWithThreeVersions(overrides: Partial<KeySnapshot> = {}): KeySnapshot {
  const key = overrides.key ?? aKeyRef();
  return aKeySnapshot({
    key,
    versions: [
      aVersion(0, { key, ageMs: 10 * DAY }),
      aVersion(1, { key, ageMs: 3 * DAY }),
      aVersion(2, { key, ageMs: 2 * DAY }),
    ],
    ...overrides,
  });
}

export function aPin(key: KeyRef, version: string | null, pin: PinName = "key"): ConsumerPin {
  return { pin, key, version };
}

let consumerCounter = 0;

/** A Kusto cluster by default; pass `kind` and `pins` for others. */
export function aConsumer(overrides: Partial<ConsumerSnapshot> = {}): ConsumerSnapshot {
  consumerCounter += 1;
  const kind = overrides.kind ?? "kusto";
  const name = `${kind}${consumerCounter}`;
  const provider =
    kind === "kusto"
      ? `Microsoft.Kusto/clusters/${name}`
      : kind === "cosmos"
        ? `Microsoft.DocumentDB/databaseAccounts/${name}`
        : `Microsoft.DocumentDB/cassandraClusters/${name}/dataCenters/dc1`;
  return {
    id: `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/rg/providers/${provider}`,
    kind,
    subscriptionId: SUBSCRIPTION_ID,
    identity: `33333333-3333-3333-3333-${String(consumerCounter).padStart(12, "0")}`,
    pins: [],
    inUse: {},
    provisioningState: "Succeeded",
    ...overrides,
  };
}

export function aUse(
  version: string,
  lastUse: Date,
  lastUser = "44444444-4444-4444-4444-444444444444",
): VersionUse {
  return { version, lastUse, lastUser, count: 1, byCaller: { [lastUser]: lastUse } };
}

/**
 * A use of `version` by the consumer's own identity (its principal id, else its identity): the
 * audit evidence that it has switched to that version.
 */
export function aUseBy(consumer: ConsumerSnapshot, version: string, lastUse: Date = ago(HOUR)): VersionUse {
  const caller = (consumer.identityPrincipalId ?? consumer.identity ?? "").toLowerCase();
  return aUse(version, lastUse, caller);
}

/** Evidence for one key whose uses are `uses` (several uses of one version merge by caller). */
export function anEvidenceWithUses(key: KeyRef, uses: VersionUse[], overrides: Partial<AuditEvidence> = {}) {
  const merged = new Map<string, VersionUse>();
  for (const use of uses) {
    const known = merged.get(use.version);
    if (!known) {
      merged.set(use.version, { ...use, byCaller: { ...use.byCaller } });
      continue;
    }
    known.count += use.count;
    for (const [caller, at] of Object.entries(use.byCaller)) {
      const previous = known.byCaller[caller];
      if (!previous || previous < at) known.byCaller[caller] = at;
    }
    if (use.lastUse > known.lastUse) {
      known.lastUse = use.lastUse;
      known.lastUser = use.lastUser;
    }
  }
  return { [keyRefId(key)]: anEvidence(key, { uses: [...merged.values()], ...overrides }) };
}

/**
 * Complete evidence over the last 2 days with a fresh canary (1 minute old), the service's
 * own reads visible since the window start, and no use.
 */
export function anEvidence(key: KeyRef = aKeyRef(), overrides: Partial<AuditEvidence> = {}): AuditEvidence {
  const now = overrides.to ?? NOW;
  return {
    key,
    workspaceId: WORKSPACE_ID,
    complete: true,
    from: ago(2 * DAY, now),
    to: now,
    canarySeenAt: ago(MINUTE, now),
    canaryFirstSeenAt: ago(2 * DAY, now),
    uses: [],
    ...overrides,
  };
}

/** A snapshot of the given keys, each with fresh complete evidence unless given. */
export function aSnapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  const keys = overrides.keys ?? [aKeySnapshot()];
  const observedAt = overrides.observedAt ?? NOW;
  const evidence =
    overrides.evidence ??
    Object.fromEntries(keys.map((key) => [keyRefId(key.key), anEvidence(key.key, { to: observedAt })]));
  return {
    observedAt,
    keys,
    consumers: overrides.consumers ?? [],
    evidence,
    unreadableKeys: overrides.unreadableKeys ?? {},
  };
}

/** The caller whose recent use of v0 holds it in `aRolloutInProgress`. */
export const RECENT_CALLER = "55555555-5555-5555-5555-555555555555";

/**
 * A rollout half done on `aKeyWithThreeVersions`: v0 used by RECENT_CALLER 2 hours ago (so
 * held), v1 pinned (and unwrapped 10 minutes ago) by a lagging Kusto cluster, v2 the target,
 * followed by a versionless Cosmos account that uses it.
 */
export function aRolloutInProgress(overrides: Partial<Snapshot> = {}): {
  key: KeyRef;
  snapshot: Snapshot;
  lagging: ConsumerSnapshot;
  follower: ConsumerSnapshot;
} {
  const key = aKeyRef();
  const lagging = aConsumer({ kind: "kusto", pins: [aPin(key, versionId(1))] });
  const follower = aConsumer({ kind: "cosmos", pins: [aPin(key, null)], inUse: { key: versionId(2) } });
  const snapshot = aSnapshot({
    keys: [aKeyWithThreeVersions({ key })],
    consumers: [lagging, follower],
    // The lagging cluster still unwraps v1, the version it pins.
    evidence: anEvidenceWithUses(key, [
      aUse(versionId(0), ago(2 * HOUR), RECENT_CALLER),
      aUseBy(lagging, versionId(1), ago(10 * MINUTE)),
    ]),
    ...overrides,
  });
  return { key, snapshot, lagging, follower };
}

export function aPolicy(overrides: Partial<Policy> = {}): Policy {
  return {
    quietPeriodMs: DAY,
    emergencyQuietPeriodMs: HOUR,
    ingestionMarginMs: 30 * MINUTE,
    maxIngestionLatencyMs: 20 * MINUTE,
    servicePrincipalId: SERVICE_PRINCIPAL_ID,
    mode: "enforce",
    minRsaBits: { kusto: 2048, cosmos: 3072, cassandra: 2048 },
    // No closed size lists by default, so one baseline version (RSA 3072) suits every kind.
    acceptedRsaBits: {},
    ...overrides,
  };
}

/** Settings environment that loads cleanly; override or delete one entry per test. */
export function aSettingsEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    ROTATOR_INGESTION_MARGIN: "PT30M",
    ROTATOR_MODE: "enforce",
    ROTATOR_TIMER_SCHEDULE: "0 */15 * * * *",
    ROTATOR_MANAGED_VAULTS: "https://kv1.vault.azure.net,https://hsm1.managedhsm.azure.net",
    ROTATOR_SUBSCRIPTIONS: SUBSCRIPTION_ID,
    ROTATOR_AUDIT_WORKSPACES: `kv1=${WORKSPACE_ID},hsm1=${WORKSPACE_ID}`,
    ROTATOR_SERVICE_PRINCIPAL_ID: SERVICE_PRINCIPAL_ID,
    ROTATOR_JOURNAL_CONNECTION_STRING: "UseDevelopmentStorage=true",
    ROTATOR_EVENTS_TOPIC_ENDPOINT: "https://rotator-events.westeurope-1.eventgrid.azure.net/api/events",
    ...overrides,
  };
}
