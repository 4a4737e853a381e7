/**
 * Event Grid trigger: a Key Vault key got a new version. The event only says "look at this
 * key now": the key is reconciled (observe → plan → apply) and the target is the newest
 * valid version observed, never the event's. Anything else is ignored with a log line and
 * no error, so Event Grid does not retry it.
 */
import type { EventGridEvent, InvocationContext } from "@azure/functions";
import { registerFunction } from "../src/hosting/functionDefinition.js";
import { readKeyVaultEvent } from "../src/keyVaultEvents.js";
import { keyRefId } from "../src/model.js";
import { logFromContext } from "../src/rotation/log.js";
import { getRuntime } from "../src/runtime.js";

export async function keyVersionCreated(event: EventGridEvent, context: InvocationContext): Promise<void> {
  const log = logFromContext(context);
  const { service } = getRuntime();
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
  const result = await service.reconcileKey(reading.key, "event");
  if (result.status === "busy") {
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
