/**
 * Delivering outcome events so that none is lost:
 *
 *   events ──► an id each (kept through retries and republishing)
 *          ──► batches under Event Grid's limits (1 MB a request, 1 MB an event, as documented)
 *          ──► send each batch; 429, 408, 5xx and network errors are retried with exponential
 *              backoff and jitter (Retry-After honoured); a 413 splits the batch in two
 *          ──► what still could not be delivered is kept in the outbox (the rotator's table),
 *              with everything needed to send it again
 *
 * A later run (the timer) republishes the outbox, oldest first, and removes what got through.
 * An event is republished with its own id, so a subscriber that already has it (the first send
 * may have landed after all) recognises the duplicate: Event Grid delivers at least once anyway.
 */
import { randomUUID } from "node:crypto";
import type { SendEventGridEventInput } from "@azure/eventgrid";
import { describeError } from "../errors.js";
import type { RotatorLog } from "../rotation/log.js";
import {
  type EventGridSender,
  type OutcomeEvent,
  type OutcomeEventData,
  type OutcomePublisher,
  type PublishResult,
  toEventGridInput,
} from "./outcomeEvents.js";

/** An event as sent and as kept in the outbox: its Event Grid shape, id included. */
export interface UndeliveredEvent {
  id: string;
  eventType: string;
  subject: string;
  eventTime: Date;
  dataVersion: string;
  data: OutcomeEventData;
  /** When it first failed, and why it last failed. */
  firstFailedAt: Date;
  lastError: string;
  /** Sends tried so far, over every run. */
  attempts: number;
}

/** Where undelivered events wait for a later run (`TableOutbox` in Azure). */
export interface OutcomeOutbox {
  save(events: readonly UndeliveredEvent[]): Promise<void>;
  /** The oldest `limit` waiting events. */
  list(limit: number): Promise<UndeliveredEvent[]>;
  remove(ids: readonly string[]): Promise<void>;
}

/** Event Grid's size limits as documented ("Azure Event Grid quotas and limits": 1 MB each), in bytes. */
export const EVENT_GRID_LIMITS = {
  /** One publish request; 1 MB read as 10^6 bytes, below both readings of "1 MB". */
  requestBytes: 1_000_000,
  /** One event. */
  eventBytes: 1_000_000,
} as const;

export interface DeliveryOptions {
  sender: EventGridSender;
  /** Without one, what cannot be delivered is only logged (and counted as lost). */
  outbox?: OutcomeOutbox;
  log: RotatorLog;
  clock?: { now(): Date };
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter of the backoff. */
  random?: () => number;
  /** Sends of one batch in one run, the first included (default 5). */
  maxAttempts?: number;
  /** The first backoff (default 500 ms); it doubles each attempt, up to `maxDelayMs` (default 8 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  limits?: { requestBytes: number; eventBytes: number };
  /** Events republished per run at most (default 5,000). */
  republishLimit?: number;
}

export interface RepublishResult {
  waiting: number;
  republished: number;
  stillWaiting: number;
}

type Batch = SendEventGridEventInput<OutcomeEventData> & { id: string };

/** The bytes an event takes in a request (the SDK sends compact JSON, dates as ISO strings). */
export function eventBytes(event: SendEventGridEventInput<unknown>): number {
  return Buffer.byteLength(JSON.stringify(event), "utf8");
}

/**
 * Splits events into batches of at most `limits.requestBytes` each (`[`, `]` and the commas
 * included), in order. An event over `limits.eventBytes` on its own is returned apart: no
 * request could carry it.
 */
export function batchesUnderLimits<T extends SendEventGridEventInput<unknown>>(
  events: readonly T[],
  limits: { requestBytes: number; eventBytes: number } = EVENT_GRID_LIMITS,
): { batches: T[][]; oversized: T[] } {
  const batches: T[][] = [];
  const oversized: T[] = [];
  let current: T[] = [];
  let currentBytes = 2;
  for (const event of events) {
    const size = eventBytes(event);
    if (size > limits.eventBytes || size + 2 > limits.requestBytes) {
      oversized.push(event);
      continue;
    }
    const added = size + (current.length > 0 ? 1 : 0);
    if (current.length > 0 && currentBytes + added > limits.requestBytes) {
      batches.push(current);
      current = [];
      currentBytes = 2;
    }
    currentBytes += size + (current.length > 0 ? 1 : 0);
    current.push(event);
  }
  if (current.length > 0) batches.push(current);
  return { batches, oversized };
}

/** What a failed send says: its HTTP status (none for a network error) and any Retry-After. */
function failureOf(error: unknown): { status: number | undefined; retryAfterMs: number | undefined } {
  const record = (typeof error === "object" && error !== null ? error : {}) as {
    statusCode?: unknown;
    response?: { headers?: { get?: (name: string) => string | undefined } };
  };
  const status = typeof record.statusCode === "number" ? record.statusCode : undefined;
  const header = record.response?.headers?.get?.("retry-after");
  let retryAfterMs: number | undefined;
  if (header !== undefined) {
    const seconds = Number(header);
    if (Number.isFinite(seconds) && seconds >= 0) retryAfterMs = seconds * 1000;
    else {
      const date = Date.parse(header);
      if (!Number.isNaN(date)) retryAfterMs = Math.max(0, date - Date.now());
    }
  }
  return { status, retryAfterMs };
}

/** 429, 408 and 5xx are Event Grid saying "later"; no status at all is the network. */
function isRetryable(status: number | undefined): boolean {
  return status === undefined || status === 408 || status === 429 || status >= 500;
}

export class OutcomeDelivery implements OutcomePublisher {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly clock: { now(): Date };
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly limits: { requestBytes: number; eventBytes: number };

  constructor(private readonly options: DeliveryOptions) {
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? { now: () => new Date() };
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.baseDelayMs = options.baseDelayMs ?? 500;
    this.maxDelayMs = options.maxDelayMs ?? 8_000;
    this.limits = options.limits ?? EVENT_GRID_LIMITS;
  }

  /** Delivers every event, or keeps it in the outbox; never throws for a delivery problem. */
  async publish(events: OutcomeEvent[]): Promise<PublishResult> {
    if (events.length === 0) return { published: 0, delivered: 0, kept: 0, lost: 0, failures: [] };
    const inputs: Batch[] = events.map((event) => ({
      ...toEventGridInput(event),
      id: event.id ?? randomUUID(),
    }));
    const failed = await this.deliver(inputs);
    const failures = [...new Set(failed.map((entry) => entry.error))];
    const kept = await this.keep(
      failed.map(({ event, error, attempts }) => this.undelivered(event, error, attempts)),
    );
    return {
      published: inputs.length,
      delivered: inputs.length - failed.length,
      kept,
      lost: failed.length - kept,
      failures,
    };
  }

  /** Sends the outbox's oldest events again (each with its own id), and removes what got through. */
  async republishUndelivered(): Promise<RepublishResult> {
    const outbox = this.options.outbox;
    if (!outbox) return { waiting: 0, republished: 0, stillWaiting: 0 };
    const waiting = await outbox.list(this.options.republishLimit ?? 5_000);
    if (waiting.length === 0) return { waiting: 0, republished: 0, stillWaiting: 0 };
    const byId = new Map(waiting.map((event) => [event.id, event]));
    const failed = await this.deliver(
      waiting.map((event) => ({
        id: event.id,
        eventType: event.eventType,
        subject: event.subject,
        eventTime: event.eventTime,
        dataVersion: event.dataVersion,
        data: event.data,
      })),
    );
    const stillFailing = new Set(failed.map((entry) => entry.event.id));
    const delivered = waiting.filter((event) => !stillFailing.has(event.id)).map((event) => event.id);
    if (delivered.length > 0) await outbox.remove(delivered);
    if (failed.length > 0) {
      await outbox.save(
        failed.map(({ event, error, attempts }) => {
          const known = byId.get(event.id);
          return {
            ...this.undelivered(event, error, attempts),
            ...(known ? { firstFailedAt: known.firstFailedAt, attempts: known.attempts + attempts } : {}),
          };
        }),
      );
    }
    this.options.log.info("undelivered outcome events republished", {
      waiting: waiting.length,
      republished: delivered.length,
      stillWaiting: failed.length,
    });
    return { waiting: waiting.length, republished: delivered.length, stillWaiting: failed.length };
  }

  /** Sends every batch; returns the events that could not be delivered, with the last error. */
  private async deliver(inputs: Batch[]): Promise<{ event: Batch; error: string; attempts: number }[]> {
    const { batches, oversized } = batchesUnderLimits(inputs, this.limits);
    const failed: { event: Batch; error: string; attempts: number }[] = oversized.map((event) => ({
      event,
      error: `the event is ${eventBytes(event)} bytes, over Event Grid's ${this.limits.eventBytes} bytes per event`,
      attempts: 0,
    }));
    for (const batch of batches) failed.push(...(await this.sendBatch(batch)));
    return failed;
  }

  private async sendBatch(batch: Batch[]): Promise<{ event: Batch; error: string; attempts: number }[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.options.sender.send(batch);
        return [];
      } catch (error) {
        const { status, retryAfterMs } = failureOf(error);
        const detail = `${status ?? "network error"}: ${describeError(error)}`;
        if (status === 413 && batch.length > 1) {
          // Our size estimate and Event Grid's disagree: halve until each part is accepted.
          const middle = Math.ceil(batch.length / 2);
          return [
            ...(await this.sendBatch(batch.slice(0, middle))),
            ...(await this.sendBatch(batch.slice(middle))),
          ];
        }
        // A Retry-After longer than this run waits is honoured by leaving the batch to the next run.
        const waitsTooLong = retryAfterMs !== undefined && retryAfterMs > this.maxDelayMs;
        if (!isRetryable(status) || attempt >= this.maxAttempts || waitsTooLong) {
          this.options.log.warn("outcome events not delivered", {
            events: batch.length,
            attempts: attempt,
            detail,
          });
          return batch.map((event) => ({ event, error: detail, attempts: attempt }));
        }
        const backoff = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
        const wait = retryAfterMs ?? backoff * (0.5 + this.random() / 2);
        this.options.log.info("outcome events will be sent again", {
          events: batch.length,
          attempt,
          waitMs: Math.round(wait),
          detail,
        });
        await this.sleep(wait);
      }
    }
  }

  private undelivered(event: Batch, error: string, attempts: number): UndeliveredEvent {
    const now = this.clock.now();
    return {
      id: event.id,
      eventType: event.eventType,
      subject: event.subject,
      eventTime: event.eventTime instanceof Date ? event.eventTime : new Date(event.eventTime ?? now),
      dataVersion: event.dataVersion,
      data: event.data,
      firstFailedAt: now,
      lastError: error,
      attempts,
    };
  }

  /** Keeps events in the outbox; the number kept (0 when there is none or it failed: logged as lost). */
  private async keep(events: UndeliveredEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const outbox = this.options.outbox;
    if (!outbox) {
      this.options.log.error("outcome events lost: no outbox to keep them", {
        events: events.length,
        ids: events.map((event) => event.id).join(","),
      });
      return 0;
    }
    try {
      await outbox.save(events);
      return events.length;
    } catch (error) {
      this.options.log.error("outcome events lost: the outbox could not keep them", {
        events: events.length,
        ids: events.map((event) => event.id).join(","),
        detail: describeError(error),
      });
      return 0;
    }
  }
}

/** Keeps undelivered events in memory: unit tests. */
export class MemoryOutbox implements OutcomeOutbox {
  readonly events = new Map<string, UndeliveredEvent>();
  async save(events: readonly UndeliveredEvent[]): Promise<void> {
    for (const event of events) this.events.set(event.id, { ...event });
  }
  async list(limit: number): Promise<UndeliveredEvent[]> {
    return [...this.events.values()]
      .sort((a, b) => a.firstFailedAt.getTime() - b.firstFailedAt.getTime())
      .slice(0, limit);
  }
  async remove(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.events.delete(id);
  }
}
