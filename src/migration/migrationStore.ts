/**
 * Stored migrations, one per source key, in the rotator's table (partition "migration"): the
 * intent outlives the request that made it, so every later run (event, timer) keeps moving the
 * consumers still on the source. A cancelled migration stays stored (so the view can say it was
 * cancelled) until a new migration of the same source replaces it.
 */
import { isStatus, type RotatorTable, toTableKey } from "../journal/rotatorTable.js";
import type { KeyRef, MigrationIntent, MigrationState, VaultHostKind } from "../model.js";
import { keyRefId } from "../model.js";

export interface MigrationStore {
  /** Every stored migration (active and cancelled). */
  list(): Promise<MigrationIntent[]>;
  /** The migration of this source key (`keyRefId`), if any. */
  get(sourceKeyId: string): Promise<MigrationIntent | undefined>;
  /** Stores (or replaces) the migration of its source key. */
  put(intent: MigrationIntent): Promise<void>;
}

const PARTITION = "migration";
const STATES: readonly MigrationState[] = ["active", "cancelled"];
const HOST_KINDS: readonly VaultHostKind[] = ["vault", "managedHsm"];

function keyFields(prefix: string, key: KeyRef): Record<string, string> {
  return {
    [`${prefix}VaultUrl`]: key.vaultUrl,
    [`${prefix}VaultName`]: key.vaultName,
    [`${prefix}HostKind`]: key.hostKind,
    [`${prefix}KeyName`]: key.keyName,
  };
}

function keyOf(entity: Record<string, unknown>, prefix: string): KeyRef | undefined {
  const vaultUrl = entity[`${prefix}VaultUrl`];
  const vaultName = entity[`${prefix}VaultName`];
  const hostKind = entity[`${prefix}HostKind`];
  const keyName = entity[`${prefix}KeyName`];
  if (typeof vaultUrl !== "string" || typeof vaultName !== "string" || typeof keyName !== "string")
    return undefined;
  if (!HOST_KINDS.includes(hostKind as VaultHostKind)) return undefined;
  return { vaultUrl, vaultName, hostKind: hostKind as VaultHostKind, keyName };
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** A row written by anything else (or damaged) is not trusted: it counts as no migration. */
export function migrationFromEntity(entity: Record<string, unknown>): MigrationIntent | undefined {
  const source = keyOf(entity, "source");
  const destination = keyOf(entity, "destination");
  const requestedAt = dateOf(entity.requestedAt);
  const { reason, retireSource, state, runId } = entity;
  if (!source || !destination || !requestedAt) return undefined;
  if (typeof reason !== "string" || typeof retireSource !== "boolean" || typeof runId !== "string")
    return undefined;
  if (!STATES.includes(state as MigrationState)) return undefined;
  const cancelledAt = dateOf(entity.cancelledAt);
  const cancelReason = typeof entity.cancelReason === "string" ? entity.cancelReason : undefined;
  return {
    source,
    destination,
    requestedAt,
    reason,
    retireSource,
    state: state as MigrationState,
    runId,
    ...(cancelledAt ? { cancelledAt } : {}),
    ...(cancelReason !== undefined ? { cancelReason } : {}),
  };
}

export function migrationEntity(intent: MigrationIntent): Record<string, unknown> {
  return {
    partitionKey: PARTITION,
    rowKey: toTableKey(keyRefId(intent.source)),
    ...keyFields("source", intent.source),
    ...keyFields("destination", intent.destination),
    requestedAt: intent.requestedAt.toISOString(),
    reason: intent.reason,
    retireSource: intent.retireSource,
    state: intent.state,
    runId: intent.runId,
    ...(intent.cancelledAt ? { cancelledAt: intent.cancelledAt.toISOString() } : {}),
    ...(intent.cancelReason !== undefined ? { cancelReason: intent.cancelReason } : {}),
  };
}

export class TableMigrationStore implements MigrationStore {
  constructor(private readonly table: RotatorTable) {}

  async list(): Promise<MigrationIntent[]> {
    await this.table.ready();
    const found: MigrationIntent[] = [];
    const rows = this.table.client.listEntities<Record<string, unknown>>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
    });
    for await (const entity of rows) {
      const intent = migrationFromEntity(entity);
      if (intent) found.push(intent);
    }
    return found;
  }

  async get(sourceKeyId: string): Promise<MigrationIntent | undefined> {
    await this.table.ready();
    try {
      const entity = await this.table.client.getEntity<Record<string, unknown>>(
        PARTITION,
        toTableKey(sourceKeyId),
      );
      return migrationFromEntity(entity);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async put(intent: MigrationIntent): Promise<void> {
    await this.table.ready();
    await this.table.client.upsertEntity(
      migrationEntity(intent) as { partitionKey: string; rowKey: string },
      "Replace",
    );
  }
}

/** In memory: unit tests. */
export class MemoryMigrationStore implements MigrationStore {
  readonly records = new Map<string, MigrationIntent>();

  async list(): Promise<MigrationIntent[]> {
    return [...this.records.values()].map((intent) => ({ ...intent }));
  }

  async get(sourceKeyId: string): Promise<MigrationIntent | undefined> {
    const found = this.records.get(sourceKeyId);
    return found ? { ...found } : undefined;
  }

  async put(intent: MigrationIntent): Promise<void> {
    this.records.set(keyRefId(intent.source), { ...intent });
  }
}
