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
 *                  └─ retire: each enabled old version ──► rule chain ──► DisableAction | Hold
 *                       pinned? in use? superseded ≥ quiet period? evidence complete?
 *                       pipeline current (canary)? window covers quiet period?
 *                       unused in the quiet period before the canary? backup retention?
 *
 *   ──► Plan { actions (sorted), holds, blocks, targets }
 *
 * No I/O, no clock: `now` is passed in, and the output order depends only on the input,
 * so the same snapshot always gives the same plan. Report mode does not change the plan:
 * apply decides not to act.
 */
import type { Block, Hold, KeyVersionFacts, Plan, PlannedAction, Policy, Snapshot } from "../model.js";
import { keyRefId } from "../model.js";
import { compareText, gatherKeyContext, type KeyContext } from "./keyContext.js";
import { planRepoints } from "./repoint.js";
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
  const targets: Record<string, string> = {};

  for (const keySnapshot of snapshot.keys) {
    const context = gatherKeyContext(keySnapshot, snapshot, policy, now);
    if (context.target) targets[context.id] = context.target.version;
    blocks.push(...blocksFor(context));

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
  return { now, actions, holds, blocks, targets, mode: policy.mode };
}
