/**
 * Freezes of a key's retirement, in the rotator's table (partition "freeze", one row per key):
 * written when a restore re-enabled a version of the key or an operator froze it, removed when an
 * operator unfreezes it. While a key has a row, nothing of it retires (hold `retirement-frozen`).
 * Every run reads all of them in one partition query.
 */
import { odata } from "@azure/data-tables";
import type { FreezeRecord } from "../model.js";
import { fromTableKey, isStatus, type RotatorTable, toTableKey } from "./rotatorTable.js";

export interface FreezeStore {
  /** Every frozen key, by `keyRefId`. */
  all(): Promise<Record<string, FreezeRecord>>;
  get(keyId: string): Promise<FreezeRecord | undefined>;
  /** Writes the freeze unless the key is frozen already; answers the freeze in force. */
  freeze(keyId: string, record: FreezeRecord): Promise<{ record: FreezeRecord; changed: boolean }>;
  /** Removes the freeze; false when the key was not frozen. */
  unfreeze(keyId: string): Promise<boolean>;
}

const PARTITION = "freeze";
/** A reason is at most 500 characters (the operator's) plus what the service adds. */
const REASON_LIMIT = 1000;

/** A row written by anything else (or damaged) is not trusted as a freeze record... */
export function freezeFromEntity(entity: Record<string, unknown>): FreezeRecord | undefined {
  const { reason, at, by } = entity;
  if (typeof reason !== "string" || typeof at !== "string" || typeof by !== "string") return undefined;
  const time = new Date(at);
  if (Number.isNaN(time.getTime())) return undefined;
  return { reason, at: time, by };
}

/** ...but a row that is there still freezes: an unreadable freeze holds, it never releases. */
function damaged(): FreezeRecord {
  return { reason: "a freeze record that could not be read", at: new Date(0), by: "unknown" };
}

function bounded(text: string): string {
  return text.length > REASON_LIMIT ? `${text.slice(0, REASON_LIMIT - 3)}...` : text;
}

export class TableFreezeStore implements FreezeStore {
  constructor(private readonly table: RotatorTable) {}

  async all(): Promise<Record<string, FreezeRecord>> {
    await this.table.ready();
    const found: Record<string, FreezeRecord> = {};
    const rows = this.table.client.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${PARTITION}` },
    });
    for await (const entity of rows) {
      if (typeof entity.rowKey !== "string") continue;
      found[fromTableKey(entity.rowKey)] = freezeFromEntity(entity) ?? damaged();
    }
    return found;
  }

  async get(keyId: string): Promise<FreezeRecord | undefined> {
    await this.table.ready();
    try {
      const entity = await this.table.client.getEntity<Record<string, unknown>>(PARTITION, toTableKey(keyId));
      return freezeFromEntity(entity) ?? damaged();
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async freeze(keyId: string, record: FreezeRecord): Promise<{ record: FreezeRecord; changed: boolean }> {
    await this.table.ready();
    try {
      await this.table.client.createEntity({
        partitionKey: PARTITION,
        rowKey: toTableKey(keyId),
        reason: bounded(record.reason),
        at: record.at.toISOString(),
        by: record.by,
      });
      return { record: { ...record, reason: bounded(record.reason) }, changed: true };
    } catch (error) {
      // Frozen already (by another run or instance): that freeze stays as it was.
      if (!isStatus(error, 409)) throw error;
      return { record: (await this.get(keyId)) ?? record, changed: false };
    }
  }

  async unfreeze(keyId: string): Promise<boolean> {
    await this.table.ready();
    try {
      await this.table.client.deleteEntity(PARTITION, toTableKey(keyId));
      return true;
    } catch (error) {
      if (isStatus(error, 404)) return false;
      throw error;
    }
  }
}

/** In memory: unit tests. */
export class MemoryFreezeStore implements FreezeStore {
  readonly records = new Map<string, FreezeRecord>();

  async all(): Promise<Record<string, FreezeRecord>> {
    return Object.fromEntries([...this.records].map(([id, record]) => [id, { ...record }]));
  }

  async get(keyId: string): Promise<FreezeRecord | undefined> {
    const record = this.records.get(keyId);
    return record ? { ...record } : undefined;
  }

  async freeze(keyId: string, record: FreezeRecord): Promise<{ record: FreezeRecord; changed: boolean }> {
    const existing = this.records.get(keyId);
    if (existing) return { record: { ...existing }, changed: false };
    this.records.set(keyId, { ...record });
    return { record: { ...record }, changed: true };
  }

  async unfreeze(keyId: string): Promise<boolean> {
    return this.records.delete(keyId);
  }
}
