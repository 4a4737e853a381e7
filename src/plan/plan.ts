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
  type Plan,
  type PlannedAction,
  type Policy,
  type RestoreAction,
  type RestoreNeeded,
  type Snapshot,
  type Warning,
} from "../model.js";
import { compareText, gatherKeyContext, type KeyContext } from "./keyContext.js";
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
  return action.type === "repoint"
    ? [keyId, action.consumerId, action.pin, action.from]
    : [keyId, "", "", action.version];
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
    if (context.target) targets[context.id] = context.target.version;
    blocks.push(...blocksFor(context));
    const warning = versionCapWarning(context);
    if (warning) warnings.push(warning);

    const repoints = planRepoints(context);
    actions.push(...repoints.actions);
    holds.push(...repoints.holds);

    for (const version of retireCandidates(context)) {
      const decision = decideRetirement(context, version, policy, now);
      if (decision.type === "disable") actions.push(decision);
      else holds.push(decision);
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
  };
}
