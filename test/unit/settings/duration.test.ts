import { describe, expect, it } from "vitest";
import { formatIsoDuration, parseIsoDuration } from "../../../src/duration.js";
import { ValidationError } from "../../../src/errors.js";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("parseIsoDuration", () => {
  it.each([
    ["P1D", DAY],
    ["PT1H", HOUR],
    ["PT30M", 30 * MINUTE],
    ["PT30S", 30 * SECOND],
    ["PT0.5S", 500],
    ["PT1,25S", 1250],
    ["P1DT2H3M4S", DAY + 2 * HOUR + 3 * MINUTE + 4 * SECOND],
    ["P2W", 14 * DAY],
    ["pt5m", 5 * MINUTE],
    [" PT5S ", 5 * SECOND],
    ["PT0S", 0],
  ])("parses %j", (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each(["P1M", "P1Y", "P1Y2D", "P1MT1H"])("refuses calendar units in %j", (text) => {
    expect(() => parseIsoDuration(text)).toThrow(/years or months/);
  });

  it.each(["", "P", "PT", "P1DT", "1 day", "1h", "-PT1H", "PT1.5H", "P1W1D", "PT1H2"])(
    "refuses %j",
    (text) => {
      expect(() => parseIsoDuration(text)).toThrow(ValidationError);
    },
  );
});

describe("formatIsoDuration", () => {
  it.each([
    [DAY, "P1D"],
    [HOUR + 30 * MINUTE, "PT1H30M"],
    [500, "PT0.5S"],
    [0, "PT0S"],
    [DAY + 5 * SECOND, "P1DT5S"],
  ])("formats %d as %s", (ms, text) => {
    expect(formatIsoDuration(ms)).toBe(text);
    expect(parseIsoDuration(text)).toBe(ms);
  });
});
