/**
 * Issue 12's property over generated histories: a version the service disabled, calls that fail
 * on it (403) at any time, each audit record arriving up to L late, a reconcile every interval I.
 * Every version whose failed use happens within the watch window is enabled again within L + I
 * of that call (the README's bound), unless it is compromised: then it is never enabled, and
 * RestoreNeeded is planned within the same bound. Nothing is restored without a failed use.
 * Without the restore rule the property fails (a counterexample is found).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FailedUse, type Plan, type Policy, type Snapshot, TAGS } from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import {
  aKeyRef,
  aKeySnapshot,
  anEvidence,
  aPolicy,
  aSnapshot,
  aVersion,
  DAY,
  HOUR,
  MINUTE,
  NOW,
  versionId,
} from "../../builders/index.js";

type Planner = (snapshot: Snapshot, policy: Policy, now: Date) => Plan;

const key = aKeyRef();
const V0 = versionId(0);
const CALLERS = [
  "66666666-0000-0000-0000-000000000001",
  "66666666-0000-0000-0000-000000000002",
  "66666666-0000-0000-0000-000000000003",
];

const historyArb = fc.record({
  latencyMs: fc.integer({ min: 0, max: 20 * MINUTE }),
  intervalMs: fc.integer({ min: 5 * MINUTE, max: HOUR }),
  /** When the first reconcile after the disable runs, as a fraction of the interval. */
  phase: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
  watchMs: fc.integer({ min: HOUR, max: DAY }),
  compromised: fc.boolean(),
  calls: fc.array(
    fc.record({
      afterDisableMs: fc.integer({ min: 0, max: DAY + 2 * HOUR }),
      /** Its record's latency, as a fraction of the largest latency. */
      lateness: fc.double({ min: 0, max: 1, noNaN: true }),
      caller: fc.constantFrom(...CALLERS),
    }),
    { maxLength: 5 },
  ),
});

type History = typeof historyArb extends fc.Arbitrary<infer T> ? T : never;

interface Outcome {
  enabledAt?: number;
  noticeAt?: number;
}

/** Runs the reconciles of one history through `planner`, applying what it plans to the world. */
function simulate(history: History, planner: Planner): Outcome {
  const disabledAt = NOW.getTime();
  // A quiet period at least the latency (as the settings require), a margin of interval + latency (the README's advice).
  const policy = aPolicy({
    quietPeriodMs: Math.max(HOUR, history.latencyMs),
    ingestionMarginMs: history.intervalMs + history.latencyMs,
    maxIngestionLatencyMs: history.latencyMs,
    restoreWatchMs: history.watchMs,
  });
  const windowMs = policy.quietPeriodMs + policy.ingestionMarginMs;
  const calls = history.calls.map((call) => ({
    at: disabledAt + call.afterDisableMs,
    arrives: disabledAt + call.afterDisableMs + Math.floor(call.lateness * history.latencyMs),
    caller: call.caller,
  }));
  const outcome: Outcome = {};
  const end = disabledAt + history.watchMs + history.latencyMs + 2 * history.intervalMs;
  for (
    let now = disabledAt + Math.floor(history.phase * history.intervalMs);
    now <= end;
    now += history.intervalMs
  ) {
    const enabled = outcome.enabledAt !== undefined;
    // A call fails only while the version is disabled; its record is visible once it arrived.
    const failed = calls.filter(
      (call) =>
        (outcome.enabledAt === undefined || call.at < outcome.enabledAt) &&
        call.arrives <= now &&
        call.at >= now - windowMs,
    );
    const failures: FailedUse[] = [];
    if (failed.length > 0) {
      const byCaller: Record<string, Date> = {};
      for (const call of failed) {
        const last = byCaller[call.caller];
        if (!last || call.at > last.getTime()) byCaller[call.caller] = new Date(call.at);
      }
      failures.push({
        version: V0,
        firstFailure: new Date(Math.min(...failed.map((call) => call.at))),
        lastFailure: new Date(Math.max(...failed.map((call) => call.at))),
        count: failed.length,
        byCaller,
      });
    }
    const v0 = aVersion(0, {
      key,
      ageMs: 30 * DAY,
      now: NOW,
      enabled,
      tags: {
        [TAGS.disabledBy]: "cmk-rotator timer run r1",
        [TAGS.disabledAt]: new Date(disabledAt).toISOString(),
        ...(history.compromised ? { [TAGS.compromised]: new Date(disabledAt - DAY).toISOString() } : {}),
        ...(enabled ? { [TAGS.restoredAt]: new Date(outcome.enabledAt ?? 0).toISOString() } : {}),
      },
    });
    const snapshot = aSnapshot({
      observedAt: new Date(now),
      keys: [aKeySnapshot({ key, versions: [v0, aVersion(1, { key, ageMs: 20 * DAY, now: NOW })] })],
      evidence: {
        "kv1/cmk": anEvidence(key, { to: new Date(now), from: new Date(now - windowMs), failures }),
      },
    });
    const decided = planner(snapshot, policy, new Date(now));
    if (!enabled && decided.restores?.some((restore) => restore.version === V0)) outcome.enabledAt = now;
    if (outcome.noticeAt === undefined && decided.restoresNeeded?.some((notice) => notice.version === V0))
      outcome.noticeAt = now;
    if (outcome.enabledAt !== undefined || outcome.noticeAt !== undefined) break;
  }
  return outcome;
}

/** The property: throws with the reason when the outcome breaks it. */
function checkHistory(history: History, planner: Planner): void {
  const disabledAt = NOW.getTime();
  const outcome = simulate(history, planner);
  const firstInWatch = history.calls
    .filter((call) => call.afterDisableMs <= history.watchMs)
    .map((call) => disabledAt + call.afterDisableMs)
    .sort((a, b) => a - b)[0];
  const bound = history.latencyMs + history.intervalMs;
  if (firstInWatch === undefined) {
    // Calls only after the watch (or none): nothing may be restored because of them... except a
    // call after the watch whose record is not a sign; so: never restored, never noticed.
    if (outcome.enabledAt !== undefined)
      throw new Error(`restored at ${outcome.enabledAt} without a failed use in the watch`);
    if (outcome.noticeAt !== undefined) throw new Error("RestoreNeeded without a failed use in the watch");
    return;
  }
  if (history.compromised) {
    if (outcome.enabledAt !== undefined) throw new Error("a compromised version was enabled automatically");
    if (outcome.noticeAt === undefined || outcome.noticeAt - firstInWatch > bound)
      throw new Error(`RestoreNeeded not planned within ${bound} ms of the first failed use`);
    return;
  }
  if (outcome.enabledAt === undefined)
    throw new Error("a version whose failed use was logged in the watch was never enabled");
  if (outcome.enabledAt - firstInWatch > bound)
    throw new Error(
      `enabled ${outcome.enabledAt - firstInWatch} ms after the first failed use; the bound is ${bound} ms`,
    );
  if (outcome.enabledAt < firstInWatch) throw new Error("enabled before anything failed");
}

const withoutRestoreRule: Planner = (snapshot, policy, now) => {
  const { restores: _dropped, ...rest } = plan(snapshot, policy, now);
  return rest;
};

describe("restore after a disable, over generated histories", () => {
  it("enables again within ingestion latency + interval every version whose failed use falls in the watch, unless compromised", () => {
    fc.assert(
      fc.property(historyArb, (history) => checkHistory(history, plan)),
      { numRuns: 400 },
    );
  });

  it("fails without the restore rule (a counterexample is found)", () => {
    const result = fc.check(
      fc.property(historyArb, (history) => checkHistory(history, withoutRestoreRule)),
      { numRuns: 400, seed: 12 },
    );
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/never enabled/);
  });
});
