/**
 * One interface for every consumer kind. The core owns the protocol (observe, plan, apply,
 * verify at the next observation); an adapter only reads a consumer's pins and begins a
 * repoint. Adding a kind = one new file implementing this + one row in `registry.ts`.
 */
import type { ConsumerKind, ConsumerSnapshot, KeyRef, PinName, StepOutcome } from "../../model.js";
import type { ParsedKeyId } from "../keyRef.js";

/** One row of the discovery query: `Resources | project id, type, subscriptionId, properties, identity`. */
export interface ResourceGraphRow {
  id: string;
  /** Lower-case ARM type, e.g. "microsoft.kusto/clusters". */
  type: string;
  subscriptionId: string;
  /** The resource's region as Resource Graph has it ("westeurope"), when the row carries it. */
  location?: string;
  properties: unknown;
  /** The resource's ARM `identity` block (system- and user-assigned principals), when it has one. */
  identity?: unknown;
}

/** A consumer discovery found, with the key identifiers discovery saw on it (not yet confirmed). */
export interface DiscoveredConsumer {
  id: string;
  kind: ConsumerKind;
  subscriptionId: string;
  keys: ParsedKeyId[];
  /**
   * The consumer's facts read from the same Resource Graph row (it carries the ARM GET's
   * `properties` and `identity`), marked `readFrom: "resource-graph"`; absent when the row
   * cannot tell them, and then observation reads the consumer through Resource Manager.
   */
  facts?: ConsumerSnapshot;
}

/** How a row's expansion may reuse what an earlier run listed (Cassandra's data centers). */
export interface RowExpansionOptions {
  /** Reuse a listing younger than this (absent or 0: list afresh). */
  listingMaxAgeMs?: number;
  /** Told when the row's consumers come from a listing made at `listedAt`, before this run. */
  reused?(listedAt: Date): void;
}

export interface ConsumerAdapter {
  readonly kind: ConsumerKind;
  /** Lower-case Resource Graph type whose rows announce consumers of this kind. */
  readonly resourceGraphType: string;
  /**
   * The consumers one Resource Graph row stands for (none when it uses no customer-managed
   * key), with their facts from the row. Cassandra lists the cluster's data centers through
   * ARM here (one call per cluster; the list carries each data center's properties).
   */
  candidatesFromRow(row: ResourceGraphRow, options?: RowExpansionOptions): Promise<DiscoveredConsumer[]>;
  /**
   * ARM GET: pins, version really in use, provisioningState, identity, backup retention.
   * Throws AzureCallError when the GET fails, ValidationError when the payload is odd.
   */
  read(id: string): Promise<ConsumerSnapshot>;
  /**
   * Begins the PATCH long-running operation that repoints `pin` to `toVersion`; does not wait
   * for it. Right before the write the consumer is read again, and the write is sent only when
   * the pin still names a version in `guard.replaceable` (known to be older than the target):
   * a consumer is never moved to a version older than, or unknown relative to, the one it has
   * when the write is sent. Where the provider honours `If-Match` (Kusto), the write carries
   * the etag of that read, so a write landing after anyone else's change is refused (412, pending).
   */
  beginRepoint(
    consumer: ConsumerSnapshot,
    pin: PinName,
    toVersion: string,
    guard: RepointGuard,
  ): Promise<StepOutcome>;
  /**
   * Begins the PATCH that moves `pin` from `move.from` to another key, `move.to`, keeping every
   * identity field and the pin's mode (`toVersion` null: versionless). Right before the write
   * the consumer is read again: the write is sent only while the pin still names the source key
   * in the same mode (never back to the source: a pin already on the destination is left alone).
   */
  beginMigrate(consumer: ConsumerSnapshot, pin: PinName, move: KeyMove): Promise<StepOutcome>;
}

/** A pin's move to another key: the version to pin there, or null to follow its newest. */
export interface KeyMove {
  from: KeyRef;
  to: KeyRef;
  toVersion: string | null;
}

/** What a repoint may replace: the versions (lower case) known to be older than its target. */
export interface RepointGuard {
  replaceable: ReadonlySet<string>;
}
