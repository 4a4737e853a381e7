/**
 * Listings reused across timer runs (ROTATOR_DATACENTER_LISTING_MAX_AGE): only a reconcile of
 * every key may take consumers from an earlier run's listings, and a plan that would disable
 * from such a snapshot is never applied: the service observes again with listings made now and
 * applies that plan. Here the stale picture would disable and the fresh one (a data center added
 * since the listing pins the version) holds.
 */
import { describe, expect, it } from "vitest";
import type { ApplyReport } from "../../../src/apply/applyPlan.js";
import { MemoryIdempotencyStore } from "../../../src/idempotency/idempotencyStore.js";
import { MemoryJournal } from "../../../src/journal/journal.js";
import { MemoryKeyLock } from "../../../src/lock/keyLease.js";
import type { DisableAction, KeyRef, Plan, Snapshot } from "../../../src/model.js";
import { MemoryEmergencyLedger } from "../../../src/rotation/emergencyLedger.js";
import { silentLog } from "../../../src/rotation/log.js";
import { RotationService } from "../../../src/rotation/rotationService.js";
import { aKeyRef, aPolicy, aSnapshot, aVersion, NOW } from "../../builders/index.js";

const key = aKeyRef({ vaultName: "kv1", keyName: "cmk" });
const MAX_AGE_MS = 30 * 60_000;

function disableOf(version: string): DisableAction {
  return {
    type: "disable",
    key,
    version,
    evidence: {
      supersededAt: NOW,
      quietPeriodMs: 86_400_000,
      windowFrom: NOW,
      windowTo: NOW,
      canarySeenAt: NOW,
      workspaceId: "w",
    },
    reason: "quiet-period-elapsed-unused",
    message: "unused for the quiet period",
  };
}

function setup(options: { freshAlsoDisables?: boolean } = {}) {
  const old = aVersion(0, { key });
  const observations: (number | undefined)[] = [];
  const applied: Plan[] = [];
  const service = new RotationService({
    managedVaults: [{ vaultUrl: "https://kv1.vault.azure.net/", vaultName: "kv1", hostKind: "vault" }],
    policy: aPolicy(),
    mode: "enforce",
    keyVault: {
      listKeyNames: async () => ["cmk"],
      listVersions: async () => [old, aVersion(1, { key })],
      readCurrentVersion: async () => aVersion(1, { key }).version,
      createVersion: async () => aVersion(2, { key }),
      tagVersion: async () => ({ status: "done" }),
    },
    observe: async (_keys: KeyRef[], _now: Date, observeOptions = {}): Promise<Snapshot> => {
      observations.push(observeOptions.listingMaxAgeMs);
      const snapshot = aSnapshot();
      return observeOptions.listingMaxAgeMs
        ? { ...snapshot, reusedListings: { rows: 3, oldestListedAt: new Date(NOW.getTime() - 60_000) } }
        : snapshot;
    },
    // The stale picture misses the data center that pins the old version: it would disable.
    plan: (snapshot, _policy, now) => ({
      now,
      actions: snapshot.reusedListings || options.freshAlsoDisables ? [disableOf(old.version)] : [],
      holds: [],
      blocks: [],
      targets: {},
    }),
    buildKeyViews: () => [{ id: "kv1/cmk" }],
    applier: {
      apply: async (plan): Promise<ApplyReport> => {
        applied.push(plan);
        return { steps: [], publishFailures: [] };
      },
    },
    lock: new MemoryKeyLock(),
    idempotency: new MemoryIdempotencyStore(),
    emergencyLedger: new MemoryEmergencyLedger(),
    emergencyCooldownMs: 60_000,
    journal: new MemoryJournal(),
    clock: { now: () => NOW },
    log: silentLog,
    emergencyLeaseWaitMs: 0,
    sleep: async () => undefined,
    dataCenterListingMaxAgeMs: MAX_AGE_MS,
  });
  return { service, observations, applied };
}

describe("listings reused across timer runs", () => {
  it("a plan that would disable on earlier listings is made again afresh, and only that plan is applied", async () => {
    const { service, observations, applied } = setup();
    const result = await service.reconcileAll("timer");
    expect(result.status).toBe("done");
    expect(observations).toEqual([MAX_AGE_MS, undefined]);
    expect(applied).toHaveLength(1);
    expect(applied[0]?.actions).toEqual([]);
  });

  it("a disable the fresh listings also support is applied", async () => {
    const { service, observations, applied } = setup({ freshAlsoDisables: true });
    await service.reconcileAll("timer");
    expect(observations).toEqual([MAX_AGE_MS, undefined]);
    expect(applied[0]?.actions.map((action) => action.type)).toEqual(["disable"]);
  });

  it("only the reconcile of every key reuses listings: a key's own reconcile lists afresh", async () => {
    const { service, observations } = setup();
    await service.reconcileKey(key, "event");
    expect(observations).toEqual([undefined]);
  });
});
