/**
 * Serializes work per key across invocations and instances: a lease entity per key with
 * `leaseUntil` and `holder`, taken by insert, or by an ETag-conditional replace once the
 * previous lease has expired. A crashed holder therefore never blocks a key for longer
 * than one lease. The holder renews while it works and releases at the end.
 */
import { randomUUID } from "node:crypto";
import { isStatus, type RotatorTable, toTableKey } from "../journal/rotatorTable.js";

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

export interface Lease {
  readonly keyId: string;
  readonly holder: string;
  /** Extends the lease; false when it was lost (expired and taken by someone else). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export interface KeyLock {
  /** The lease, or undefined when another holder has an unexpired lease on the key. */
  tryAcquire(keyId: string, holder?: string): Promise<Lease | undefined>;
}

export const LEASE_PARTITION = "lease";
/** How often one acquisition looks again after the row changed under it, before it calls the key busy. */
const ACQUIRE_ATTEMPTS = 5;

interface LeaseEntity {
  partitionKey: string;
  rowKey: string;
  holder: string;
  /** Epoch ms, as a string so Table Storage keeps it exact. */
  leaseUntil: string;
}

function leaseUntilOf(entity: Record<string, unknown>): number {
  const value = Number(entity.leaseUntil);
  return Number.isFinite(value) ? value : 0;
}

export class TableKeyLock implements KeyLock {
  constructor(
    private readonly table: RotatorTable,
    private readonly clock: Clock = systemClock,
    private readonly leaseMs = 60_000,
  ) {}

  async tryAcquire(keyId: string, holder: string = randomUUID()): Promise<Lease | undefined> {
    await this.table.ready();
    const client = this.table.client;
    const rowKey = toTableKey(keyId);
    const entity = (): LeaseEntity => ({
      partitionKey: LEASE_PARTITION,
      rowKey,
      holder,
      leaseUntil: String(this.clock.now().getTime() + this.leaseMs),
    });
    // Every failure below that means "the row changed under us" (another holder created,
    // released or took it in between) is a reason to look again, never an error: a few
    // attempts settle it, and a key that stays contended is simply busy.
    for (let attempt = 0; attempt < ACQUIRE_ATTEMPTS; attempt++) {
      let etag: string | undefined;
      try {
        etag = (await client.createEntity(entity())).etag;
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
        let current: Record<string, unknown> & { etag?: string };
        try {
          current = await client.getEntity<Record<string, unknown>>(LEASE_PARTITION, rowKey);
        } catch (readError) {
          // Released between our create and our read: try to create it again.
          if (isStatus(readError, 404)) continue;
          throw readError;
        }
        if (leaseUntilOf(current) > this.clock.now().getTime() && current.holder !== holder) return undefined;
        try {
          etag = (await client.updateEntity(entity(), "Replace", { etag: current.etag })).etag;
        } catch (raceError) {
          // Someone else took the expired lease first: it is theirs now.
          if (isStatus(raceError, 412)) return undefined;
          // Released meanwhile: try to create it again.
          if (isStatus(raceError, 404)) continue;
          throw raceError;
        }
      }
      if (!etag) throw new Error(`Table Storage returned no ETag for the lease on key ${keyId}`);
      return this.leaseFor(keyId, holder, rowKey, etag, entity);
    }
    return undefined;
  }

  private leaseFor(
    keyId: string,
    holder: string,
    rowKey: string,
    initialEtag: string,
    entity: () => LeaseEntity,
  ): Lease {
    const client = this.table.client;
    let etag = initialEtag;
    let released = false;
    return {
      keyId,
      holder,
      renew: async () => {
        if (released) return false;
        try {
          const result = await client.updateEntity(entity(), "Replace", { etag });
          if (result.etag) etag = result.etag;
          return true;
        } catch (error) {
          if (isStatus(error, 412) || isStatus(error, 404)) return false;
          throw error;
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await client.deleteEntity(LEASE_PARTITION, rowKey, { etag });
        } catch (error) {
          // Lost or already gone: someone else holds it now, or it expired; nothing to undo.
          if (isStatus(error, 412) || isStatus(error, 404)) return;
          throw error;
        }
      },
    };
  }
}

export const LEASE_RENEW_EVERY_MS = 20_000;

/** Runs `work` while renewing `leases` every `renewEveryMs`, and releases them afterwards (also when it throws). */
export async function holdingLeases<T>(
  leases: readonly Lease[],
  work: () => Promise<T>,
  renewEveryMs = LEASE_RENEW_EVERY_MS,
): Promise<T> {
  const renewal = setInterval(() => {
    for (const lease of leases) lease.renew().catch(() => undefined);
  }, renewEveryMs);
  renewal.unref();
  try {
    return await work();
  } finally {
    clearInterval(renewal);
    await Promise.all(leases.map((lease) => lease.release().catch(() => undefined)));
  }
}

export type LeaseResult<T> = { status: "done"; value: T } | { status: "busy"; holderMessage: string };

/** Runs `work` under the key's lease; busy when another run holds the key. */
export async function withKeyLease<T>(
  lock: KeyLock,
  keyId: string,
  work: (lease: Lease) => Promise<T>,
): Promise<LeaseResult<T>> {
  const lease = await lock.tryAcquire(keyId);
  if (!lease) return { status: "busy", holderMessage: `another run holds the key ${keyId}` };
  return { status: "done", value: await holdingLeases([lease], () => work(lease)) };
}

/** Keeps leases in memory: unit tests of code that needs a lock. */
export class MemoryKeyLock implements KeyLock {
  private readonly leases = new Map<string, { holder: string; until: number }>();

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly leaseMs = 60_000,
  ) {}

  async tryAcquire(keyId: string, holder: string = randomUUID()): Promise<Lease | undefined> {
    const now = this.clock.now().getTime();
    const current = this.leases.get(keyId);
    if (current && current.until > now && current.holder !== holder) return undefined;
    this.leases.set(keyId, { holder, until: now + this.leaseMs });
    return {
      keyId,
      holder,
      renew: async () => {
        const lease = this.leases.get(keyId);
        if (lease?.holder !== holder) return false;
        lease.until = this.clock.now().getTime() + this.leaseMs;
        return true;
      },
      release: async () => {
        if (this.leases.get(keyId)?.holder === holder) this.leases.delete(keyId);
      },
    };
  }
}
