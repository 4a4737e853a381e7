import { describe, expect, it } from "vitest";
import type { KeyRef } from "../../../src/model.js";
import { KeyReconcileCoalescer, settledWithin } from "../../../src/rotation/reconcileCoalescer.js";
import { aKeyRef } from "../../builders/index.js";

/** A run that finishes when the test says so. */
class ControlledRuns {
  readonly started: string[] = [];
  private readonly finishers: (() => void)[] = [];
  running = 0;
  mostAtOnce = 0;

  run = async (key: KeyRef): Promise<string> => {
    this.started.push(key.keyName);
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    await new Promise<void>((resolve) => this.finishers.push(resolve));
    this.running--;
    return `run ${this.started.length} of ${key.keyName}`;
  };

  async finishAll(): Promise<void> {
    while (this.finishers.length > 0) {
      for (const finish of this.finishers.splice(0)) finish();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("KeyReconcileCoalescer", () => {
  it("answers 1,000 requests for one key with one run and one follow-up", async () => {
    const runs = new ControlledRuns();
    const coalescer = new KeyReconcileCoalescer(runs.run, 4);
    const key = aKeyRef({ keyName: "cmk" });
    const first = coalescer.request(key);
    await tick();
    const rest = Array.from({ length: 999 }, (_, index) =>
      coalescer.request(aKeyRef({ keyName: index % 2 === 0 ? "CMK" : "cmk" })),
    );
    await tick();
    expect(runs.started).toEqual(["cmk"]);
    await runs.finishAll();
    expect(await first).toBe("run 1 of cmk");
    expect(new Set(await Promise.all(rest))).toEqual(new Set(["run 2 of cmk"]));
    expect(runs.started).toHaveLength(2);
    expect(coalescer.activeKeys).toBe(0);
  });

  it("runs distinct keys concurrently, never more than the limit", async () => {
    const runs = new ControlledRuns();
    const coalescer = new KeyReconcileCoalescer(runs.run, 3);
    const answers = Array.from({ length: 10 }, (_, index) =>
      coalescer.request(aKeyRef({ keyName: `k${index}` })),
    );
    await tick();
    expect(runs.running).toBe(3);
    await runs.finishAll();
    expect(await Promise.all(answers)).toHaveLength(10);
    expect(runs.mostAtOnce).toBe(3);
    expect(new Set(runs.started).size).toBe(10);
  });

  it("shares a failure with the requests it covered, and starts afresh afterwards", async () => {
    let calls = 0;
    const coalescer = new KeyReconcileCoalescer(async () => {
      calls++;
      if (calls === 1) throw new Error("Resource Graph unreachable");
      return "ok";
    }, 2);
    const key = aKeyRef();
    await expect(coalescer.request(key)).rejects.toThrow("Resource Graph unreachable");
    expect(await coalescer.request(key)).toBe("ok");
  });
});

describe("settledWithin", () => {
  it("gives the outcome in time, or says the work still runs", async () => {
    expect(await settledWithin(Promise.resolve(1), 1000)).toEqual({ status: "settled", value: 1 });
    expect(await settledWithin(new Promise(() => undefined), 5)).toEqual({ status: "still-running" });
  });
});
