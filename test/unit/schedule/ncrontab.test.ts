import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../src/errors.js";
import { nextOccurrence, parseNcrontab } from "../../../src/schedule/ncrontab.js";

function next(expression: string, after: string): string {
  return nextOccurrence(parseNcrontab(expression), new Date(after)).toISOString();
}

describe("parseNcrontab", () => {
  it("parses wildcards, lists, ranges and steps", () => {
    const schedule = parseNcrontab("0 */15 9-17 1,15 * *");
    expect(schedule.seconds).toEqual([0]);
    expect(schedule.minutes).toEqual([0, 15, 30, 45]);
    expect(schedule.hours).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect(schedule.days).toEqual([1, 15]);
    expect(schedule.months).toHaveLength(12);
    expect(schedule.daysOfWeek).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("parses stepped ranges and a start with a step", () => {
    expect(parseNcrontab("10-30/10 5/20 * * * *")).toMatchObject({
      seconds: [10, 20, 30],
      minutes: [5, 25, 45],
    });
  });

  it("accepts month and day names in any case, abbreviated or full", () => {
    expect(parseNcrontab("0 0 0 * JAN,mar-May mon-FRI")).toMatchObject({
      months: [1, 3, 4, 5],
      daysOfWeek: [1, 2, 3, 4, 5],
    });
    expect(parseNcrontab("0 0 0 * December Sunday")).toMatchObject({ months: [12], daysOfWeek: [0] });
  });

  it("tolerates surrounding and repeated spaces", () => {
    expect(parseNcrontab("  0  0   * * * *  ").expression).toBe("0  0   * * * *");
  });

  it.each([
    ["", "expected 6 fields, got 0"],
    ["* * * * *", "expected 6 fields, got 5"],
    ["0 * * * * * *", "expected 6 fields, got 7"],
    ["60 * * * * *", "second 60 is outside 0-59"],
    ["0 0 24 * * *", "hour 24 is outside 0-23"],
    ["0 0 0 0 * *", "day 0 is outside 1-31"],
    ["0 0 0 * 13 *", "month 13 is outside 1-12"],
    ["0 0 0 * * 7", "day-of-week 7 is outside 0-6"],
    ["0 */0 * * * *", 'step "0"'],
    ["0 30-10 * * * *", "runs backwards"],
    ["0 1,,2 * * * *", "malformed"],
    ["0 0 0 * FOO *", '"FOO" is not a valid month'],
    ["0 0 0 * * MONDAYS", "not a valid day-of-week"],
    ["0 0 0 * * 1-", "not a value or range"],
    ["0 0 0 30 FEB *", "no month in the month field has any of the days"],
    ["x 0 0 * * *", '"x" is not a valid second'],
  ])("rejects %j (%s)", (expression, detail) => {
    expect(() => parseNcrontab(expression)).toThrow(ValidationError);
    expect(() => parseNcrontab(expression)).toThrow(detail);
  });

  it("names the expected shape in the error", () => {
    expect(() => parseNcrontab("*/5 * * * *")).toThrow(
      /\{second\} \{minute\} \{hour\} \{day\} \{month\} \{day-of-week\}/,
    );
  });
});

describe("nextOccurrence", () => {
  it("is strictly after the given time, on whole seconds", () => {
    expect(next("* * * * * *", "2025-06-01T12:00:00.000Z")).toBe("2025-06-01T12:00:01.000Z");
    expect(next("* * * * * *", "2025-06-01T12:00:00.400Z")).toBe("2025-06-01T12:00:01.000Z");
  });

  it("finds the next five-minute mark", () => {
    expect(next("0 */5 * * * *", "2025-06-01T12:03:10Z")).toBe("2025-06-01T12:05:00.000Z");
    expect(next("0 */5 * * * *", "2025-06-01T12:05:00Z")).toBe("2025-06-01T12:10:00.000Z");
  });

  it("rolls over hours, days, months and years", () => {
    expect(next("0 0 * * * *", "2025-06-01T23:59:59Z")).toBe("2025-06-02T00:00:00.000Z");
    expect(next("0 30 9 1 * *", "2025-06-01T10:00:00Z")).toBe("2025-07-01T09:30:00.000Z");
    expect(next("0 0 0 1 1 *", "2025-06-01T00:00:00Z")).toBe("2026-01-01T00:00:00.000Z");
  });

  it("uses the day of week (weekdays only)", () => {
    // 2025-06-07 is a Saturday.
    expect(next("0 30 9 * * MON-FRI", "2025-06-06T10:00:00Z")).toBe("2025-06-09T09:30:00.000Z");
  });

  it("requires both day of month and day of week to match, as NCrontab does", () => {
    // 2025-06-13 is a Friday; the next Friday the 13th after it is 2026-02-13.
    expect(next("0 0 0 13 * FRI", "2025-06-01T00:00:00Z")).toBe("2025-06-13T00:00:00.000Z");
    expect(next("0 0 0 13 * FRI", "2025-06-14T00:00:00Z")).toBe("2026-02-13T00:00:00.000Z");
  });

  it("finds a leap day", () => {
    expect(next("0 0 12 29 2 *", "2025-01-01T00:00:00Z")).toBe("2028-02-29T12:00:00.000Z");
  });

  it("skips months without the day", () => {
    expect(next("0 0 0 31 * *", "2025-04-01T00:00:00Z")).toBe("2025-05-31T00:00:00.000Z");
  });

  it("rejects an invalid date", () => {
    expect(() => nextOccurrence(parseNcrontab("* * * * * *"), new Date(Number.NaN))).toThrow(ValidationError);
  });
});
