/**
 * The service core every path calls: event, timer, emergency HTTP call, keys view. Each is
 * lock → observe → plan → apply, the same path everywhere:
 *
 *   reconcileKey(key)      lease the key, observe it, plan, apply
 *   reconcileAll()         lease every managed key that is free, observe them in one pass, plan, apply
 *   emergencyRotate(...)   lease the key, create a version, tag the previous newest compromised,
 *                          observe, plan, apply (repoints at once); idempotent with a key
 *   currentPlan(filter)    the views: from the newest observation younger than ROTATOR_VIEW_MAX_AGE,
 *                          else observe (one key for a single-key view), plan, view; changes
 *                          nothing (no lease needed); one observation serves every concurrent viewer
 *
 * A key whose lease another run holds is "pending": the caller returns without error and
 * the timer comes back.
 */

import { randomUUID } from "node:crypto";
import { keyIdOf, sameKey, sameKeyIdentity, validateName, validateVersion } from "../adapters/keyRef.js";
import type { ApplyReport, ApplyRun, PlanApplier } from "../apply/applyPlan.js";
import { formatIsoDuration } from "../duration.js";
import {
  AzureCallError,
  ConflictError,
  describeError,
  EmergencyCooldownError,
  MigrationRunningError,
  NotFoundError,
  ValidationError,
  VersionCapError,
} from "../errors.js";
import { type IdempotencyStore, requestFingerprint } from "../idempotency/idempotencyStore.js";
import { type FreezeStore, MemoryFreezeStore } from "../journal/freezeStore.js";
import type { Journal, JournalEntry } from "../journal/journal.js";
import { type Clock, holdingLeases, type KeyLock, type Lease } from "../lock/keyLease.js";
import { mapLimited } from "../mapLimited.js";
import type { MigrationStore } from "../migration/migrationStore.js";
import {
  type FreezeRecord,
  type KeyRef,
  type KeyVersionFacts,
  keyRefId,
  MANAGED_HSM_VERSION_CAP,
  type MigrationIntent,
  type Plan,
  type Policy,
  type RotatorMode,
  type Snapshot,
  type StepOutcome,
  TAGS,
  type VaultFacts,
} from "../model.js";
import type { OutcomePublisher } from "../outcomes/outcomeEvents.js";
import { needsFreshListings, planOnFreshReads } from "../plan/freshReads.js";
import { compareText } from "../plan/keyContext.js";
import { isCompromised } from "../plan/preflight.js";
import { orderVersions } from "../plan/versionOrder.js";
import type { RotatorMetrics } from "../telemetry/rotatorMetrics.js";
import type { EmergencyLedger } from "./emergencyLedger.js";
import type { RotatorLog } from "./log.js";
import type { ReconcileCheckpoint } from "./reconcileCheckpoint.js";

export { validateEmergencyReason } from "./emergencyReason.js";

import { validateEmergencyReason, validateReason } from "./emergencyReason.js";
import { KeyReconcileCoalescer, settledWithin } from "./reconcileCoalescer.js";
import { type CachedObservation, type KeyViewLike, ViewCache } from "./viewCache.js";

/** A vault or Managed HSM the service manages. */
export interface ManagedVaultRef {
  vaultUrl: string;
  vaultName: string;
  hostKind: KeyRef["hostKind"];
}

export interface RotationKeyVault {
  listKeyNames(vault: ManagedVaultRef): Promise<string[]>;
  listVersions(key: KeyRef): Promise<KeyVersionFacts[]>;
  /** The key's current version (a versionless GET): the newest, even within one second. */
  readCurrentVersion(key: KeyRef): Promise<string>;
  createVersion(key: KeyRef): Promise<KeyVersionFacts>;
  tagVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
  /** Enables a version again (an operator's restore), merging `tags`. */
  enableVersion?(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
}

export interface RotationDeps {
  managedVaults: readonly ManagedVaultRef[];
  policy: Policy;
  mode: RotatorMode;
  keyVault: RotationKeyVault;
  /**
   * Observation of exactly these keys (versions, consumers, audit evidence); `listingMaxAgeMs`
   * lets consumers come from listings earlier runs made (the snapshot says so: `reusedListings`).
   */
  observe(keys: KeyRef[], now: Date, options?: { listingMaxAgeMs?: number }): Promise<Snapshot>;
  plan(snapshot: Snapshot, policy: Policy, now: Date): Plan;
  /**
   * Fresh ARM reads of the given consumers in place of their Resource Graph facts: what a
   * plan needs before it disables (`plan/freshReads.ts`). Required when `observe` answers
   * consumers read from Resource Graph rows; without it every consumer is taken as read afresh.
   */
  confirmConsumers?(snapshot: Snapshot, consumerIds: readonly string[]): Promise<Snapshot>;
  /** JSON-ready per-key view of a plan (GET /api/keys, dashboard, plan command), one per key id. */
  buildKeyViews(snapshot: Snapshot, plan: Plan, now: Date): KeyViewLike[];
  applier: Pick<PlanApplier, "apply">;
  lock: KeyLock;
  idempotency: IdempotencyStore;
  /** The newest emergency rotation per key, shared by every instance. */
  emergencyLedger: EmergencyLedger;
  /** Stored migrations (one per source key); without it no migration can be made and none is planned. */
  migrations?: MigrationStore;
  /** What Resource Manager says about the vaults (region, soft delete, purge protection); read only in runs with a migration. */
  readVaults?: () => Promise<Record<string, VaultFacts>>;
  /** ROTATOR_EMERGENCY_COOLDOWN: how long after an emergency rotation another one needs `force`. */
  emergencyCooldownMs: number;
  journal: Journal;
  clock: Clock;
  log: RotatorLog;
  /** Freezes of keys' retirement (default: in memory, for unit tests). */
  freezes?: FreezeStore;
  /** Where operator restores publish VersionRestored (default: none). */
  publisher?: OutcomePublisher;
  /**
   * ROTATOR_VIEW_MAX_AGE: views are served from an observation younger than this (0, the
   * default here, observes for every view; concurrent viewers still share one observation).
   */
  viewMaxAgeMs?: number;
  /** The operators' metrics: told about every plan and every run's disables and failed repoints. */
  metrics?: RotatorMetrics;
  /** Sends outcome events earlier runs could not deliver; the timer's reconcile calls it after its run. */
  republishOutcomes?: () => Promise<{ waiting: number; republished: number; stillWaiting: number }>;
  /** Where the last reconcile of every key stopped (the next one goes on from there). */
  checkpoint?: ReconcileCheckpoint;
  /**
   * ROTATOR_RECONCILE_DEADLINE: how long after its start a reconcile of every key begins no
   * further key (a margin before host.json's functionTimeout); undefined: no deadline.
   */
  reconcileDeadlineMs?: number;
  /**
   * ROTATOR_DATACENTER_LISTING_MAX_AGE: a reconcile of every key may take consumers from listings
   * this young (absent: every run lists afresh). A plan that would disable is made again afresh.
   */
  dataCenterListingMaxAgeMs?: number;
  /** Journal partitions a view reads at once (default 8). */
  journalReadConcurrency?: number;
  /** How long an emergency rotation waits for a key held by another run (default 10 s). */
  emergencyLeaseWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** Key leases a reconcile of every key takes at once. */
const LEASE_CONCURRENCY = 16;

export type ReconcileResult =
  | { status: "busy"; keyId: string; message: string }
  | {
      status: "done";
      keyIds: string[];
      busyKeyIds: string[];
      runId: string;
      plan: Plan;
      report: ApplyReport;
    };

export interface EmergencyRequest {
  vault: string;
  key: string;
  reason: string;
  dryRun: boolean;
  /** Rotate again even within ROTATOR_EMERGENCY_COOLDOWN of the last emergency rotation. */
  force?: boolean;
  idempotencyKey?: string;
}

/** What an emergency rotation answers (and what a replay answers again): plain JSON. */
export interface EmergencyAnswer {
  key: string;
  dryRun: boolean;
  mode: RotatorMode;
  /** The version created, or null for a dry run / report mode. */
  newVersion: string | null;
  newVersionId: string | null;
  /** The version tagged compromised (the previous newest). */
  compromisedVersion: string | null;
  reason: string;
  runId: string;
  plan: unknown;
  steps: unknown;
  message: string;
}

/** An operator's act on a key or one of its versions: restore, freeze, unfreeze. */
export interface OperatorRequest {
  vault: string;
  key: string;
  reason: string;
}

export interface MigrationRequest {
  vault: string;
  key: string;
  toVault: string;
  toKey: string;
  reason: string;
  dryRun: boolean;
  retireSource: boolean;
  idempotencyKey?: string;
}

/** What a migration request answers (and what a replay answers again): plain JSON. */
export interface MigrationAnswer {
  key: string;
  destination: string;
  dryRun: boolean;
  mode: RotatorMode;
  reason: string;
  retireSource: boolean;
  state: MigrationIntent["state"];
  requestedAt: string;
  runId: string;
  /** The plan of the source key (and the destination's) with this migration in it. */
  plan: unknown;
  steps: unknown;
  message: string;
}

export interface MigrationCancelRequest {
  vault: string;
  key: string;
  reason: string;
}

/** What POST .../versions/{version}/restore answers: the version's state (plain JSON). */
export interface RestoreAnswer {
  key: string;
  version: string;
  versionId: string;
  state: "enabled" | "disabled";
  compromised: boolean;
  restoredAt: string | null;
  restoredReason: string | null;
  /** False for a replay (the version was enabled already) and in report mode. */
  changed: boolean;
  frozen: { reason: string; at: string; by: string } | null;
  mode: RotatorMode;
  message: string;
}

/** What POST .../freeze and .../unfreeze answer (plain JSON). */
export interface FreezeAnswer {
  key: string;
  frozen: { reason: string; at: string; by: string } | null;
  /** False for a replay (already frozen / not frozen) and in report mode. */
  changed: boolean;
  mode: RotatorMode;
  message: string;
}

function freezeJson(record: FreezeRecord | undefined): RestoreAnswer["frozen"] {
  return record ? { reason: record.reason, at: record.at.toISOString(), by: record.by } : null;
}

export interface MigrationCancelAnswer {
  key: string;
  destination: string;
  state: "cancelled";
  cancelledAt: string;
  reason: string;
  message: string;
}

export interface KeyFilter {
  vault?: string;
  key?: string;
}

export interface KeysAnswer {
  /** When the observation this answer comes from began (the service's clock). */
  observedAt: string;
  /** How old that observation was when this answer was served, in whole seconds. */
  ageSeconds: number;
  /** ROTATOR_VIEW_MAX_AGE in seconds: no answer comes from an older observation. */
  maxAgeSeconds: number;
  mode: RotatorMode;
  keys: unknown[];
  journal: Record<string, JournalEntry[]>;
  unreadableKeys: Record<string, string>;
}

const RECENT_JOURNAL_ENTRIES = 20;
const DEFAULT_JOURNAL_READ_CONCURRENCY = 8;
/** The single-flight scope of a full observation. */
const FULL_SCOPE = "all";
const LEASE_POLL_MS = 250;
/** While waiting for a key's lease, an emergency rotation looks for a just-created version this often. */
const COOLDOWN_POLL_EVERY = 4;

/** Plain JSON (dates as ISO strings), the shape stored for replays and sent over HTTP. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

/** What an event-triggered reconcile answers: the run's result, or that it still runs past the deadline. */
export type SoonReconcileResult = ReconcileResult | { status: "running"; keyId: string; message: string };

/** How many keys an instance reconciles at once for events (each run has its own repoint concurrency). */
export const EVENT_KEY_CONCURRENCY = 4;

/**
 * The longest an Event Grid invocation waits for its key's run before answering. Event Grid
 * waits 30 s for the whole delivery, then sends it again: this leaves the host time to answer.
 */
export const EVENT_ANSWER_DEADLINE_MS = 20_000;

/**
 * Managed HSM keeps at most MANAGED_HSM_VERSION_CAP versions of a key (disabled ones count, and
 * the service never deletes one): a rotation that would pass it is refused before anything is
 * created, whatever `force` says, because Managed HSM would refuse the version anyway.
 */
function refuseAtVersionCap(key: KeyRef, versions: number): void {
  if (key.hostKind !== "managedHsm" || versions < MANAGED_HSM_VERSION_CAP) return;
  throw new VersionCapError(
    keyRefId(key),
    `${keyRefId(key)} has ${versions} versions, and Managed HSM keeps at most ${MANAGED_HSM_VERSION_CAP} versions of a key: a new version would pass the cap, so nothing was created. Create a new key and move its consumers to it (the service never deletes versions).`,
    versions,
    MANAGED_HSM_VERSION_CAP,
  );
}

/** The plan restricted to `keys`: what a run observed but does not hold the lease of is not acted on. */
function onlyKeys(plan: Plan, keys: readonly KeyRef[]): Plan {
  const ids = new Set(keys.map(keyRefId));
  const mine = (key: KeyRef) => ids.has(keyRefId(key));
  return {
    ...plan,
    actions: plan.actions.filter((action) => mine(action.key)),
    holds: plan.holds.filter((hold) => mine(hold.key)),
    blocks: plan.blocks.filter((block) => mine(block.key)),
    ...(plan.warnings ? { warnings: plan.warnings.filter((warning) => mine(warning.key)) } : {}),
    targets: Object.fromEntries(Object.entries(plan.targets).filter(([id]) => ids.has(id))),
    ...(plan.restores ? { restores: plan.restores.filter((restore) => mine(restore.key)) } : {}),
    ...(plan.restoresNeeded
      ? { restoresNeeded: plan.restoresNeeded.filter((needed) => mine(needed.key)) }
      : {}),
  };
}

export class RotationService {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly eventRuns: KeyReconcileCoalescer<ReconcileResult>;
  private readonly views = new ViewCache<JournalEntry>();
  private readonly freezes: FreezeStore;

  constructor(private readonly deps: RotationDeps) {
    this.freezes = deps.freezes ?? new MemoryFreezeStore();
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.eventRuns = new KeyReconcileCoalescer(
      (key) => this.reconcileKey(key, "event"),
      EVENT_KEY_CONCURRENCY,
    );
  }

  get mode(): RotatorMode {
    return this.deps.mode;
  }

  /** Names of the vaults and HSMs the service manages (lower case). */
  /** The managed vault and HSM URLs (ROTATOR_MANAGED_VAULTS). */
  managedVaultUrls(): string[] {
    return this.deps.managedVaults.map((vault) => vault.vaultUrl);
  }

  /** The managed key named by vault and key name; NotFoundError for an unmanaged vault, ValidationError for a bad name. */
  managedKey(vault: string, key: string): KeyRef {
    const managed = this.managedVault(vault);
    const keyName = validateName(key, "key name");
    return { vaultUrl: managed.vaultUrl, vaultName: managed.vaultName, hostKind: managed.hostKind, keyName };
  }

  /** The managed vault or HSM of that name; NotFoundError when it is not managed, ValidationError for a bad name. */
  managedVault(vault: string): ManagedVaultRef {
    const vaultName = validateName(vault, "vault name").toLowerCase();
    const managed = this.deps.managedVaults.find((v) => v.vaultName === vaultName);
    if (!managed) {
      throw new NotFoundError(
        vaultName,
        `vault ${vaultName} is not managed by this service: add its URL to ROTATOR_MANAGED_VAULTS, or check the name`,
      );
    }
    return managed;
  }

  /** Observe → plan → apply for one key, under its lease. */
  async reconcileKey(key: KeyRef, trigger: string): Promise<ReconcileResult> {
    const keyId = keyRefId(key);
    const lease = await this.deps.lock.tryAcquire(keyId);
    if (!lease) {
      const message = `pending: another run holds the key ${keyId}; the timer will come back to it`;
      this.deps.log.info("reconcile skipped", { key: keyId, trigger, detail: message });
      return { status: "busy", keyId, message };
    }
    return this.underLeases([lease], async () => this.observePlanApply([key], [], trigger));
  }

  /**
   * An event's reconcile: coalesced per key in this instance (one run per key at a time; events
   * arriving meanwhile share one follow-up run), at most EVENT_KEY_CONCURRENCY keys at once, and
   * waited for at most `deadlineMs`. A run still going then carries on (its end is logged) and
   * the answer is "running": events are level-triggered, and the timer reconciles the key
   * anyway, so the delivery can be acknowledged within Event Grid's deadline.
   */
  async reconcileKeySoon(key: KeyRef, deadlineMs = EVENT_ANSWER_DEADLINE_MS): Promise<SoonReconcileResult> {
    const keyId = keyRefId(key);
    const run = this.eventRuns.request(key);
    const outcome = await settledWithin(run, deadlineMs);
    if (outcome.status === "settled") return outcome.value;
    run.then(
      (result) =>
        this.deps.log.info("event reconcile finished after the delivery was answered", {
          key: keyId,
          status: result.status,
          ...(result.status === "done" ? { runId: result.runId } : {}),
        }),
      (error: unknown) =>
        this.deps.log.error("event reconcile failed after the delivery was answered", {
          key: keyId,
          detail: describeError(error),
        }),
    );
    return {
      status: "running",
      keyId,
      message: `pending: the reconcile of ${keyId} is still running after ${deadlineMs} ms; it carries on, and the timer comes back to the key`,
    };
  }

  /**
   * Reconciles every managed key whose lease is free, with one observation for all of them.
   * Keys are taken in `keyRefId` order from where the last run stopped; a run that reaches
   * ROTATOR_RECONCILE_DEADLINE begins no further key and saves the first one left, so the next
   * run goes on from there.
   */
  async reconcileAll(trigger: string): Promise<ReconcileResult> {
    const startedAt = this.deps.clock.now().getTime();
    const keys = await this.inCheckpointOrder(await this.listManagedKeys());
    const failures: unknown[] = [];
    const leases: Lease[] = [];
    const leased: KeyRef[] = [];
    const busy: string[] = [];
    try {
      // Leases are taken 16 at a time (one table round trip each); the keys keep their order.
      const taken = await mapLimited(keys, LEASE_CONCURRENCY, async (key) => {
        try {
          return await this.deps.lock.tryAcquire(keyRefId(key));
        } catch (error) {
          failures.push(error);
          return undefined;
        }
      });
      keys.forEach((key, index) => {
        const lease = taken[index];
        if (lease) {
          leases.push(lease);
          leased.push(key);
        } else {
          busy.push(keyRefId(key));
        }
      });
      if (failures.length > 0) throw failures[0];
    } catch (error) {
      // A lease that could not be taken must not keep the ones already taken for a whole lease time.
      await Promise.all(leases.map((lease) => lease.release().catch(() => undefined)));
      throw error;
    }
    if (busy.length > 0)
      this.deps.log.info("keys held by another run are left for later", { keys: busy.join(","), trigger });
    const deadlineMs = this.deps.reconcileDeadlineMs;
    const deadline =
      deadlineMs === undefined
        ? undefined
        : {
            keyOrder: leased.map(keyRefId),
            passed: () => this.deps.clock.now().getTime() - startedAt >= deadlineMs,
          };
    const result = await this.underLeases(leases, async () =>
      this.observePlanApply(leased, busy, trigger, busy.length === 0, deadline, true),
    );
    if (result.status === "done") await this.saveCheckpoint(result, trigger);
    await this.republishOutcomes(trigger);
    return result;
  }

  /** Keys by `keyRefId`, beginning with the key the last run stopped before (then wrapping around). */
  private async inCheckpointOrder(keys: KeyRef[]): Promise<KeyRef[]> {
    const sorted = [...keys].sort((a, b) => compareText(keyRefId(a), keyRefId(b)));
    let nextKeyId: string | undefined;
    try {
      nextKeyId = (await this.deps.checkpoint?.load())?.nextKeyId;
    } catch (error) {
      this.deps.log.warn("reconcile checkpoint could not be read; beginning with the first key", {
        detail: describeError(error),
      });
    }
    if (!nextKeyId) return sorted;
    const start = sorted.findIndex((key) => compareText(keyRefId(key), nextKeyId) >= 0);
    return start <= 0 ? sorted : [...sorted.slice(start), ...sorted.slice(0, start)];
  }

  private async saveCheckpoint(result: Extract<ReconcileResult, { status: "done" }>, trigger: string) {
    const checkpoint = this.deps.checkpoint;
    if (!checkpoint) return;
    const nextKeyId = result.report.notReached?.[0];
    try {
      if (nextKeyId) {
        await checkpoint.save({ nextKeyId, savedAt: this.deps.clock.now(), runId: result.runId });
        this.deps.log.warn("reconcile reached its deadline; the next run goes on from the key left", {
          trigger,
          runId: result.runId,
          key: nextKeyId,
          keysLeft: result.report.notReached?.length,
        });
      } else if (await checkpoint.load()) {
        await checkpoint.clear();
      }
    } catch (error) {
      this.deps.log.warn("reconcile checkpoint could not be saved; the next run begins with the first key", {
        trigger,
        detail: describeError(error),
      });
    }
  }

  /** Outcome events earlier runs could not deliver go out again; a failure here is only logged. */
  private async republishOutcomes(trigger: string): Promise<void> {
    if (!this.deps.republishOutcomes) return;
    try {
      await this.deps.republishOutcomes();
    } catch (error) {
      this.deps.log.error("undelivered outcome events could not be republished", {
        trigger,
        detail: describeError(error),
      });
    }
  }

  /**
   * The plan as it stands, with recent journal entries; changes nothing. Served from the
   * newest observation younger than ROTATOR_VIEW_MAX_AGE (`maxAgeMs` overrides it); otherwise
   * one observation is made for every viewer waiting: of every managed key, or of the one key
   * a single-key view asks for. The answer says how old its observation is.
   */
  async currentPlan(filter: KeyFilter = {}, options: { maxAgeMs?: number } = {}): Promise<KeysAnswer> {
    const maxAgeMs = Math.max(0, options.maxAgeMs ?? this.deps.viewMaxAgeMs ?? 0);
    let observation: CachedObservation;
    let keyIds: readonly string[];
    if (filter.vault && filter.key) {
      const key = this.managedKey(filter.vault, filter.key);
      observation = await this.observationOfKey(key, maxAgeMs);
      keyIds = [keyRefId(key)];
    } else if (filter.vault) {
      const vault = this.managedVault(filter.vault);
      observation = await this.fullObservation(maxAgeMs);
      keyIds = observation.keyIds.filter((id) => id.startsWith(`${vault.vaultName}/`));
    } else {
      observation = await this.fullObservation(maxAgeMs);
      keyIds = observation.keyIds;
    }
    const journal = await this.recentJournal(keyIds, maxAgeMs);
    const wanted = new Set(keyIds);
    const now = this.deps.clock.now();
    return {
      observedAt: observation.observedAt.toISOString(),
      ageSeconds: Math.max(0, Math.round((now.getTime() - observation.observedAt.getTime()) / 1000)),
      maxAgeSeconds: Math.round(maxAgeMs / 1000),
      mode: this.deps.mode,
      keys: observation.views.filter((view) => wanted.has(view.id)),
      journal,
      unreadableKeys: Object.fromEntries(
        Object.entries(observation.unreadableKeys).filter(([id]) => wanted.has(id)),
      ),
    };
  }

  /** A fresh full observation, the one in flight, or a new one (every managed key). */
  private fullObservation(maxAgeMs: number): Promise<CachedObservation> {
    const cached = this.views.freshFull(this.deps.clock.now(), maxAgeMs);
    if (cached) return Promise.resolve(cached);
    return this.views.singleFlight(FULL_SCOPE, async () =>
      this.observeForViews(await this.listManagedKeys(), true),
    );
  }

  /** A fresh observation covering the key, a full one in flight, or an observation of that key alone. */
  private async observationOfKey(key: KeyRef, maxAgeMs: number): Promise<CachedObservation> {
    const keyId = keyRefId(key);
    const cached = this.views.freshForKey(keyId, this.deps.clock.now(), maxAgeMs);
    if (cached) return cached;
    const full = this.views.running<CachedObservation>(FULL_SCOPE);
    if (full) {
      const observation = await full.catch(() => undefined);
      if (observation?.keyIds.includes(keyId)) return observation;
    }
    return this.views.singleFlight(`key:${keyId}`, async () => {
      const observation = await this.observeForViews([key], false);
      if (!observation.views.some((view) => view.id === keyId) || keyId in observation.unreadableKeys) {
        // Not observed: a 404 (or no versions) means the key does not exist; anything else is shown as unreadable.
        await this.requireKeyExists(key);
      }
      return observation;
    });
  }

  /** Observes, plans and builds the views of `keys`, and remembers them for the next viewers. */
  private async observeForViews(keys: KeyRef[], full: boolean): Promise<CachedObservation> {
    const now = this.deps.clock.now();
    const { snapshot, plan } = await this.observeAndPlan(keys, now);
    this.deps.metrics?.planned(snapshot, plan, now);
    for (const keySnapshot of snapshot.keys) {
      if (keySnapshot.versions.length === 0 && !full) throw this.keyNotFound(keySnapshot.key);
    }
    const observation = this.cachedObservation(keys, snapshot, plan, now, full);
    this.views.remember(observation);
    return observation;
  }

  /**
   * Observation, then the plan, with the fresh consumer reads it needs (`plan/freshReads.ts`).
   * With `reuseListings` (a reconcile of every key), consumers may come from listings earlier
   * runs made; a plan that would then disable is made again from listings made now.
   */
  private async observeAndPlan(
    keys: KeyRef[],
    now: Date,
    options: { override?: MigrationIntent; onlyOwnKeys?: boolean; reuseListings?: boolean } = {},
  ): Promise<{ snapshot: Snapshot; plan: Plan; confirmed: number }> {
    const listingMaxAgeMs = options.reuseListings ? this.deps.dataCenterListingMaxAgeMs : undefined;
    const first = await this.planOnObservation(keys, now, options, listingMaxAgeMs);
    if (!needsFreshListings(first.snapshot, first.plan)) return first;
    this.deps.log.info("a disable is planned on earlier listings: every cluster is listed afresh first", {
      keys: keys.map(keyRefId).join(","),
      reusedRows: first.snapshot.reusedListings?.rows,
      oldestListedAt: first.snapshot.reusedListings?.oldestListedAt.toISOString(),
    });
    // Without a max age every cluster is listed now: this snapshot reuses nothing.
    return this.planOnObservation(keys, now, options, undefined);
  }

  private async planOnObservation(
    keys: KeyRef[],
    now: Date,
    options: { override?: MigrationIntent; onlyOwnKeys?: boolean },
    listingMaxAgeMs: number | undefined,
  ): Promise<{ snapshot: Snapshot; plan: Plan; confirmed: number }> {
    const observed = await this.observeWithMigrations(keys, now, options.override, listingMaxAgeMs);
    const makePlan = (snapshot: Snapshot) => {
      const made = this.deps.plan(snapshot, this.deps.policy, now);
      return options.onlyOwnKeys ? onlyKeys(made, keys) : made;
    };
    const confirm = this.deps.confirmConsumers?.bind(this.deps);
    if (!confirm) return { snapshot: observed, plan: makePlan(observed), confirmed: 0 };
    return planOnFreshReads(observed, makePlan, confirm);
  }

  private cachedObservation(
    keys: readonly KeyRef[],
    snapshot: Snapshot,
    plan: Plan,
    now: Date,
    full: boolean,
  ): CachedObservation {
    return {
      observedAt: now,
      keyIds: [...new Set(keys.map(keyRefId))].sort(),
      full,
      views: toJson(this.deps.buildKeyViews(snapshot, plan, now)) as KeyViewLike[],
      unreadableKeys: { ...snapshot.unreadableKeys },
    };
  }

  /** Recent journal entries per key: cached for the max age, read concurrently (bounded) where missing. */
  private async recentJournal(
    keyIds: readonly string[],
    maxAgeMs: number,
  ): Promise<Record<string, JournalEntry[]>> {
    const journal: Record<string, JournalEntry[]> = {};
    await mapLimited(
      keyIds,
      this.deps.journalReadConcurrency ?? DEFAULT_JOURNAL_READ_CONCURRENCY,
      async (keyId) => {
        const cached = this.views.freshJournal(keyId, this.deps.clock.now(), maxAgeMs);
        const entries = cached
          ? cached.entries
          : await this.views.singleFlight(`journal:${keyId}`, () => this.readJournal(keyId));
        journal[keyId] = [...entries];
      },
    );
    return journal;
  }

  private async readJournal(keyId: string): Promise<JournalEntry[]> {
    const readAt = this.deps.clock.now();
    try {
      const entries = toJson(await this.deps.journal.recent(keyId, RECENT_JOURNAL_ENTRIES)) as JournalEntry[];
      this.views.rememberJournal(keyId, { entries, readAt });
      return entries;
    } catch (error) {
      this.deps.log.warn("journal not readable for the keys view", {
        key: keyId,
        detail: describeError(error),
      });
      return [];
    }
  }

  /**
   * Emergency rotation: a new version now, the previous newest tagged compromised (so it
   * retires after the emergency quiet period, still only on evidence), repoints at once.
   * With an idempotency key, a replay returns the first answer and creates nothing.
   */
  async emergencyRotate(request: EmergencyRequest): Promise<EmergencyAnswer> {
    const reason = validateEmergencyReason(request.reason);
    const key = this.managedKey(request.vault, request.key);
    const idempotencyKey = request.idempotencyKey;
    const force = request.force === true;
    // `force` joins the fingerprint only when set, so earlier records keep their fingerprints.
    const fingerprint = requestFingerprint({
      key: keyRefId(key),
      reason,
      dryRun: request.dryRun,
      ...(force ? { force } : {}),
    });
    return this.idempotent(idempotencyKey, fingerprint, keyRefId(key), () =>
      this.emergencyUnderLease(key, reason, request.dryRun, force),
    );
  }

  /**
   * Runs `work` once per Idempotency-Key: a replay answers the first answer, the same key with
   * another request (fingerprint) is a 409, and so is one still in progress; a failure frees
   * the key for a retry. Without a key, `work` just runs.
   */
  private async idempotent<T>(
    idempotencyKey: string | undefined,
    fingerprint: string,
    keyId: string,
    work: () => Promise<T>,
  ): Promise<T> {
    if (idempotencyKey) {
      const begun = await this.deps.idempotency.begin(idempotencyKey, fingerprint);
      if (begun.status === "replay") return begun.response as T;
      if (begun.status === "mismatch") {
        throw new ConflictError(
          keyId,
          `Idempotency-Key ${idempotencyKey} was already used for a different request; use a new key for a new request`,
        );
      }
      if (begun.status === "in-progress") {
        throw new ConflictError(
          keyId,
          `a request with Idempotency-Key ${idempotencyKey} is still in progress; retry in a few seconds to get its answer`,
        );
      }
    }
    try {
      const answer = await work();
      if (idempotencyKey) await this.deps.idempotency.complete(idempotencyKey, fingerprint, answer);
      return answer;
    } catch (error) {
      if (idempotencyKey) await this.deps.idempotency.abandon(idempotencyKey).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Refuses an emergency rotation while another one of the key runs or created a version
   * within ROTATOR_EMERGENCY_COOLDOWN (unless forced): a double click or a looping script must
   * not burn versions (Managed HSM keeps at most 100 per key). The record is in the table, so
   * this holds across instances.
   */
  private async refuseWithinCooldown(keyId: string, changes: boolean): Promise<void> {
    if (!changes) return;
    const recent = await this.deps.emergencyLedger.last(keyId);
    if (!recent) return;
    const now = this.deps.clock.now().getTime();
    const age = now - recent.createdAt.getTime();
    const cooldown = this.deps.emergencyCooldownMs;
    if (age >= cooldown) return;
    const retryAfterMs = Math.max(0, cooldown - Math.max(0, age));
    throw new EmergencyCooldownError(
      keyId,
      `an emergency rotation of ${keyId} created version ${recent.version} at ${recent.createdAt.toISOString()}, within ROTATOR_EMERGENCY_COOLDOWN (${formatIsoDuration(cooldown)}); nothing was created. Use version ${recent.version}, or send "force": true to create another one`,
      { version: recent.version, versionId: recent.versionId, createdAt: recent.createdAt, retryAfterMs },
    );
  }

  private async emergencyUnderLease(
    key: KeyRef,
    reason: string,
    dryRun: boolean,
    force: boolean,
  ): Promise<EmergencyAnswer> {
    const keyId = keyRefId(key);
    // Only a rotation that would create a version is refused; a dry run or report mode creates none.
    const checksCooldown = !force && !dryRun && this.deps.mode === "enforce";
    await this.refuseWithinCooldown(keyId, checksCooldown);
    const lease = await this.acquireWaiting(keyId, this.deps.emergencyLeaseWaitMs ?? 10_000, (attempt) =>
      attempt % COOLDOWN_POLL_EVERY === 0 ? this.refuseWithinCooldown(keyId, checksCooldown) : undefined,
    );
    if (!lease) {
      await this.refuseWithinCooldown(keyId, checksCooldown);
      throw new ConflictError(
        keyId,
        `another run holds the key ${keyId} and did not finish in time; retry in a minute`,
      );
    }
    return this.underLeases([lease], async () => {
      // Under the lease, the authoritative look: a rotation that finished while this one waited.
      await this.refuseWithinCooldown(keyId, checksCooldown);
      const versions = orderVersions(
        await this.requireKeyExists(key),
        await this.deps.keyVault.readCurrentVersion(key),
      );
      refuseAtVersionCap(key, versions.length);
      const previous = versions.filter((v) => v.enabled).at(-1) ?? versions.at(-1);
      const runId = randomUUID();
      const changeNothing = dryRun || this.deps.mode === "report";
      if (changeNothing) {
        const { plan, report } = await this.planAndMaybeApply([key], "emergency", runId, false);
        return toJson({
          key: keyId,
          dryRun,
          mode: this.deps.mode,
          newVersion: null,
          newVersionId: null,
          compromisedVersion: previous?.version ?? null,
          reason,
          runId,
          plan,
          steps: report?.steps ?? [],
          message: `${dryRun ? "dry run" : "report mode"}: would create a new version of ${keyId}, tag ${previous?.version ?? "no version"} compromised and repoint every pinned consumer; nothing was changed`,
        }) as EmergencyAnswer;
      }
      const now = this.deps.clock.now();
      const created = await this.deps.keyVault.createVersion(key);
      this.views.forgetKeys([keyId]);
      this.deps.log.info("emergency rotation created a version", {
        key: keyId,
        version: created.version,
        reason,
        forced: force,
      });
      try {
        await this.deps.emergencyLedger.record(keyId, {
          version: created.version,
          versionId: created.kid,
          createdAt: now,
          runId,
        });
      } catch (error) {
        this.deps.log.error("could not record the emergency rotation for the cooldown", {
          key: keyId,
          version: created.version,
          detail: describeError(error),
        });
      }
      await this.journalSafe({
        at: now,
        keyId,
        action: "create-version",
        outcome: "done",
        reason: "emergency",
        message: `emergency rotation created version ${created.version}: ${reason}`,
        runId,
        trigger: "emergency",
        mode: this.deps.mode,
        version: created.version,
      });
      if (previous && previous.version !== created.version) {
        const tagged = await this.deps.keyVault.tagVersion(key, previous.version, {
          [TAGS.compromised]: now.toISOString(),
          [TAGS.compromisedReason]: reason.slice(0, 256),
          [TAGS.supersededBy]: created.version,
        });
        const detail =
          tagged.status === "done"
            ? `tagged compromised: ${reason}`
            : `tagging compromised: ${tagged.detail}`;
        if (tagged.status !== "done")
          this.deps.log.error("could not tag the compromised version", {
            key: keyId,
            version: previous.version,
            detail,
          });
        await this.journalSafe({
          at: now,
          keyId,
          action: "mark-compromised",
          outcome: tagged.status,
          reason: tagged.status === "failed" ? tagged.reason : "emergency",
          message: `version ${previous.version} ${detail}`,
          runId,
          trigger: "emergency",
          mode: this.deps.mode,
          version: previous.version,
        });
      }
      // The version exists now: whatever happens next, the answer must say so (and be replayable),
      // so a retry never creates a second one. The timer finishes what this run could not.
      let outcome: { plan: Plan | null; steps: unknown; message: string };
      try {
        const { plan, report } = await this.planAndMaybeApply([key], "emergency", runId, true);
        outcome = {
          plan,
          steps: report?.steps ?? [],
          message: `created version ${created.version} of ${keyId}; repoints begun, verified at the next observation; ${previous?.version ?? "no previous version"} retires after the emergency quiet period, on evidence only`,
        };
      } catch (error) {
        this.deps.log.error("emergency repoint did not start", {
          key: keyId,
          version: created.version,
          detail: describeError(error),
        });
        outcome = {
          plan: null,
          steps: [],
          message: `created version ${created.version} of ${keyId}, but observing and repointing failed (${describeError(error)}); the timer will repoint the consumers`,
        };
      }
      return toJson({
        key: keyId,
        dryRun: false,
        mode: this.deps.mode,
        newVersion: created.version,
        newVersionId: created.kid,
        compromisedVersion: previous?.version ?? null,
        reason,
        runId,
        ...outcome,
      }) as EmergencyAnswer;
    });
  }

  /**
   * Stores a migration of a key to another key and starts moving its consumers; every later
   * run (event, timer) moves the rest. A dry run (or report mode) plans with it and stores
   * nothing. With an idempotency key, a replay returns the first answer and stores nothing new.
   */
  async migrate(request: MigrationRequest): Promise<MigrationAnswer> {
    const reason = validateEmergencyReason(request.reason);
    const source = this.managedKey(request.vault, request.key);
    const destination = this.managedKey(request.toVault, request.toKey);
    if (sameKey(source, destination)) {
      throw new ValidationError(
        "request body to",
        `the destination ${keyRefId(destination)} is the key itself; name another key (a new version of the same key is an emergency rotation)`,
      );
    }
    const store = this.deps.migrations;
    if (!store) throw new Error("this service has no migration store configured");
    const fingerprint = requestFingerprint({
      migrate: keyRefId(source),
      to: keyRefId(destination),
      reason,
      dryRun: request.dryRun,
      retireSource: request.retireSource,
    });
    const idempotencyKey = request.idempotencyKey;
    return this.idempotent(idempotencyKey, fingerprint, keyRefId(source), () =>
      this.migrateUnderLease(store, source, destination, reason, request),
    );
  }

  private async migrateUnderLease(
    store: MigrationStore,
    source: KeyRef,
    destination: KeyRef,
    reason: string,
    request: MigrationRequest,
  ): Promise<MigrationAnswer> {
    const sourceId = keyRefId(source);
    const destinationId = keyRefId(destination);
    await this.requireKeyExists(source);
    await this.requireKeyExists(destination);
    const lease = await this.acquireWaiting(sourceId, this.deps.emergencyLeaseWaitMs ?? 10_000);
    if (!lease) {
      throw new ConflictError(
        sourceId,
        `another run holds the key ${sourceId} and did not finish in time; retry in a minute`,
      );
    }
    return this.underLeases([lease], async () => {
      for (const other of await store.list()) {
        if (other.state !== "active") continue;
        const otherSource = keyRefId(other.source);
        const otherDestination = keyRefId(other.destination);
        if (otherSource === sourceId)
          throw new MigrationRunningError(
            sourceId,
            `a migration of ${sourceId} to ${otherDestination} is running since ${other.requestedAt.toISOString()}; cancel it first (POST /api/keys/${source.vaultName}/${source.keyName}/migrate/cancel)`,
          );
        if (otherSource === destinationId)
          throw new MigrationRunningError(
            sourceId,
            `the destination ${destinationId} is itself being migrated to ${otherDestination}; choose that key, or cancel that migration first`,
          );
        if (otherDestination === sourceId)
          throw new MigrationRunningError(
            sourceId,
            `${sourceId} is the destination of a running migration from ${otherSource}; consumers would be moved on before they settle: cancel that migration first`,
          );
      }
      const now = this.deps.clock.now();
      const runId = randomUUID();
      const intent: MigrationIntent = {
        source,
        destination,
        requestedAt: now,
        reason,
        retireSource: request.retireSource,
        state: "active",
        runId,
      };
      const changeNothing = request.dryRun || this.deps.mode === "report";
      const base = {
        key: sourceId,
        destination: destinationId,
        dryRun: request.dryRun,
        mode: this.deps.mode,
        reason,
        retireSource: request.retireSource,
        state: intent.state,
        requestedAt: now.toISOString(),
        runId,
      };
      if (changeNothing) {
        const { plan, report } = await this.planAndMaybeApply([source], "migration", runId, false, false, {
          override: intent,
        });
        return toJson({
          ...base,
          plan,
          steps: report?.steps ?? [],
          message: `${request.dryRun ? "dry run" : "report mode"}: would move every consumer of ${sourceId} to ${destinationId}; nothing was stored or changed`,
        }) as MigrationAnswer;
      }
      await store.put(intent);
      this.views.forgetKeys([sourceId, destinationId]);
      this.deps.log.info("migration stored", { key: sourceId, toKey: destinationId, reason, runId });
      await this.journalSafe({
        at: now,
        keyId: sourceId,
        action: "migration",
        outcome: "done",
        reason: "migration",
        message: `migration of ${sourceId} to ${destinationId} stored${request.retireSource ? " (retireSource)" : ""}: ${reason}`,
        runId,
        trigger: "migration",
        mode: this.deps.mode,
      });
      let outcome: { plan: Plan | null; steps: unknown; message: string };
      try {
        const { plan, report } = await this.planAndMaybeApply([source], "migration", runId, true);
        outcome = {
          plan,
          steps: report?.steps ?? [],
          message: `migration of ${sourceId} to ${destinationId} stored; moves begun, verified at the next observation; every later run moves the rest`,
        };
      } catch (error) {
        this.deps.log.error("migration moves did not start", { key: sourceId, detail: describeError(error) });
        outcome = {
          plan: null,
          steps: [],
          message: `migration of ${sourceId} to ${destinationId} stored, but observing and moving failed (${describeError(error)}); the timer will move the consumers`,
        };
      }
      return toJson({ ...base, ...outcome }) as MigrationAnswer;
    });
  }

  /** Cancels the running migration of a key: no further moves; nothing is moved back. */
  async cancelMigration(request: MigrationCancelRequest): Promise<MigrationCancelAnswer> {
    const reason = validateEmergencyReason(request.reason);
    const source = this.managedKey(request.vault, request.key);
    const sourceId = keyRefId(source);
    const store = this.deps.migrations;
    const lease = await this.acquireWaiting(sourceId, this.deps.emergencyLeaseWaitMs ?? 10_000);
    if (!lease) {
      throw new ConflictError(
        sourceId,
        `another run holds the key ${sourceId} and did not finish in time; retry in a minute`,
      );
    }
    return this.underLeases([lease], async () => {
      const intent = store ? await store.get(sourceId) : undefined;
      if (!store || !intent || intent.state !== "active") {
        throw new NotFoundError(sourceId, `no migration of ${sourceId} is running; nothing was cancelled`);
      }
      const now = this.deps.clock.now();
      await store.put({ ...intent, state: "cancelled", cancelledAt: now, cancelReason: reason });
      this.views.forgetKeys([sourceId, keyRefId(intent.destination)]);
      const message = `migration of ${sourceId} to ${keyRefId(intent.destination)} cancelled: no further consumer is moved, and the consumers already moved stay on ${keyRefId(intent.destination)}`;
      this.deps.log.info("migration cancelled", {
        key: sourceId,
        toKey: keyRefId(intent.destination),
        reason,
      });
      await this.journalSafe({
        at: now,
        keyId: sourceId,
        action: "migration",
        outcome: "done",
        reason: "migration-cancelled",
        message: `${message}: ${reason}`,
        runId: intent.runId,
        trigger: "migration",
        mode: this.deps.mode,
      });
      return {
        key: sourceId,
        destination: keyRefId(intent.destination),
        state: "cancelled",
        cancelledAt: now.toISOString(),
        reason,
        message,
      };
    });
  }

  private async observePlanApply(
    keys: KeyRef[],
    busy: string[],
    trigger: string,
    full = false,
    deadline?: ApplyRun["deadline"],
    reuseListings = false,
  ): Promise<ReconcileResult> {
    const runId = randomUUID();
    const { plan, report } = await this.planAndMaybeApply(keys, trigger, runId, true, full, {
      ...(deadline ? { deadline } : {}),
      reuseListings,
    });
    return {
      status: "done",
      keyIds: keys.map(keyRefId),
      busyKeyIds: busy,
      runId,
      plan,
      report: report ?? { steps: [], publishFailures: [] },
    };
  }

  /**
   * Stored migrations of the keys (a source's destination is observed with it, so its moves can
   * be planned; `override` stands for one not stored, a dry run's), or none when they cannot be read.
   */
  private async migrationsOf(
    keys: readonly KeyRef[],
    override?: MigrationIntent,
  ): Promise<{ intents: MigrationIntent[]; destinations: KeyRef[] }> {
    let stored: MigrationIntent[] = [];
    if (this.deps.migrations) {
      try {
        stored = await this.deps.migrations.list();
      } catch (error) {
        this.deps.log.error("stored migrations could not be read; no key is moved this run", {
          detail: describeError(error),
        });
      }
    }
    const ids = new Set(keys.map(keyRefId));
    const intents = stored.filter(
      (intent) => ids.has(keyRefId(intent.source)) || ids.has(keyRefId(intent.destination)),
    );
    if (override) {
      const id = keyRefId(override.source);
      intents.splice(
        0,
        intents.length,
        ...intents.filter((intent) => keyRefId(intent.source) !== id),
        override,
      );
    }
    const destinations = intents
      .filter((intent) => ids.has(keyRefId(intent.source)))
      .map((intent) => intent.destination)
      .filter((destination) => !ids.has(keyRefId(destination)));
    return { intents, destinations };
  }

  /** Observes the keys (and the destinations of their migrations), with the migrations in the snapshot. */
  private async observeWithMigrations(
    keys: KeyRef[],
    now: Date,
    override?: MigrationIntent,
    listingMaxAgeMs?: number,
  ): Promise<Snapshot> {
    const { intents, destinations } = await this.migrationsOf(keys, override);
    const unique = destinations.filter(
      (destination, index) => destinations.findIndex((other) => sameKey(other, destination)) === index,
    );
    const snapshot = await this.observeWithFreezes([...keys, ...unique], now, listingMaxAgeMs);
    if (intents.length === 0) return snapshot;
    let vaults: Record<string, VaultFacts> = {};
    try {
      vaults = (await this.deps.readVaults?.()) ?? {};
    } catch (error) {
      this.deps.log.warn("the vaults could not be read; migration checks that need them hold", {
        detail: describeError(error),
      });
    }
    return { ...snapshot, migrations: intents, vaults };
  }

  private async planAndMaybeApply(
    keys: KeyRef[],
    trigger: string,
    runId: string,
    apply: boolean,
    full = false,
    options: { deadline?: ApplyRun["deadline"]; override?: MigrationIntent; reuseListings?: boolean } = {},
  ): Promise<{ plan: Plan; report?: ApplyReport }> {
    const now = this.deps.clock.now();
    // A migration's destination is observed, not leased: only the run's own keys are acted on.
    const { snapshot, plan, confirmed } = await this.observeAndPlan(keys, now, {
      ...(options.override ? { override: options.override } : {}),
      onlyOwnKeys: true,
      ...(options.reuseListings ? { reuseListings: true } : {}),
    });
    const deadline = options.deadline;
    this.deps.metrics?.planned(snapshot, plan, now);
    this.deps.log.info("plan made", {
      trigger,
      runId,
      keys: keys.map(keyRefId).join(","),
      actions: plan.actions.length,
      holds: plan.holds.length,
      blocks: plan.blocks.length,
      consumersReadAfresh: confirmed,
    });
    for (const [keyId, problem] of Object.entries(snapshot.unreadableKeys)) {
      this.deps.log.warn("key not readable this run", { key: keyId, trigger, runId, detail: problem });
    }
    if (!apply) {
      this.views.remember(this.cachedObservation(keys, snapshot, plan, now, full));
      return { plan };
    }
    const report = await this.deps.applier.apply(plan, snapshot, {
      runId,
      trigger,
      mode: this.deps.mode,
      now,
      ...(deadline ? { deadline } : {}),
    });
    this.refreshViews(keys, snapshot, plan, now, full, report);
    this.countOutcomes(plan, report);
    return { plan, report };
  }

  /**
   * The observation with the keys' retirement freezes. Freeze records that cannot be read freeze
   * everything (the plan holds every old version and says why).
   */
  private async observeWithFreezes(keys: KeyRef[], now: Date, listingMaxAgeMs?: number): Promise<Snapshot> {
    const snapshot = await this.deps.observe(keys, now, listingMaxAgeMs ? { listingMaxAgeMs } : {});
    try {
      const all = await this.freezes.all();
      const wanted = new Set(keys.map(keyRefId));
      const freezes = Object.fromEntries(Object.entries(all).filter(([id]) => wanted.has(id)));
      return { ...snapshot, freezes };
    } catch (error) {
      this.deps.log.error("the freeze records could not be read; nothing retires this run", {
        detail: describeError(error),
      });
      return { ...snapshot, freezeProblem: describeError(error) };
    }
  }

  /**
   * An operator's restore: enables the version now (an update of the version, nothing else),
   * tags it with when and why, journals it, publishes VersionRestored and freezes retirement of
   * the key. Allowed for a compromised version too: the operator's explicit act, said in the
   * answer. A replay (the version is enabled) changes nothing; report mode changes nothing.
   */
  async restoreVersion(request: OperatorRequest & { version: string }): Promise<RestoreAnswer> {
    const reason = validateReason(request.reason, "the version is restored");
    const key = this.managedKey(request.vault, request.key);
    const version = validateVersion(request.version, "version").toLowerCase();
    const keyId = keyRefId(key);
    return this.underOperatorLease(keyId, async () => {
      const facts = (await this.requireKeyExists(key)).find((v) => v.version.toLowerCase() === version);
      if (!facts) {
        throw new NotFoundError(
          `${keyId}/${version}`,
          `key ${keyId} has no version ${version}; list its versions with GET /api/keys/${key.vaultName}/${key.keyName}`,
        );
      }
      const compromised = isCompromised(facts);
      const answer = (
        changed: boolean,
        state: KeyVersionFacts,
        frozen: FreezeRecord | undefined,
        message: string,
      ): RestoreAnswer => ({
        key: keyId,
        version: facts.version,
        versionId: facts.kid || keyIdOf(key, facts.version),
        state: state.enabled ? "enabled" : "disabled",
        compromised,
        restoredAt: state.tags[TAGS.restoredAt] ?? null,
        restoredReason: state.tags[TAGS.restoredReason] ?? null,
        changed,
        frozen: freezeJson(frozen),
        mode: this.deps.mode,
        message,
      });
      if (facts.enabled) {
        return answer(
          false,
          facts,
          await this.freezes.get(keyId),
          `version ${facts.version} of ${keyId} is enabled; nothing was changed`,
        );
      }
      if (this.deps.mode === "report") {
        return answer(
          false,
          facts,
          await this.freezes.get(keyId),
          `report mode: would enable version ${facts.version} of ${keyId} and freeze retirement of the key; nothing was changed`,
        );
      }
      if (!this.deps.keyVault.enableVersion) throw new Error("this service cannot enable versions");
      const now = this.deps.clock.now();
      const runId = randomUUID();
      const tags = {
        [TAGS.restoredAt]: now.toISOString(),
        [TAGS.restoredReason]: `operator: ${reason}`.slice(0, 256),
      };
      const outcome = await this.deps.keyVault.enableVersion(key, facts.version, tags);
      this.views.forgetKeys([keyId]);
      if (outcome.status !== "done") {
        throw new AzureCallError(
          { resourceId: keyIdOf(key, facts.version), operation: "enable key version" },
          `enabling version ${facts.version} of ${keyId} failed: ${outcome.detail}; nothing else was changed, retry`,
        );
      }
      this.deps.log.warn("version restored by an operator", {
        key: keyId,
        version: facts.version,
        compromised,
      });
      const entry = {
        at: now,
        keyId,
        runId,
        trigger: "operator",
        mode: this.deps.mode,
        version: facts.version,
      };
      await this.journalSafe({
        ...entry,
        action: "restore",
        outcome: "done",
        reason: "operator-restore",
        message: `an operator restored version ${facts.version} of ${keyId}${compromised ? " (compromised: the operator's decision)" : ""}: ${reason}`,
      });
      const frozen = await this.freezes.freeze(keyId, {
        reason: `version ${facts.version} restored by an operator: ${reason}`,
        at: now,
        by: "operator",
      });
      if (frozen.changed) {
        await this.journalSafe({
          ...entry,
          action: "freeze",
          outcome: "done",
          reason: "retirement-frozen",
          message: `retirement of ${keyId} frozen: ${frozen.record.reason}`,
        });
      }
      await this.publishSafe({
        name: "VersionRestored",
        subject: keyIdOf(key, facts.version),
        at: now,
        data: {
          key: keyId,
          keyId: keyIdOf(key),
          version: facts.version,
          neededBy: ["operator"],
          triggers: ["operator"],
          reason: "operator-restore",
          message: `an operator restored version ${facts.version} of ${keyId}: ${reason}`,
        },
      });
      return answer(
        true,
        { ...facts, enabled: true, tags: { ...facts.tags, ...tags } },
        frozen.record,
        `enabled version ${facts.version} of ${keyId}${compromised ? ", which is tagged compromised (restored on the operator's decision; the service never does so itself)" : ""}; retirement of the key is frozen until it is unfrozen`,
      );
    });
  }

  /** What freeze and unfreeze answer: the key's freeze after the act (plain JSON). */
  private freezeAnswer(
    keyId: string,
    frozen: FreezeRecord | undefined,
    changed: boolean,
    message: string,
  ): FreezeAnswer {
    return { key: keyId, frozen: freezeJson(frozen), changed, mode: this.deps.mode, message };
  }

  /** An operator freezes retirement of a key: nothing of it retires until unfrozen. A replay changes nothing. */
  async freezeKey(request: OperatorRequest): Promise<FreezeAnswer> {
    const reason = validateReason(request.reason, "retirement of the key is frozen");
    const key = this.managedKey(request.vault, request.key);
    const keyId = keyRefId(key);
    return this.underOperatorLease(keyId, async () => {
      await this.requireKeyExists(key);
      const existing = await this.freezes.get(keyId);
      const answer = (frozen: FreezeRecord | undefined, changed: boolean, message: string) =>
        this.freezeAnswer(keyId, frozen, changed, message);
      if (existing)
        return answer(existing, false, `retirement of ${keyId} is frozen already; nothing was changed`);
      if (this.deps.mode === "report")
        return answer(
          undefined,
          false,
          `report mode: would freeze retirement of ${keyId}; nothing was changed`,
        );
      const now = this.deps.clock.now();
      const frozen = await this.freezes.freeze(keyId, { reason, at: now, by: "operator" });
      this.views.forgetKeys([keyId]);
      if (frozen.changed) {
        this.deps.log.info("retirement frozen by an operator", { key: keyId });
        await this.journalSafe({
          at: now,
          keyId,
          action: "freeze",
          outcome: "done",
          reason: "operator-freeze",
          message: `an operator froze retirement of ${keyId}: ${reason}`,
          runId: randomUUID(),
          trigger: "operator",
          mode: this.deps.mode,
        });
      }
      return answer(frozen.record, frozen.changed, `retirement of ${keyId} is frozen until it is unfrozen`);
    });
  }

  /** An operator unfreezes a key: retirement resumes at the next run, still only on evidence. A replay changes nothing. */
  async unfreezeKey(request: OperatorRequest): Promise<FreezeAnswer> {
    const reason = validateReason(request.reason, "retirement of the key resumes");
    const key = this.managedKey(request.vault, request.key);
    const keyId = keyRefId(key);
    return this.underOperatorLease(keyId, async () => {
      await this.requireKeyExists(key);
      const existing = await this.freezes.get(keyId);
      const answer = (frozen: FreezeRecord | undefined, changed: boolean, message: string) =>
        this.freezeAnswer(keyId, frozen, changed, message);
      if (!existing)
        return answer(undefined, false, `retirement of ${keyId} is not frozen; nothing was changed`);
      if (this.deps.mode === "report")
        return answer(
          existing,
          false,
          `report mode: would unfreeze retirement of ${keyId}; nothing was changed`,
        );
      const removed = await this.freezes.unfreeze(keyId);
      this.views.forgetKeys([keyId]);
      if (removed) {
        this.deps.log.info("retirement unfrozen by an operator", { key: keyId });
        await this.journalSafe({
          at: this.deps.clock.now(),
          keyId,
          action: "unfreeze",
          outcome: "done",
          reason: "operator-unfreeze",
          message: `an operator unfroze retirement of ${keyId} (frozen since ${existing.at.toISOString()} by ${existing.by}: ${existing.reason}): ${reason}`,
          runId: randomUUID(),
          trigger: "operator",
          mode: this.deps.mode,
        });
      }
      return answer(
        undefined,
        removed,
        `retirement of ${keyId} resumes at the next run, still only on evidence`,
      );
    });
  }

  /** Operator acts wait for a run holding the key (as an emergency rotation does), then act under its lease. */
  private async underOperatorLease<T>(keyId: string, work: () => Promise<T>): Promise<T> {
    const lease = await this.acquireWaiting(keyId, this.deps.emergencyLeaseWaitMs ?? 10_000);
    if (!lease) {
      throw new ConflictError(
        keyId,
        `another run holds the key ${keyId} and did not finish in time; retry in a minute`,
      );
    }
    return this.underLeases([lease], work);
  }

  private async publishSafe(event: Parameters<OutcomePublisher["publish"]>[0][number]): Promise<void> {
    if (!this.deps.publisher) return;
    try {
      const result = await this.deps.publisher.publish([event]);
      if (result.delivered < result.published)
        this.deps.log.error("outcome event not delivered", { detail: result.failures.join("; ") });
    } catch (error) {
      this.deps.log.error("outcome event not delivered", { detail: describeError(error) });
    }
  }

  /** Disables done and repoints failed, for the metrics. */
  private countOutcomes(plan: Plan, report: ApplyReport): void {
    const metrics = this.deps.metrics;
    if (!metrics) return;
    for (const step of report.steps) {
      if (step.type === "disable" && step.status === "done") {
        const action = plan.actions.find(
          (candidate) =>
            candidate.type === "disable" &&
            keyRefId(candidate.key) === step.keyId &&
            candidate.version === step.version,
        );
        metrics.versionDisabled(step.keyId, action?.reason ?? "unknown");
      } else if ((step.type === "repoint" || step.type === "migrate") && step.status === "failed") {
        const action = plan.actions.find(
          (candidate) =>
            (candidate.type === "repoint" || candidate.type === "migrate") &&
            candidate.type === step.type &&
            candidate.consumerId === step.consumerId &&
            candidate.pin === step.pin,
        );
        metrics.repointFailed(
          step.keyId,
          action?.type === "repoint" || action?.type === "migrate" ? action.consumerKind : "unknown",
          step.reason ?? "unknown",
        );
      }
    }
  }

  /**
   * After a run: its observation serves the next views if the run changed nothing; keys it
   * changed are forgotten, so the next view observes them again. Every key's journal in the
   * run may have new entries.
   */
  private refreshViews(
    keys: readonly KeyRef[],
    snapshot: Snapshot,
    plan: Plan,
    now: Date,
    full: boolean,
    report: ApplyReport,
  ): void {
    this.views.forgetJournals(keys.map(keyRefId));
    const changed = new Set(report.steps.filter((step) => step.status === "done").map((step) => step.keyId));
    if (changed.size > 0) this.views.forgetKeys(changed);
    else this.views.remember(this.cachedObservation(keys, snapshot, plan, now, full));
  }

  /** Versions of the key; NotFoundError when the key does not exist in its vault. */
  private async requireKeyExists(key: KeyRef): Promise<KeyVersionFacts[]> {
    try {
      const versions = await this.deps.keyVault.listVersions(key);
      if (versions.length === 0) throw this.keyNotFound(key);
      return versions;
    } catch (error) {
      if (error instanceof AzureCallError && error.status === 404) throw this.keyNotFound(key, error);
      throw error;
    }
  }

  private keyNotFound(key: KeyRef, cause?: unknown): NotFoundError {
    return new NotFoundError(
      keyRefId(key),
      `key ${key.keyName} does not exist in ${key.vaultName}; check the key name`,
      cause === undefined ? {} : { cause },
    );
  }

  private async listManagedKeys(): Promise<KeyRef[]> {
    const keys: KeyRef[] = [];
    const seen = new Set<string>();
    for (const vault of this.deps.managedVaults) {
      let names: string[];
      try {
        names = await this.deps.keyVault.listKeyNames(vault);
      } catch (error) {
        this.deps.log.error("could not list the keys of a managed vault", {
          vault: vault.vaultName,
          detail: describeError(error),
        });
        continue;
      }
      for (const keyName of names) {
        const key: KeyRef = {
          vaultUrl: vault.vaultUrl,
          vaultName: vault.vaultName,
          hostKind: vault.hostKind,
          keyName,
        };
        const identity = sameKeyIdentity(key);
        if (seen.has(identity)) continue;
        seen.add(identity);
        keys.push(key);
      }
    }
    return keys;
  }

  /** Polls for the key's lease for up to `waitMs`; `whileBusy` runs after each miss and may throw to give up. */
  private async acquireWaiting(
    keyId: string,
    waitMs: number,
    whileBusy?: (attempt: number) => Promise<void> | undefined,
  ): Promise<Lease | undefined> {
    const attempts = Math.max(1, Math.ceil(waitMs / LEASE_POLL_MS));
    for (let attempt = 1; ; attempt++) {
      const lease = await this.deps.lock.tryAcquire(keyId);
      if (lease || attempt >= attempts) return lease;
      await whileBusy?.(attempt);
      await this.sleep(LEASE_POLL_MS);
    }
  }

  private underLeases<T>(leases: Lease[], work: () => Promise<T>): Promise<T> {
    return holdingLeases(leases, work);
  }

  private async journalSafe(entry: JournalEntry): Promise<void> {
    try {
      await this.deps.journal.record(entry);
    } catch (error) {
      this.deps.log.error("journal write failed", {
        key: entry.keyId,
        action: entry.action,
        detail: describeError(error),
      });
    }
  }
}
