/**
 * How a simulated consumer decides which key version it really uses. Level-triggered: every
 * tick it reads its Resource Manager body (a missing resource changes nothing), works out the
 * version it should use (the pinned one, or the newest enabled one when versionless), and
 * moves there once that target has stood still for `lagSeconds`. Moving is a re-wrap, as the
 * real services do it: the data key is unwrapped with the version in use and wrapped with
 * the new one (`switchTo`); when that fails (the old version is disabled, say) the consumer
 * stays where it is and tries again later. A consumer stuck on a version keeps using it
 * whatever it is pointed at.
 */
import type { ConsumerUsage, SandboxConsumer } from "../model.js";
import type { SandboxStore } from "../store.js";
import { lookUpKey, newestEnabledVersion, pinnedKeysOf } from "./pinnedKeys.js";

export interface UsageTarget {
  vault: string;
  key: string;
  version: string;
}

function sameTarget(a: UsageTarget, b: UsageTarget): boolean {
  return (
    a.vault.toLowerCase() === b.vault.toLowerCase() &&
    a.key.toLowerCase() === b.key.toLowerCase() &&
    a.version.toLowerCase() === b.version.toLowerCase()
  );
}

function moveTo(usage: ConsumerUsage, target: UsageTarget, now: number): void {
  usage.vault = target.vault;
  usage.key = target.key;
  usage.version = target.version;
  usage.since = now;
  usage.switchingTo = undefined;
}

/** The stuck version, when the consumer is stuck and the version belongs to the key this pin uses. */
function stuckTarget(
  store: SandboxStore,
  consumer: SandboxConsumer,
  usage: ConsumerUsage,
): UsageTarget | undefined {
  const stuck = consumer.behaviour.stuckOnVersion;
  if (stuck === null) return undefined;
  const key = lookUpKey(store, usage.vault, usage.key);
  if (!key?.versions.some((version) => version.version.toLowerCase() === stuck.toLowerCase()))
    return undefined;
  return { vault: usage.vault, key: usage.key, version: stuck };
}

/** Re-wraps a pin's data from its version in use to `target`; false when that failed (the pin stays). */
export type SwitchPin = (usage: ConsumerUsage, target: UsageTarget) => boolean;

/**
 * Advance every pin of `consumer` to what it should use at `now`. Without `switchTo` the
 * move needs nothing (a unit of the following rule alone).
 */
export function followKeyReferences(
  store: SandboxStore,
  consumer: SandboxConsumer,
  now: number,
  switchTo?: SwitchPin,
): void {
  const resource = store.armResource(consumer.id);
  const pinned = resource ? pinnedKeysOf(store, consumer.kind, resource.body) : new Map();
  for (const usage of consumer.usage) {
    const stuck = stuckTarget(store, consumer, usage);
    if (stuck) {
      if (!sameTarget(stuck, usage)) moveTo(usage, stuck, now);
      usage.switchingTo = undefined;
      continue;
    }
    const reference = pinned.get(usage.pin);
    if (!reference) continue;
    const key = lookUpKey(store, reference.vault, reference.key);
    const version = reference.version ?? (key ? newestEnabledVersion(key) : undefined);
    if (!version) continue;
    const target: UsageTarget = { vault: reference.vault, key: key?.name ?? reference.key, version };
    if (sameTarget(target, usage)) {
      usage.switchingTo = undefined;
      continue;
    }
    if (!usage.switchingTo || !sameTarget(usage.switchingTo, target)) {
      usage.switchingTo = { ...target, noticedAt: now };
    }
    if (now < usage.switchingTo.noticedAt + consumer.behaviour.lagSeconds * 1000) continue;
    if (!switchTo || switchTo(usage, target)) moveTo(usage, target, now);
  }
}
