/**
 * The `timespan` of a Log Analytics query: an ISO 8601 interval (`start/end`,
 * `start/duration`, `duration/end`) or a bare duration that ends now.
 */

export interface TimeWindow {
  /** Inclusive, epoch ms. */
  start: number;
  /** Exclusive, epoch ms. */
  end: number;
}

const durationPattern =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;

/** Milliseconds of an ISO 8601 duration such as "PT1H" or "P1DT12H"; undefined when malformed. */
export function parseIsoDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match || text.trim().toUpperCase() === "P" || text.trim().toUpperCase().endsWith("T"))
    return undefined;
  const [, weeks, days, hours, minutes, seconds] = match;
  return (
    Number(weeks ?? 0) * 604_800_000 +
    Number(days ?? 0) * 86_400_000 +
    Number(hours ?? 0) * 3_600_000 +
    Number(minutes ?? 0) * 60_000 +
    Number(seconds ?? 0) * 1000
  );
}

function parseInstant(text: string): number | undefined {
  const ms = Date.parse(text.trim());
  return Number.isNaN(ms) ? undefined : ms;
}

/** The window a timespan names, or an error sentence saying what is wrong with it. */
export function parseQueryTimespan(timespan: string, now: number): TimeWindow | { error: string } {
  const parts = timespan.split("/");
  const invalid = {
    error: `The timespan '${timespan}' is not a valid ISO 8601 interval: use a duration (PT1H), start/end or start/duration.`,
  };
  if (parts.length === 1) {
    const duration = parseIsoDuration(parts[0] ?? "");
    return duration === undefined ? invalid : { start: now - duration, end: now };
  }
  if (parts.length !== 2) return invalid;
  const [first = "", second = ""] = parts;
  const start = parseInstant(first);
  const end = parseInstant(second);
  if (start !== undefined && end !== undefined) return start <= end ? { start, end } : invalid;
  const duration = parseIsoDuration(start === undefined ? first : second);
  if (duration === undefined) return invalid;
  if (start !== undefined) return { start, end: start + duration };
  if (end !== undefined) return { start: end - duration, end };
  return invalid;
}
