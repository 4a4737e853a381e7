import { describe, expect, it } from "vitest";
import type { DisableAction, Hold, Plan, Snapshot } from "../../../src/model.js";
import { consumersToConfirm, planOnFreshReads } from "../../../src/plan/freshReads.js";
import { aConsumer, aKeyRef, aKeySnapshot, aPin, aSnapshot, NOW, versionId } from "../../builders/index.js";

const KEY_A = aKeyRef({ keyName: "key-a" });
const KEY_B = aKeyRef({ keyName: "key-b" });

function aPlan(overrides: Partial<Plan> = {}): Plan {
  return { now: NOW, actions: [], holds: [], blocks: [], targets: {}, ...overrides };
}

function disableOf(key: typeof KEY_A, version: string): DisableAction {
  return {
    type: "disable",
    key,
    version,
    reason: "quiet-period-elapsed-unused",
    message: "",
    evidence: {
      supersededAt: NOW,
      quietPeriodMs: 0,
      windowFrom: NOW,
      windowTo: NOW,
      canarySeenAt: NOW,
      workspaceId: "w",
    },
  };
}

function holdOf(key: typeof KEY_A, reason: Hold["reason"]): Hold {
  return { type: "hold", key, version: versionId(0), reason, message: "" };
}

const rowA1 = aConsumer({ pins: [aPin(KEY_A, versionId(1))], readFrom: "resource-graph" });
const rowA2 = aConsumer({ pins: [aPin(KEY_A, versionId(1))], readFrom: "resource-graph" });
const freshA = aConsumer({ pins: [aPin(KEY_A, versionId(1))] });
const settledB = aConsumer({
  kind: "cosmos",
  pins: [aPin(KEY_B, null)],
  inUse: { key: versionId(1) },
  readFrom: "resource-graph",
});
const switchingB = aConsumer({
  kind: "cosmos",
  pins: [aPin(KEY_B, null)],
  inUse: { key: versionId(0) },
  readFrom: "resource-graph",
});
const stoppedB = aConsumer({
  pins: [aPin(KEY_B, versionId(1))],
  runState: "Stopped",
  readFrom: "resource-graph",
});
const snapshot = aSnapshot({
  keys: [aKeySnapshot({ key: KEY_A }), aKeySnapshot({ key: KEY_B })],
  consumers: [rowA1, rowA2, freshA, settledB, switchingB, stoppedB],
});
const targets = { "kv1/key-a": versionId(1), "kv1/key-b": versionId(1) };

describe("consumersToConfirm", () => {
  it("a disable needs every consumer of its key that was read from a row", () => {
    const plan = aPlan({ actions: [disableOf(KEY_A, versionId(0))], targets });
    expect(consumersToConfirm(snapshot, plan)).toEqual([rowA1.id, rowA2.id].sort());
  });

  it("a hold a read-back can lift needs the key's consumers whose row shows them not settled on the target", () => {
    const plan = aPlan({ holds: [holdOf(KEY_B, "in-use-by-consumer")], targets });
    expect(consumersToConfirm(snapshot, plan)).toEqual([switchingB.id, stoppedB.id].sort());
  });

  it("the consumer a read-back hold names is read afresh, settled as its row may look", () => {
    const hold = { ...holdOf(KEY_B, "consumer-not-proven-switched"), concerns: settledB.id };
    expect(consumersToConfirm(snapshot, aPlan({ holds: [hold], targets }))).toEqual(
      [settledB.id, switchingB.id, stoppedB.id].sort(),
    );
  });

  it("other holds, and a plan that disables nothing, need no fresh read", () => {
    expect(consumersToConfirm(snapshot, aPlan({ holds: [holdOf(KEY_A, "used-recently")], targets }))).toEqual(
      [],
    );
    expect(consumersToConfirm(snapshot, aPlan({ targets }))).toEqual([]);
  });
});

describe("planOnFreshReads", () => {
  it("plans again after the fresh reads until the plan needs none, and counts them", async () => {
    const reads: string[][] = [];
    // The planner disables v0 of key-a whenever it is asked: only the fresh reads change.
    const makePlan = () => aPlan({ actions: [disableOf(KEY_A, versionId(0))], targets });
    const result = await planOnFreshReads(snapshot, makePlan, async (current, ids) => {
      reads.push([...ids]);
      return {
        ...current,
        consumers: current.consumers.map((consumer) => {
          if (!ids.includes(consumer.id)) return consumer;
          const { readFrom: _row, ...fresh } = consumer;
          return fresh;
        }),
      };
    });
    expect(reads).toEqual([[rowA1.id, rowA2.id].sort()]);
    expect(result.confirmed).toBe(2);
    expect(result.plan.actions).toHaveLength(1);
  });

  it("withholds the disables of a key whose consumers a broken confirm left read from rows", async () => {
    const makePlan = () => aPlan({ actions: [disableOf(KEY_A, versionId(0))], targets });
    const result = await planOnFreshReads(snapshot, makePlan, async (current: Snapshot) => current);
    expect(result.plan.actions).toEqual([]);
  });
});
