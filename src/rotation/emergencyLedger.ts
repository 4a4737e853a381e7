/**
 * The newest emergency rotation of each key, in the rotator's table (partition "emergency"),
 * so that every instance sees it: while one runs or shortly after it created a version, a
 * second emergency rotation of that key is refused and told which version was just created
 * (ROTATOR_EMERGENCY_COOLDOWN). Written under the key's lease, right after the version exists.
 */
import { isValidVersion } from "../adapters/keyRef.js";
import { isStatus, type RotatorTable, toTableKey } from "../journal/rotatorTable.js";

export interface EmergencyRecord {
  /** The version the emergency rotation created. */
  version: string;
  /** Its full key id. */
  versionId: string;
  createdAt: Date;
  runId: string;
}

export interface EmergencyLedger {
  /** The newest emergency rotation recorded for the key (`keyRefId`), if any. */
  last(keyId: string): Promise<EmergencyRecord | undefined>;
  record(keyId: string, record: EmergencyRecord): Promise<void>;
}

const PARTITION = "emergency";

/** A row written by anything else (or damaged) is not trusted: it counts as no record. */
export function emergencyRecordFromEntity(entity: Record<string, unknown>): EmergencyRecord | undefined {
  const { version, versionId, createdAt, runId } = entity;
  if (typeof version !== "string" || !isValidVersion(version)) return undefined;
  if (typeof versionId !== "string" || typeof runId !== "string" || typeof createdAt !== "string")
    return undefined;
  const at = new Date(createdAt);
  if (Number.isNaN(at.getTime())) return undefined;
  return { version: version.toLowerCase(), versionId, createdAt: at, runId };
}

export class TableEmergencyLedger implements EmergencyLedger {
  constructor(private readonly table: RotatorTable) {}

  async last(keyId: string): Promise<EmergencyRecord | undefined> {
    await this.table.ready();
    try {
      const entity = await this.table.client.getEntity<Record<string, unknown>>(PARTITION, toTableKey(keyId));
      return emergencyRecordFromEntity(entity);
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async record(keyId: string, record: EmergencyRecord): Promise<void> {
    await this.table.ready();
    await this.table.client.upsertEntity(
      {
        partitionKey: PARTITION,
        rowKey: toTableKey(keyId),
        version: record.version,
        versionId: record.versionId,
        createdAt: record.createdAt.toISOString(),
        runId: record.runId,
      },
      "Replace",
    );
  }
}

/** In memory: unit tests. */
export class MemoryEmergencyLedger implements EmergencyLedger {
  readonly records = new Map<string, EmergencyRecord>();

  async last(keyId: string): Promise<EmergencyRecord | undefined> {
    return this.records.get(keyId);
  }

  async record(keyId: string, record: EmergencyRecord): Promise<void> {
    this.records.set(keyId, { ...record });
  }
}
