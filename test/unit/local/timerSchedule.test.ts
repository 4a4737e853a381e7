import { describe, expect, it } from "vitest";
import { MAX_TIMER_DELAY_MS, runOnSchedule, type TimerClock } from "../../../sandbox/local/timerSchedule.js";
import { parseNcrontab } from "../../../src/schedule/ncrontab.js";

/** A clock whose timers run only when the test moves time; it records every delay armed. */
class ManualTimerClock implements TimerClock {
  readonly armed: number[] = [];
  private pending = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    // Node would fire a longer delay after 1 ms: refuse it here so a test sees the overflow.
    if (ms > MAX_TIMER_DELAY_MS) throw new Error(`setTimeout(${ms}) overflows Node's timer limit`);
    this.armed.push(ms);
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Moves time forward to `until`, running due timers in order (and what they arm). */
  async advanceTo(until: number): Promise<void> {
    for (;;) {
      const due = [...this.pending]
        .filter(([, timer]) => timer.at <= until)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.time = due[1].at;
      due[1].callback();
      // Let a fired handler settle, so that it arms the next occurrence.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    }
    this.time = until;
  }
}

const DEC_1 = Date.parse("2026-12-01T00:00:00Z");
const NEW_YEAR = Date.parse("2027-01-01T00:00:00Z");
const NEXT_NEW_YEAR = Date.parse("2028-01-01T00:00:00Z");

describe("runOnSchedule", () => {
  it("waits for a run more than 24.8 days away in steps Node accepts, and runs it once", async () => {
    const clock = new ManualTimerClock(DEC_1);
    const runs: string[] = [];
    const stop = runOnSchedule(
      parseNcrontab("0 0 0 1 1 *"),
      async (due) => void runs.push(due.toISOString()),
      clock,
    );
    // 31 days to go: the first step is Node's maximum, not the whole wait (and not 1 ms).
    expect(clock.armed).toEqual([MAX_TIMER_DELAY_MS]);
    await clock.advanceTo(DEC_1 + MAX_TIMER_DELAY_MS);
    expect(runs).toEqual([]);
    expect(clock.armed).toEqual([MAX_TIMER_DELAY_MS, NEW_YEAR - DEC_1 - MAX_TIMER_DELAY_MS]);
    await clock.advanceTo(NEW_YEAR);
    expect(runs).toEqual(["2027-01-01T00:00:00.000Z"]);
    // The next run is a year away: armed in steps again, nothing runs before it.
    await clock.advanceTo(NEXT_NEW_YEAR - 1);
    expect(runs).toHaveLength(1);
    expect(clock.armed.every((ms) => ms > 0 && ms <= MAX_TIMER_DELAY_MS)).toBe(true);
    await clock.advanceTo(NEXT_NEW_YEAR);
    expect(runs).toEqual(["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z"]);
    stop();
    expect(clock.pendingCount).toBe(0);
  });

  it("runs a frequent schedule at each occurrence, one run at a time", async () => {
    const clock = new ManualTimerClock(DEC_1);
    let runs = 0;
    const stop = runOnSchedule(parseNcrontab("*/10 * * * * *"), async () => void runs++, clock);
    expect(clock.armed).toEqual([10_000]);
    await clock.advanceTo(DEC_1 + 60_000);
    expect(runs).toBe(6);
    stop();
    await clock.advanceTo(DEC_1 + 120_000);
    expect(runs).toBe(6);
  });
});
