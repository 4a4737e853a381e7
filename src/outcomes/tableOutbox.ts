/**
 * The outbox of outcome events that could not be delivered, in the rotator's table
 * (partition `outbox`, one row per event id): what a later run needs to send each again.
 * Rows read back are validated; one that is not an outbox row is skipped, never sent.
 */
import { isStatus, type RotatorTable } from "../journal/rotatorTable.js";
import type { OutcomeOutbox, UndeliveredEvent } from "./outcomeDelivery.js";
import type { OutcomeEventData } from "./outcomeEvents.js";

export const OUTBOX_PARTITION = "outbox";
const EVENT_ID = /^[A-Za-z0-9-]{1,100}$/;
const ERROR_LIMIT = 1000;

interface OutboxEntity {
  partitionKey: string;
  rowKey: string;
  eventType: string;
  subject: string;
  eventTime: string;
  dataVersion: string;
  data: string;
  firstFailedAt: string;
  lastError: string;
  attempts: number;
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

function dataOf(text: unknown): OutcomeEventData | undefined {
  if (typeof text !== "string") return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof data !== "object" || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const required = ["key", "keyId", "version", "reason", "message"];
  if (!required.every((field) => typeof record[field] === "string")) return undefined;
  for (const field of ["fromVersion", "consumer", "consumerKind", "pin"]) {
    if (record[field] !== undefined && typeof record[field] !== "string") return undefined;
  }
  return data as OutcomeEventData;
}

function dateOf(value: unknown): Date | undefined {
  if (typeof value !== "string") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** An outbox row as an event, or undefined for a row that is not one. */
export function undeliveredFromEntity(entity: Record<string, unknown>): UndeliveredEvent | undefined {
  const { rowKey, eventType, subject, dataVersion, attempts, lastError } = entity;
  const data = dataOf(entity.data);
  const eventTime = dateOf(entity.eventTime);
  const firstFailedAt = dateOf(entity.firstFailedAt);
  if (typeof rowKey !== "string" || !EVENT_ID.test(rowKey)) return undefined;
  if (!isText(eventType) || !isText(subject) || !isText(dataVersion)) return undefined;
  if (!data || !eventTime || !firstFailedAt) return undefined;
  if (typeof attempts !== "number" || !Number.isInteger(attempts) || attempts < 0) return undefined;
  return {
    id: rowKey,
    eventType,
    subject,
    eventTime,
    dataVersion,
    data,
    firstFailedAt,
    lastError: typeof lastError === "string" ? lastError : "",
    attempts,
  };
}

export class TableOutbox implements OutcomeOutbox {
  constructor(private readonly table: RotatorTable) {}

  async save(events: readonly UndeliveredEvent[]): Promise<void> {
    await this.table.ready();
    for (const event of events) {
      const entity: OutboxEntity = {
        partitionKey: OUTBOX_PARTITION,
        rowKey: event.id,
        eventType: event.eventType,
        subject: event.subject,
        eventTime: event.eventTime.toISOString(),
        dataVersion: event.dataVersion,
        data: JSON.stringify(event.data),
        firstFailedAt: event.firstFailedAt.toISOString(),
        lastError: event.lastError.slice(0, ERROR_LIMIT),
        attempts: event.attempts,
      };
      await this.table.client.upsertEntity(entity, "Replace");
    }
  }

  async list(limit: number): Promise<UndeliveredEvent[]> {
    await this.table.ready();
    const events: UndeliveredEvent[] = [];
    const pages = this.table.client
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: `PartitionKey eq '${OUTBOX_PARTITION}'` },
      })
      .byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      for (const entity of page) {
        const event = undeliveredFromEntity(entity);
        if (event) events.push(event);
      }
      if (events.length >= limit) break;
    }
    return events.sort((a, b) => a.firstFailedAt.getTime() - b.firstFailedAt.getTime()).slice(0, limit);
  }

  async remove(ids: readonly string[]): Promise<void> {
    await this.table.ready();
    for (const id of ids) {
      try {
        await this.table.client.deleteEntity(OUTBOX_PARTITION, id);
      } catch (error) {
        if (!isStatus(error, 404)) throw error;
      }
    }
  }
}
