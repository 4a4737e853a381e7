/**
 * The journal: one record per step the service took or would take (report mode), with its
 * outcome and reason, partitioned by key id. Row keys sort newest first, so "recent entries
 * for a key" is one short query.
 */
import { randomBytes } from "node:crypto";
import { odata } from "@azure/data-tables";
import type { RotatorMode } from "../model.js";
import { type RotatorTable, toTableKey } from "./rotatorTable.js";

export type JournalAction =
  | "repoint"
  | "disable"
  | "hold"
  | "block"
  | "create-version"
  | "mark-compromised"
  | "publish-event"
  | "reconcile"
  | "restore"
  | "restore-needed"
  | "freeze"
  | "unfreeze"
  /** A consumer's move to a migration's destination key. */
  | "migrate"
  /** A migration stored or cancelled. */
  | "migration";

/**
 * done / pending / failed are the step outcomes; `skipped` = report mode, nothing changed;
 * `held` and `blocked` record plan decisions that change nothing.
 */
export type JournalOutcome = "done" | "pending" | "failed" | "skipped" | "held" | "blocked";

export interface JournalEntry {
  at: Date;
  /** "<vaultName>/<keyName>" (keyRefId). */
  keyId: string;
  action: JournalAction;
  outcome: JournalOutcome;
  /** A reason code from the plan, or a short machine-readable cause. */
  reason: string;
  /** A sentence a person can act on. */
  message: string;
  /** Identifies one reconcile run across its entries. */
  runId: string;
  /** What started the run: "event", "timer", "emergency", ... */
  trigger: string;
  mode: RotatorMode;
  version?: string;
  consumerId?: string;
  pin?: string;
}

export interface Journal {
  record(entry: JournalEntry): Promise<void>;
  /** Newest first. */
  recent(keyId: string, limit: number): Promise<JournalEntry[]>;
}

const PARTITION_PREFIX = "journal|";
const MAX_TIME = 9_999_999_999_999;

export function journalPartition(keyId: string): string {
  return `${PARTITION_PREFIX}${toTableKey(keyId)}`;
}

/** Newest first by time; the random suffix keeps two entries of the same millisecond apart. */
export function journalRowKey(at: Date): string {
  const inverted = String(MAX_TIME - at.getTime()).padStart(13, "0");
  return `${inverted}-${randomBytes(6).toString("hex")}`;
}

interface JournalEntity {
  partitionKey: string;
  rowKey: string;
  at: string;
  keyId: string;
  action: string;
  outcome: string;
  reason: string;
  message: string;
  runId: string;
  trigger: string;
  mode: string;
  version?: string;
  consumerId?: string;
  pin?: string;
}

const ACTIONS: readonly JournalAction[] = [
  "repoint",
  "disable",
  "hold",
  "block",
  "create-version",
  "mark-compromised",
  "publish-event",
  "reconcile",
  "restore",
  "restore-needed",
  "freeze",
  "unfreeze",
  "migrate",
  "migration",
];
const OUTCOMES: readonly JournalOutcome[] = ["done", "pending", "failed", "skipped", "held", "blocked"];

function optionalString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Entities read back are validated: a row written by something else is skipped, not trusted. */
export function entryFromEntity(entity: Record<string, unknown>): JournalEntry | undefined {
  const { at, keyId, action, outcome, reason, message, runId, trigger, mode } = entity;
  if (typeof at !== "string" || typeof keyId !== "string" || typeof reason !== "string") return undefined;
  if (typeof message !== "string" || typeof runId !== "string" || typeof trigger !== "string")
    return undefined;
  if (!ACTIONS.includes(action as JournalAction) || !OUTCOMES.includes(outcome as JournalOutcome))
    return undefined;
  if (mode !== "enforce" && mode !== "report") return undefined;
  const time = new Date(at);
  if (Number.isNaN(time.getTime())) return undefined;
  const entry: JournalEntry = {
    at: time,
    keyId,
    action: action as JournalAction,
    outcome: outcome as JournalOutcome,
    reason,
    message,
    runId,
    trigger,
    mode,
  };
  const version = optionalString(entity.version);
  const consumerId = optionalString(entity.consumerId);
  const pin = optionalString(entity.pin);
  if (version) entry.version = version;
  if (consumerId) entry.consumerId = consumerId;
  if (pin) entry.pin = pin;
  return entry;
}

/** Table Storage string properties hold up to 32K characters; a message never needs that many. */
function bounded(text: string): string {
  return text.length > 4000 ? `${text.slice(0, 3997)}...` : text;
}

export class TableJournal implements Journal {
  constructor(private readonly table: RotatorTable) {}

  async record(entry: JournalEntry): Promise<void> {
    await this.table.ready();
    const entity: JournalEntity = {
      partitionKey: journalPartition(entry.keyId),
      rowKey: journalRowKey(entry.at),
      at: entry.at.toISOString(),
      keyId: entry.keyId,
      action: entry.action,
      outcome: entry.outcome,
      reason: entry.reason,
      message: bounded(entry.message),
      runId: entry.runId,
      trigger: entry.trigger,
      mode: entry.mode,
      ...(entry.version ? { version: entry.version } : {}),
      ...(entry.consumerId ? { consumerId: entry.consumerId } : {}),
      ...(entry.pin ? { pin: entry.pin } : {}),
    };
    await this.table.client.createEntity(entity);
  }

  async recent(keyId: string, limit: number): Promise<JournalEntry[]> {
    await this.table.ready();
    const entries: JournalEntry[] = [];
    const pages = this.table.client
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${journalPartition(keyId)}` },
      })
      .byPage({ maxPageSize: Math.min(Math.max(limit, 1), 1000) });
    for await (const page of pages) {
      for (const entity of page) {
        const entry = entryFromEntity(entity);
        if (entry) entries.push(entry);
        if (entries.length >= limit) return entries;
      }
    }
    return entries;
  }
}

/** Keeps entries in memory: unit tests, and the plan command when no table is configured. */
export class MemoryJournal implements Journal {
  readonly entries: JournalEntry[] = [];

  async record(entry: JournalEntry): Promise<void> {
    this.entries.push({ ...entry });
  }

  async recent(keyId: string, limit: number): Promise<JournalEntry[]> {
    return this.entries
      .filter((entry) => entry.keyId === keyId)
      .sort((a, b) => b.at.getTime() - a.at.getTime())
      .slice(0, limit);
  }
}
