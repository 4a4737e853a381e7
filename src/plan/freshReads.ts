/**
 * Which consumers a plan needs read afresh through Resource Manager. Observation takes every
 * consumer's facts from the Resource Graph rows discovery already fetched; those rows can lag
 * Resource Manager, so a decision that a stale row could make wrong waits for fresh reads:
 *
 *   a disable of a version of key K ──► every consumer of K read from a row
 *   a hold on K that a read-back can lift ──► the consumer it names, and K's consumers whose
 *   (in use, switching, stopped, not proven switched)      row shows them not settled on the
 *                                                           target (in flight, stopped)
 *
 * The caller reads them (`confirmConsumers`), plans again, and asks again until nothing is
 * left to read: a disable in the final plan then rests on fresh reads of every consumer of
 * its key, as if observation had read every consumer, and apply's live check reads them again.
 *
 * A timer run may take Cassandra data centers from listings earlier runs made
 * (ROTATOR_DATACENTER_LISTING_MAX_AGE). A listing can miss a data center added or re-pinned
 * since, and no read of a known consumer finds one it does not know: so a plan that would
 * disable from such a snapshot is made again from listings made now (`needsFreshListings`).
 * Pure: no I/O.
 */
import {
  type ConsumerSnapshot,
  isProvisioningBusy,
  isRunning,
  keyRefId,
  type Plan,
  type ReasonCode,
  type Snapshot,
} from "../model.js";

/** Holds that a fresh read-back of a consumer can lift. */
const READ_BACK_HOLDS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  "in-use-by-consumer",
  "repoint-in-progress",
  "consumer-not-proven-switched",
  "consumer-stopped",
]);

function fromRow(consumer: ConsumerSnapshot): boolean {
  return consumer.readFrom === "resource-graph";
}

function pinsKey(consumer: ConsumerSnapshot, keyId: string): boolean {
  return consumer.pins.some((pin) => keyRefId(pin.key) === keyId);
}

/** Whether the row shows the consumer still moving to (or not running on) the key's target. */
function unsettledOn(consumer: ConsumerSnapshot, keyId: string, target: string | undefined): boolean {
  if (isProvisioningBusy(consumer.provisioningState) || !isRunning(consumer)) return true;
  const wanted = target?.toLowerCase();
  return consumer.pins.some((pin) => {
    if (keyRefId(pin.key) !== keyId) return false;
    const inUse = consumer.inUse[pin.pin]?.toLowerCase();
    if (inUse !== undefined && inUse !== wanted) return true;
    return pin.version !== null && pin.version.toLowerCase() !== wanted;
  });
}

/** Ids of the consumers (read from Resource Graph rows) that `plan` needs read afresh; sorted, each once. */
export function consumersToConfirm(snapshot: Snapshot, plan: Plan): string[] {
  const disabling = new Set<string>();
  for (const action of plan.actions) if (action.type === "disable") disabling.add(keyRefId(action.key));
  const heldOnReadBack = new Set<string>();
  const concerned = new Set<string>();
  for (const hold of plan.holds) {
    if (!READ_BACK_HOLDS.has(hold.reason)) continue;
    heldOnReadBack.add(keyRefId(hold.key));
    if (hold.concerns) concerned.add(hold.concerns.toLowerCase());
  }
  if (disabling.size === 0 && heldOnReadBack.size === 0) return [];
  const wanted = new Set<string>();
  for (const consumer of snapshot.consumers) {
    if (!fromRow(consumer)) continue;
    // The consumer the hold names: its row may lack the read-back (a row need not carry
    // Cosmos DB's keyVaultKeyUriVersion), so only a GET can lift the hold.
    if (concerned.has(consumer.id.toLowerCase())) wanted.add(consumer.id);
    for (const keyId of new Set(consumer.pins.map((pin) => keyRefId(pin.key)))) {
      if (disabling.has(keyId) && pinsKey(consumer, keyId)) wanted.add(consumer.id);
      else if (heldOnReadBack.has(keyId) && unsettledOn(consumer, keyId, plan.targets[keyId]))
        wanted.add(consumer.id);
    }
  }
  return [...wanted].sort();
}

/**
 * Observe, plan, and read afresh what the plan needs until it needs nothing more. Each round
 * reads at least one more consumer, so it ends; a consumer that cannot be read leaves the
 * snapshot with its keys' evidence incomplete (and so retires nothing).
 */
export async function planOnFreshReads(
  snapshot: Snapshot,
  makePlan: (snapshot: Snapshot) => Plan,
  confirm: (snapshot: Snapshot, consumerIds: readonly string[]) => Promise<Snapshot>,
): Promise<{ snapshot: Snapshot; plan: Plan; confirmed: number }> {
  let current = snapshot;
  let plan = makePlan(current);
  let confirmed = 0;
  for (;;) {
    const ids = consumersToConfirm(current, plan);
    if (ids.length === 0) return { snapshot: current, plan, confirmed };
    const next = await confirm(current, ids);
    // A confirm that changed nothing (a fake, or a broken one) must not loop: withhold its disables.
    if (next.consumers.some((consumer) => fromRow(consumer) && ids.includes(consumer.id))) {
      return { snapshot: next, plan: withoutUnconfirmedDisables(next, makePlan(next)), confirmed };
    }
    confirmed += ids.length;
    current = next;
    plan = makePlan(current);
  }
}

/** The plan without disables of keys that still have a consumer read only from its row. */
function withoutUnconfirmedDisables(snapshot: Snapshot, plan: Plan): Plan {
  const unconfirmed = new Set<string>();
  for (const consumer of snapshot.consumers) {
    if (fromRow(consumer)) for (const pin of consumer.pins) unconfirmed.add(keyRefId(pin.key));
  }
  return {
    ...plan,
    actions: plan.actions.filter(
      (action) => action.type !== "disable" || !unconfirmed.has(keyRefId(action.key)),
    ),
  };
}

/**
 * Whether the plan must be made again from listings made now: it would disable a version while
 * some consumers came from listings an earlier run made (`Snapshot.reusedListings`).
 */
export function needsFreshListings(snapshot: Snapshot, plan: Plan): boolean {
  return snapshot.reusedListings !== undefined && plan.actions.some((action) => action.type === "disable");
}
