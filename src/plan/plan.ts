/**
 * The planner: a pure function from what was observed to what should happen.
 *
 *   Snapshot ──► per key: gatherKeyContext (versions in created order, pins, evidence)
 *                  │
 *                  ├─ preflight every version ──► target = newest enabled version that passes
 *                  │                              versions newer than the target ──► Block
 *                  │
 *                  ├─ planRepoints: pin older than target ──► RepointAction(from, to)
 *                  │                busy / unknown / newer pin ──► Hold (never downgrade, never guess)
 *                  │
 *                  ├─ retire: each enabled old version ──► rule chain ──► DisableAction | Hold
 *                  │    pinned? in use? a consumer switching or on the rotator's identity?
 *                  │    a consumer stopped? superseded ≥ quiet period? evidence complete?
 *                  │    pipeline current (canary)? window covers quiet period? every
 *                  │    consumer proven on a newer version? unused in the quiet period
 *                  │    before the canary? backup retention (attributed caller)?
 *                  │
 *                  ├─ Managed HSM key at 90+ of its 100 versions ──► Warning
 *                  │
 *                  └─ planRestores: a version the service disabled within ROTATOR_RESTORE_WATCH
 *                       failing calls (403) or a consumer's key error ──► RestoreAction, and the
 *                       key's retirement frozen; compromised ──► RestoreNeeded (operator decides)
 *
 *   ──► Plan { actions (sorted), holds, blocks, warnings, targets, restores, restoresNeeded }
 *
 * No I/O, no clock: `now` is passed in, and the output order depends only on the input,
 * so the same snapshot always gives the same plan. Report mode does not change the plan:
 * apply decides not to act.
 */
import {
  type Block,
  type Hold,
  type KeyVersionFacts,
  keyRefId,
  MANAGED_HSM_VERSION_CAP,
  MANAGED_HSM_VERSION_WARNING,
  type MigrationIntent,
  type MigrationProgress,
  type Plan,
  type PlannedAction,
  type Policy,
  type RestoreAction,
  type RestoreNeeded,
  type Snapshot,
  type Warning,
} from "../model.js";
import { compareText, gatherKeyContext, type KeyContext } from "./keyContext.js";
import { planMigration } from "./migrate.js";
import { planRepoints } from "./repoint.js";
import { planRestores } from "./restore.js";
import { decideRetirement, retireCandidates } from "./retire.js";

function blocksFor(context: KeyContext): Block[] {
  const targetPosition = context.target
    ? (context.position.get(context.target.version.toLowerCase()) ?? -1)
    : -1;
  return context.versions
    .filter((version, index) => index > targetPosition && (version === context.newest || version.enabled))
    .flatMap((version: KeyVersionFacts) => {
      const verdict = context.verdicts.get(version.version.toLowerCase());
      if (!verdict) return [];
      const fallback = context.target
        ? ` Consumers stay on or move up to ${context.target.version} at most.`
        : " No version of this key passes preflight, so nothing is repointed or disabled.";
      return [
        {
          type: "block" as const,
          key: context.key,
          version: version.version,
          reason: verdict.reason,
          message: `${verdict.message}${fallback}`,
        },
      ];
    });
}

/**
 * Managed HSM keeps at most MANAGED_HSM_VERSION_CAP versions of a key (disabled ones count):
 * from MANAGED_HSM_VERSION_WARNING on, the plan warns, so that someone acts before an emergency
 * rotation is refused.
 */
function versionCapWarning(context: KeyContext): Warning | undefined {
  const count = context.versions.length;
  if (context.key.hostKind !== "managedHsm" || count < MANAGED_HSM_VERSION_WARNING) return undefined;
  const left = Math.max(0, MANAGED_HSM_VERSION_CAP - count);
  const state =
    left === 0
      ? `has reached the Managed HSM cap of ${MANAGED_HSM_VERSION_CAP} versions: no new version can be created, and an emergency rotation is refused`
      : `has ${count} of the at most ${MANAGED_HSM_VERSION_CAP} versions Managed HSM keeps; ${left} more can be created`;
  return {
    type: "warning",
    key: context.key,
    reason: "hsm-version-cap-near",
    message: `Key ${context.id} ${state}. Versions are never deleted by the service: create a new key for the consumers (and move them to it) before the cap stops a rotation.`,
  };
}

function actionSortKey(action: PlannedAction): [string, string, string, string] {
  const keyId = keyRefId(action.key);
  if (action.type === "repoint") return [keyId, action.consumerId, action.pin, action.from];
  if (action.type === "migrate") return [keyId, action.consumerId, action.pin, action.from ?? ""];
  return [keyId, "", "", action.version];
}

function compareTuples(a: readonly string[], b: readonly string[]): number {
  for (let index = 0; index < a.length; index++) {
    const difference = compareText(a[index] ?? "", b[index] ?? "");
    if (difference !== 0) return difference;
  }
  return 0;
}

function holdSortKey(hold: Hold): string[] {
  return [keyRefId(hold.key), hold.version, hold.concerns ?? "", hold.reason];
}

/**
 * Decides, for every key in the snapshot, which consumers to repoint, which old versions to
 * disable, and which to hold or block, each with a reason code and a sentence.
 */
export function plan(snapshot: Snapshot, policy: Policy, now: Date): Plan {
  const actions: PlannedAction[] = [];
  const holds: Hold[] = [];
  const blocks: Block[] = [];
  const warnings: Warning[] = [];
  const targets: Record<string, string> = {};
  const restores: RestoreAction[] = [];
  const restoresNeeded: RestoreNeeded[] = [];
  const migrations: MigrationProgress[] = [];

  const contexts = new Map<string, KeyContext>();
  for (const keySnapshot of snapshot.keys) {
    const gathered = gatherKeyContext(keySnapshot, snapshot, policy, now);
    const watch = planRestores(gathered, policy, now);
    restores.push(...watch.restores);
    restoresNeeded.push(...watch.needed);
    // A restore freezes the key's retirement: already in this plan, before the freeze is written.
    const firstRestore = watch.restores[0];
    const context =
      firstRestore && !gathered.frozen
        ? {
            ...gathered,
            frozen: {
              reason: `version ${firstRestore.version} is being restored: ${firstRestore.message}`,
              at: now,
              by: "cmk-rotator",
            },
          }
        : gathered;
    if (!contexts.has(context.id)) contexts.set(context.id, context);
  }
  const migrationOf = new Map<string, MigrationIntent>();
  for (const intent of snapshot.migrations ?? []) migrationOf.set(keyRefId(intent.source), intent);

  for (const intent of migrationOf.values()) {
    const source = contexts.get(keyRefId(intent.source));
    const destination = contexts.get(keyRefId(intent.destination));
    if (source && destination)
      contexts.set(source.id, {
        ...source,
        formerConsumers: destination.consumers.filter(
          (consumer) => !source.consumers.some((current) => current.id === consumer.id),
        ),
      });
  }

  for (const context of contexts.values()) {
    if (context.target) targets[context.id] = context.target.version;
    blocks.push(...blocksFor(context));
    const warning = versionCapWarning(context);
    if (warning) warnings.push(warning);

    const repoints = planRepoints(context);
    const intent = migrationOf.get(context.id);
    const migration = intent
      ? planMigration(intent, context, contexts.get(keyRefId(intent.destination)), snapshot, policy, now)
      : undefined;
    // A pin that moves to another key is not repointed on this one in the same run.
    const moving = new Set((migration?.actions ?? []).map((action) => `${action.consumerId}|${action.pin}`));
    actions.push(...repoints.actions.filter((action) => !moving.has(`${action.consumerId}|${action.pin}`)));
    holds.push(...repoints.holds);
    if (migration) {
      actions.push(...migration.actions);
      holds.push(...migration.holds);
      migrations.push(migration.progress);
    }

    for (const version of retireCandidates(context)) {
      const decision = decideRetirement(context, version, policy, now);
      if (decision.type === "disable") actions.push(decision);
      else holds.push(decision);
    }
    if (intent && migration?.progress.complete) {
      const source = sourceAfterMigration(context, intent, policy, now);
      if (source?.type === "disable") actions.push(source);
      else if (source?.type === "hold") holds.push(source);
      else if (source?.type === "warning") warnings.push(source);
    }
  }

  actions.sort((a, b) => compareTuples(actionSortKey(a), actionSortKey(b)));
  holds.sort((a, b) => compareTuples(holdSortKey(a), holdSortKey(b)));
  blocks.sort((a, b) => compareTuples([keyRefId(a.key), a.version], [keyRefId(b.key), b.version]));
  warnings.sort((a, b) => compareText(keyRefId(a.key), keyRefId(b.key)));
  const byVersion = (a: { key: Plan["actions"][number]["key"]; version: string }, b: typeof a) =>
    compareTuples([keyRefId(a.key), a.version], [keyRefId(b.key), b.version]);
  restores.sort(byVersion);
  restoresNeeded.sort(byVersion);
  migrations.sort((a, b) => compareText(a.source, b.source));
  return {
    now,
    actions,
    holds,
    blocks,
    warnings,
    targets,
    mode: policy.mode,
    ...(restores.length > 0 ? { restores } : {}),
    ...(restoresNeeded.length > 0 ? { restoresNeeded } : {}),
    ...(migrations.length > 0 ? { migrations } : {}),
  };
}

/**
 * A migrated key that nothing references any more: its old versions retire as usual (above);
 * its newest only when the migration asked for `retireSource`, by the same rule chain, counted
 * from the migration's start. Otherwise it stays enabled and is reported as unused.
 */
function sourceAfterMigration(
  context: KeyContext,
  intent: MigrationIntent,
  policy: Policy,
  now: Date,
): PlannedAction | Hold | Warning | undefined {
  const newest = context.newestEnabled;
  if (!newest) return undefined;
  if (!intent.retireSource || intent.state !== "active") {
    return {
      type: "warning",
      key: context.key,
      reason: "migration-source-unused",
      message: `Nothing references key ${context.id} since its consumers moved to ${keyRefId(intent.destination)}; its newest version ${newest.version} stays enabled (the migration did not ask for retireSource) and is unused: nothing is deleted.`,
    };
  }
  const decision = decideRetirement(context, newest, policy, now, intent.requestedAt);
  if (decision.type === "hold") return decision;
  return {
    ...decision,
    retiresMigrationSource: true,
    reason: "migration-source-retired",
    message: `${decision.message} It is the newest version of ${context.id}, whose consumers all moved to ${keyRefId(intent.destination)}, and the migration asked for retireSource.`,
  };
}
