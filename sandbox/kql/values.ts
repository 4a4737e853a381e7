/**
 * The engine's run-time values and Kusto's rules for comparing and converting them.
 * A value is null, a string (string, guid), a number (long, int, real), a boolean, a Date
 * (datetime), a Timespan, or plain JSON (dynamic arrays and property bags).
 */
import { KqlError, type KqlType } from "./types.js";

export class Timespan {
  constructor(readonly ms: number) {}
}

export type KqlValue = unknown;

const MS = {
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  microsecond: 0.001,
  tick: 0.0001,
} as const;

const timespanUnits: Record<string, number> = {
  d: MS.d,
  day: MS.d,
  days: MS.d,
  h: MS.h,
  hr: MS.h,
  hrs: MS.h,
  hour: MS.h,
  hours: MS.h,
  m: MS.m,
  min: MS.m,
  minute: MS.m,
  minutes: MS.m,
  s: MS.s,
  sec: MS.s,
  second: MS.s,
  seconds: MS.s,
  ms: MS.ms,
  milli: MS.ms,
  millis: MS.ms,
  millisecond: MS.ms,
  milliseconds: MS.ms,
  microsecond: MS.microsecond,
  microseconds: MS.microsecond,
  tick: MS.tick,
  ticks: MS.tick,
};

/** Parses "10s", "1.5d", "time(1.02:03:04)", "timespan(10m)", "02:00:00" into a Timespan; undefined when malformed. */
export function parseTimespan(text: string): Timespan | null | undefined {
  let body = text.trim();
  const wrapped = /^(?:time|timespan)\s*\((.*)\)$/is.exec(body);
  if (wrapped?.[1] !== undefined) body = wrapped[1].trim();
  if (body.toLowerCase() === "null") return null;
  const unit = /^([+-]?\d+(?:\.\d+)?)\s*([a-z]+)$/i.exec(body);
  if (unit?.[1] && unit[2]) {
    const factor = timespanUnits[unit[2].toLowerCase()];
    return factor === undefined ? undefined : new Timespan(Number(unit[1]) * factor);
  }
  const clock = /^([+-])?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$/.exec(body);
  if (clock) {
    const [, sign, days, hours, minutes, seconds, fraction] = clock;
    const ms =
      Number(days ?? 0) * MS.d +
      Number(hours) * MS.h +
      Number(minutes) * MS.m +
      Number(seconds ?? 0) * MS.s +
      (fraction ? Number(`0.${fraction}`) * 1000 : 0);
    return new Timespan(sign === "-" ? -ms : ms);
  }
  if (/^[+-]?\d+(?:\.\d+)?$/.test(body)) return new Timespan(Number(body) * MS.d);
  return undefined;
}

/** Parses an ISO 8601 date (UTC unless a zone is given) or an RFC 1123 date; undefined when malformed. */
export function parseDateTime(text: string): Date | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const hasZone = /(?:Z|[+-]\d{2}:?\d{2}|GMT|UTC)$/i.test(trimmed);
  const isoLike = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?/.test(trimmed);
  let normalised = trimmed.replace(" ", "T");
  // JavaScript accepts at most millisecond precision in the fraction.
  normalised = normalised.replace(/(\.\d{3})\d+/, "$1");
  if (isoLike && !hasZone) normalised = /T/.test(normalised) ? `${normalised}Z` : `${normalised}T00:00:00Z`;
  const ms = Date.parse(isoLike ? normalised : trimmed);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function pad(value: number, width = 2): string {
  return String(Math.trunc(value)).padStart(width, "0");
}

/** Kusto's text form of a timespan: [-][d.]hh:mm:ss[.fffffff]. */
export function formatTimespan(span: Timespan): string {
  const negative = span.ms < 0;
  let ticks = Math.round(Math.abs(span.ms) * 10_000);
  const days = Math.floor(ticks / 864_000_000_000);
  ticks -= days * 864_000_000_000;
  const hours = Math.floor(ticks / 36_000_000_000);
  ticks -= hours * 36_000_000_000;
  const minutes = Math.floor(ticks / 600_000_000);
  ticks -= minutes * 600_000_000;
  const seconds = Math.floor(ticks / 10_000_000);
  ticks -= seconds * 10_000_000;
  const clock = `${pad(hours)}:${pad(minutes)}:${pad(seconds)}${ticks > 0 ? `.${pad(ticks, 7)}` : ""}`;
  return `${negative ? "-" : ""}${days > 0 ? `${days}.` : ""}${clock}`;
}

/** Kusto's text form of a datetime: ISO 8601 in UTC, fraction only when non-zero. */
export function formatDateTime(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}

export function isNullValue(value: KqlValue): value is null | undefined {
  return value === null || value === undefined;
}

export function isDynamicValue(value: KqlValue): value is Record<string, unknown> | unknown[] {
  return (
    typeof value === "object" && value !== null && !(value instanceof Date) && !(value instanceof Timespan)
  );
}

/** tostring(): null becomes "", dynamic becomes JSON. */
export function toKqlString(value: KqlValue): string {
  if (isNullValue(value)) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value instanceof Date) return formatDateTime(value);
  if (value instanceof Timespan) return formatTimespan(value);
  return JSON.stringify(value);
}

export function toNumberValue(value: KqlValue): number | null {
  if (isNullValue(value)) return null;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") {
    const trimmed = value.trim();
    if (trimmed === "") return null;
    const parsed = Number(trimmed);
    return Number.isNaN(parsed) ? null : parsed;
  }
  if (value instanceof Date) return value.getTime() * 10_000 + 621_355_968_000_000_000;
  if (value instanceof Timespan) return value.ms * 10_000;
  return null;
}

export function toBoolValue(value: KqlValue): boolean | null {
  if (isNullValue(value)) return null;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") {
    const lower = value.trim().toLowerCase();
    if (lower === "true" || lower === "1") return true;
    if (lower === "false" || lower === "0") return false;
  }
  return null;
}

export function toDateValue(value: KqlValue): Date | null {
  if (value instanceof Date) return value;
  if (typeof value === "string") return parseDateTime(value) ?? null;
  return null;
}

export function toDynamicValue(value: KqlValue): KqlValue {
  if (typeof value === "string") {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  if (value instanceof Date) return formatDateTime(value);
  if (value instanceof Timespan) return formatTimespan(value);
  return value ?? null;
}

/** Converts a computed value to the declared type of its result column. */
export function coerceToType(value: KqlValue, type: KqlType): KqlValue {
  if (isNullValue(value)) return null;
  switch (type) {
    case "string":
    case "guid":
      return typeof value === "string" ? value : toKqlString(value);
    case "long":
    case "int": {
      const number = toNumberValue(value);
      return number === null ? null : Math.trunc(number);
    }
    case "real":
      return toNumberValue(value);
    case "bool":
      return toBoolValue(value);
    case "datetime":
      return toDateValue(value);
    case "timespan":
      return value instanceof Timespan
        ? value
        : typeof value === "string"
          ? (parseTimespan(value) ?? null)
          : null;
    case "dynamic":
      return value instanceof Date || value instanceof Timespan ? toKqlString(value) : value;
  }
}

/** Deep equality of two values; strings compared case-sensitively unless asked. */
export function valuesEqual(left: KqlValue, right: KqlValue, ignoreCase = false): boolean {
  if (isNullValue(left) || isNullValue(right)) return false;
  if (typeof left === "string" && typeof right === "string") {
    return ignoreCase ? left.toLowerCase() === right.toLowerCase() : left === right;
  }
  if (typeof left === "number" && typeof right === "number") return left === right;
  if (typeof left === "boolean" && typeof right === "boolean") return left === right;
  if (left instanceof Date || right instanceof Date) {
    const l = toDateValue(left);
    const r = toDateValue(right);
    return l !== null && r !== null && l.getTime() === r.getTime();
  }
  if (left instanceof Timespan && right instanceof Timespan) return left.ms === right.ms;
  if (isDynamicValue(left) && isDynamicValue(right)) return JSON.stringify(left) === JSON.stringify(right);
  return false;
}

/** Orders two non-null values of the same kind; undefined when they cannot be compared. */
export function compareValues(left: KqlValue, right: KqlValue): number | undefined {
  if (typeof left === "number" && typeof right === "number") return left - right;
  if (typeof left === "string" && typeof right === "string") return left < right ? -1 : left > right ? 1 : 0;
  if (left instanceof Date || right instanceof Date) {
    const l = toDateValue(left);
    const r = toDateValue(right);
    return l && r ? l.getTime() - r.getTime() : undefined;
  }
  if (left instanceof Timespan && right instanceof Timespan) return left.ms - right.ms;
  if (typeof left === "boolean" && typeof right === "boolean") return Number(left) - Number(right);
  return undefined;
}

/** A key that identifies a value for grouping and distinct (nulls group together). */
export function groupKey(value: KqlValue): string {
  if (isNullValue(value)) return "n";
  if (value instanceof Date) return `d${value.getTime()}`;
  if (value instanceof Timespan) return `t${value.ms}`;
  if (typeof value === "string") return `s${value}`;
  if (typeof value === "number") return `#${value}`;
  if (typeof value === "boolean") return `b${value}`;
  return `j${JSON.stringify(value)}`;
}

/** The dynamic value for a result row: JSON only. */
export function assertJson(value: unknown, what: string): unknown {
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw new KqlError("EvaluationError", `${what} is not JSON: ${(error as Error).message}`);
  }
}
