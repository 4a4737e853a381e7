import { describe, expect, it } from "vitest";
import type { ApplyReport } from "../../../src/apply/applyPlan.js";
import {
  AzureCallError,
  ConflictError,
  EmergencyCooldownError,
  NotFoundError,
  ValidationError,
} from "../../../src/errors.js";
import { MemoryIdempotencyStore } from "../../../src/idempotency/idempotencyStore.js";
import { MemoryJournal } from "../../../src/journal/journal.js";
import { type KeyLock, type Lease, MemoryKeyLock } from "../../../src/lock/keyLease.js";
import {
  type KeyRef,
  type KeyVersionFacts,
  keyRefId,
  type Plan,
  type Snapshot,
  type StepOutcome,
  TAGS,
} from "../../../src/model.js";
import { MemoryEmergencyLedger } from "../../../src/rotation/emergencyLedger.js";
import { silentLog } from "../../../src/rotation/log.js";
import {
  type ManagedVaultRef,
  type RotationKeyVault,
  RotationService,
} from "../../../src/rotation/rotationService.js";
import { aKeyRef, aPolicy, aSnapshot, aVersion, NOW, versionId } from "../../builders/index.js";

const vault: ManagedVaultRef = {
  vaultUrl: "https://kv1.vault.azure.net/",
  vaultName: "kv1",
  hostKind: "vault",
};
const key = aKeyRef({ vaultName: "kv1", keyName: "cmk" });

class FakeKeyVault implements RotationKeyVault {
  versions: KeyVersionFacts[] = [aVersion(0, { key }), aVersion(1, { key })];
  created = 0;
  tagged: { version: string; tags: Record<string, string> }[] = [];
  keyNames = ["cmk"];
  async listKeyNames(): Promise<string[]> {
    return this.keyNames;
  }
  async listVersions(k: KeyRef): Promise<KeyVersionFacts[]> {
    if (k.keyName !== "cmk") {
      throw new AzureCallError(
        { resourceId: k.keyName, operation: "list key versions", status: 404 },
        "not found",
      );
    }
    return this.versions;
  }
  async readCurrentVersion(): Promise<string> {
    const newest = this.versions.at(-1);
    if (!newest) throw new Error("no versions");
    return newest.version;
  }
  async createVersion(): Promise<KeyVersionFacts> {
    this.created++;
    const version = aVersion(10 + this.created, { key, ageMs: 0 });
    this.versions.push(version);
    return version;
  }
  async tagVersion(_k: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome> {
    this.tagged.push({ version, tags });
    return { status: "done" };
  }
}

interface SetupOptions {
  lock?: KeyLock;
  observe?: () => Promise<Snapshot>;
  ledger?: MemoryEmergencyLedger;
  clock?: { now(): Date };
  cooldownMs?: number;
  leaseWaitMs?: number;
}

function setup(mode: "enforce" | "report" = "enforce", observeFails = false, options: SetupOptions = {}) {
  const keyVault = new FakeKeyVault();
  const lock = options.lock ?? new MemoryKeyLock();
  const ledger = options.ledger ?? new MemoryEmergencyLedger();
  const applied: Plan[] = [];
  const observed: KeyRef[][] = [];
  const service = new RotationService({
    managedVaults: [vault],
    policy: aPolicy({ mode }),
    mode,
    keyVault,
    observe: async (keys): Promise<Snapshot> => {
      if (observeFails && keyVault.created > 0) throw new Error("Resource Graph unreachable");
      observed.push(keys);
      return options.observe ? options.observe() : aSnapshot();
    },
    plan: (_snapshot, _policy, now) => ({ now, actions: [], holds: [], blocks: [], targets: {} }),
    buildKeyViews: () => [{ id: "kv1/cmk" }],
    applier: {
      apply: async (plan): Promise<ApplyReport> => {
        applied.push(plan);
        return { steps: [], publishFailures: [] };
      },
    },
    lock,
    idempotency: new MemoryIdempotencyStore(),
    emergencyLedger: ledger,
    emergencyCooldownMs: options.cooldownMs ?? 60_000,
    journal: new MemoryJournal(),
    clock: options.clock ?? { now: () => NOW },
    log: silentLog,
    emergencyLeaseWaitMs: options.leaseWaitMs ?? 0,
    sleep: async () => undefined,
  });
  return { service, keyVault, lock, ledger, applied, observed };
}

describe("RotationService.reconcileKey", () => {
  it("observes, plans and applies the key under its lease", async () => {
    const { service, applied, observed } = setup();
    const result = await service.reconcileKey(key, "event");
    expect(result.status).toBe("done");
    expect(observed).toEqual([[key]]);
    expect(applied).toHaveLength(1);
  });

  it("returns pending without error while another run holds the key", async () => {
    const { service, lock, applied } = setup();
    const held = await lock.tryAcquire("kv1/cmk", "other-instance");
    expect(held).toBeDefined();
    const result = await service.reconcileKey(key, "event");
    expect(result).toMatchObject({ status: "busy", keyId: "kv1/cmk" });
    expect(result.status === "busy" && result.message).toMatch(/another run holds the key/);
    expect(applied).toEqual([]);
  });

  it("releases the lease after the run", async () => {
    const { service, lock } = setup();
    await service.reconcileKey(key, "event");
    expect(await lock.tryAcquire("kv1/cmk")).toBeDefined();
  });
});

describe("RotationService: one identity per key, whatever its casing", () => {
  it("takes one lease for kv1/CMK and kv1/cmk, and answers with the canonical id", async () => {
    const { service, lock } = setup();
    const upper = service.managedKey("KV1", "CMK");
    expect(upper.keyName).toBe("CMK");
    const held = await lock.tryAcquire(keyRefId(upper), "the other casing's run");
    expect(held).toBeDefined();
    const result = await service.reconcileKey(service.managedKey("kv1", "cmk"), "event");
    expect(result).toMatchObject({ status: "busy", keyId: "kv1/cmk" });
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "Cmk", reason: "r", dryRun: false }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});

/** A lock whose acquisition of one key throws, as Table Storage may; records what it handed out. */
class FailingOnKeyLock implements KeyLock {
  readonly inner = new MemoryKeyLock();
  constructor(private readonly failingKeyId: string) {}
  async tryAcquire(keyId: string, holder?: string): Promise<Lease | undefined> {
    if (keyId === this.failingKeyId) throw new Error("Table Storage unreachable");
    return this.inner.tryAcquire(keyId, holder);
  }
}

describe("RotationService.reconcileKeySoon (events)", () => {
  it("coalesces the events of one key into the run in flight and one follow-up", async () => {
    const { service, observed } = setup();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => service.reconcileKeySoon(key, 60_000)),
    );
    expect(answers.every((answer) => answer.status === "done")).toBe(true);
    expect(observed.length).toBeLessThanOrEqual(2);
  });

  it('answers "running" at its deadline and lets the run carry on, releasing its lease at the end', async () => {
    let finish: () => void = () => undefined;
    const { service, lock } = setup("enforce", false, {
      observe: () => new Promise((resolve) => (finish = () => resolve(aSnapshot()))),
    });
    const answer = await service.reconcileKeySoon(key, 10);
    expect(answer).toMatchObject({ status: "running", keyId: "kv1/cmk" });
    expect(await lock.tryAcquire("kv1/cmk", "timer")).toBeUndefined();
    finish();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await lock.tryAcquire("kv1/cmk", "timer")).toBeDefined();
  });
});

describe("RotationService.reconcileAll", () => {
  it("observes every free managed key in one pass and leaves held keys for later", async () => {
    const { service, keyVault, lock, observed } = setup();
    keyVault.keyNames = ["cmk", "other"];
    await lock.tryAcquire("kv1/other", "event-run");
    const result = await service.reconcileAll("timer");
    expect(result).toMatchObject({ status: "done", keyIds: ["kv1/cmk"], busyKeyIds: ["kv1/other"] });
    expect(observed).toHaveLength(1);
  });

  it("releases the leases it took when acquiring a later one throws", async () => {
    const lock = new FailingOnKeyLock("kv1/zzz");
    const { service, keyVault } = setup("enforce", false, { lock });
    keyVault.keyNames = ["aaa", "cmk", "zzz"];
    await expect(service.reconcileAll("timer")).rejects.toThrow("Table Storage unreachable");
    for (const keyId of ["kv1/aaa", "kv1/cmk"]) {
      const again = await lock.inner.tryAcquire(keyId, "next timer run");
      expect(again, `${keyId} is still leased`).toBeDefined();
    }
  });
});

describe("RotationService.emergencyRotate", () => {
  it("creates a version, tags the previous newest compromised and applies the plan at once", async () => {
    const { service, keyVault, applied } = setup();
    const answer = await service.emergencyRotate({
      vault: "kv1",
      key: "cmk",
      reason: "leaked in a log",
      dryRun: false,
    });
    expect(keyVault.created).toBe(1);
    expect(answer.newVersion).toBe(versionId(11));
    expect(answer.compromisedVersion).toBe(versionId(1));
    expect(keyVault.tagged).toEqual([
      {
        version: versionId(1),
        tags: {
          [TAGS.compromised]: NOW.toISOString(),
          [TAGS.compromisedReason]: "leaked in a log",
          [TAGS.supersededBy]: versionId(11),
        },
      },
    ]);
    expect(applied).toHaveLength(1);
  });

  it("replays the first answer for the same Idempotency-Key and creates no second version", async () => {
    const { service, keyVault } = setup();
    const request = {
      vault: "kv1",
      key: "cmk",
      reason: "leak",
      dryRun: false,
      idempotencyKey: "incident-42",
    };
    const first = await service.emergencyRotate(request);
    const replay = await service.emergencyRotate(request);
    expect(replay).toEqual(first);
    expect(keyVault.created).toBe(1);
    await expect(service.emergencyRotate({ ...request, reason: "another reason" })).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it("still answers (and replays) with the new version when repointing fails after creating it", async () => {
    const { service, keyVault } = setup("enforce", true);
    const request = {
      vault: "kv1",
      key: "cmk",
      reason: "leak",
      dryRun: false,
      idempotencyKey: "incident-43",
    };
    const answer = await service.emergencyRotate(request);
    expect(answer).toMatchObject({ newVersion: versionId(11), plan: null });
    expect(answer.message).toContain("Resource Graph unreachable");
    expect(await service.emergencyRotate(request)).toEqual(answer);
    expect(keyVault.created).toBe(1);
  });

  it("changes nothing on a dry run or in report mode", async () => {
    const dry = setup();
    const answer = await dry.service.emergencyRotate({
      vault: "kv1",
      key: "cmk",
      reason: "drill",
      dryRun: true,
    });
    expect(answer).toMatchObject({ dryRun: true, newVersion: null });
    expect(dry.keyVault.created).toBe(0);
    expect(dry.applied).toEqual([]);

    const report = setup("report");
    await report.service.emergencyRotate({ vault: "kv1", key: "cmk", reason: "drill", dryRun: false });
    expect(report.keyVault.created).toBe(0);
  });

  it("answers with named errors: bad reason, unmanaged vault, unknown key, key held", async () => {
    const { service, lock } = setup();
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "cmk", reason: "  ", dryRun: false }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "cmk", reason: "x".repeat(501), dryRun: false }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      service.emergencyRotate({ vault: "kv9", key: "cmk", reason: "r", dryRun: false }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "missing", reason: "r", dryRun: false }),
    ).rejects.toBeInstanceOf(NotFoundError);
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "bad/name", reason: "r", dryRun: false }),
    ).rejects.toBeInstanceOf(ValidationError);
    await lock.tryAcquire("kv1/cmk", "timer-run");
    await expect(
      service.emergencyRotate({ vault: "kv1", key: "cmk", reason: "r", dryRun: false }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});

describe("RotationService.emergencyRotate: storms", () => {
  const request = { vault: "kv1", key: "cmk", reason: "leak", dryRun: false };

  it("refuses a second emergency rotation within the cooldown, naming the version just created", async () => {
    const { service, keyVault } = setup();
    const first = await service.emergencyRotate(request);
    const second = service.emergencyRotate({ ...request, key: "CMK" });
    await expect(second).rejects.toBeInstanceOf(EmergencyCooldownError);
    await expect(second).rejects.toThrow(`created version ${first.newVersion}`);
    const error = await service.emergencyRotate(request).catch((e: unknown) => e);
    expect(error).toMatchObject({ recent: { version: first.newVersion, versionId: first.newVersionId } });
    expect(keyVault.created).toBe(1);
  });

  it('lets "force" rotate again, and lets a rotation through once the cooldown passed', async () => {
    let now = NOW.getTime();
    const { service, keyVault } = setup("enforce", false, { clock: { now: () => new Date(now) } });
    await service.emergencyRotate(request);
    const forced = await service.emergencyRotate({ ...request, force: true });
    expect(keyVault.created).toBe(2);
    now += 59_000;
    await expect(service.emergencyRotate(request)).rejects.toThrow(`created version ${forced.newVersion}`);
    now += 1_000;
    await service.emergencyRotate(request);
    expect(keyVault.created).toBe(3);
  });

  it("answers a replay of an Idempotency-Key with the first answer, before the cooldown", async () => {
    const { service, keyVault } = setup();
    const first = await service.emergencyRotate({ ...request, idempotencyKey: "incident-1" });
    expect(await service.emergencyRotate({ ...request, idempotencyKey: "incident-1" })).toEqual(first);
    await expect(
      service.emergencyRotate({ ...request, idempotencyKey: "incident-2" }),
    ).rejects.toBeInstanceOf(EmergencyCooldownError);
    expect(keyVault.created).toBe(1);
  });

  it("does not refuse a dry run, which creates nothing", async () => {
    const { service } = setup();
    await service.emergencyRotate(request);
    expect(await service.emergencyRotate({ ...request, dryRun: true })).toMatchObject({ dryRun: true });
  });

  it("holds across instances: the record is shared, not in memory", async () => {
    const ledger = new MemoryEmergencyLedger();
    const lock = new MemoryKeyLock();
    const one = setup("enforce", false, { ledger, lock });
    const other = setup("enforce", false, { ledger, lock });
    const first = await one.service.emergencyRotate(request);
    await expect(other.service.emergencyRotate(request)).rejects.toThrow(
      `created version ${first.newVersion}`,
    );
    expect(other.keyVault.created).toBe(0);
  });

  it("20 at once without an Idempotency-Key create one version; the others are told which", async () => {
    const { service, keyVault } = setup("enforce", false, { leaseWaitMs: 60_000 });
    const answers = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        service.emergencyRotate({ ...request, key: index % 2 === 0 ? "cmk" : "CMK" }),
      ),
    );
    expect(keyVault.created).toBe(1);
    const created = answers.flatMap((answer) => (answer.status === "fulfilled" ? [answer.value] : []));
    expect(created).toHaveLength(1);
    for (const answer of answers) {
      if (answer.status === "fulfilled") continue;
      expect(answer.reason).toBeInstanceOf(EmergencyCooldownError);
      expect(String(answer.reason.message)).toContain(`created version ${created[0]?.newVersion}`);
    }
  });
});

describe("RotationService.currentPlan", () => {
  it("returns the views and the recent journal of each key, as plain JSON", async () => {
    const { service } = setup();
    const answer = await service.currentPlan({ vault: "kv1", key: "cmk" });
    expect(answer).toMatchObject({ mode: "enforce", keys: [{ id: "kv1/cmk" }], journal: { "kv1/cmk": [] } });
    expect(typeof answer.observedAt).toBe("string");
  });
});
