/**
 * Coalesces reconcile requests per key inside one instance. Events are level-triggered ("look
 * at this key now"), so N requests for a key need not mean N runs:
 *
 *   no run of the key in flight      -> start one (at most `concurrency` keys at a time)
 *   a run in flight                  -> join the key's one follow-up run, started when it ends
 *                                       (the run in flight may have observed before the event)
 *   a follow-up already waiting      -> join that follow-up
 *
 * So a delivery of 1,000 events for a handful of keys costs at most two runs per key. Across
 * instances the key's lease still serialises runs; this only saves the runs that would find
 * the lease held.
 */
import { type KeyRef, keyRefId } from "../model.js";

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** At most `limit` tasks at once; the rest wait in arrival order. */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

export class KeyReconcileCoalescer<R> {
  private readonly slots = new Map<string, { followUp?: Deferred<R> }>();
  private readonly limiter: Limiter;

  constructor(
    private readonly run: (key: KeyRef) => Promise<R>,
    concurrency: number,
  ) {
    this.limiter = new Limiter(Math.max(1, concurrency));
  }

  /** A run of the key that starts no earlier than now; shared with every request it covers. */
  request(key: KeyRef): Promise<R> {
    const id = keyRefId(key);
    const slot = this.slots.get(id);
    if (slot) {
      slot.followUp ??= deferred<R>();
      return slot.followUp.promise;
    }
    this.slots.set(id, {});
    return this.start(id, key);
  }

  /** Keys with a run in flight or waiting. */
  get activeKeys(): number {
    return this.slots.size;
  }

  private start(id: string, key: KeyRef): Promise<R> {
    const result = this.limiter.run(() => this.run(key));
    const next = () => this.finished(id, key);
    result.then(next, next);
    return result;
  }

  private finished(id: string, key: KeyRef): void {
    const slot = this.slots.get(id);
    const followUp = slot?.followUp;
    if (!slot || !followUp) {
      this.slots.delete(id);
      return;
    }
    slot.followUp = undefined;
    this.start(id, key).then(followUp.resolve, followUp.reject);
  }
}

/** `promise`'s outcome if it settles within `ms`, else "still-running" (it carries on). */
export async function settledWithin<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ status: "settled"; value: T } | { status: "still-running" }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ status: "still-running" }>((resolve) => {
    timer = setTimeout(() => resolve({ status: "still-running" }), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([promise.then((value) => ({ status: "settled" as const, value })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
