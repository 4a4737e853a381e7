import { describe, expect, it } from "vitest";
import {
  type ApplyConsumerAdapter,
  type ApplyDeps,
  type ApplyKeyVault,
  type ApplyRun,
  PlanApplier,
} from "../../../src/apply/applyPlan.js";
import { MemoryFreezeStore } from "../../../src/journal/freezeStore.js";
import { MemoryJournal } from "../../../src/journal/journal.js";
import {
  type ConsumerSnapshot,
  type DisableAction,
  type KeyVersionFacts,
  type Plan,
  type RepointAction,
  type RestoreAction,
  type RestoreNeeded,
  type RestoreSign,
  type StepOutcome,
  TAGS,
} from "../../../src/model.js";
import {
  MemoryOutcomePublisher,
  type OutcomeEvent,
  type OutcomePublisher,
} from "../../../src/outcomes/outcomeEvents.js";
import { silentLog } from "../../../src/rotation/log.js";
import {
  aConsumer,
  aKeyRef,
  aKeySnapshot,
  aPin,
  aSnapshot,
  aVersion,
  DAY,
  NOW,
  versionId,
  WORKSPACE_ID,
} from "../../builders/index.js";

const key = aKeyRef({ vaultName: "kv1", keyName: "cmk" });
const versions = [aVersion(0, { key }), aVersion(1, { key }), aVersion(2, { key })];

class FakeKeyVault implements ApplyKeyVault {
  disabled: { version: string; tags: Record<string, string> }[] = [];
  current: KeyVersionFacts[] = versions.map((v) => ({ ...v }));
  listFails = false;
  async listVersions(): Promise<KeyVersionFacts[]> {
    if (this.listFails) throw new Error("vault unreachable");
    return this.current;
  }
  /** Key Vault's current version: by default the newest by created time. */
  currentVersion: string | undefined;
  async readKey(): Promise<KeyVersionFacts> {
    if (this.listFails) throw new Error("vault unreachable");
    const newest = this.current.find((v) => v.version === this.currentVersion) ?? this.current.at(-1);
    if (!newest) throw new Error("no versions");
    return newest;
  }
  async disableVersion(_key: unknown, version: string, tags: Record<string, string>): Promise<StepOutcome> {
    this.disabled.push({ version, tags });
    return { status: "done" };
  }
  enabled: { version: string; tags: Record<string, string> }[] = [];
  async enableVersion(_key: unknown, version: string, tags: Record<string, string>): Promise<StepOutcome> {
    this.enabled.push({ version, tags });
    return { status: "done" };
  }
}

class FakeConsumers implements ApplyConsumerAdapter {
  begun: { id: string; pin: string; to: string }[] = [];
  outcomes: StepOutcome[] = [];
  fresh = new Map<string, ConsumerSnapshot>();
  inFlight = 0;
  maxInFlight = 0;
  async read(id: string): Promise<ConsumerSnapshot> {
    const consumer = this.fresh.get(id);
    if (!consumer) throw new Error(`consumer ${id} not found`);
    return consumer;
  }
  async beginRepoint(consumer: ConsumerSnapshot, pin: string, to: string): Promise<StepOutcome> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    this.inFlight--;
    this.begun.push({ id: consumer.id, pin, to });
    return this.outcomes.shift() ?? { status: "done" };
  }
}

function repoint(consumer: ConsumerSnapshot, overrides: Partial<RepointAction> = {}): RepointAction {
  return {
    type: "repoint",
    key,
    consumerId: consumer.id,
    consumerKind: consumer.kind,
    pin: "key",
    from: versionId(1),
    to: versionId(2),
    reason: "consumer-lags",
    message: `repoint ${consumer.id}`,
    ...overrides,
  };
}

function disable(version = versionId(0)): DisableAction {
  return {
    type: "disable",
    key,
    version,
    evidence: {
      supersededAt: new Date(NOW.getTime() - 9 * DAY),
      quietPeriodMs: DAY,
      windowFrom: new Date(NOW.getTime() - 2 * DAY),
      windowTo: NOW,
      canarySeenAt: new Date(NOW.getTime() - 60_000),
      workspaceId: WORKSPACE_ID,
    },
    reason: "quiet-period-elapsed-unused",
    message: "unused for the whole quiet period",
  };
}

function aPlan(overrides: Partial<Plan> = {}): Plan {
  return { now: NOW, actions: [], holds: [], blocks: [], targets: { "kv1/cmk": versionId(2) }, ...overrides };
}

function run(overrides: Partial<ApplyRun> = {}): ApplyRun {
  return { runId: "run-1", trigger: "timer", mode: "enforce", now: NOW, ...overrides };
}

function setup(
  publisher: OutcomePublisher = new MemoryOutcomePublisher(),
  discoverConsumers?: ApplyDeps["discoverConsumers"],
) {
  const keyVault = new FakeKeyVault();
  const consumers = new FakeConsumers();
  const journal = new MemoryJournal();
  const applier = new PlanApplier({
    keyVault,
    consumerAdapter: () => consumers,
    journal,
    publisher,
    log: silentLog,
    repointConcurrency: 2,
    sleep: async () => undefined,
    ...(discoverConsumers ? { discoverConsumers } : {}),
  });
  return { keyVault, consumers, journal, applier, publisher };
}

describe("PlanApplier repoints", () => {
  it("begins every repoint, journals it done and publishes ConsumerRepointed", async () => {
    const { consumers, journal, applier, publisher } = setup();
    const a = aConsumer({ pins: [aPin(key, versionId(1))] });
    const b = aConsumer({ kind: "cassandra", pins: [aPin(key, versionId(1), "managedDisk")] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(a), repoint(b, { pin: "managedDisk" })] }),
      aSnapshot({ keys: [aKeySnapshot({ key, versions })], consumers: [a, b] }),
      run(),
    );
    expect(report.steps.map((s) => s.status)).toEqual(["done", "done"]);
    expect(consumers.begun.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
    expect(journal.entries.map((e) => [e.action, e.outcome, e.consumerId])).toEqual(
      expect.arrayContaining([
        ["repoint", "done", a.id],
        ["repoint", "done", b.id],
      ]),
    );
    expect(
      (publisher as MemoryOutcomePublisher).published.map((e) => [e.name, e.subject, e.data.version]),
    ).toEqual(
      expect.arrayContaining([
        ["ConsumerRepointed", a.id, versionId(2)],
        ["ConsumerRepointed", b.id, versionId(2)],
      ]),
    );
  });

  it("keeps at most ROTATOR_REPOINT_CONCURRENCY repoints in flight", async () => {
    const { consumers, applier } = setup();
    const many = Array.from({ length: 6 }, () => aConsumer({ pins: [aPin(key, versionId(1))] }));
    await applier.apply(
      aPlan({ actions: many.map((c) => repoint(c)) }),
      aSnapshot({ consumers: many }),
      run(),
    );
    expect(consumers.begun).toHaveLength(6);
    expect(consumers.maxInFlight).toBe(2);
  });

  it("waits out a short Retry-After and tries again", async () => {
    const { consumers, applier } = setup();
    consumers.outcomes = [{ status: "pending", detail: "429", retryAfterMs: 1000 }, { status: "done" }];
    const c = aConsumer({ pins: [aPin(key, versionId(1))] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(c)] }),
      aSnapshot({ consumers: [c] }),
      run(),
    );
    expect(consumers.begun).toHaveLength(2);
    expect(report.steps[0]?.status).toBe("done");
  });

  it("leaves a 409 or a long Retry-After pending for the next run, without an event", async () => {
    const { consumers, journal, applier, publisher } = setup();
    consumers.outcomes = [
      { status: "pending", detail: "409 Conflict: an update is in progress", retryAfterMs: 60_000 },
    ];
    const c = aConsumer({ pins: [aPin(key, versionId(1))] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(c)] }),
      aSnapshot({ consumers: [c] }),
      run(),
    );
    expect(consumers.begun).toHaveLength(1);
    expect(report.steps[0]?.status).toBe("pending");
    expect(journal.entries[0]).toMatchObject({ action: "repoint", outcome: "pending" });
    expect((publisher as MemoryOutcomePublisher).published).toEqual([]);
  });

  it("journals a failure with the RP's reason and publishes RepointFailed", async () => {
    const { consumers, journal, applier, publisher } = setup();
    consumers.outcomes = [{ status: "failed", reason: "KeyVaultNotFound", detail: "the vault is gone" }];
    const c = aConsumer({ pins: [aPin(key, versionId(1))] });
    await applier.apply(aPlan({ actions: [repoint(c)] }), aSnapshot({ consumers: [c] }), run());
    expect(journal.entries[0]).toMatchObject({ outcome: "failed", reason: "KeyVaultNotFound" });
    expect((publisher as MemoryOutcomePublisher).published[0]).toMatchObject({
      name: "RepointFailed",
      data: { reason: "KeyVaultNotFound" },
    });
  });

  it("repoints the two pins of one Cassandra data center one after the other", async () => {
    const { consumers, applier } = setup();
    const dc = aConsumer({
      kind: "cassandra",
      pins: [aPin(key, versionId(1), "managedDisk"), aPin(key, versionId(1), "backupStorage")],
    });
    await applier.apply(
      aPlan({ actions: [repoint(dc, { pin: "managedDisk" }), repoint(dc, { pin: "backupStorage" })] }),
      aSnapshot({ consumers: [dc] }),
      run(),
    );
    expect(consumers.begun.map((b) => b.pin)).toEqual(["managedDisk", "backupStorage"]);
    expect(consumers.maxInFlight).toBe(1);
  });

  it("in report mode changes nothing, journals what it would do and publishes nothing", async () => {
    const { consumers, keyVault, journal, applier, publisher } = setup();
    const c = aConsumer({ pins: [aPin(key, versionId(1))] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(c), disable()] }),
      aSnapshot({ consumers: [c] }),
      run({ mode: "report" }),
    );
    expect(consumers.begun).toEqual([]);
    expect(keyVault.disabled).toEqual([]);
    expect(report.steps.map((s) => s.status)).toEqual(["skipped", "skipped"]);
    expect(journal.entries.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ["repoint", "skipped", "report-mode"],
      ["disable", "skipped", "report-mode"],
    ]);
    expect(journal.entries[0]?.message).toMatch(/^would repoint/);
    expect((publisher as MemoryOutcomePublisher).published).toEqual([]);
  });
});

describe("PlanApplier deadline", () => {
  it("takes keys in the run's order, begins no further key once the deadline passed, and names the keys left", async () => {
    const { consumers, applier } = setup();
    const other = aKeyRef({ vaultName: "kv1", keyName: "aaa" });
    const third = aKeyRef({ vaultName: "kv1", keyName: "zzz" });
    const a = aConsumer({ pins: [aPin(key, versionId(1))] });
    const a2 = aConsumer({ pins: [aPin(key, versionId(1))] });
    const b = aConsumer({ pins: [aPin(other, versionId(1))] });
    const c = aConsumer({ pins: [aPin(third, versionId(1))] });
    let passed = false;
    const original = consumers.beginRepoint.bind(consumers);
    // The deadline passes during the first key's first repoint.
    consumers.beginRepoint = async (...args) => {
      passed = true;
      return original(...args);
    };
    const report = await applier.apply(
      aPlan({
        actions: [repoint(b, { key: other }), repoint(c, { key: third }), repoint(a), repoint(a2)],
      }),
      aSnapshot({
        keys: [
          aKeySnapshot({ key, versions }),
          aKeySnapshot({ key: other, versions }),
          aKeySnapshot({ key: third, versions }),
        ],
        consumers: [a, a2, b, c],
      }),
      run({ deadline: { keyOrder: ["kv1/cmk", "kv1/zzz", "kv1/aaa"], passed: () => passed } }),
    );
    // The key begun is carried through (both its consumers); the others are left, in the run's order.
    expect(consumers.begun.map((begun) => begun.id).sort()).toEqual([a.id, a2.id].sort());
    expect(report.notReached).toEqual(["kv1/zzz", "kv1/aaa"]);
  });

  it("always begins the first key, even when the deadline passed before the run applied anything", async () => {
    const { consumers, applier } = setup();
    const a = aConsumer({ pins: [aPin(key, versionId(1))] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(a)] }),
      aSnapshot({ keys: [aKeySnapshot({ key, versions })], consumers: [a] }),
      run({ deadline: { keyOrder: ["kv1/cmk"], passed: () => true } }),
    );
    expect(consumers.begun).toHaveLength(1);
    expect(report.notReached).toBeUndefined();
  });
});

describe("PlanApplier disables", () => {
  it("disables with evidence tags after a clean live re-check, and publishes VersionDisabled", async () => {
    const { keyVault, consumers, journal, applier, publisher } = setup();
    const c = aConsumer({ pins: [aPin(key, versionId(2))], inUse: { key: versionId(2) } });
    consumers.fresh.set(c.id, c);
    await applier.apply(aPlan({ actions: [disable()] }), aSnapshot({ consumers: [c] }), run());
    expect(keyVault.disabled).toHaveLength(1);
    const tags = keyVault.disabled[0]?.tags ?? {};
    expect(tags[TAGS.disabledBy]).toContain("cmk-rotator");
    expect(tags[TAGS.disabledAt]).toBe(NOW.toISOString());
    expect(tags[TAGS.evidence]).toContain(WORKSPACE_ID);
    expect(tags[TAGS.lastUse]).toMatch(/^none since/);
    for (const value of Object.values(tags)) expect(value.length).toBeLessThanOrEqual(256);
    expect(journal.entries[0]).toMatchObject({ action: "disable", outcome: "done", version: versionId(0) });
    expect((publisher as MemoryOutcomePublisher).published[0]).toMatchObject({ name: "VersionDisabled" });
  });

  it.each([
    ["a consumer pins it now", { pins: [aPin(key, versionId(0))] }, "pinned-by-consumer"],
    [
      "a consumer still uses it",
      { pins: [aPin(key, versionId(2))], inUse: { key: versionId(0) } },
      "in-use-by-consumer",
    ],
    [
      "a consumer is updating",
      { pins: [aPin(key, versionId(2))], provisioningState: "Updating" },
      "repoint-in-progress",
    ],
  ])("withholds the disable when %s (fresh read)", async (_name, freshState, reason) => {
    const { keyVault, consumers, journal, applier } = setup();
    const observed = aConsumer({ pins: [aPin(key, versionId(2))] });
    consumers.fresh.set(observed.id, { ...observed, ...freshState });
    const report = await applier.apply(
      aPlan({ actions: [disable()] }),
      aSnapshot({ consumers: [observed] }),
      run(),
    );
    expect(keyVault.disabled).toEqual([]);
    expect(report.steps[0]).toMatchObject({ reason });
    expect(journal.entries[0]?.message).toContain(observed.id);
  });

  it("withholds the disable when a consumer cannot be re-read", async () => {
    const { keyVault, applier } = setup();
    const observed = aConsumer({ pins: [aPin(key, versionId(2))] });
    const report = await applier.apply(
      aPlan({ actions: [disable()] }),
      aSnapshot({ consumers: [observed] }),
      run(),
    );
    expect(keyVault.disabled).toEqual([]);
    expect(report.steps[0]).toMatchObject({ status: "pending", reason: "recheck-failed" });
  });

  it("withholds the disable when the versions cannot be re-read, or the version became the newest enabled", async () => {
    const first = setup();
    first.keyVault.listFails = true;
    await first.applier.apply(aPlan({ actions: [disable()] }), aSnapshot(), run());
    expect(first.keyVault.disabled).toEqual([]);

    const second = setup();
    second.keyVault.current = [aVersion(0, { key }), aVersion(1, { key, enabled: false })];
    const report = await second.applier.apply(aPlan({ actions: [disable()] }), aSnapshot(), run());
    expect(second.keyVault.disabled).toEqual([]);
    expect(report.steps[0]).toMatchObject({ reason: "newest-version" });
  });
  it("re-discovers consumers before a disable: one pointed at the version since the observation withholds it", async () => {
    const newcomer = aConsumer({ pins: [aPin(key, versionId(0))] });
    const { keyVault, consumers, applier } = setup(undefined, async () => [
      { id: newcomer.id, kind: newcomer.kind, keys: [key] },
    ]);
    consumers.fresh.set(newcomer.id, newcomer);
    const report = await applier.apply(aPlan({ actions: [disable()] }), aSnapshot(), run());
    expect(keyVault.disabled).toEqual([]);
    expect(report.steps[0]).toMatchObject({ reason: "pinned-by-consumer" });

    const failing = setup(undefined, async () => {
      throw new Error("Resource Graph unreachable");
    });
    const pending = await failing.applier.apply(aPlan({ actions: [disable()] }), aSnapshot(), run());
    expect(failing.keyVault.disabled).toEqual([]);
    expect(pending.steps[0]).toMatchObject({ status: "pending", reason: "recheck-failed" });
  });

  it("discovers consumers once per run, however many versions it disables", async () => {
    let discoveries = 0;
    const { keyVault, applier } = setup(undefined, async () => {
      discoveries++;
      return [];
    });
    keyVault.currentVersion = versionId(2);
    await applier.apply(
      aPlan({ actions: [disable(versionId(0)), disable(versionId(1))] }),
      aSnapshot(),
      run(),
    );
    expect(keyVault.disabled.map((entry) => entry.version)).toEqual([versionId(0), versionId(1)]);
    expect(discoveries).toBe(1);
  });

  it("withholds the disable of the key's current version, whatever the created times say", async () => {
    const { keyVault, applier } = setup();
    // Key Vault names version 0 as current (e.g. created in the same second as a later id).
    keyVault.currentVersion = versionId(0);
    const report = await applier.apply(aPlan({ actions: [disable()] }), aSnapshot(), run());
    expect(keyVault.disabled).toEqual([]);
    expect(report.steps[0]).toMatchObject({ reason: "newest-version" });
  });
});

describe("PlanApplier holds, blocks and events", () => {
  it("journals a block once and publishes RotationBlocked once across runs", async () => {
    const { journal, applier, publisher } = setup();
    const plan = aPlan({
      blocks: [
        {
          type: "block",
          key,
          version: versionId(2),
          reason: "preflight-not-rsa",
          message: "version 2 is EC",
        },
      ],
      holds: [
        { type: "hold", key, version: versionId(1), reason: "superseded-recently", message: "quiet period" },
      ],
    });
    await applier.apply(plan, aSnapshot(), run());
    await applier.apply(plan, aSnapshot(), run({ runId: "run-2" }));
    expect(journal.entries.map((e) => [e.action, e.outcome, e.reason])).toEqual([
      ["block", "blocked", "preflight-not-rsa"],
      ["hold", "held", "superseded-recently"],
    ]);
    expect((publisher as MemoryOutcomePublisher).published.map((e) => e.name)).toEqual(["RotationBlocked"]);
  });

  it("reads the journals of many held keys a few at a time, and still journals each hold once", async () => {
    class CountingJournal extends MemoryJournal {
      inFlight = 0;
      maxInFlight = 0;
      override async recent(keyId: string, limit: number) {
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        this.inFlight -= 1;
        return super.recent(keyId, limit);
      }
    }
    const journal = new CountingJournal();
    const applier = new PlanApplier({
      keyVault: new FakeKeyVault(),
      consumerAdapter: () => new FakeConsumers(),
      journal,
      publisher: new MemoryOutcomePublisher(),
      log: silentLog,
      repointConcurrency: 2,
      sleep: async () => undefined,
    });
    const keys = Array.from({ length: 20 }, (_, index) =>
      aKeyRef({ vaultName: "kv1", keyName: `cmk-${index}` }),
    );
    const plan = aPlan({
      holds: keys.map((heldKey) => ({
        type: "hold" as const,
        key: heldKey,
        version: versionId(1),
        reason: "superseded-recently",
        message: "quiet period",
      })),
    });
    await applier.apply(plan, aSnapshot(), run());
    await applier.apply(plan, aSnapshot(), run({ runId: "run-2" }));
    expect(journal.maxInFlight).toBe(8);
    expect(journal.entries.map((entry) => entry.keyId)).toEqual(
      keys.map((heldKey) => `kv1/${heldKey.keyName}`),
    );
  });

  it("a publish failure is journaled and does not break the rotation", async () => {
    const failing: OutcomePublisher = {
      publish: async (_events: OutcomeEvent[]) => {
        throw new Error("topic unreachable");
      },
    };
    const { consumers, journal, applier } = setup(failing);
    const c = aConsumer({ pins: [aPin(key, versionId(1))] });
    const report = await applier.apply(
      aPlan({ actions: [repoint(c)] }),
      aSnapshot({ consumers: [c] }),
      run(),
    );
    expect(consumers.begun).toHaveLength(1);
    expect(report.steps[0]?.status).toBe("done");
    expect(report.publishFailures[0]).toContain("topic unreachable");
    expect(journal.entries.at(-1)).toMatchObject({ action: "publish-event", outcome: "failed" });
  });
});

describe("PlanApplier restores", () => {
  const sign = (who: string): RestoreSign => ({
    trigger: "failed-use",
    who,
    id: who,
    at: NOW,
    detail: `a call on version ${versionId(0)} failed with 403`,
  });
  const restore = (who = "caller a"): RestoreAction => ({
    type: "restore",
    key,
    version: versionId(0),
    disabledAt: new Date(NOW.getTime() - DAY),
    signs: [sign(who)],
    reason: "failed-use-after-disable",
    message: "still needed",
  });
  const needed = (...who: string[]): RestoreNeeded => ({
    type: "restore-needed",
    key,
    version: versionId(0),
    disabledAt: new Date(NOW.getTime() - DAY),
    signs: who.map(sign),
    reason: "compromised-version-needed",
    message: "compromised and still needed",
  });

  function setupWithFreezes() {
    const freezes = new MemoryFreezeStore();
    const keyVault = new FakeKeyVault();
    const journal = new MemoryJournal();
    const publisher = new MemoryOutcomePublisher();
    const applier = new PlanApplier({
      keyVault,
      consumerAdapter: () => new FakeConsumers(),
      journal,
      publisher,
      freezes,
      log: silentLog,
      repointConcurrency: 2,
    });
    return { freezes, keyVault, journal, publisher, applier };
  }

  it("enables the version with the restore tags, journals it, publishes VersionRestored and freezes the key once", async () => {
    const { freezes, keyVault, journal, publisher, applier } = setupWithFreezes();
    const report = await applier.apply(aPlan({ restores: [restore()] }), aSnapshot(), run());
    expect(report.steps).toEqual([expect.objectContaining({ type: "restore", status: "done" })]);
    expect(keyVault.enabled).toHaveLength(1);
    expect(keyVault.enabled[0]?.tags[TAGS.restoredAt]).toBe(NOW.toISOString());
    expect(keyVault.enabled[0]?.tags[TAGS.restoredReason]).toContain("needed by caller a");
    expect(publisher.published.map((event) => [event.name, event.data.neededBy])).toEqual([
      ["VersionRestored", ["caller a"]],
    ]);
    expect(freezes.records.get("kv1/cmk")?.by).toBe("cmk-rotator");
    await applier.apply(aPlan({ restores: [restore()] }), aSnapshot(), run({ runId: "run-2" }));
    expect(journal.entries.filter((entry) => entry.action === "freeze")).toHaveLength(1);
  });

  it("in report mode journals what it would do, and enables, freezes and publishes nothing", async () => {
    const { freezes, keyVault, journal, publisher, applier } = setupWithFreezes();
    await applier.apply(aPlan({ restores: [restore()] }), aSnapshot(), run({ mode: "report" }));
    expect(keyVault.enabled).toEqual([]);
    expect(freezes.records.size).toBe(0);
    expect(publisher.published).toEqual([]);
    expect(journal.entries.map((entry) => [entry.action, entry.outcome, entry.reason])).toEqual([
      ["restore", "skipped", "report-mode"],
    ]);
  });

  it("publishes RestoreNeeded once per episode: again only when someone new fails", async () => {
    const { keyVault, publisher, applier } = setupWithFreezes();
    await applier.apply(aPlan({ restoresNeeded: [needed("caller a")] }), aSnapshot(), run());
    await applier.apply(aPlan({ restoresNeeded: [needed("caller a")] }), aSnapshot(), run({ runId: "r2" }));
    expect(publisher.published.map((event) => event.name)).toEqual(["RestoreNeeded"]);
    await applier.apply(
      aPlan({ restoresNeeded: [needed("caller a", "caller b")] }),
      aSnapshot(),
      run({ runId: "r3", now: new Date(NOW.getTime() + 1000) }),
    );
    expect(publisher.published.map((event) => event.data.neededBy)).toEqual([
      ["caller a"],
      ["caller a", "caller b"],
    ]);
    expect(keyVault.enabled).toEqual([]);
  });
});
