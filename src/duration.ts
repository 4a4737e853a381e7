import { ValidationError } from "./errors.js";

/**
 * ISO 8601 durations as the settings use them: `PnW` or `PnDTnHnMnS` with fractional
 * seconds. Years and months are refused because their length in milliseconds depends on
 * the calendar, and a quiet period must mean one exact span.
 */

const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;

const WEEKS = /^P(\d+)W$/;
const DAY_TIME = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;
const CALENDAR_UNITS = /^P(?:\d+Y)?(?:\d+M)?/;

export const DURATION_EXAMPLES = "P1D, PT1H, PT30S or PT0.5S";

/**
 * Parses an ISO 8601 duration into milliseconds. Throws `ValidationError` for anything
 * else, including years and months.
 */
export function parseIsoDuration(text: string): number {
  const value = text.trim().toUpperCase();
  const weeks = WEEKS.exec(value);
  if (weeks) return Number(weeks[1]) * WEEK_MS;

  const match = DAY_TIME.exec(value);
  const isEmpty = value === "P" || value === "PT" || value.endsWith("T");
  if (!match || isEmpty) {
    const calendar = CALENDAR_UNITS.exec(value);
    if (calendar && calendar[0] !== "P") {
      throw new ValidationError(
        "duration",
        `"${text}" uses years or months, whose length varies; use days, hours, minutes or seconds such as ${DURATION_EXAMPLES}`,
      );
    }
    throw new ValidationError(
      "duration",
      `"${text}" is not an ISO 8601 duration; use the form PnDTnHnMnS or PnW, such as ${DURATION_EXAMPLES}`,
    );
  }
  const [, days, hours, minutes, seconds] = match;
  const ms =
    Number(days ?? 0) * DAY_MS +
    Number(hours ?? 0) * HOUR_MS +
    Number(minutes ?? 0) * MINUTE_MS +
    Number((seconds ?? "0").replace(",", ".")) * SECOND_MS;
  if (!Number.isSafeInteger(Math.round(ms))) {
    throw new ValidationError("duration", `"${text}" is too long to represent; use a shorter duration`);
  }
  return Math.round(ms);
}

/** Formats milliseconds as a compact ISO 8601 duration ("P1D", "PT1H30M", "PT0.5S"). */
export function formatIsoDuration(ms: number): string {
  if (ms === 0) return "PT0S";
  const sign = ms < 0 ? "-" : "";
  let rest = Math.abs(ms);
  const days = Math.floor(rest / DAY_MS);
  rest -= days * DAY_MS;
  const hours = Math.floor(rest / HOUR_MS);
  rest -= hours * HOUR_MS;
  const minutes = Math.floor(rest / MINUTE_MS);
  rest -= minutes * MINUTE_MS;
  const seconds = rest / SECOND_MS;
  const datePart = days > 0 ? `${days}D` : "";
  const timePart = `${hours > 0 ? `${hours}H` : ""}${minutes > 0 ? `${minutes}M` : ""}${seconds > 0 ? `${seconds}S` : ""}`;
  return `${sign}P${datePart}${timePart ? `T${timePart}` : ""}`;
}
