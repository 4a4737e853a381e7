/**
 * Migration decisions for one stored migration: every pin still on the source key moves to the
 * destination key, keeping its mode, once the destination passes the checks that consumer
 * needs. A chain of small checks per consumer, as in preflight.ts: the first failing one holds
 * that consumer (with the reason), and the others move.
 *
 *   pin on source ──► destination vault: soft delete, purge protection (Resource Manager's word)
 *                 ──► region: a Kusto cluster's vault must be in the cluster's region
 *                 ──► version: pinned → the destination's newest version passing preflight for
 *                     the consumer's kind; follower → the destination's newest must pass it
 *                 ──► busy / stopped ──► waiting (moved once it is idle and running)
 *                 ──► MigrateAction(from source to destination)
 *
 * Nothing here ever plans a move to the source: a migration only moves pins off it.
 */
import {
  type ConsumerKind,
  type ConsumerSnapshot,
  type Hold,
  isProvisioningBusy,
  isRunning,
  type KeyVersionFacts,
  keyRefId,
  type MigrateAction,
  type MigrationConsumer,
  type MigrationIntent,
  type MigrationProgress,
  type Policy,
  type Snapshot,
  type VaultFacts,
} from "../model.js";
import type { KeyContext, PinOnKey } from "./keyContext.js";
import { preflight, type Verdict } from "./preflight.js";

/** Consumer kinds whose service requires the key vault in the resource's own region. */
export const SAME_REGION_KINDS: ReadonlySet<ConsumerKind> = new Set(["kusto"]);

export interface MigrationPlan {
  actions: MigrateAction[];
  holds: Hold[];
  progress: MigrationProgress;
}

export interface DestinationCheckInput {
  consumer: ConsumerSnapshot;
  follower: boolean;
  destination: KeyContext;
  vault: VaultFacts | undefined;
  policy: Policy;
  now: Date;
}

export type DestinationCheck = (input: DestinationCheckInput) => Verdict | null;

function destinationName(input: DestinationCheckInput): string {
  return `destination key ${input.destination.id}`;
}

const vaultKeepsDeletedKeys: DestinationCheck = (input) => {
  const vaultName = input.destination.key.vaultName;
  if (input.vault?.softDelete === false)
    return {
      reason: "migration-held",
      message: `vault ${vaultName} of the ${destinationName(input)} has soft delete off; customer-managed keys need soft delete and purge protection: enable them on the vault.`,
    };
  if (input.vault?.purgeProtection === false)
    return {
      reason: "migration-held",
      message: `vault ${vaultName} of the ${destinationName(input)} has no purge protection; customer-managed keys need it: enable purge protection on the vault.`,
    };
  return null;
};

const sameRegion: DestinationCheck = (input) => {
  if (!SAME_REGION_KINDS.has(input.consumer.kind)) return null;
  const vaultName = input.destination.key.vaultName;
  const consumerRegion = input.consumer.location?.toLowerCase();
  const vaultRegion = input.vault?.location?.toLowerCase();
  if (!consumerRegion || !vaultRegion)
    return {
      reason: "migration-held",
      message: `${input.consumer.kind} ${input.consumer.id} needs its key vault in its own region, and ${consumerRegion ? `the region of vault ${vaultName}` : "the consumer's region"} is not known; it is held until Resource Manager shows both.`,
    };
  if (consumerRegion !== vaultRegion)
    return {
      reason: "migration-held",
      message: `${input.consumer.kind} ${input.consumer.id} is in ${consumerRegion}, but vault ${vaultName} of the ${destinationName(input)} is in ${vaultRegion}; a Kusto cluster needs its key vault in the same region: choose a destination key in a ${consumerRegion} vault.`,
    };
  return null;
};

export const DESTINATION_CHECKS: readonly DestinationCheck[] = [vaultKeepsDeletedKeys, sameRegion];

/** The preflight of one destination version for the consumer's kind (the same chain as a new version's). */
export function versionPreflight(input: DestinationCheckInput, version: KeyVersionFacts): Verdict | null {
  return preflight({
    key: input.destination.key,
    version,
    consumerKinds: [input.consumer.kind],
    policy: input.policy,
    now: input.now,
  });
}

/** The checks a destination passes per consumer; the property tests swap one out to prove it matters. */
export interface MigrationRules {
  checks: readonly DestinationCheck[];
  versionCheck: (input: DestinationCheckInput, version: KeyVersionFacts) => Verdict | null;
}

export const DEFAULT_MIGRATION_RULES: MigrationRules = {
  checks: DESTINATION_CHECKS,
  versionCheck: versionPreflight,
};

/**
 * The version a consumer moves to, or why it cannot move: a pinned consumer gets the newest
 * version passing its preflight; a follower takes the destination's newest by itself, so that one must pass.
 */
export function destinationFor(
  input: DestinationCheckInput,
  rules: MigrationRules = DEFAULT_MIGRATION_RULES,
): { ok: true; version: string | null } | { ok: false; verdict: Verdict } {
  for (const check of rules.checks) {
    const verdict = check(input);
    if (verdict) return { ok: false, verdict };
  }
  const versions = input.destination.versions;
  const newest = versions.at(-1);
  if (!newest)
    return {
      ok: false,
      verdict: { reason: "migration-held", message: `the ${destinationName(input)} has no versions.` },
    };
  if (input.follower) {
    const verdict = rules.versionCheck(input, newest);
    return verdict
      ? {
          ok: false,
          verdict: { reason: "migration-held", message: `the ${destinationName(input)}: ${verdict.message}` },
        }
      : { ok: true, version: null };
  }
  let first: Verdict | null = null;
  for (const version of [...versions].reverse()) {
    const verdict = rules.versionCheck(input, version);
    if (!verdict) return { ok: true, version: version.version.toLowerCase() };
    first ??= verdict;
  }
  return {
    ok: false,
    verdict: {
      reason: "migration-held",
      message: `no version of the ${destinationName(input)} passes preflight for ${input.consumer.kind}: ${first?.message ?? ""}`,
    },
  };
}

function entryOf(pin: PinOnKey): MigrationConsumer {
  return {
    consumerId: pin.consumer.id,
    consumerKind: pin.consumer.kind,
    pin: pin.pin.pin,
    version: pin.version,
  };
}

function describePin(entry: PinOnKey): string {
  return `${entry.consumer.kind} ${entry.consumer.id} (${entry.pin.pin})`;
}

/** Moves, holds and progress of one migration; `destination` undefined when that key was not observed. */
export function planMigration(
  intent: MigrationIntent,
  source: KeyContext,
  destination: KeyContext | undefined,
  snapshot: Snapshot,
  policy: Policy,
  now: Date,
  rules: MigrationRules = DEFAULT_MIGRATION_RULES,
): MigrationPlan {
  const actions: MigrateAction[] = [];
  const holds: Hold[] = [];
  const destinationId = keyRefId(intent.destination);
  const progress: MigrationProgress = {
    source: source.id,
    destination: destinationId,
    state: intent.state,
    requestedAt: intent.requestedAt,
    reason: intent.reason,
    retireSource: intent.retireSource,
    ...(intent.cancelledAt ? { cancelledAt: intent.cancelledAt } : {}),
    ...(intent.cancelReason !== undefined ? { cancelReason: intent.cancelReason } : {}),
    moved: (destination?.pins ?? []).map(entryOf),
    waiting: [],
    held: [],
    complete: source.pins.length === 0,
  };
  for (const entry of source.pins) {
    const hold = (verdict: Verdict): void => {
      progress.held.push({ ...entryOf(entry), reason: verdict.reason, message: verdict.message });
      holds.push({
        type: "hold",
        key: source.key,
        version: entry.version ?? "",
        reason: verdict.reason,
        message: `${describePin(entry)} is not moved to ${destinationId}: ${verdict.message}`,
        concerns: entry.consumer.id,
      });
    };
    if (intent.state === "cancelled") {
      progress.held.push({
        ...entryOf(entry),
        reason: "migration-held",
        message: `the migration was cancelled${intent.cancelReason ? ` (${intent.cancelReason})` : ""}; the consumer stays on ${source.id}`,
      });
      continue;
    }
    if (!destination) {
      hold({
        reason: "migration-held",
        message: `the destination key ${destinationId} could not be read this run; the next run tries again.`,
      });
      continue;
    }
    const target = destinationFor(
      {
        consumer: entry.consumer,
        follower: entry.version === null,
        destination,
        vault: snapshot.vaults?.[intent.destination.vaultName.toLowerCase()],
        policy,
        now,
      },
      rules,
    );
    if (!target.ok) {
      hold(target.verdict);
      continue;
    }
    if (isProvisioningBusy(entry.consumer.provisioningState)) {
      progress.waiting.push({
        ...entryOf(entry),
        why: `${entry.consumer.provisioningState}: moved once that change finishes`,
      });
      continue;
    }
    if (!isRunning(entry.consumer)) {
      progress.waiting.push({
        ...entryOf(entry),
        why: `${entry.consumer.runState}: moved once it runs again (start it)`,
      });
      continue;
    }
    progress.waiting.push({ ...entryOf(entry), why: "move planned in this run" });
    actions.push({
      type: "migrate",
      key: source.key,
      toKey: destination.key,
      consumerId: entry.consumer.id,
      consumerKind: entry.consumer.kind,
      pin: entry.pin.pin,
      from: entry.version,
      to: target.version,
      reason: "migration",
      message: `${describePin(entry)} moves from ${source.id}${entry.version ? ` version ${entry.version}` : " (versionless)"} to ${destinationId}${target.version ? ` version ${target.version}` : " (versionless)"}: ${intent.reason}`,
    });
  }
  return { actions, holds, progress };
}
