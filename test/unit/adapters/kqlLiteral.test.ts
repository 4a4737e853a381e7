import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { kqlList, kqlLiteral } from "../../../src/adapters/kqlLiteral.js";
import { ValidationError } from "../../../src/errors.js";

describe("kqlLiteral", () => {
  it("quotes validated values", () => {
    expect(kqlLiteral("name", "kv-cmk-1")).toBe("'kv-cmk-1'");
    expect(kqlList("hostKey", ["kv1.vault.azure.net/k1", "h.managedhsm.azure.net/k2"])).toBe(
      "('kv1.vault.azure.net/k1', 'h.managedhsm.azure.net/k2')",
    );
  });

  it.each([
    ["name", "k' or 1==1 //"],
    ["version", "not-a-version"],
    ["guid", "11111111-1111-1111-1111-11111111111"],
    ["hostKey", "evil.example.com/k"],
    ["operation", "KeyGet'"],
  ] as const)("refuses an invalid %s", (kind, value) => {
    expect(() => kqlLiteral(kind, value)).toThrow(ValidationError);
  });

  it("refuses an empty list", () => {
    expect(() => kqlList("name", [])).toThrow(/empty/);
  });

  it("never lets a quote, backslash or line break through", () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        try {
          const literal = kqlLiteral("name", value);
          return !/['"\\\n]/.test(literal.slice(1, -1));
        } catch (error) {
          return error instanceof ValidationError;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
