/**
 * Everything the planner and the view need to know about one key, gathered once from the
 * snapshot: versions in created order, the consumers that pin it, its audit evidence,
 * each version's preflight verdict and the target.
 */
import type {
  AuditEvidence,
  CallerAttribution,
  ConsumerKind,
  ConsumerPin,
  ConsumerSnapshot,
  FreezeRecord,
  KeyRef,
  KeySnapshot,
  KeyVersionFacts,
  Policy,
  Snapshot,
} from "../model.js";
import { keyRefId } from "../model.js";
import { consumerAttributions } from "./callers.js";
import { isCompromised, preflight, type Verdict } from "./preflight.js";
import { orderVersions } from "./versionOrder.js";

export interface PinOnKey {
  consumer: ConsumerSnapshot;
  pin: ConsumerPin;
  /** Pinned version in lower case, or null when the consumer follows the newest version. */
  version: string | null;
}

export interface KeyContext {
  key: KeyRef;
  id: string;
  /** Oldest first by created time (the current version last of its second), whatever order the snapshot had. */
  versions: KeyVersionFacts[];
  /** The key's current version (a versionless GET), when observed. */
  currentVersion: string | undefined;
  /** Position of each version (lower case) in `versions`. */
  position: ReadonlyMap<string, number>;
  newest: KeyVersionFacts | undefined;
  newestEnabled: KeyVersionFacts | undefined;
  /** Pins on this key, sorted by consumer id then pin name. */
  pins: PinOnKey[];
  /** The consumers of this key, each once, by id. */
  consumers: ConsumerSnapshot[];
  consumerKinds: ConsumerKind[];
  /** Who the callers in the evidence are (the snapshot's attribution, and the key's own consumers). */
  callers: Readonly<Record<string, CallerAttribution>>;
  evidence: AuditEvidence | undefined;
  /** Null when the version passes preflight. */
  verdicts: ReadonlyMap<string, Verdict | null>;
  /** Newest enabled version passing preflight. */
  target: KeyVersionFacts | undefined;
  /** The key's retirement freeze, when frozen (after a restore, or by an operator). */
  frozen?: FreezeRecord;
  /** Why the freeze records could not be read: then nothing of the key retires. */
  freezeProblem?: string;
  /**
   * Consumers that may have left this key by a migration (those on its migration's destination
   * now): their backups can still need this key's versions, so backup retention counts them.
   */
  formerConsumers?: ConsumerSnapshot[];
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether a consumer's pin names this key (Key Vault compares names case-insensitively). */
export function pinsKey(pin: ConsumerPin, key: KeyRef): boolean {
  return (
    pin.key.vaultName.toLowerCase() === key.vaultName.toLowerCase() &&
    pin.key.keyName.toLowerCase() === key.keyName.toLowerCase()
  );
}

/**
 * Every snapshot's pins grouped by key id, built once per snapshot (the planner and the views
 * share it). A snapshot is a value, never changed after observation; a different consumer list
 * (or length) builds the index again all the same.
 */
const pinsByKeyOfSnapshot = new WeakMap<
  Snapshot,
  { consumers: Snapshot["consumers"]; length: number; index: ReadonlyMap<string, readonly PinOnKey[]> }
>();

/**
 * The pins on each key of the snapshot, sorted by consumer id then pin name: one pass over the
 * consumers for all keys, instead of one per key (which grew as keys times consumers).
 */
export function pinsByKey(snapshot: Snapshot): ReadonlyMap<string, readonly PinOnKey[]> {
  const known = pinsByKeyOfSnapshot.get(snapshot);
  if (known && known.consumers === snapshot.consumers && known.length === snapshot.consumers.length)
    return known.index;
  const index = new Map<string, PinOnKey[]>();
  for (const consumer of snapshot.consumers) {
    for (const pin of consumer.pins) {
      const keyId = keyRefId(pin.key);
      const list = index.get(keyId) ?? [];
      list.push({ consumer, pin, version: pin.version === null ? null : pin.version.toLowerCase() });
      index.set(keyId, list);
    }
  }
  for (const list of index.values())
    list.sort((a, b) => compareText(a.consumer.id, b.consumer.id) || compareText(a.pin.pin, b.pin.pin));
  pinsByKeyOfSnapshot.set(snapshot, {
    consumers: snapshot.consumers,
    length: snapshot.consumers.length,
    index,
  });
  return index;
}

export function gatherKeyContext(
  keySnapshot: KeySnapshot,
  snapshot: Snapshot,
  policy: Policy,
  now: Date,
): KeyContext {
  const key = keySnapshot.key;
  const versions = orderVersions(keySnapshot.versions, keySnapshot.currentVersion);
  const position = new Map(versions.map((version, index) => [version.version.toLowerCase(), index]));

  // keyRefId is the lower-cased vault and key name: the same match as pinsKey.
  const pins: PinOnKey[] = [...(pinsByKey(snapshot).get(keyRefId(key)) ?? [])];
  const consumerKinds = [...new Set(pins.map((entry) => entry.consumer.kind))].sort(compareText);
  const consumers = [...new Map(pins.map((entry) => [entry.consumer.id, entry.consumer])).values()];
  const service = policy.servicePrincipalId.toLowerCase();
  // A consumer that unwraps with the rotator's own identity is named as that consumer.
  const callers: Record<string, CallerAttribution> = {
    ...(service ? { [service]: { name: "the rotator itself", kind: "service" } } : {}),
    ...(snapshot.callers ?? {}),
    ...consumerAttributions(consumers),
  };

  const verdicts = new Map(
    versions.map((version) => [
      version.version.toLowerCase(),
      preflight({ key, version, consumerKinds, policy, now }),
    ]),
  );
  const target = [...versions]
    .reverse()
    .find((version) => verdicts.get(version.version.toLowerCase()) === null);

  return {
    key,
    id: keyRefId(key),
    versions,
    currentVersion: keySnapshot.currentVersion?.toLowerCase(),
    position,
    newest: versions.at(-1),
    newestEnabled: [...versions].reverse().find((version) => version.enabled),
    pins,
    consumers,
    consumerKinds,
    callers,
    evidence: snapshot.evidence[keyRefId(key)],
    verdicts,
    target,
    ...(snapshot.freezes?.[keyRefId(key)] ? { frozen: snapshot.freezes[keyRefId(key)] } : {}),
    ...(snapshot.freezeProblem ? { freezeProblem: snapshot.freezeProblem } : {}),
  };
}

/** When a version was superseded: the created time of the next newer version. */
export function supersededAt(context: KeyContext, version: KeyVersionFacts): Date | undefined {
  const index = context.position.get(version.version.toLowerCase());
  return index === undefined ? undefined : context.versions[index + 1]?.created;
}

/** The quiet period that applies to a version: the emergency one (never longer) when compromised. */
export function quietPeriodFor(version: KeyVersionFacts, policy: Policy): number {
  return isCompromised(version)
    ? Math.min(policy.emergencyQuietPeriodMs, policy.quietPeriodMs)
    : policy.quietPeriodMs;
}
