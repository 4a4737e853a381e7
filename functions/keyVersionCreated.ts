/**
 * Event Grid trigger: a Key Vault key got a new version. The event only says "look at this
 * key now": the key is reconciled (observe → plan → apply) and the target is the newest
 * valid version observed, never the event's. The host invokes this once per event, all of a
 * delivery's events at once; runs are coalesced per key and the invocation waits at most
 * EVENT_ANSWER_DEADLINE_MS, so even a delivery of 1,000 events is answered within Event Grid's
 * 30 s. Anything else is ignored with a log line and no error, so Event Grid does not retry it.
 */
import type { EventGridEvent, InvocationContext } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { loadRuntime } from "../src/hosting/lazyRuntime.js";
import { readKeyVaultEvent } from "../src/keyVaultEvents.js";
import { keyRefId } from "../src/model.js";
import { logFromContext } from "../src/rotation/log.js";

export async function keyVersionCreated(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const log = logFromContext(context);
  const { service } = await loadRuntime();
  const reading = readKeyVaultEvent(event, service.managedVaultUrls());
  if (reading.kind === "ignored") {
    log.info("event ignored", {
      eventId: reading.eventId,
      eventType: reading.eventType,
      reason: reading.reason,
      detail: reading.detail,
    });
    return;
  }
  const keyId = keyRefId(reading.key);
  log.info("new key version event", { eventId: reading.eventId, key: keyId, version: reading.version });
  // Coalesced per key and answered within Event Grid's deadline: a delivery of many events for
  // a few keys costs a run or two per key, and a run still going then is left to carry on.
  const result = await service.reconcileKeySoon(reading.key);
  if (result.status !== "done") {
    log.info("reconcile pending", { key: keyId, detail: result.message });
    return;
  }
  log.info("reconcile done", {
    key: keyId,
    runId: result.runId,
    target: result.plan.targets[keyId],
    steps: result.report.steps.length,
    holds: result.plan.holds.length,
    blocks: result.plan.blocks.length,
  });
}

export const keyVersionCreatedFunction = registerFunction({
  kind: "eventGrid",
  name: "keyVersionCreated",
  handler: keyVersionCreated,
});
