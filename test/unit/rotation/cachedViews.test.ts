import { describe, expect, it } from "vitest";
import type { ApplyReport, StepReport } from "../../../src/apply/applyPlan.js";
import { MemoryIdempotencyStore } from "../../../src/idempotency/idempotencyStore.js";
import { type JournalEntry, MemoryJournal } from "../../../src/journal/journal.js";
import { MemoryKeyLock } from "../../../src/lock/keyLease.js";
import {
  type KeyRef,
  type KeyVersionFacts,
  keyRefId,
  type Snapshot,
  type StepOutcome,
} from "../../../src/model.js";
import { MemoryEmergencyLedger } from "../../../src/rotation/emergencyLedger.js";
import { silentLog } from "../../../src/rotation/log.js";
import { type RotationKeyVault, RotationService } from "../../../src/rotation/rotationService.js";
import { aKeyRef, aKeySnapshot, aPolicy, aSnapshot, aVersion, NOW, SECOND } from "../../builders/index.js";

const VAULT = { vaultUrl: "https://kv1.vault.azure.net/", vaultName: "kv1", hostKind: "vault" as const };

function keyNamed(name: string): KeyRef {
  return aKeyRef({ vaultName: "kv1", keyName: name });
}

class ManualClock {
  time = NOW.getTime();
  now(): Date {
    return new Date(this.time);
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

class FakeKeyVault implements RotationKeyVault {
  constructor(public keyNames: string[]) {}
  listCalls = 0;
  async listKeyNames(): Promise<string[]> {
    this.listCalls++;
    return this.keyNames;
  }
  async listVersions(key: KeyRef): Promise<KeyVersionFacts[]> {
    return [aVersion(0, { key })];
  }
  async readCurrentVersion(): Promise<string> {
    return aVersion(0).version;
  }
  async createVersion(key: KeyRef): Promise<KeyVersionFacts> {
    return aVersion(5, { key, ageMs: 0 });
  }
  async tagVersion(): Promise<StepOutcome> {
    return { status: "done" };
  }
}

/** A journal that counts its reads and how many run at once. */
class CountingJournal extends MemoryJournal {
  reads = 0;
  inFlight = 0;
  mostInFlight = 0;
  override async recent(keyId: string, limit: number): Promise<JournalEntry[]> {
    this.reads++;
    this.inFlight++;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.inFlight--;
    return super.recent(keyId, limit);
  }
}

interface Options {
  keyNames?: string[];
  viewMaxAgeMs?: number;
  steps?: StepReport[];
  /** Holds every observation until `release()`. */
  gate?: boolean;
  republishOutcomes?: () => Promise<{ waiting: number; republished: number; stillWaiting: number }>;
}

function setup(options: Options = {}) {
  const clock = new ManualClock();
  const keyVault = new FakeKeyVault(options.keyNames ?? ["cmk"]);
  const journal = new CountingJournal();
  const observed: string[][] = [];
  let release: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  if (options.gate) gate = new Promise((resolve) => (release = resolve));
  const service = new RotationService({
    managedVaults: [VAULT],
    policy: aPolicy(),
    mode: "enforce",
    keyVault,
    observe: async (keys, now): Promise<Snapshot> => {
      observed.push(keys.map(keyRefId));
      await gate;
      return aSnapshot({ observedAt: now, keys: keys.map((key) => aKeySnapshot({ key })) });
    },
    plan: (_snapshot, _policy, now) => ({ now, actions: [], holds: [], blocks: [], targets: {} }),
    buildKeyViews: (snapshot) => snapshot.keys.map((keySnapshot) => ({ id: keyRefId(keySnapshot.key) })),
    applier: {
      apply: async (): Promise<ApplyReport> => ({ steps: options.steps ?? [], publishFailures: [] }),
    },
    lock: new MemoryKeyLock(),
    idempotency: new MemoryIdempotencyStore(),
    emergencyLedger: new MemoryEmergencyLedger(),
    emergencyCooldownMs: 60_000,
    journal,
    clock,
    log: silentLog,
    viewMaxAgeMs: options.viewMaxAgeMs ?? 60 * SECOND,
    ...(options.republishOutcomes ? { republishOutcomes: options.republishOutcomes } : {}),
    emergencyLeaseWaitMs: 0,
    sleep: async () => undefined,
  });
  return { service, clock, keyVault, journal, observed, release: () => release() };
}

describe("cached views (ROTATOR_VIEW_MAX_AGE)", () => {
  it("serves views from the newest observation younger than the max age, and says how old it is", async () => {
    const { service, clock, observed, keyVault } = setup();
    const first = await service.currentPlan();
    clock.advance(59 * SECOND);
    const second = await service.currentPlan();
    expect(observed).toHaveLength(1);
    expect(keyVault.listCalls).toBe(1);
    expect(first).toMatchObject({ observedAt: NOW.toISOString(), ageSeconds: 0, maxAgeSeconds: 60 });
    expect(second).toMatchObject({
      observedAt: NOW.toISOString(),
      ageSeconds: 59,
      keys: [{ id: "kv1/cmk" }],
    });

    clock.advance(1 * SECOND);
    const third = await service.currentPlan();
    expect(observed).toHaveLength(2);
    expect(third).toMatchObject({ ageSeconds: 0, observedAt: clock.now().toISOString() });
  });

  it("makes one observation for every viewer that asks while it runs (single flight)", async () => {
    const { service, observed, release } = setup({ gate: true });
    const viewers = Array.from({ length: 10 }, () => service.currentPlan());
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    const answers = await Promise.all(viewers);
    expect(observed).toHaveLength(1);
    expect(new Set(answers.map((answer) => answer.observedAt)).size).toBe(1);
  });

  it("shares one observation among concurrent viewers even with a max age of zero", async () => {
    const { service, observed, release } = setup({ gate: true });
    const viewers = [service.currentPlan({}, { maxAgeMs: 0 }), service.currentPlan({}, { maxAgeMs: 0 })];
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    await Promise.all(viewers);
    expect(observed).toHaveLength(1);
    await service.currentPlan({}, { maxAgeMs: 0 });
    expect(observed).toHaveLength(2);
  });

  it("observes only the key a single-key view asks for, and serves it from a fresh full observation", async () => {
    const { service, observed, clock } = setup({ keyNames: ["a", "b", "c"] });
    const single = await service.currentPlan({ vault: "kv1", key: "b" });
    expect(observed).toEqual([["kv1/b"]]);
    expect(single.keys).toEqual([{ id: "kv1/b" }]);
    expect(Object.keys(single.journal)).toEqual(["kv1/b"]);

    await service.currentPlan();
    expect(observed).toEqual([["kv1/b"], ["kv1/a", "kv1/b", "kv1/c"]]);
    clock.advance(10 * SECOND);
    const fromFull = await service.currentPlan({ vault: "kv1", key: "C" });
    expect(observed).toHaveLength(2);
    expect(fromFull).toMatchObject({ keys: [{ id: "kv1/c" }], ageSeconds: 10 });
  });

  it("lets a reconcile that changed nothing serve the next views", async () => {
    const { service, observed } = setup({ keyNames: ["a", "b"] });
    await service.reconcileAll("timer");
    const answer = await service.currentPlan();
    expect(observed).toHaveLength(1);
    expect(answer.keys).toEqual([{ id: "kv1/a" }, { id: "kv1/b" }]);
  });

  it("observes again after a reconcile changed a key", async () => {
    const repointBegun: StepReport = {
      type: "repoint",
      keyId: "kv1/a",
      version: aVersion(1).version,
      status: "done",
      detail: "",
    };
    const { service, observed } = setup({ keyNames: ["a", "b"], steps: [repointBegun] });
    await service.currentPlan();
    await service.reconcileAll("timer");
    await service.currentPlan();
    expect(observed).toHaveLength(3);
  });

  it("forgets a key an emergency rotation changed", async () => {
    const { service, observed } = setup();
    await service.currentPlan();
    await service.emergencyRotate({ vault: "kv1", key: "cmk", reason: "leak", dryRun: false });
    const answer = await service.currentPlan();
    expect(observed).toHaveLength(3);
    expect(answer.ageSeconds).toBe(0);
  });

  it("reads the journal of many keys concurrently, bounded, and once per max age", async () => {
    const names = Array.from({ length: 20 }, (_, index) => `key-${index}`);
    const { service, journal, clock } = setup({ keyNames: names });
    await service.currentPlan();
    expect(journal.reads).toBe(20);
    expect(journal.mostInFlight).toBeGreaterThan(1);
    expect(journal.mostInFlight).toBeLessThanOrEqual(8);
    clock.advance(30 * SECOND);
    await service.currentPlan();
    expect(journal.reads).toBe(20);
    clock.advance(30 * SECOND);
    await service.currentPlan();
    expect(journal.reads).toBe(40);
  });
});

describe("the timer's reconcile republishes undelivered outcome events", () => {
  it("after its run, and a failure there changes nothing about the run's result", async () => {
    let calls = 0;
    const { service } = setup({
      republishOutcomes: async () => {
        calls++;
        if (calls === 2) throw new Error("table unreachable");
        return { waiting: 1, republished: 1, stillWaiting: 0 };
      },
    });
    expect((await service.reconcileAll("timer")).status).toBe("done");
    expect((await service.reconcileAll("timer")).status).toBe("done");
    expect(calls).toBe(2);
    await service.reconcileKey(keyNamed("cmk"), "event");
    expect(calls).toBe(2);
  });
});
