import { ValidationError } from "../errors.js";

/**
 * Azure Functions timer schedules: 6-field NCRONTAB
 * `{second} {minute} {hour} {day} {month} {day-of-week}`, evaluated in UTC.
 *
 * Each field accepts `*`, a value, a range `a-b`, a step `*\/n`, `a-b/n` or `a/n`, and
 * comma-separated lists of these. Months and days of the week also accept names
 * (`JAN`/`January`, `MON`/`Monday`, any case); day of week is 0-6 with 0 = Sunday.
 *
 * Like NCrontab (the library the Functions host uses), a time matches only when the day
 * of month AND the day of week both match, unlike Vixie cron's "either".
 */
export interface NcrontabSchedule {
  expression: string;
  seconds: readonly number[];
  minutes: readonly number[];
  hours: readonly number[];
  days: readonly number[];
  /** 1-12. */
  months: readonly number[];
  /** 0-6, 0 = Sunday. */
  daysOfWeek: readonly number[];
}

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Value of names[0]. */
  namesStartAt?: number;
}

const MONTH_NAMES = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
] as const;
const DAY_NAMES = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"] as const;

const FIELDS: readonly FieldSpec[] = [
  { name: "second", min: 0, max: 59 },
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: MONTH_NAMES, namesStartAt: 1 },
  { name: "day-of-week", min: 0, max: 6, names: DAY_NAMES, namesStartAt: 0 },
];

/** Longest each month can be (February in a leap year). */
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

export const NCRONTAB_EXAMPLE = "0 */5 * * * * (every five minutes)";

function invalid(expression: string, detail: string): ValidationError {
  return new ValidationError(
    "NCRONTAB expression",
    `"${expression}" is not a valid 6-field NCRONTAB expression ({second} {minute} {hour} {day} {month} {day-of-week}, such as ${NCRONTAB_EXAMPLE}): ${detail}`,
  );
}

function parseValue(expression: string, field: FieldSpec, text: string): number {
  if (/^\d+$/.test(text)) {
    const value = Number(text);
    if (value < field.min || value > field.max) {
      throw invalid(expression, `${field.name} ${value} is outside ${field.min}-${field.max}`);
    }
    return value;
  }
  const lower = text.toLowerCase();
  const index =
    field.names && /^[a-z]{3,}$/.test(lower)
      ? field.names.findIndex((name) => name === lower || (lower.length === 3 && name.startsWith(lower)))
      : -1;
  if (index < 0 || field.namesStartAt === undefined) {
    throw invalid(expression, `"${text}" is not a valid ${field.name}`);
  }
  return index + field.namesStartAt;
}

function parseField(expression: string, field: FieldSpec, text: string): number[] {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const [rangeText, stepText, extra] = part.split("/");
    if (rangeText === undefined || rangeText === "" || extra !== undefined) {
      throw invalid(expression, `"${part}" in the ${field.name} field is malformed`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) {
        throw invalid(expression, `step "${stepText}" in the ${field.name} field must be a positive integer`);
      }
      step = Number(stepText);
    }
    let start: number;
    let end: number;
    if (rangeText === "*") {
      start = field.min;
      end = field.max;
    } else {
      const bounds = rangeText.split("-");
      if (bounds.length > 2 || bounds.some((bound) => bound === "")) {
        throw invalid(expression, `"${rangeText}" in the ${field.name} field is not a value or range`);
      }
      start = parseValue(expression, field, bounds[0] ?? "");
      // "a/n" means from a to the end of the field, every n.
      end = bounds[1] !== undefined ? parseValue(expression, field, bounds[1]) : stepText ? field.max : start;
      if (end < start) {
        throw invalid(expression, `range "${rangeText}" in the ${field.name} field runs backwards`);
      }
    }
    for (let value = start; value <= end; value += step) values.add(value);
  }
  return [...values].sort((a, b) => a - b);
}

/** Parses a 6-field NCRONTAB expression. Throws `ValidationError` naming the bad part. */
export function parseNcrontab(expression: string): NcrontabSchedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length || parts[0] === "") {
    throw invalid(expression, `expected 6 fields, got ${parts[0] === "" ? 0 : parts.length}`);
  }
  const [seconds, minutes, hours, days, months, daysOfWeek] = FIELDS.map((field, index) =>
    parseField(expression, field, parts[index] ?? ""),
  ) as [number[], number[], number[], number[], number[], number[]];

  const dayExists = months.some((month) => days.some((day) => day <= (MAX_DAYS_IN_MONTH[month - 1] ?? 0)));
  if (!dayExists) {
    throw invalid(expression, "no month in the month field has any of the days in the day field");
  }
  return { expression: expression.trim(), seconds, minutes, hours, days, months, daysOfWeek };
}

/** Bounds the search; a valid schedule always matches within 28 years (the leap-day cycle). */
const MAX_SEARCH_STEPS = 200_000;

/**
 * The first time strictly after `after` (whole seconds, UTC) that the schedule matches.
 */
export function nextOccurrence(schedule: NcrontabSchedule, after: Date): Date {
  const afterMs = after.getTime();
  if (Number.isNaN(afterMs)) throw new ValidationError("date", "nextOccurrence needs a valid date");
  const months = new Set(schedule.months);
  const days = new Set(schedule.days);
  const daysOfWeek = new Set(schedule.daysOfWeek);
  const hours = new Set(schedule.hours);
  const minutes = new Set(schedule.minutes);
  const seconds = new Set(schedule.seconds);

  let t = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);
  for (let step = 0; step < MAX_SEARCH_STEPS; step++) {
    const year = t.getUTCFullYear();
    const month = t.getUTCMonth();
    const day = t.getUTCDate();
    const hour = t.getUTCHours();
    const minute = t.getUTCMinutes();
    if (!months.has(month + 1)) {
      t = new Date(Date.UTC(year, month + 1, 1));
    } else if (!days.has(day) || !daysOfWeek.has(t.getUTCDay())) {
      t = new Date(Date.UTC(year, month, day + 1));
    } else if (!hours.has(hour)) {
      t = new Date(Date.UTC(year, month, day, hour + 1));
    } else if (!minutes.has(minute)) {
      t = new Date(Date.UTC(year, month, day, hour, minute + 1));
    } else if (!seconds.has(t.getUTCSeconds())) {
      t = new Date(t.getTime() + 1000);
    } else {
      return t;
    }
  }
  throw new ValidationError(
    "NCRONTAB expression",
    `"${schedule.expression}" has no occurrence after ${after.toISOString()} within the search bound; check the day, month and day-of-week fields`,
  );
}
