/**
 * The retire decision for one old key version (DESIGN.md, "The retire decision"): a chain
 * of small rules over the gathered input. The first rule that objects holds the version,
 * with a reason, a sentence, and when known the earliest time the hold can lift and the
 * consumer or caller it concerns. Only when no rule objects is the version disabled.
 */
import { formatIsoDuration } from "../duration.js";
import {
  type AuditEvidence,
  type ConsumerSnapshot,
  type DisableAction,
  type Hold,
  isProvisioningBusy,
  isRunning,
  type KeyVersionFacts,
  type Policy,
  type VersionUse,
} from "../model.js";
import {
  callersOf,
  consumerName,
  describeCaller,
  hasOwnIdentity,
  lastUseBy,
  principalOf,
} from "./callers.js";
import { type KeyContext, quietPeriodFor, supersededAt } from "./keyContext.js";
import { isCompromised } from "./preflight.js";
import { isBusy } from "./repoint.js";

interface RetireInput {
  context: KeyContext;
  version: KeyVersionFacts;
  policy: Policy;
  now: Date;
  quietPeriodMs: number;
  /** Defined for every candidate: a candidate is never the newest version. */
  supersededAt: Date;
}

type HoldVerdict = Omit<Hold, "type" | "key" | "version">;
type RetireRule = (input: RetireInput) => HoldVerdict | null;

function versionName(input: RetireInput): string {
  return `Version ${input.version.version} of ${input.context.id}`;
}

function useOf(evidence: AuditEvidence | undefined, version: string): VersionUse | undefined {
  return evidence?.uses.find((use) => use.version.toLowerCase() === version.toLowerCase());
}

const notPinned: RetireRule = (input) => {
  const pinners = input.context.pins.filter((entry) => entry.version === input.version.version.toLowerCase());
  const first = pinners[0];
  if (!first) return null;
  const others = pinners.length > 1 ? ` and ${pinners.length - 1} more pin(s)` : "";
  return {
    reason: "pinned-by-consumer",
    message: `${versionName(input)} is pinned by ${first.consumer.kind} ${first.consumer.id} (${first.pin.pin})${others}; it is disabled only after every consumer is repointed.`,
    concerns: first.consumer.id,
  };
};

const notInUse: RetireRule = (input) => {
  const version = input.version.version.toLowerCase();
  const user = input.context.pins.find(
    (entry) => entry.consumer.inUse[entry.pin.pin]?.toLowerCase() === version,
  );
  if (!user) {
    // A consumer a migration moved away reports, until it has re-wrapped, the version it still uses.
    const former = (input.context.formerConsumers ?? []).find((consumer) =>
      Object.values(consumer.inUse).some((inUse) => inUse?.toLowerCase() === version),
    );
    if (!former) return null;
    return {
      reason: "in-use-by-consumer",
      message: `${versionName(input)} is still in use by ${former.kind} ${former.id} according to its read-back, although it moved to another key; it is held until that consumer has re-wrapped.`,
      concerns: former.id,
    };
  }
  return {
    reason: "in-use-by-consumer",
    message: `${versionName(input)} is still in use by ${user.consumer.kind} ${user.consumer.id} (${user.pin.pin}) according to its read-back; it is held until that consumer has switched.`,
    concerns: user.consumer.id,
  };
};

/**
 * A consumer in the middle of an update that does not report the version it really uses
 * may still be using any older version, whatever it now pins: hold until it settles.
 */
const noConsumerSwitching: RetireRule = (input) => {
  const switching = input.context.pins.find(
    (entry) => isBusy(entry) && entry.consumer.inUse[entry.pin.pin] === undefined,
  );
  if (!switching) return null;
  return {
    reason: "repoint-in-progress",
    message: `${switching.consumer.kind} ${switching.consumer.id} (${switching.pin.pin}) is ${switching.consumer.provisioningState} and does not report which version it really uses; ${versionName(input).toLowerCase()} is held until the update finishes.`,
    concerns: switching.consumer.id,
  };
};

/**
 * A consumer that unwraps with the service's own identity: in the audit logs its calls carry the
 * service's principal, so its reads look like the service's own (the canary) and absence of its
 * use proves nothing. Every old version of its key is held until it has an identity of its own.
 */
const noConsumerSharesRotatorIdentity: RetireRule = (input) => {
  const service = input.policy.servicePrincipalId.toLowerCase();
  if (!service) return null;
  const sharing = input.context.pins.find(
    (entry) => (entry.consumer.identityPrincipalId ?? entry.consumer.identity)?.toLowerCase() === service,
  );
  if (!sharing) return null;
  const consumer = `${sharing.consumer.kind} ${sharing.consumer.id}`;
  return {
    reason: "consumer-shares-rotator-identity",
    message: `${consumer} uses the rotator's own identity (${service}) for ${input.context.id}, so its use of the key cannot be told apart from the service's own calls in the audit logs; ${versionName(input).toLowerCase()} is held, as is every old version of this key, while it does. Give ${consumer} a managed identity of its own with get, wrapKey and unwrapKey on the key, and point its key settings at it; the hold lifts at the next run.`,
    concerns: sharing.consumer.id,
  };
};

/** Position of a version in the key's order (oldest 0), or undefined when the key does not list it. */
function positionOf(input: RetireInput, version: string | null | undefined): number | undefined {
  return version ? input.context.position.get(version.toLowerCase()) : undefined;
}

/** The newest version (by the key's order) this consumer's own identity was seen using, if any. */
function newestVersionUsedBy(input: RetireInput, consumer: ConsumerSnapshot): string | undefined {
  if (!hasOwnIdentity(consumer, input.context.consumers)) return undefined;
  const callers = callersOf(consumer, input.context.evidence);
  let newest: { version: string; position: number } | undefined;
  for (const use of input.context.evidence?.uses ?? []) {
    if (!lastUseBy(use, callers)) continue;
    const position = positionOf(input, use.version);
    if (position !== undefined && (!newest || position > newest.position))
      newest = { version: use.version, position };
  }
  return newest?.version;
}

/**
 * A stopped or deallocated consumer makes no calls, so its silence proves nothing, and the moment
 * it starts it unwraps the version its data was last wrapped with. Consumers are never moved to
 * an older version, so that is at least the newest version its own identity was seen using: that
 * version and every newer one are held. When no use of its own is in the evidence (it stopped
 * before the window; its identity is shared, first-party or unknown), every old version is held.
 * Records that arrive late can only make the newest version seen older, so they hold more, never
 * less. The hold lasts until the consumer runs again; then the proof rule below asks for its switch.
 */
const noConsumerStopped: RetireRule = (input) => {
  const position = positionOf(input, input.version.version) ?? -1;
  for (const consumer of input.context.consumers) {
    if (isRunning(consumer)) continue;
    const lastUsed = newestVersionUsedBy(input, consumer);
    const lastPosition = positionOf(input, lastUsed);
    if (lastPosition !== undefined && position < lastPosition) continue;
    const name = consumerName(consumer);
    const silent = ["stopped", "stopping", "deallocated"].includes(consumer.runState?.toLowerCase() ?? "");
    const state = silent
      ? `${consumer.runState}: it makes no Key Vault calls now`
      : `not running (state ${consumer.runState})`;
    const seen = lastUsed
      ? `it was last seen using version ${lastUsed}, so that version and every newer one are kept`
      : "which version its data is wrapped with is not in the audit logs, so every old version is kept";
    const action =
      consumer.kind === "cassandra"
        ? "Start the cluster again (or wait until it runs)"
        : "Start it again (or wait until it runs)";
    return {
      reason: "consumer-stopped",
      message: `${name} is ${state}, and when it starts it first unwraps the version its data was last wrapped with; ${seen}. ${versionName(input)} is held. ${action}: once it has run and moved to a newer version, the hold lifts.`,
      concerns: consumer.id,
    };
  }
  return null;
};

/** What is missing for a consumer to be proven off the version, or null when it is proven. */
function missingProof(input: RetireInput, consumer: ConsumerSnapshot): string | null {
  const version = input.version.version.toLowerCase();
  const position = positionOf(input, version) ?? -1;
  const newer = (candidate: string | null | undefined) => (positionOf(input, candidate) ?? -1) > position;
  const ownCallers = hasOwnIdentity(consumer, input.context.consumers)
    ? callersOf(consumer, input.context.evidence)
    : [];
  // Its own identity used a newer version, after this one was superseded (a newer version exists only since then).
  const usedNewer = () =>
    (input.context.evidence?.uses ?? []).some((use) => {
      const at = lastUseBy(use, ownCallers);
      return at !== undefined && newer(use.version) && at.getTime() >= input.supersededAt.getTime();
    });
  const principal = principalOf(consumer);
  const identityNote = consumer.identityAppId
    ? `it unwraps as a first-party application (app id ${consumer.identityAppId}) that other accounts share`
    : !principal
      ? "its identity's principal id is not known"
      : ownCallers.length === 0
        ? `another consumer of ${input.context.id} unwraps with the same identity (${principal})`
        : "";
  const listed = (candidate: string) => positionOf(input, candidate) !== undefined;
  for (const entry of input.context.pins.filter((candidate) => candidate.consumer === consumer)) {
    const reported = consumer.inUse[entry.pin.pin];
    if (reported !== undefined) {
      // Read-back of what it really uses (Cosmos DB keyVaultKeyUriVersion). An account on an
      // older version is off this one too: it follows the newest, which this one is not.
      if (reported.toLowerCase() === version || !listed(reported))
        return `it reports using version ${reported} (${entry.pin.pin})`;
      continue;
    }
    if (entry.version !== null) {
      // Read-back of what it is configured with: proof once the update finished and it runs.
      if (entry.version === version || !listed(entry.version))
        return `its ${entry.pin.pin} key names version ${entry.version}`;
      if (consumer.provisioningState?.toLowerCase() !== "succeeded")
        return `its update has not finished (provisioningState ${consumer.provisioningState ?? "not reported"})`;
      // With an identity of its own, its calls must show the switch too: a configuration can
      // run ahead of it. A shared identity (the data centers of one Cassandra cluster unwrap
      // with the cluster's) cannot tell them apart: there the read-back is the proof.
      if (ownCallers.length === 0) continue;
      if (newer(entry.version)) {
        if (!usedNewer())
          return `its own identity (${principal}) has not yet been seen using a newer version in the audit logs`;
        continue;
      }
      // Configured on an older version (someone moved it back): off this one once its own calls
      // show the older version at least as recently as this one.
      const onThis = lastUseBy(useOf(input.context.evidence, version), ownCallers);
      const onPinned = lastUseBy(useOf(input.context.evidence, entry.version), ownCallers);
      if (onThis && (!onPinned || onPinned < onThis))
        return `its own identity used this version more recently than version ${entry.version}, which its ${entry.pin.pin} key names`;
      continue;
    }
    // A follower without read-back: only its own identity's records can prove it moved.
    if (identityNote)
      return `it follows the newest version by itself and reports no version in use, and ${identityNote}, so the audit logs cannot show it moved`;
    if (!usedNewer())
      return `it follows the newest version by itself and reports no version in use, and its own identity (${principal}) has not yet been seen using a newer version in the audit logs`;
  }
  return null;
}

/**
 * Positive proof, for every consumer of the key, that it has moved off the version: read-back
 * where the service reports what it uses (Cosmos DB `keyVaultKeyUriVersion` newer); for a
 * configured read-back (Kusto `keyVersion`, Cassandra URIs) a newer version with the update
 * finished, the consumer running, and (Kusto) its own identity seen using a newer version; for a
 * follower without read-back, its own identity's audit records on a newer version after this one
 * was superseded. Absence of use proves nothing about a consumer that is silent. Late records
 * only delay a proof: every proof is a record or a read-back that says "moved", never a missing row.
 * Stopped consumers are the stopped rule's.
 */
const everyConsumerProvenSwitched: RetireRule = (input) => {
  for (const consumer of input.context.consumers) {
    if (!isRunning(consumer)) continue;
    const missing = missingProof(input, consumer);
    if (!missing) continue;
    return {
      reason: "consumer-not-proven-switched",
      message: `${consumerName(consumer)} is not proven off ${versionName(input).toLowerCase()}: ${missing}. The version is held until it is; nothing is needed from you unless this lasts (then check that ${consumerName(consumer)} picks up new key versions${isProvisioningBusy(consumer.provisioningState) ? " and that its update finishes" : ""}).`,
      concerns: consumer.id,
    };
  }
  return null;
};

const supersededLongEnough: RetireRule = (input) => {
  const until = new Date(input.supersededAt.getTime() + input.quietPeriodMs);
  if (until.getTime() <= input.now.getTime()) return null;
  return {
    reason: "superseded-recently",
    message: `${versionName(input)} was superseded at ${input.supersededAt.toISOString()}; the ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)} ends at ${until.toISOString()}.`,
    until,
  };
};

const evidenceComplete: RetireRule = (input) => {
  const evidence = input.context.evidence;
  if (!evidence) {
    return {
      reason: "evidence-incomplete",
      message: `No audit evidence was gathered for ${input.context.id}; ${versionName(input)} is held until the audit log query succeeds.`,
    };
  }
  if (!evidence.complete) {
    return {
      reason: "evidence-incomplete",
      message: `The audit log query for ${input.context.id} in workspace ${evidence.workspaceId} is incomplete (${evidence.problem ?? "partial result"}); ${versionName(input)} is held, because a partial result proves nothing.`,
    };
  }
  return null;
};

/**
 * Records arrive up to ROTATOR_MAX_INGESTION_LATENCY (L) late. A quiet period shorter than that
 * cannot be shown by the logs at all: a use inside it may simply not have arrived. The settings
 * refuse such a quiet period unless ROTATOR_ALLOW_SHORT_QUIET_PERIOD lifts the floor; even then
 * nothing is disabled on it.
 */
const quietPeriodCoversLatency: RetireRule = (input) => {
  const latency = input.policy.maxIngestionLatencyMs;
  if (latency <= input.quietPeriodMs) return null;
  return {
    reason: "evidence-incomplete",
    message: `The ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)} is shorter than ROTATOR_MAX_INGESTION_LATENCY (${formatIsoDuration(latency)}): an audit record of a use inside it may not have arrived yet, so the logs cannot show it quiet and ${versionName(input).toLowerCase()} is held. Make the quiet period at least as long as the latency.`,
  };
};

const pipelineCurrent: RetireRule = (input) => {
  const canary = input.context.evidence?.canarySeenAt;
  const oldestAcceptable = input.now.getTime() - input.policy.ingestionMarginMs;
  if (canary && canary.getTime() >= oldestAcceptable) return null;
  const seen = canary ? `the newest is from ${canary.toISOString()}` : "none was found";
  return {
    reason: "pipeline-not-current",
    message: `The audit log pipeline for ${input.context.id} is not proven current: the service's own reads should appear within ${formatIsoDuration(input.policy.ingestionMarginMs)}, but ${seen}; ${versionName(input)} is held, because an empty result could mean logs are not flowing.`,
  };
};

const windowCoversQuietPeriod: RetireRule = (input) => {
  const evidence = input.context.evidence;
  const canary = evidence?.canarySeenAt;
  if (!evidence || !canary) return null;
  const needed = new Date(canary.getTime() - input.quietPeriodMs);
  if (evidence.from.getTime() <= needed.getTime()) return null;
  return {
    reason: "evidence-incomplete",
    message: `The audit log query for ${input.context.id} starts at ${evidence.from.toISOString()}, after ${needed.toISOString()}; it must cover the whole ${quietPeriodName(input)} before the canary, so ${versionName(input)} is held.`,
  };
};

/**
 * The service reads every managed key on every run, so its own reads must appear in the logs
 * from the start of the quiet period on. When they only begin later (a new diagnostic
 * setting, a workspace that just started receiving, a service that just started), an empty
 * result for the earlier part of the period proves nothing.
 */
const pipelineFlowedThroughQuietPeriod: RetireRule = (input) => {
  const evidence = input.context.evidence;
  const canary = evidence?.canarySeenAt;
  if (!evidence || !canary) return null;
  const quietStart = canary.getTime() - input.quietPeriodMs;
  const first = evidence.canaryFirstSeenAt;
  const latestAcceptableStart = quietStart + input.policy.ingestionMarginMs;
  if (first && first.getTime() <= latestAcceptableStart) return null;
  const since = first ? `only since ${first.toISOString()}` : "not at all";
  return {
    reason: "pipeline-history-too-short",
    message: `The audit logs of ${input.context.id} show the service's own reads ${since}; they must reach back to ${new Date(latestAcceptableStart).toISOString()} (the start of the ${quietPeriodName(input)}, within the ingestion margin of ${formatIsoDuration(input.policy.ingestionMarginMs)}) to prove the logs flowed the whole time, so ${versionName(input)} is held.`,
    ...(first
      ? { until: new Date(first.getTime() + input.quietPeriodMs - input.policy.ingestionMarginMs) }
      : {}),
  };
};

/**
 * Nobody used the version during the quiet period before the canary. Records arrive up to
 * ROTATOR_MAX_INGESTION_LATENCY (L) late and out of order, so the canary no longer proves that
 * every earlier record is in: only records older than now - L are. A caller that uses the version
 * at least once every P has a use in [now - L - P, now - L]; that record is in, and it is inside
 * the quiet period whenever P + L <= Q (the quiet period runs back from the canary, which is at
 * most now). So such a caller is never cut off; a rarer one must be a known consumer, which the
 * proof rules above hold. The settings keep Q >= L.
 */
const unusedDuringQuietPeriod: RetireRule = (input) => {
  const use = useOf(input.context.evidence, input.version.version);
  const canary = input.context.evidence?.canarySeenAt;
  if (!use || !canary) return null;
  const quietStart = canary.getTime() - input.quietPeriodMs;
  if (use.lastUse.getTime() < quietStart) return null;
  return {
    reason: "used-recently",
    message: `${versionName(input)} was last used by ${describeCaller(use.lastUser, input.context.callers)} at ${use.lastUse.toISOString()} (${use.count} use(s) in the window), inside the ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)}; find and repoint that caller.`,
    until: new Date(use.lastUse.getTime() + input.quietPeriodMs),
    concerns: use.lastUser,
  };
};

/**
 * Backups taken while a consumer used the version need it for the consumer's backup retention
 * after its last use. The last use is its own callers' (its principal, or for a FirstPartyIdentity
 * Cosmos DB account the Azure Cosmos DB application by app id: every first-party account's calls,
 * so an upper bound of this one's). Where its calls cannot be attributed (no principal is known,
 * or no record carries its app id), the conservative bound is used: the later of the version's
 * supersession and its last use by anyone, plus the retention.
 */
const noBackupRetention: RetireRule = (input) => {
  const use = useOf(input.context.evidence, input.version.version);
  let longest: HoldVerdict | undefined;
  // A consumer moved to another key by a migration keeps backups wrapped with this key's versions.
  const consumers = [...input.context.consumers, ...(input.context.formerConsumers ?? [])];
  for (const consumer of consumers) {
    const retention = consumer.backupRetention;
    if (!retention) continue;
    // Its principal names its calls; an app id only once a record carries it (else nothing can be told).
    const callers = callersOf(consumer, input.context.evidence);
    const attributed = callers.length > 0;
    const lastUse = attributed
      ? lastUseBy(use, callers)
      : new Date(Math.max(input.supersededAt.getTime(), use?.lastUse.getTime() ?? 0));
    if (!lastUse) continue;
    const until = new Date(lastUse.getTime() + retention.retentionMs);
    if (until.getTime() <= input.now.getTime() || (longest?.until && longest.until >= until)) continue;
    const caller = consumer.identityAppId
      ? ` (it unwraps as the application ${consumer.identityAppId}, whose calls are attributed by app id)`
      : "";
    const how = attributed
      ? `used ${versionName(input).toLowerCase()} at ${lastUse.toISOString()}${caller}`
      : `cannot be attributed in the audit logs (${consumer.identityAppId ? `no record carries its app id ${consumer.identityAppId}` : "its identity's principal id is not known"}), so the conservative bound applies: ${versionName(input).toLowerCase()} was superseded or last used by anyone at ${lastUse.toISOString()}`;
    longest = {
      reason: "backup-retention",
      message: `${consumerName(consumer)} ${how}, and keeps backups for ${formatIsoDuration(retention.retentionMs)} (${retention.description}); those backups need the version until ${until.toISOString()}.`,
      until,
      concerns: consumer.id,
    };
  }
  return longest ?? null;
};

function quietPeriodName(input: RetireInput): string {
  return isCompromised(input.version) ? "emergency quiet period" : "quiet period";
}

/**
 * A key whose retirement is frozen (a restore re-enabled one of its versions: evidence proved
 * wrong once; or an operator froze it) retires nothing until an operator unfreezes it. Freeze
 * records that cannot be read freeze every key.
 */
const notFrozen: RetireRule = (input) => {
  const { frozen, freezeProblem } = input.context;
  if (frozen) {
    return {
      reason: "retirement-frozen",
      message: `Retirement of ${input.context.id} is frozen since ${frozen.at.toISOString()} by ${frozen.by}: ${frozen.reason}. ${versionName(input)} is held until an operator unfreezes the key (POST /api/keys/{vault}/{key}/unfreeze, or cmk-rotator unfreeze).`,
    };
  }
  if (freezeProblem) {
    return {
      reason: "retirement-frozen",
      message: `The freeze records could not be read (${freezeProblem}), so no key's retirement is known not to be frozen; ${versionName(input).toLowerCase()} is held until they can be read.`,
    };
  }
  return null;
};

/** In order: the first objection is the one reported. */
const RETIRE_RULES: readonly RetireRule[] = [
  notFrozen,
  notPinned,
  notInUse,
  noConsumerSwitching,
  noConsumerSharesRotatorIdentity,
  noConsumerStopped,
  supersededLongEnough,
  evidenceComplete,
  quietPeriodCoversLatency,
  pipelineCurrent,
  windowCoversQuietPeriod,
  pipelineFlowedThroughQuietPeriod,
  everyConsumerProvenSwitched,
  unusedDuringQuietPeriod,
  noBackupRetention,
];

/**
 * The versions retirement is decided for: enabled, older than the newest enabled version
 * and not the target. Disabled versions are never touched again; the newest never disabled.
 */
export function retireCandidates(context: KeyContext): KeyVersionFacts[] {
  const newestEnabled = context.newestEnabled?.version;
  return context.versions.filter(
    (version) =>
      version.enabled &&
      version !== context.newest &&
      version.version !== newestEnabled &&
      version.version !== context.target?.version,
  );
}

export function decideRetirement(
  context: KeyContext,
  version: KeyVersionFacts,
  policy: Policy,
  now: Date,
  /** When the version stopped being needed, where the key's versions cannot say (a migrated key's newest: the migration's start). */
  supersededOverride?: Date,
): DisableAction | Hold {
  const holdOf = (verdict: HoldVerdict): Hold => ({
    type: "hold",
    key: context.key,
    version: version.version,
    ...verdict,
  });
  const superseded = supersededOverride ?? supersededAt(context, version);
  if (!context.target || !superseded) {
    return holdOf({
      reason: "no-valid-target",
      message: `Key ${context.id} has no version that passes preflight; old versions are kept until a valid version exists.`,
    });
  }
  const input: RetireInput = {
    context,
    version,
    policy,
    now,
    quietPeriodMs: quietPeriodFor(version, policy),
    supersededAt: superseded,
  };
  for (const rule of RETIRE_RULES) {
    const verdict = rule(input);
    if (verdict) return holdOf(verdict);
  }
  // The rules above guarantee complete evidence with a canary.
  const evidence = context.evidence!;
  const canarySeenAt = evidence.canarySeenAt!;
  const lastUse = useOf(evidence, version.version)?.lastUse;
  return {
    type: "disable",
    key: context.key,
    version: version.version,
    evidence: {
      supersededAt: superseded,
      quietPeriodMs: input.quietPeriodMs,
      windowFrom: evidence.from,
      windowTo: evidence.to,
      canarySeenAt,
      ...(lastUse ? { lastUse } : {}),
      workspaceId: evidence.workspaceId,
    },
    reason: "quiet-period-elapsed-unused",
    message: `${versionName(input)} was superseded at ${superseded.toISOString()}, is pinned and used by no consumer, every consumer is proven on a newer version, and the audit logs (current to ${canarySeenAt.toISOString()}) show no use by anyone but the service for the ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)}; disable it.`,
  };
}
