/**
 * The service core every path calls: event, timer, emergency HTTP call, keys view. Each is
 * lock → observe → plan → apply, the same path everywhere:
 *
 *   reconcileKey(key)      lease the key, observe it, plan, apply
 *   reconcileAll()         lease every managed key that is free, observe them in one pass, plan, apply
 *   emergencyRotate(...)   lease the key, create a version, tag the previous newest compromised,
 *                          observe, plan, apply (repoints at once); idempotent with a key
 *   currentPlan(filter)    observe, plan, view: changes nothing (no lease needed)
 *
 * A key whose lease another run holds is "pending": the caller returns without error and
 * the timer comes back.
 */

import { randomUUID } from "node:crypto";
import { sameKey, validateName } from "../adapters/keyRef.js";
import type { ApplyReport, PlanApplier } from "../apply/applyPlan.js";
import { formatIsoDuration } from "../duration.js";
import {
  AzureCallError,
  ConflictError,
  describeError,
  EmergencyCooldownError,
  NotFoundError,
  ValidationError,
  VersionCapError,
} from "../errors.js";
import { type IdempotencyStore, requestFingerprint } from "../idempotency/idempotencyStore.js";
import type { Journal, JournalEntry } from "../journal/journal.js";
import { type Clock, holdingLeases, type KeyLock, type Lease } from "../lock/keyLease.js";
import {
  type KeyRef,
  type KeyVersionFacts,
  keyRefId,
  MANAGED_HSM_VERSION_CAP,
  type Plan,
  type Policy,
  type RotatorMode,
  type Snapshot,
  type StepOutcome,
  TAGS,
} from "../model.js";
import { orderVersions } from "../plan/versionOrder.js";
import type { EmergencyLedger } from "./emergencyLedger.js";
import type { RotatorLog } from "./log.js";
import { KeyReconcileCoalescer, settledWithin } from "./reconcileCoalescer.js";

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
}

export interface RotationDeps {
  managedVaults: readonly ManagedVaultRef[];
  policy: Policy;
  mode: RotatorMode;
  keyVault: RotationKeyVault;
  /** Observation of exactly these keys (versions, consumers, audit evidence). */
  observe(keys: KeyRef[], now: Date): Promise<Snapshot>;
  plan(snapshot: Snapshot, policy: Policy, now: Date): Plan;
  /** JSON-ready per-key view of a plan (GET /api/keys, dashboard, plan command). */
  buildKeyViews(snapshot: Snapshot, plan: Plan, now: Date): unknown[];
  applier: Pick<PlanApplier, "apply">;
  lock: KeyLock;
  idempotency: IdempotencyStore;
  /** The newest emergency rotation per key, shared by every instance. */
  emergencyLedger: EmergencyLedger;
  /** ROTATOR_EMERGENCY_COOLDOWN: how long after an emergency rotation another one needs `force`. */
  emergencyCooldownMs: number;
  journal: Journal;
  clock: Clock;
  log: RotatorLog;
  /** How long an emergency rotation waits for a key held by another run (default 10 s). */
  emergencyLeaseWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

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

export interface KeyFilter {
  vault?: string;
  key?: string;
}

export interface KeysAnswer {
  observedAt: string;
  mode: RotatorMode;
  keys: unknown[];
  journal: Record<string, JournalEntry[]>;
  unreadableKeys: Record<string, string>;
}

const REASON_MAX_LENGTH = 500;
const RECENT_JOURNAL_ENTRIES = 20;
const LEASE_POLL_MS = 250;
/** While waiting for a key's lease, an emergency rotation looks for a just-created version this often. */
const COOLDOWN_POLL_EVERY = 4;

/** Plain JSON (dates as ISO strings), the shape stored for replays and sent over HTTP. */
function toJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

export function validateEmergencyReason(reason: unknown): string {
  if (typeof reason !== "string" || reason.trim() === "") {
    throw new ValidationError(
      "request body reason",
      'the request body needs "reason": a non-empty string saying why the key is rotated',
    );
  }
  const trimmed = reason.trim();
  if (trimmed.length > REASON_MAX_LENGTH) {
    throw new ValidationError(
      "request body reason",
      `"reason" is ${trimmed.length} characters; keep it to ${REASON_MAX_LENGTH}`,
    );
  }
  return trimmed;
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

export class RotationService {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly eventRuns: KeyReconcileCoalescer<ReconcileResult>;

  constructor(private readonly deps: RotationDeps) {
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

  /** Reconciles every managed key whose lease is free, with one observation for all of them. */
  async reconcileAll(trigger: string): Promise<ReconcileResult> {
    const keys = await this.listManagedKeys();
    const leases: Lease[] = [];
    const leased: KeyRef[] = [];
    const busy: string[] = [];
    try {
      for (const key of keys) {
        const lease = await this.deps.lock.tryAcquire(keyRefId(key));
        if (lease) {
          leases.push(lease);
          leased.push(key);
        } else {
          busy.push(keyRefId(key));
        }
      }
    } catch (error) {
      // A lease that could not be taken must not keep the ones already taken for a whole lease time.
      await Promise.all(leases.map((lease) => lease.release().catch(() => undefined)));
      throw error;
    }
    if (busy.length > 0)
      this.deps.log.info("keys held by another run are left for later", { keys: busy.join(","), trigger });
    return this.underLeases(leases, async () => this.observePlanApply(leased, busy, trigger));
  }

  /** The plan as it stands, with recent journal entries; changes nothing. */
  async currentPlan(filter: KeyFilter = {}): Promise<KeysAnswer> {
    let keys: KeyRef[];
    if (filter.vault && filter.key) {
      const key = this.managedKey(filter.vault, filter.key);
      await this.requireKeyExists(key);
      keys = [key];
    } else if (filter.vault) {
      const vault = this.managedVault(filter.vault);
      keys = (await this.listManagedKeys()).filter((key) => key.vaultName === vault.vaultName);
    } else {
      keys = await this.listManagedKeys();
    }
    const now = this.deps.clock.now();
    const snapshot = await this.deps.observe(keys, now);
    const plan = this.deps.plan(snapshot, this.deps.policy, now);
    const journal: Record<string, JournalEntry[]> = {};
    for (const key of keys) {
      const keyId = keyRefId(key);
      try {
        journal[keyId] = await this.deps.journal.recent(keyId, RECENT_JOURNAL_ENTRIES);
      } catch (error) {
        this.deps.log.warn("journal not readable for the keys view", {
          key: keyId,
          detail: describeError(error),
        });
        journal[keyId] = [];
      }
    }
    return toJson({
      observedAt: now,
      mode: this.deps.mode,
      keys: this.deps.buildKeyViews(snapshot, plan, now),
      journal,
      unreadableKeys: snapshot.unreadableKeys,
    }) as KeysAnswer;
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
    if (idempotencyKey) {
      const begun = await this.deps.idempotency.begin(idempotencyKey, fingerprint);
      if (begun.status === "replay") return begun.response as EmergencyAnswer;
      if (begun.status === "mismatch") {
        throw new ConflictError(
          keyRefId(key),
          `Idempotency-Key ${idempotencyKey} was already used for a different request; use a new key for a new request`,
        );
      }
      if (begun.status === "in-progress") {
        throw new ConflictError(
          keyRefId(key),
          `a request with Idempotency-Key ${idempotencyKey} is still in progress; retry in a few seconds to get its answer`,
        );
      }
    }
    try {
      const answer = await this.emergencyUnderLease(key, reason, request.dryRun, force);
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

  private async observePlanApply(keys: KeyRef[], busy: string[], trigger: string): Promise<ReconcileResult> {
    const runId = randomUUID();
    const { plan, report } = await this.planAndMaybeApply(keys, trigger, runId, true);
    return {
      status: "done",
      keyIds: keys.map(keyRefId),
      busyKeyIds: busy,
      runId,
      plan,
      report: report ?? { steps: [], publishFailures: [] },
    };
  }

  private async planAndMaybeApply(
    keys: KeyRef[],
    trigger: string,
    runId: string,
    apply: boolean,
  ): Promise<{ plan: Plan; report?: ApplyReport }> {
    const now = this.deps.clock.now();
    const snapshot = await this.deps.observe(keys, now);
    const plan = this.deps.plan(snapshot, this.deps.policy, now);
    this.deps.log.info("plan made", {
      trigger,
      runId,
      keys: keys.map(keyRefId).join(","),
      actions: plan.actions.length,
      holds: plan.holds.length,
      blocks: plan.blocks.length,
    });
    for (const [keyId, problem] of Object.entries(snapshot.unreadableKeys)) {
      this.deps.log.warn("key not readable this run", { key: keyId, trigger, runId, detail: problem });
    }
    if (!apply) return { plan };
    const report = await this.deps.applier.apply(plan, snapshot, {
      runId,
      trigger,
      mode: this.deps.mode,
      now,
    });
    return { plan, report };
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
        if (!keys.some((known) => sameKey(known, key))) keys.push(key);
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
