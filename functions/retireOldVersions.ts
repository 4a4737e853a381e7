/**
 * Timer trigger (ROTATOR_TIMER_SCHEDULE): reconciles every managed key. It finishes and
 * retries repoints, catches missed events and Managed HSM keys (which emit none), and
 * retires old versions by the rule in DESIGN.md.
 */
import type { InvocationContext, Timer } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { logFromContext } from "../src/rotation/log.js";

export async function retireOldVersions(timer: Timer, context: InvocationContext): Promise<void> {
  const log = logFromContext(context);
  if (timer.isPastDue) log.warn("timer is past due; reconciling now");
  const result = await (await loadRuntime()).service.reconcileAll("timer");
  if (result.status === "busy") {
    log.info("reconcile pending", { key: result.keyId, detail: result.message });
    return;
  }
  const count = (status: string) => result.report.steps.filter((step) => step.status === status).length;
  log.info("reconcile done", {
    runId: result.runId,
    keys: result.keyIds.join(","),
    busyKeys: result.busyKeyIds.join(","),
    done: count("done"),
    pending: count("pending"),
    failed: count("failed"),
    holds: result.plan.holds.length,
    blocks: result.plan.blocks.length,
  });
}

export const retireOldVersionsFunction = registerFunction({
  kind: "timer",
  name: "retireOldVersions",
  schedule: "%ROTATOR_TIMER_SCHEDULE%",
  handler: retireOldVersions,
});
