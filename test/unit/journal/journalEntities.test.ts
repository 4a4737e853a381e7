import { describe, expect, it } from "vitest";
import { entryFromEntity, journalPartition, journalRowKey } from "../../../src/journal/journal.js";
import { fromTableKey, toTableKey } from "../../../src/journal/rotatorTable.js";

describe("table keys", () => {
  it("escapes the characters Table Storage forbids in keys, reversibly", () => {
    const armId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx#1?x\\y%z\u0001";
    const escaped = toTableKey(armId);
    expect([...escaped].filter((c) => "/\\#?".includes(c) || c.charCodeAt(0) < 0x20)).toEqual([]);
    expect(fromTableKey(escaped)).toBe(armId);
    expect(journalPartition("kv1/cmk")).toBe("journal|kv1%2fcmk");
  });

  it("sorts row keys newest first", () => {
    const older = journalRowKey(new Date("2026-01-01T00:00:00Z"));
    const newer = journalRowKey(new Date("2026-01-01T00:00:01Z"));
    expect([older, newer].sort()).toEqual([newer, older]);
  });
});

describe("entryFromEntity", () => {
  const valid = {
    at: "2026-01-01T00:00:00.000Z",
    keyId: "kv1/cmk",
    action: "disable",
    outcome: "done",
    reason: "quiet-period-elapsed-unused",
    message: "disabled",
    runId: "r",
    trigger: "timer",
    mode: "enforce",
    version: "0".repeat(32),
  };

  it("reads a row the journal wrote", () => {
    expect(entryFromEntity(valid)).toMatchObject({ action: "disable", version: "0".repeat(32) });
  });

  it.each([
    ["an unknown action", { action: "delete" }],
    ["an unknown outcome", { outcome: "maybe" }],
    ["a bad time", { at: "yesterday" }],
    ["an unknown mode", { mode: "chaos" }],
    ["a missing message", { message: undefined }],
  ])("skips a row with %s", (_name, change) => {
    expect(entryFromEntity({ ...valid, ...change })).toBeUndefined();
  });
});
