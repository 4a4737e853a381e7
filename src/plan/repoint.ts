/**
 * Repoint decisions for one key: every pin older than the target moves to the target.
 * A consumer is never moved to a version older than, or unknown relative to, the one it pins.
 */
import { type Hold, isProvisioningBusy, isRunning, type RepointAction } from "../model.js";
import type { KeyContext, PinOnKey } from "./keyContext.js";
import { orderUnknown } from "./versionOrder.js";

export function isBusy(pinOnKey: PinOnKey): boolean {
  return isProvisioningBusy(pinOnKey.consumer.provisioningState);
}

export type PinStatus =
  | { status: "follows-latest" }
  | { status: "on-target" }
  | { status: "no-target" }
  | { status: "unknown-version" }
  | { status: "ahead-of-target" }
  | { status: "busy" }
  | { status: "stopped" }
  | { status: "lags"; from: string; to: string };

/** Where one pin stands relative to the key's target. */
export function pinStatus(context: KeyContext, pinOnKey: PinOnKey): PinStatus {
  const target = context.target;
  if (pinOnKey.version === null) return { status: "follows-latest" };
  if (!target) return { status: "no-target" };
  const to = target.version.toLowerCase();
  if (pinOnKey.version === to) return { status: "on-target" };
  const pinned = context.position.get(pinOnKey.version);
  if (pinned === undefined) return { status: "unknown-version" };
  // Created in the same second as the target, and neither is the current version: which is
  // newer cannot be known, so moving the consumer could be a downgrade.
  const pinnedFacts = context.versions[pinned];
  if (pinnedFacts && orderUnknown(pinnedFacts, target, context.currentVersion))
    return { status: "unknown-version" };
  const targetPosition = context.position.get(to) ?? -1;
  if (pinned > targetPosition) return { status: "ahead-of-target" };
  if (isBusy(pinOnKey)) return { status: "busy" };
  // A stopped consumer would take the new configuration without using it: its update would
  // finish before it switched. It is repointed once it runs again.
  if (!isRunning(pinOnKey.consumer)) return { status: "stopped" };
  return { status: "lags", from: pinOnKey.version, to };
}

function describePin(entry: PinOnKey): string {
  return `${entry.consumer.kind} ${entry.consumer.id} (${entry.pin.pin})`;
}

export function planRepoints(context: KeyContext): { actions: RepointAction[]; holds: Hold[] } {
  const actions: RepointAction[] = [];
  const holds: Hold[] = [];
  for (const entry of context.pins) {
    const status = pinStatus(context, entry);
    const version = entry.version ?? "";
    const hold = (reason: Hold["reason"], message: string): void => {
      holds.push({ type: "hold", key: context.key, version, reason, message, concerns: entry.consumer.id });
    };
    switch (status.status) {
      case "lags":
        actions.push({
          type: "repoint",
          key: context.key,
          consumerId: entry.consumer.id,
          consumerKind: entry.consumer.kind,
          pin: entry.pin.pin,
          from: status.from,
          to: status.to,
          reason: "consumer-lags",
          message: `${describePin(entry)} pins version ${status.from} of ${context.id}; repoint it to the target ${status.to}.`,
        });
        break;
      case "busy":
        hold(
          "repoint-in-progress",
          `${describePin(entry)} is ${entry.consumer.provisioningState}; it is repointed from ${version} once that change finishes.`,
        );
        break;
      case "stopped":
        hold(
          "consumer-stopped",
          `${describePin(entry)} is ${entry.consumer.runState}; it is repointed from ${version} once it runs again (start it, or wait until it does).`,
        );
        break;
      case "unknown-version":
        hold(
          "pinned-version-unknown",
          `${describePin(entry)} pins version ${version}, which key ${context.id} does not list; it is left alone: check the consumer's key URI.`,
        );
        break;
      case "ahead-of-target":
        hold(
          "consumer-ahead-of-target",
          `${describePin(entry)} pins version ${version}, newer than the target ${context.target?.version}; it stays, because consumers are never moved to an older version.`,
        );
        break;
      default:
        break;
    }
  }
  return { actions, holds };
}
