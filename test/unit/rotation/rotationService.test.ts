import { describe, expect, it } from "vitest";
import type { ApplyReport } from "../../../src/apply/applyPlan.js";
import { AzureCallError, ConflictError, NotFoundError, ValidationError } from "../../../src/errors.js";
import { MemoryIdempotencyStore } from "../../../src/idempotency/idempotencyStore.js";
import { MemoryJournal } from "../../../src/journal/journal.js";
import { MemoryKeyLock } from "../../../src/lock/keyLease.js";
import {
  type KeyRef,
  type KeyVersionFacts,
  type Plan,
  type Snapshot,
  type StepOutcome,
  TAGS,
} from "../../../src/model.js";
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

function setup(mode: "enforce" | "report" = "enforce", observeFails = false) {
  const keyVault = new FakeKeyVault();
  const lock = new MemoryKeyLock();
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
      return aSnapshot();
    },
    plan: (_snapshot, _policy, now) => ({ now, actions: [], holds: [], blocks: [], targets: {} }),
    buildKeyViews: () => [{ key: "kv1/cmk" }],
    applier: {
      apply: async (plan): Promise<ApplyReport> => {
        applied.push(plan);
        return { steps: [], publishFailures: [] };
      },
    },
    lock,
    idempotency: new MemoryIdempotencyStore(),
    journal: new MemoryJournal(),
    clock: { now: () => NOW },
    log: silentLog,
    emergencyLeaseWaitMs: 0,
    sleep: async () => undefined,
  });
  return { service, keyVault, lock, applied, observed };
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

describe("RotationService.reconcileAll", () => {
  it("observes every free managed key in one pass and leaves held keys for later", async () => {
    const { service, keyVault, lock, observed } = setup();
    keyVault.keyNames = ["cmk", "other"];
    await lock.tryAcquire("kv1/other", "event-run");
    const result = await service.reconcileAll("timer");
    expect(result).toMatchObject({ status: "done", keyIds: ["kv1/cmk"], busyKeyIds: ["kv1/other"] });
    expect(observed).toHaveLength(1);
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

describe("RotationService.currentPlan", () => {
  it("returns the views and the recent journal of each key, as plain JSON", async () => {
    const { service } = setup();
    const answer = await service.currentPlan({ vault: "kv1", key: "cmk" });
    expect(answer).toMatchObject({ mode: "enforce", keys: [{ key: "kv1/cmk" }], journal: { "kv1/cmk": [] } });
    expect(typeof answer.observedAt).toBe("string");
  });
});
