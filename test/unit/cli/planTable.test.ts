import { describe, expect, it } from "vitest";
import { formatPlan, formatTable } from "../../../src/cli/planTable.js";
import { formatSpan } from "../../../src/dashboard/timeText.js";
import { keyRefId } from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import { buildKeyViews } from "../../../src/plan/view.js";
import {
  aConsumer,
  aKeyRef,
  aKeySnapshot,
  aPin,
  aPolicy,
  aSnapshot,
  aVersion,
  DAY,
  HOUR,
  NOW,
} from "../../builders/index.js";

describe("formatTable", () => {
  it("pads every column but the last to its widest cell, under a rule", () => {
    expect(formatTable(["A", "BB", "C"], [["xxx", "y", "last cell"]]).split("\n")).toEqual([
      "A    BB  C",
      "---  --  ---------",
      "xxx  y   last cell",
    ]);
  });
});

describe("formatSpan", () => {
  it("gives the largest unit and the next one when it is not zero", () => {
    expect(formatSpan(30 * DAY + 5000)).toBe("30 d");
    expect(formatSpan(2 * DAY + 3 * HOUR)).toBe("2 d 3 h");
    expect(formatSpan(4_400)).toBe("4 s");
    expect(formatSpan(-5)).toBe("0 s");
  });
});

describe("formatPlan", () => {
  const key = aKeyRef({ vaultName: "kv1", keyName: "cmk" });
  const oldVersion = "aaaaaaaa000000000000000000000000";
  const newVersion = "bbbbbbbb000000000000000000000000";

  function planText(): string {
    const snapshot = aSnapshot({
      keys: [
        aKeySnapshot({
          key,
          versions: [
            aVersion(0, { key, version: oldVersion, ageMs: 10 * DAY }),
            aVersion(1, { key, version: newVersion, ageMs: HOUR }),
          ],
        }),
      ],
      consumers: [aConsumer({ kind: "kusto", pins: [aPin(key, oldVersion)] })],
    });
    return formatPlan(buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW), NOW);
  }

  it("prints a key line, its versions newest first with their next step, and the consumers to repoint", () => {
    const text = planText();
    expect(text).toContain(`${keyRefId(key)}  (Key Vault, target bbbbbbbb, 1 pending action)`);
    const versionLines = text.split("\n").filter((line) => /^(aaaaaaaa|bbbbbbbb) /.test(line));
    expect(versionLines[0]).toMatch(/^bbbbbbbb\s+enabled, target\s+1 h ago/);
    expect(versionLines[1]).toMatch(
      /^aaaaaaaa\s+enabled\s+10 d ago\s+1 h ago\s+kusto\d+\s+.*hold \(pinned-by-consumer\)/,
    );
    expect(text).toMatch(/kusto\d+\s+kusto\s+key\s+aaaaaaaa\s+-\s+lags\s+repoint to bbbbbbbb/);
    expect(text).toContain("  hold  aaaaaaaa: ");
  });

  it("prints a key's warnings: a Managed HSM key near its 100 versions", () => {
    const hsm = aKeyRef({ vaultName: "hsm1", hostKind: "managedHsm", keyName: "hk" });
    const versions = Array.from({ length: 92 }, (_, index) =>
      aVersion(index, { key: hsm, ageMs: (92 - index) * HOUR }),
    );
    const snapshot = aSnapshot({ keys: [aKeySnapshot({ key: hsm, versions })] });
    const text = formatPlan(buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW), NOW);
    expect(text).toContain("  warning: Key hsm1/hk has 92 of the at most 100 versions Managed HSM keeps");
  });

  it("says plainly when there are no keys", () => {
    expect(formatPlan([], NOW)).toMatch(/^No managed keys found/);
  });

  it("shows a key that could not be read with its reason", () => {
    const snapshot = aSnapshot({ keys: [], unreadableKeys: { "kv9/broken": "403 Forbidden" } });
    const text = formatPlan(buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW), NOW);
    expect(text).toContain("kv9/broken  could not be read: 403 Forbidden");
  });
});
