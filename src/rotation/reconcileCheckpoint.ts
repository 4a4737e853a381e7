/**
 * Where the last reconcile of every key stopped, in the rotator's table (partition
 * "checkpoint", one row): a run that reaches its deadline (ROTATOR_RECONCILE_DEADLINE, a margin
 * before host.json's functionTimeout) saves the first key it did not begin, and the next run
 * begins there (keys in `keyRefId` order, wrapping around). A run that begins every key clears
 * it. Losing it costs only order: every run still observes and plans every key.
 */
import { isStatus, type RotatorTable } from "../journal/rotatorTable.js";

export interface ReconcileCheckpoint {
  /** The key (`keyRefId`) the next reconcile begins with, if a run stopped before it. */
  load(): Promise<{ nextKeyId: string; savedAt: Date; runId: string } | undefined>;
  save(checkpoint: { nextKeyId: string; savedAt: Date; runId: string }): Promise<void>;
  clear(): Promise<void>;
}

const PARTITION = "checkpoint";
const ROW = "reconcileAll";

/** A key id as the journal spells it: `<vault>/<key>`, vault and key names `[0-9a-zA-Z-]`. */
const KEY_ID = /^[0-9a-zA-Z-]{1,127}\/[0-9a-zA-Z-]{1,127}$/;

/** A row written by anything else (or damaged) is not trusted: it counts as no checkpoint. */
export function checkpointFromEntity(
  entity: Record<string, unknown>,
): { nextKeyId: string; savedAt: Date; runId: string } | undefined {
  const { nextKeyId, savedAt, runId } = entity;
  if (typeof nextKeyId !== "string" || !KEY_ID.test(nextKeyId)) return undefined;
  if (typeof savedAt !== "string" || typeof runId !== "string") return undefined;
  const at = new Date(savedAt);
  if (Number.isNaN(at.getTime())) return undefined;
  return { nextKeyId, savedAt: at, runId };
}

export class TableReconcileCheckpoint implements ReconcileCheckpoint {
  constructor(private readonly table: RotatorTable) {}

  async load(): Promise<{ nextKeyId: string; savedAt: Date; runId: string } | undefined> {
    await this.table.ready();
    try {
      return checkpointFromEntity(await this.table.client.getEntity<Record<string, unknown>>(PARTITION, ROW));
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async save(checkpoint: { nextKeyId: string; savedAt: Date; runId: string }): Promise<void> {
    await this.table.ready();
    await this.table.client.upsertEntity(
      {
        partitionKey: PARTITION,
        rowKey: ROW,
        nextKeyId: checkpoint.nextKeyId,
        savedAt: checkpoint.savedAt.toISOString(),
        runId: checkpoint.runId,
      },
      "Replace",
    );
  }

  /** Overwrites the row with an empty key (nothing is deleted): it then reads as no checkpoint. */
  async clear(): Promise<void> {
    await this.table.ready();
    await this.table.client.upsertEntity(
      { partitionKey: PARTITION, rowKey: ROW, nextKeyId: "", savedAt: "", runId: "" },
      "Replace",
    );
  }
}

/** In memory: unit tests. */
export class MemoryReconcileCheckpoint implements ReconcileCheckpoint {
  value: { nextKeyId: string; savedAt: Date; runId: string } | undefined;

  async load() {
    return this.value && { ...this.value };
  }

  async save(checkpoint: { nextKeyId: string; savedAt: Date; runId: string }) {
    this.value = { ...checkpoint };
  }

  async clear() {
    this.value = undefined;
  }
}
