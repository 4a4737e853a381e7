/**
 * Makes a request with an `Idempotency-Key` safe to repeat: the first request records
 * "in progress" (expiring by itself, so a crash never blocks the key forever), then its
 * answer; a replay with the same request gets that answer back, a replay with a different
 * request is a conflict. Records live in the rotator table under partition "idempotency".
 */
import { createHash } from "node:crypto";
import { ValidationError } from "../errors.js";
import { isStatus, type RotatorTable } from "../journal/rotatorTable.js";
import { type Clock, systemClock } from "../lock/keyLease.js";

export type IdempotencyBegin =
  | { status: "new" }
  | { status: "replay"; response: unknown }
  | { status: "in-progress" }
  | { status: "mismatch" };

export interface IdempotencyStore {
  /** Claims `idempotencyKey` for the request with this fingerprint, or says why not. */
  begin(idempotencyKey: string, fingerprint: string): Promise<IdempotencyBegin>;
  /** Stores the answer for replays. */
  complete(idempotencyKey: string, fingerprint: string, response: unknown): Promise<void>;
  /** Forgets a claim whose request failed, so the client may retry with the same key. */
  abandon(idempotencyKey: string): Promise<void>;
}

const PARTITION = "idempotency";
const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** How often one claim looks again after the record vanished under it. */
const CLAIM_ATTEMPTS = 5;

/** Validates an `Idempotency-Key` header value. */
export function validateIdempotencyKey(value: string): string {
  const trimmed = value.trim();
  if (!KEY_PATTERN.test(trimmed)) {
    throw new ValidationError(
      "Idempotency-Key header",
      `the Idempotency-Key header must be 1-128 characters [A-Za-z0-9._:-]; got ${JSON.stringify(value.slice(0, 140))}`,
    );
  }
  return trimmed;
}

/** A stable digest of what the request asked for, so a replay can be compared with the original. */
export function requestFingerprint(request: unknown): string {
  return createHash("sha256").update(JSON.stringify(request)).digest("hex");
}

interface RecordEntity {
  partitionKey: string;
  rowKey: string;
  fingerprint: string;
  state: "in-progress" | "completed";
  /** Epoch ms after which an in-progress record no longer blocks. */
  expiresAt: string;
  response?: string;
}

export class TableIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly table: RotatorTable,
    private readonly clock: Clock = systemClock,
    private readonly inProgressMs = 5 * 60_000,
  ) {}

  async begin(idempotencyKey: string, fingerprint: string): Promise<IdempotencyBegin> {
    await this.table.ready();
    const client = this.table.client;
    const claim: RecordEntity = {
      partitionKey: PARTITION,
      rowKey: idempotencyKey,
      fingerprint,
      state: "in-progress",
      expiresAt: String(this.clock.now().getTime() + this.inProgressMs),
    };
    // A claim abandoned between our failed create and our read is gone: claim it again.
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      try {
        await client.createEntity(claim);
        return { status: "new" };
      } catch (error) {
        if (!isStatus(error, 409)) throw error;
      }
      let existing: Record<string, unknown> & { etag?: string };
      try {
        existing = await client.getEntity<Record<string, unknown>>(PARTITION, idempotencyKey);
      } catch (error) {
        if (isStatus(error, 404)) continue;
        throw error;
      }
      if (existing.fingerprint !== fingerprint) return { status: "mismatch" };
      if (existing.state === "completed" && typeof existing.response === "string") {
        return { status: "replay", response: JSON.parse(existing.response) as unknown };
      }
      if (Number(existing.expiresAt) > this.clock.now().getTime()) return { status: "in-progress" };
      try {
        await client.updateEntity(claim, "Replace", { etag: existing.etag });
        return { status: "new" };
      } catch (error) {
        if (isStatus(error, 412)) return { status: "in-progress" };
        if (isStatus(error, 404)) continue;
        throw error;
      }
    }
    return { status: "in-progress" };
  }

  async complete(idempotencyKey: string, fingerprint: string, response: unknown): Promise<void> {
    await this.table.ready();
    const record: RecordEntity = {
      partitionKey: PARTITION,
      rowKey: idempotencyKey,
      fingerprint,
      state: "completed",
      expiresAt: "0",
      response: JSON.stringify(response),
    };
    await this.table.client.upsertEntity(record, "Replace");
  }

  async abandon(idempotencyKey: string): Promise<void> {
    await this.table.ready();
    try {
      await this.table.client.deleteEntity(PARTITION, idempotencyKey);
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
  }
}

/** In memory: unit tests. */
export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<
    string,
    { fingerprint: string; response?: unknown; completed: boolean }
  >();

  async begin(idempotencyKey: string, fingerprint: string): Promise<IdempotencyBegin> {
    const existing = this.records.get(idempotencyKey);
    if (!existing) {
      this.records.set(idempotencyKey, { fingerprint, completed: false });
      return { status: "new" };
    }
    if (existing.fingerprint !== fingerprint) return { status: "mismatch" };
    return existing.completed ? { status: "replay", response: existing.response } : { status: "in-progress" };
  }

  async complete(idempotencyKey: string, fingerprint: string, response: unknown): Promise<void> {
    this.records.set(idempotencyKey, { fingerprint, response, completed: true });
  }

  async abandon(idempotencyKey: string): Promise<void> {
    this.records.delete(idempotencyKey);
  }
}
