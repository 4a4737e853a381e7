/**
 * fast-check arbitraries for planner inputs: one key with a random history of versions
 * (some disabled, some flawed), consumers pinning random versions (some versionless, some
 * unknown, some busy), random audit evidence and a random policy.
 */
import fc from "fast-check";
import type {
  ConsumerKind,
  ConsumerSnapshot,
  KeyVersionFacts,
  Policy,
  Snapshot,
  VersionUse,
} from "../../../src/model.js";
import { keyRefId, TAGS } from "../../../src/model.js";
import {
  aConsumer,
  aKeyRef,
  anEvidence,
  aPin,
  aPolicy,
  aVersion,
  DAY,
  HOUR,
  MINUTE,
  NOW,
  SERVICE_PRINCIPAL_ID,
  versionId,
} from "../../builders/index.js";

export const KEY = aKeyRef();
export const CALLERS = [
  "55555555-5555-5555-5555-555555555555",
  "66666666-6666-6666-6666-666666666666",
] as const;
/** Pins to this index name a version the key does not list. */
const UNKNOWN_VERSION_INDEX = 99;

type Flaw = "EC" | "small" | "expired" | "purgeable" | "compromised" | "noWrap" | "notYetValid";

const flawArb = fc.option(
  fc.constantFrom<Flaw>("EC", "small", "expired", "purgeable", "compromised", "noWrap", "notYetValid"),
  { freq: 3 },
);

/** True about once in `n` draws. */
function oneIn(n: number): fc.Arbitrary<boolean> {
  return fc.integer({ min: 1, max: n }).map((draw) => draw === 1);
}

const versionArb = fc.record({
  gapMs: fc.integer({ min: MINUTE, max: 3 * DAY }),
  enabled: fc.boolean(),
  flaw: flawArb,
});

const consumerArb = fc.record({
  kind: fc.constantFrom<ConsumerKind>("kusto", "cosmos", "cassandra"),
  pinIndex: fc.option(fc.oneof(fc.nat(6), fc.constant(UNKNOWN_VERSION_INDEX)), { freq: 4 }),
  busy: oneIn(5),
  inUseIndex: fc.option(fc.nat(6)),
  backupRetentionMs: fc.option(fc.integer({ min: HOUR, max: 10 * DAY }), { freq: 2 }),
  /** The consumer's own last use of some version (it may have been repointed since). */
  lastOwnUse: fc.option(fc.record({ versionIndex: fc.nat(6), ageMs: fc.integer({ min: 0, max: 4 * DAY }) })),
  /** It unwraps with the rotator's own identity, and its use never shows in the evidence. */
  sharesRotatorIdentity: oneIn(10),
  /** It is stopped (Kusto) or deallocated (Cassandra); Cosmos DB accounts always run. */
  stopped: oneIn(6),
  /** Its own identity used the newest version lately (it moved there). */
  switched: fc.boolean(),
});

const useArb = fc.record({
  versionIndex: fc.nat(6),
  ageMs: fc.integer({ min: 0, max: 4 * DAY }),
  caller: fc.constantFrom(...CALLERS),
});

export const historyArb = fc.record({
  versions: fc.array(versionArb, { minLength: 1, maxLength: 6 }),
  newestAgeMs: fc.integer({ min: 0, max: 3 * DAY }),
  consumers: fc.array(consumerArb, { maxLength: 5 }),
  evidence: fc.record({
    present: oneIn(8).map((absent) => !absent),
    complete: oneIn(6).map((incomplete) => !incomplete),
    canaryAgeMs: fc.option(fc.integer({ min: 0, max: 3 * HOUR }), { freq: 6 }),
    windowMs: fc.integer({ min: HOUR, max: 5 * DAY }),
    /** How long the service's own reads have been visible in the logs (null: since before the window). */
    ownReadsForMs: fc.option(fc.integer({ min: 0, max: 3 * DAY }), { freq: 3 }),
    uses: fc.array(useArb, { maxLength: 6 }),
  }),
  policy: fc.record({
    quietPeriodMs: fc.integer({ min: MINUTE, max: 2 * DAY }),
    emergencyQuietPeriodMs: fc.integer({ min: MINUTE, max: DAY }),
    ingestionMarginMs: fc.integer({ min: MINUTE, max: 2 * HOUR }),
    maxIngestionLatencyMs: fc.integer({ min: 0, max: HOUR }),
  }),
});

export type History = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

function applyFlaw(version: KeyVersionFacts, flaw: Flaw | null): KeyVersionFacts {
  switch (flaw) {
    case "EC":
      return { ...version, keyType: "EC", keySize: undefined };
    case "small":
      return { ...version, keySize: 1024 };
    case "expired":
      return { ...version, expiresOn: new Date(NOW.getTime() - MINUTE) };
    case "purgeable":
      return { ...version, recoveryLevel: "Recoverable+Purgeable" };
    case "compromised":
      return { ...version, tags: { [TAGS.compromised]: "true" } };
    case "noWrap":
      return { ...version, keyOps: ["encrypt", "decrypt"] };
    case "notYetValid":
      return { ...version, notBefore: new Date(NOW.getTime() + HOUR) };
    default:
      return version;
  }
}

function mergeUse(uses: Map<string, VersionUse>, version: string, at: Date, caller: string): void {
  const existing = uses.get(version);
  if (!existing) {
    uses.set(version, { version, lastUse: at, lastUser: caller, count: 1, byCaller: { [caller]: at } });
    return;
  }
  existing.count += 1;
  const previous = existing.byCaller[caller];
  if (!previous || previous < at) existing.byCaller[caller] = at;
  if (existing.lastUse < at) {
    existing.lastUse = at;
    existing.lastUser = caller;
  }
}

export function snapshotOf(history: History): { snapshot: Snapshot; policy: Policy } {
  // Newest last; created times walk backwards from the newest.
  let created = NOW.getTime() - history.newestAgeMs;
  const versions: KeyVersionFacts[] = [];
  for (let index = history.versions.length - 1; index >= 0; index--) {
    const spec = history.versions[index];
    if (!spec) continue;
    versions.unshift(
      applyFlaw(aVersion(index, { created: new Date(created), enabled: spec.enabled }), spec.flaw),
    );
    created -= spec.gapMs;
  }
  const versionAt = (index: number): string =>
    index === UNKNOWN_VERSION_INDEX
      ? "f".repeat(32)
      : (versions[index % versions.length]?.version ?? versionId(0));

  const uses = new Map<string, VersionUse>();
  for (const use of history.evidence.uses) {
    mergeUse(uses, versionAt(use.versionIndex), new Date(NOW.getTime() - use.ageMs), use.caller);
  }
  const consumers: ConsumerSnapshot[] = history.consumers.map((spec) => {
    // Cosmos DB accounts are followers: never pinned, their read-back says what they use.
    const pinned = spec.pinIndex === null || spec.kind === "cosmos" ? null : versionAt(spec.pinIndex);
    const consumer = aConsumer({
      kind: spec.kind,
      pins: [aPin(KEY, pinned)],
      // Only Cosmos DB reports the version it really uses.
      inUse: spec.inUseIndex === null || spec.kind !== "cosmos" ? {} : { key: versionAt(spec.inUseIndex) },
      provisioningState: spec.busy ? "Updating" : "Succeeded",
      ...(spec.backupRetentionMs === null
        ? {}
        : { backupRetention: { retentionMs: spec.backupRetentionMs, description: "Periodic" } }),
      ...(spec.sharesRotatorIdentity
        ? { identity: SERVICE_PRINCIPAL_ID, identityPrincipalId: SERVICE_PRINCIPAL_ID }
        : {}),
      ...(spec.kind === "cosmos"
        ? {}
        : {
            runState: spec.stopped ? (spec.kind === "cassandra" ? "Deallocated" : "Stopped") : "Running",
          }),
    });
    // A consumer under the rotator's identity leaves no use the evidence can tell apart: the worst case.
    if (spec.lastOwnUse !== null && consumer.identity && !spec.sharesRotatorIdentity) {
      const used = versionAt(spec.lastOwnUse.versionIndex);
      mergeUse(uses, used, new Date(NOW.getTime() - spec.lastOwnUse.ageMs), consumer.identity);
    }
    const newest = versions.at(-1)?.version;
    if (spec.switched && newest && consumer.identity && !spec.sharesRotatorIdentity) {
      mergeUse(uses, newest, new Date(NOW.getTime() - MINUTE), consumer.identity);
    }
    return consumer;
  });

  const evidence = history.evidence.present
    ? {
        [keyRefId(KEY)]: anEvidence(KEY, {
          complete: history.evidence.complete,
          ...(history.evidence.complete ? {} : { problem: "partial result" }),
          from: new Date(NOW.getTime() - history.evidence.windowMs),
          canarySeenAt:
            history.evidence.canaryAgeMs === null
              ? undefined
              : new Date(NOW.getTime() - history.evidence.canaryAgeMs),
          canaryFirstSeenAt:
            history.evidence.ownReadsForMs === null
              ? new Date(NOW.getTime() - history.evidence.windowMs)
              : new Date(NOW.getTime() - Math.min(history.evidence.ownReadsForMs, history.evidence.windowMs)),
          uses: [...uses.values()],
        }),
      }
    : {};
  return {
    snapshot: { observedAt: NOW, keys: [{ key: KEY, versions }], consumers, evidence, unreadableKeys: {} },
    policy: aPolicy(history.policy),
  };
}
