import { describe, expect, it } from "vitest";
import { orderUnknown, orderVersions } from "../../../src/plan/versionOrder.js";

const at = (iso: string) => new Date(iso);
const a = { version: "a".repeat(32), created: at("2026-11-29T12:00:00.000Z") };
const b = { version: "b".repeat(32), created: at("2026-11-29T12:00:00.000Z") };
const c = { version: "c".repeat(32), created: at("2026-11-29T12:00:01.000Z") };

describe("version order", () => {
  it("orders by creation time, oldest first", () => {
    expect(orderVersions([c, b, a]).map((v) => v.version[0])).toEqual(["a", "b", "c"]);
  });

  it("puts the current version last among versions created in the same second", () => {
    expect(orderVersions([b, a, c], "A".repeat(32)).map((v) => v.version[0])).toEqual(["b", "a", "c"]);
  });

  it("knows when two versions cannot be ordered", () => {
    expect(orderUnknown(a, b)).toBe(true);
    expect(orderUnknown(a, b, a.version)).toBe(false);
    expect(orderUnknown(a, c)).toBe(false);
    expect(orderUnknown(a, a)).toBe(false);
  });
});
