/**
 * The local host's timers: run a function at every occurrence of its NCRONTAB schedule.
 *
 * Node's `setTimeout` takes at most 2^31-1 ms (about 24.8 days); a longer delay fires after
 * 1 ms instead (with a TimeoutOverflowWarning), so a schedule such as `0 0 0 1 1 *` (once a
 * year) would fire at once and then again and again. The wait is therefore armed in steps
 * of at most that limit, and a step that ends before the occurrence only arms the next step.
 */
import { type NcrontabSchedule, nextOccurrence } from "../../src/schedule/ncrontab.js";

/** The longest delay Node's timers accept. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The clock and timers the schedule runs on (real ones by default; tests inject their own). */
export interface TimerClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimerClock: TimerClock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Calls `fire(due)` at each occurrence of `schedule` after now, one at a time (the next
 * occurrence is armed when `fire` has settled). Returns a function that stops it.
 */
export function runOnSchedule(
  schedule: NcrontabSchedule,
  fire: (due: Date) => Promise<void>,
  clock: TimerClock = realTimerClock,
): () => void {
  let stopped = false;
  let pending: unknown;
  const waitFor = (due: Date): void => {
    if (stopped) return;
    const wait = due.getTime() - clock.now();
    if (wait > 0) {
      pending = clock.setTimeout(() => waitFor(due), Math.min(wait, MAX_TIMER_DELAY_MS));
      return;
    }
    pending = undefined;
    void fire(due).finally(armNext);
  };
  const armNext = (): void => waitFor(nextOccurrence(schedule, new Date(clock.now())));
  armNext();
  return () => {
    stopped = true;
    if (pending !== undefined) clock.clearTimeout(pending);
  };
}
