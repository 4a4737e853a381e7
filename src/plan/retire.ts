/**
 * The retire decision for one old key version (DESIGN.md, "The retire decision"): a chain
 * of small rules over the gathered input. The first rule that objects holds the version,
 * with a reason, a sentence, and when known the earliest time the hold can lift and the
 * consumer or caller it concerns. Only when no rule objects is the version disabled.
 */
import { formatIsoDuration } from "../duration.js";
import type { AuditEvidence, DisableAction, Hold, KeyVersionFacts, Policy, VersionUse } from "../model.js";
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
  if (!user) return null;
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

const unusedDuringQuietPeriod: RetireRule = (input) => {
  const use = useOf(input.context.evidence, input.version.version);
  const canary = input.context.evidence?.canarySeenAt;
  if (!use || !canary) return null;
  const quietStart = canary.getTime() - input.quietPeriodMs;
  if (use.lastUse.getTime() < quietStart) return null;
  return {
    reason: "used-recently",
    message: `${versionName(input)} was last used by ${use.lastUser} at ${use.lastUse.toISOString()} (${use.count} use(s) in the window), inside the ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)}; find and repoint that caller.`,
    until: new Date(use.lastUse.getTime() + input.quietPeriodMs),
    concerns: use.lastUser,
  };
};

const noBackupRetention: RetireRule = (input) => {
  const use = useOf(input.context.evidence, input.version.version);
  let longest: HoldVerdict | undefined;
  for (const entry of input.context.pins) {
    const retention = entry.consumer.backupRetention;
    // Audit records name callers by object id; a user-assigned identity's ARM id never matches.
    const identity = (entry.consumer.identityPrincipalId ?? entry.consumer.identity)?.toLowerCase();
    if (!retention || !identity || !use) continue;
    const lastUse = Object.entries(use.byCaller).find(([caller]) => caller.toLowerCase() === identity)?.[1];
    if (!lastUse) continue;
    const until = new Date(lastUse.getTime() + retention.retentionMs);
    if (until.getTime() <= input.now.getTime() || (longest?.until && longest.until >= until)) continue;
    longest = {
      reason: "backup-retention",
      message: `${entry.consumer.kind} ${entry.consumer.id} used ${versionName(input).toLowerCase()} at ${lastUse.toISOString()} and keeps backups for ${formatIsoDuration(retention.retentionMs)} (${retention.description}); those backups need the version until ${until.toISOString()}.`,
      until,
      concerns: entry.consumer.id,
    };
  }
  return longest ?? null;
};

function quietPeriodName(input: RetireInput): string {
  return isCompromised(input.version) ? "emergency quiet period" : "quiet period";
}

/** In order: the first objection is the one reported. */
const RETIRE_RULES: readonly RetireRule[] = [
  notPinned,
  notInUse,
  noConsumerSwitching,
  noConsumerSharesRotatorIdentity,
  supersededLongEnough,
  evidenceComplete,
  pipelineCurrent,
  windowCoversQuietPeriod,
  pipelineFlowedThroughQuietPeriod,
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
): DisableAction | Hold {
  const holdOf = (verdict: HoldVerdict): Hold => ({
    type: "hold",
    key: context.key,
    version: version.version,
    ...verdict,
  });
  const superseded = supersededAt(context, version);
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
    message: `${versionName(input)} was superseded at ${superseded.toISOString()}, is pinned and used by no consumer, and the audit logs (current to ${canarySeenAt.toISOString()}) show no use by anyone but the service for the ${quietPeriodName(input)} of ${formatIsoDuration(input.quietPeriodMs)}; disable it.`,
  };
}
