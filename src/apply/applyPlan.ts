/**
 * Carries out a Plan. Repoints begin the consumer's ARM update (bounded concurrency, one
 * pin at a time per consumer, a short Retry-After waited for inline, anything longer left
 * to the next run) and are verified at the next observation. A disable is re-checked live
 * first (fresh version list, fresh read of every consumer of the key) and writes its
 * evidence as tags on the version. Every step is journaled with its outcome and reason, and
 * outcome events are published; in report mode nothing changes and the journal says what
 * would have been done. Nothing is ever deleted or purged.
 */

import type { KeyMove, RepointGuard } from "../adapters/consumers/consumerAdapter.js";
import { keyIdOf, sameKey } from "../adapters/keyRef.js";
import { formatIsoDuration } from "../duration.js";
import { describeError } from "../errors.js";
import type { FreezeStore } from "../journal/freezeStore.js";
import type { Journal, JournalAction, JournalEntry, JournalOutcome } from "../journal/journal.js";
import { mapLimited } from "../mapLimited.js";
import {
  type Block,
  type ConsumerKind,
  type ConsumerSnapshot,
  type DisableAction,
  type Hold,
  type KeyRef,
  type KeyVersionFacts,
  keyRefId,
  type MigrateAction,
  type PinName,
  type Plan,
  type PlannedAction,
  type RepointAction,
  type RestoreAction,
  type RestoreNeeded,
  type RotatorMode,
  type Snapshot,
  type StepOutcome,
  TAGS,
} from "../model.js";
import type { OutcomeEvent, OutcomePublisher, PublishResult } from "../outcomes/outcomeEvents.js";
import { orderVersions, versionsOlderThan } from "../plan/versionOrder.js";
import type { RotatorLog } from "../rotation/log.js";

/** The consumer adapter calls apply needs. */
export interface ApplyConsumerAdapter {
  read(id: string): Promise<ConsumerSnapshot>;
  /** Re-reads the consumer and writes only over a version in `guard.replaceable` (see ConsumerAdapter). */
  beginRepoint(
    consumer: ConsumerSnapshot,
    pin: PinName,
    toVersion: string,
    guard: RepointGuard,
  ): Promise<StepOutcome>;
  /** Re-reads the consumer and moves the pin to another key only while it still names the source (see ConsumerAdapter). */
  beginMigrate?(consumer: ConsumerSnapshot, pin: PinName, move: KeyMove): Promise<StepOutcome>;
}

/** The Key Vault calls apply needs. */
export interface ApplyKeyVault {
  listVersions(key: KeyRef): Promise<KeyVersionFacts[]>;
  /** The key's current version (a versionless GET): the newest, whatever the created times say. */
  readKey(key: KeyRef): Promise<KeyVersionFacts>;
  disableVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
  /** Enables a version again (a restore), merging `tags`. */
  enableVersion(key: KeyRef, version: string, tags: Record<string, string>): Promise<StepOutcome>;
}

export interface ApplyDeps {
  keyVault: ApplyKeyVault;
  consumerAdapter(kind: ConsumerKind): ApplyConsumerAdapter;
  journal: Journal;
  publisher: OutcomePublisher;
  log: RotatorLog;
  repointConcurrency: number;
  /** Where a restore freezes the key's retirement (without it, a restore freezes nothing: unit tests). */
  freezes?: FreezeStore;
  /**
   * A fresh discovery of the consumers and the keys they reference, so the check just before a
   * disable also sees consumers the observation did not (pointed at the key since). Run once
   * per apply, at the first disable; a failure withholds the disables.
   */
  discoverConsumers?: () => Promise<{ id: string; kind: ConsumerKind; keys: KeyRef[] }[]>;
  /** The longest Retry-After waited for inside one invocation (default 5 s); longer ones are left to the next run. */
  maxInlineRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface ApplyRun {
  runId: string;
  /** "event", "timer", "emergency", "http", ... */
  trigger: string;
  mode: RotatorMode;
  now: Date;
  /**
   * A run that must end before the function timeout: keys are taken in `keyOrder` (every key
   * of the plan, by `keyRefId`), and once `passed()` no further key is begun (the first key
   * always is, so every run gets somewhere). The keys left are in the report's `notReached`.
   */
  deadline?: { keyOrder: readonly string[]; passed(): boolean };
}

export type StepStatus = StepOutcome["status"] | "skipped";

export interface StepReport {
  type: "repoint" | "disable" | "restore" | "migrate";
  keyId: string;
  version: string;
  consumerId?: string;
  pin?: PinName;
  status: StepStatus;
  detail: string;
  reason?: string;
}

export interface ApplyReport {
  steps: StepReport[];
  /** Outcome events that could not be delivered (logged and journaled, never fatal). */
  publishFailures: string[];
  /** What became of the run's outcome events (absent when it had none, or in report mode). */
  outcomeEvents?: PublishResult;
  /** Keys (`keyRefId`, in the run's order) not begun because the run's deadline passed. */
  notReached?: string[];
}

const TAG_VALUE_LIMIT = 256;
const DEFAULT_MAX_INLINE_RETRY_AFTER_MS = 5_000;
const INLINE_RETRIES = 2;
/** Journal reads of the holds' de-duplication in flight at once (as the views read them). */
const JOURNAL_READ_CONCURRENCY = 8;

function truncateTag(value: string): string {
  return value.length > TAG_VALUE_LIMIT ? `${value.slice(0, TAG_VALUE_LIMIT - 3)}...` : value;
}

/** The tags a disable writes on the version: who, when, and the evidence it relied on. */
export function evidenceTags(action: DisableAction, run: ApplyRun): Record<string, string> {
  const e = action.evidence;
  return {
    [TAGS.disabledBy]: truncateTag(`cmk-rotator ${run.trigger} run ${run.runId}`),
    [TAGS.disabledAt]: run.now.toISOString(),
    [TAGS.evidence]: truncateTag(
      `no use by others in workspace ${e.workspaceId} from ${e.windowFrom.toISOString()} to ${e.windowTo.toISOString()}; ` +
        `log pipeline proven current by canary at ${e.canarySeenAt.toISOString()}; ` +
        `superseded ${e.supersededAt.toISOString()}; quiet period ${formatIsoDuration(e.quietPeriodMs)}`,
    ),
    [TAGS.lastUse]: e.lastUse ? e.lastUse.toISOString() : `none since ${e.windowFrom.toISOString()}`,
  };
}

/** The tags a restore writes on the version: when, and why (the signs, and who failed). */
export function restoreTags(action: RestoreAction, run: ApplyRun): Record<string, string> {
  const who = [...new Set(action.signs.map((sign) => sign.who))].join(", ");
  return {
    [TAGS.restoredAt]: run.now.toISOString(),
    [TAGS.restoredReason]: truncateTag(
      `${action.reason} (cmk-rotator ${run.trigger} run ${run.runId}): needed by ${who}; disabled ${action.disabledAt.toISOString()}`,
    ),
  };
}

type Recheck =
  | { ok: true }
  | { ok: false; status: "pending" | "failed" | "skipped"; reason: string; detail: string };

/** Begins a write on the observed consumer `consumerId`; a consumer not in the observation fails the step. */
async function onObservedConsumer(
  snapshot: Snapshot,
  consumerId: string,
  what: string,
  begin: (consumer: ConsumerSnapshot) => Promise<StepOutcome>,
): Promise<StepOutcome> {
  const consumer = snapshot.consumers.find((c) => c.id === consumerId);
  if (consumer) return begin(consumer);
  return {
    status: "failed",
    reason: "consumer-not-observed",
    detail: `${what}: the consumer is not in the observation`,
  };
}

export class PlanApplier {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxInlineRetryAfterMs: number;

  constructor(private readonly deps: ApplyDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxInlineRetryAfterMs = deps.maxInlineRetryAfterMs ?? DEFAULT_MAX_INLINE_RETRY_AFTER_MS;
  }

  async apply(plan: Plan, snapshot: Snapshot, run: ApplyRun): Promise<ApplyReport> {
    const report: ApplyReport = { steps: [], publishFailures: [] };
    const events: OutcomeEvent[] = [];
    // The way back first: a version someone still needs is enabled before anything else happens.
    for (const restore of plan.restores ?? []) report.steps.push(await this.restore(restore, run, events));
    await this.noticeRestoresNeeded(plan.restoresNeeded ?? [], run, events);
    await this.recordDecisions(plan, run, events);

    // Keys in the run's order; a key is begun as a whole or, once the deadline passed, not at all.
    const order = new Map((run.deadline?.keyOrder ?? []).map((keyId, index) => [keyId, index]));
    const rank = (action: PlannedAction) => order.get(keyRefId(action.key)) ?? order.size;
    const begun = new Set<string>();
    const notReached = new Set<string>();
    const mayBegin = (keyId: string): boolean => {
      if (begun.has(keyId)) return true;
      if (notReached.has(keyId)) return false;
      if (run.deadline && begun.size > 0 && run.deadline.passed()) {
        notReached.add(keyId);
        return false;
      }
      begun.add(keyId);
      return true;
    };
    const inOrder = [...plan.actions].sort((a, b) => rank(a) - rank(b));
    const repoints = inOrder.filter(
      (a): a is RepointAction | MigrateAction => a.type === "repoint" || a.type === "migrate",
    );
    const disables = inOrder.filter((a): a is DisableAction => a.type === "disable");

    // One pin at a time per consumer: a second update while the first runs would only get a 409.
    const byConsumer = new Map<string, (RepointAction | MigrateAction)[]>();
    for (const action of repoints) {
      const group = byConsumer.get(action.consumerId) ?? [];
      group.push(action);
      byConsumer.set(action.consumerId, group);
    }
    const groups = await mapLimited([...byConsumer.values()], this.deps.repointConcurrency, async (group) => {
      const steps: StepReport[] = [];
      for (const action of group) {
        if (!mayBegin(keyRefId(action.key))) continue;
        steps.push(
          action.type === "migrate"
            ? await this.migrate(action, snapshot, run, events)
            : await this.repoint(action, snapshot, run, events),
        );
      }
      return steps;
    });
    for (const steps of groups) report.steps.push(...steps);

    let discovery: ReturnType<NonNullable<ApplyDeps["discoverConsumers"]>> | undefined;
    const discovered = this.deps.discoverConsumers
      ? () => {
          discovery ??= this.deps.discoverConsumers!();
          return discovery;
        }
      : undefined;
    for (const action of disables) {
      if (!mayBegin(keyRefId(action.key))) continue;
      report.steps.push(await this.disable(action, snapshot, run, events, discovered));
    }
    if (notReached.size > 0)
      report.notReached = [...notReached].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));

    if (run.mode === "enforce") await this.publish(events, run, report);
    return report;
  }

  private async repoint(
    action: RepointAction,
    snapshot: Snapshot,
    run: ApplyRun,
    events: OutcomeEvent[],
  ): Promise<StepReport> {
    const keyId = keyRefId(action.key);
    const step: StepReport = {
      type: "repoint",
      keyId,
      version: action.to,
      consumerId: action.consumerId,
      pin: action.pin,
      status: "skipped",
      detail: "",
    };
    const what = `repoint ${action.consumerKind} ${action.consumerId} pin ${action.pin} of ${keyId} from ${action.from} to ${action.to}`;
    if (run.mode === "report") {
      step.detail = `would ${what}`;
      await this.journal(run, keyId, "repoint", "skipped", "report-mode", step.detail, action);
      return step;
    }
    const outcome = await onObservedConsumer(snapshot, action.consumerId, what, (consumer) =>
      this.beginRepointWithRetries(consumer, action, what, snapshot),
    );
    Object.assign(step, this.stepFields(outcome));
    const fields = {
      key: keyId,
      version: action.to,
      fromVersion: action.from,
      consumer: action.consumerId,
      pin: action.pin,
    };
    if (outcome.status === "done") {
      this.deps.log.info("repoint begun", { ...fields, detail: outcome.detail });
      await this.journal(
        run,
        keyId,
        "repoint",
        "done",
        action.reason,
        `${what}: update begun; verified at the next observation`,
        action,
      );
      events.push(
        this.repointEvent("ConsumerRepointed", action, run, action.reason, `${what}: update begun`),
      );
    } else if (outcome.status === "pending") {
      this.deps.log.info("repoint pending", { ...fields, detail: outcome.detail });
      await this.journal(run, keyId, "repoint", "pending", "pending", `${what}: ${outcome.detail}`, action);
    } else {
      this.deps.log.error("repoint failed", { ...fields, reason: outcome.reason, detail: outcome.detail });
      await this.journal(
        run,
        keyId,
        "repoint",
        "failed",
        outcome.reason,
        `${what} failed: ${outcome.detail}`,
        action,
      );
      events.push(this.repointEvent("RepointFailed", action, run, outcome.reason, outcome.detail));
    }
    return step;
  }

  /** A consumer's move to a migration's destination key: as a repoint, with its own events. */
  private async migrate(
    action: MigrateAction,
    snapshot: Snapshot,
    run: ApplyRun,
    events: OutcomeEvent[],
  ): Promise<StepReport> {
    const keyId = keyRefId(action.key);
    const toKeyId = keyRefId(action.toKey);
    const step: StepReport = {
      type: "migrate",
      keyId,
      version: action.to ?? "",
      consumerId: action.consumerId,
      pin: action.pin,
      status: "skipped",
      detail: "",
    };
    const what = `move ${action.consumerKind} ${action.consumerId} pin ${action.pin} from ${keyId}${action.from ? ` version ${action.from}` : ""} to ${toKeyId}${action.to ? ` version ${action.to}` : " (versionless)"}`;
    const subject = {
      ...(action.to ? { to: action.to } : {}),
      consumerId: action.consumerId,
      pin: action.pin,
    };
    if (run.mode === "report") {
      step.detail = `would ${what}`;
      await this.journal(run, keyId, "migrate", "skipped", "report-mode", step.detail, subject);
      return step;
    }
    const outcome = await onObservedConsumer(snapshot, action.consumerId, what, async (consumer) => {
      const adapter = this.deps.consumerAdapter(consumer.kind);
      const move: KeyMove = { from: action.key, to: action.toKey, toVersion: action.to };
      return adapter.beginMigrate
        ? await this.withInlineRetries(what, () => adapter.beginMigrate!(consumer, action.pin, move))
        : {
            status: "failed",
            reason: "unsupported",
            detail: `${what}: the ${consumer.kind} adapter cannot move a consumer to another key`,
          };
    });
    Object.assign(step, this.stepFields(outcome));
    const fields = {
      key: keyId,
      toKey: toKeyId,
      version: action.to ?? "versionless",
      consumer: action.consumerId,
      pin: action.pin,
    };
    const event = (name: "ConsumerMigrated" | "MigrationFailed", reason: string, message: string) => ({
      name,
      subject: action.consumerId,
      at: run.now,
      data: {
        key: keyId,
        keyId: keyIdOf(action.key),
        version: action.to ?? "",
        ...(action.from ? { fromVersion: action.from } : {}),
        consumer: action.consumerId,
        consumerKind: action.consumerKind,
        pin: action.pin,
        toKey: toKeyId,
        toKeyId: keyIdOf(action.toKey),
        reason,
        message,
      },
    });
    if (outcome.status === "done") {
      this.deps.log.info("move to the destination key begun", { ...fields, detail: outcome.detail });
      // Journaled under both keys: the source's journal shows what left, the destination's what came.
      for (const id of [keyId, toKeyId])
        await this.journal(
          run,
          id,
          "migrate",
          "done",
          action.reason,
          `${what}: update begun; verified at the next observation`,
          subject,
        );
      events.push(event("ConsumerMigrated", action.reason, `${what}: update begun`));
    } else if (outcome.status === "pending") {
      this.deps.log.info("move to the destination key pending", { ...fields, detail: outcome.detail });
      await this.journal(run, keyId, "migrate", "pending", "pending", `${what}: ${outcome.detail}`, subject);
    } else {
      this.deps.log.error("move to the destination key failed", {
        ...fields,
        reason: outcome.reason,
        detail: outcome.detail,
      });
      await this.journal(
        run,
        keyId,
        "migrate",
        "failed",
        outcome.reason,
        `${what} failed: ${outcome.detail}`,
        subject,
      );
      events.push(event("MigrationFailed", outcome.reason, outcome.detail));
    }
    return step;
  }

  /** Calls `begin` again after a short Retry-After (at most INLINE_RETRIES times); anything longer is left to the next run. */
  private async withInlineRetries(what: string, begin: () => Promise<StepOutcome>): Promise<StepOutcome> {
    for (let attempt = 0; ; attempt++) {
      let outcome: StepOutcome;
      try {
        outcome = await begin();
      } catch (error) {
        outcome = {
          status: "failed",
          reason: "unexpected-error",
          detail: `${what}: ${describeError(error)}`,
        };
      }
      const wait = outcome.status === "pending" ? outcome.retryAfterMs : undefined;
      if (wait === undefined || wait > this.maxInlineRetryAfterMs || attempt >= INLINE_RETRIES)
        return outcome;
      await this.sleep(wait);
    }
  }

  private async beginRepointWithRetries(
    consumer: ConsumerSnapshot,
    action: RepointAction,
    what: string,
    snapshot: Snapshot,
  ): Promise<StepOutcome> {
    const adapter = this.deps.consumerAdapter(consumer.kind);
    // No downgrade: the write may replace only versions the observation knows to be older than the target.
    const keySnapshot = snapshot.keys.find((candidate) => sameKey(candidate.key, action.key));
    const guard: RepointGuard = {
      replaceable: keySnapshot
        ? versionsOlderThan(keySnapshot.versions, action.to, keySnapshot.currentVersion)
        : new Set(),
    };
    return this.withInlineRetries(what, () => adapter.beginRepoint(consumer, action.pin, action.to, guard));
  }

  private async disable(
    action: DisableAction,
    snapshot: Snapshot,
    run: ApplyRun,
    events: OutcomeEvent[],
    discovered: ApplyDeps["discoverConsumers"],
  ): Promise<StepReport> {
    const keyId = keyRefId(action.key);
    const what = `disable ${keyId} version ${action.version}`;
    const step: StepReport = {
      type: "disable",
      keyId,
      version: action.version,
      status: "skipped",
      detail: "",
    };
    if (run.mode === "report") {
      step.detail = `would ${what}: ${action.message}`;
      await this.journal(run, keyId, "disable", "skipped", "report-mode", step.detail, action);
      return step;
    }
    const recheck = await this.recheckBeforeDisable(action, snapshot, discovered);
    if (!recheck.ok) {
      step.status = recheck.status;
      step.reason = recheck.reason;
      step.detail = `${what} not done: ${recheck.detail}`;
      this.deps.log.warn("disable withheld by live re-check", {
        key: keyId,
        version: action.version,
        reason: recheck.reason,
        detail: recheck.detail,
      });
      const outcome: JournalOutcome = recheck.status === "failed" ? "failed" : "held";
      await this.journal(run, keyId, "disable", outcome, recheck.reason, step.detail, action);
      return step;
    }
    let outcome: StepOutcome;
    try {
      outcome = await this.deps.keyVault.disableVersion(
        action.key,
        action.version,
        evidenceTags(action, run),
      );
    } catch (error) {
      outcome = { status: "failed", reason: "unexpected-error", detail: describeError(error) };
    }
    Object.assign(step, this.stepFields(outcome));
    const fields = { key: keyId, version: action.version };
    if (outcome.status === "done") {
      this.deps.log.info("version disabled", { ...fields, reason: action.reason });
      await this.journal(run, keyId, "disable", "done", action.reason, `${what}: ${action.message}`, action);
      events.push({
        name: "VersionDisabled",
        subject: keyIdOf(action.key, action.version),
        at: run.now,
        data: {
          key: keyId,
          keyId: keyIdOf(action.key),
          version: action.version,
          reason: action.reason,
          message: action.message,
        },
      });
    } else if (outcome.status === "pending") {
      this.deps.log.info("disable pending", { ...fields, detail: outcome.detail });
      await this.journal(run, keyId, "disable", "pending", "pending", `${what}: ${outcome.detail}`, action);
    } else {
      this.deps.log.error("disable failed", { ...fields, reason: outcome.reason, detail: outcome.detail });
      await this.journal(
        run,
        keyId,
        "disable",
        "failed",
        outcome.reason,
        `${what} failed: ${outcome.detail}`,
        action,
      );
    }
    return step;
  }

  /** DESIGN.md: "re-checked live at decision time". Any doubt withholds the disable. */
  private async recheckBeforeDisable(
    action: DisableAction,
    snapshot: Snapshot,
    discovered: ApplyDeps["discoverConsumers"],
  ): Promise<Recheck> {
    let versions: KeyVersionFacts[];
    let current: KeyVersionFacts;
    try {
      current = await this.deps.keyVault.readKey(action.key);
      versions = orderVersions(await this.deps.keyVault.listVersions(action.key), current.version);
    } catch (error) {
      return {
        ok: false,
        status: "pending",
        reason: "recheck-failed",
        detail: `re-reading the versions failed: ${describeError(error)}`,
      };
    }
    const facts = versions.find((v) => v.version === action.version);
    if (!facts)
      return { ok: false, status: "failed", reason: "not-found", detail: "the version no longer exists" };
    if (!facts.enabled)
      return {
        ok: false,
        status: "skipped",
        reason: "already-disabled",
        detail: "the version is already disabled",
      };
    const newestEnabled = versions.filter((v) => v.enabled).at(-1);
    const isNewest = newestEnabled?.version === action.version || current.version === action.version;
    if (isNewest && !action.retiresMigrationSource) {
      return {
        ok: false,
        status: "skipped",
        reason: "newest-version",
        detail: "it is the newest enabled version now",
      };
    }
    const consumersOfKey = new Map<string, { id: string; kind: ConsumerKind }>();
    for (const consumer of snapshot.consumers) {
      // Also a consumer that still reports the version in use under another key (moved by a migration).
      const reportsIt = Object.values(consumer.inUse).some((inUse) => inUse === action.version);
      if (reportsIt || consumer.pins.some((pin) => sameKey(pin.key, action.key)))
        consumersOfKey.set(consumer.id.toLowerCase(), consumer);
    }
    if (discovered) {
      try {
        for (const found of await discovered()) {
          if (found.keys.some((key) => sameKey(key, action.key)))
            consumersOfKey.set(found.id.toLowerCase(), found);
        }
      } catch (error) {
        return {
          ok: false,
          status: "pending",
          reason: "recheck-failed",
          detail: `discovering the consumers of the key again failed: ${describeError(error)}`,
        };
      }
    }
    for (const observed of consumersOfKey.values()) {
      let fresh: ConsumerSnapshot;
      try {
        fresh = await this.deps.consumerAdapter(observed.kind).read(observed.id);
      } catch (error) {
        return {
          ok: false,
          status: "pending",
          reason: "recheck-failed",
          detail: `re-reading consumer ${observed.id} failed: ${describeError(error)}`,
        };
      }
      const pinsOfKey = fresh.pins.filter((pin) => sameKey(pin.key, action.key));
      if (action.retiresMigrationSource && pinsOfKey.length > 0) {
        return {
          ok: false,
          status: "skipped",
          reason: "source-still-referenced",
          detail: `consumer ${fresh.id} references the migrated key on ${pinsOfKey[0]?.pin}; its newest version stays enabled`,
        };
      }
      const pinned = pinsOfKey.find((pin) => pin.version === action.version);
      if (pinned) {
        return {
          ok: false,
          status: "skipped",
          reason: "pinned-by-consumer",
          detail: `consumer ${fresh.id} (identity ${fresh.identity ?? "unknown"}) pins it on ${pinned.pin}`,
        };
      }
      const inUse =
        pinsOfKey.find((pin) => fresh.inUse[pin.pin] === action.version) ??
        fresh.pins.find((pin) => fresh.inUse[pin.pin] === action.version);
      if (inUse) {
        return {
          ok: false,
          status: "skipped",
          reason: "in-use-by-consumer",
          detail: `consumer ${fresh.id} (identity ${fresh.identity ?? "unknown"}) still uses it on ${inUse.pin}`,
        };
      }
      if (pinsOfKey.length > 0 && fresh.provisioningState && fresh.provisioningState !== "Succeeded") {
        return {
          ok: false,
          status: "skipped",
          reason: "repoint-in-progress",
          detail: `consumer ${fresh.id} is ${fresh.provisioningState}; its key reference may still change`,
        };
      }
    }
    return { ok: true };
  }

  /**
   * Enables a version the service disabled, because someone still needs it: tags it with when,
   * why and who failed, journals it, publishes VersionRestored and freezes retirement of the
   * key. In report mode it journals what it would do and changes nothing.
   */
  private async restore(action: RestoreAction, run: ApplyRun, events: OutcomeEvent[]): Promise<StepReport> {
    const keyId = keyRefId(action.key);
    const what = `restore ${keyId} version ${action.version}`;
    const step: StepReport = {
      type: "restore",
      keyId,
      version: action.version,
      status: "skipped",
      detail: "",
    };
    if (run.mode === "report") {
      step.detail = `would ${what}, and freeze retirement of the key: ${action.message}`;
      await this.journal(run, keyId, "restore", "skipped", "report-mode", step.detail, action);
      return step;
    }
    let outcome: StepOutcome;
    try {
      outcome = await this.deps.keyVault.enableVersion(action.key, action.version, restoreTags(action, run));
    } catch (error) {
      outcome = { status: "failed", reason: "unexpected-error", detail: describeError(error) };
    }
    Object.assign(step, this.stepFields(outcome));
    const neededBy = [...new Set(action.signs.map((sign) => sign.who))];
    const fields = {
      key: keyId,
      version: action.version,
      reason: action.reason,
      neededBy: neededBy.join(", "),
    };
    if (outcome.status !== "done") {
      const detail = outcome.detail;
      this.deps.log.error("restore failed", { ...fields, detail });
      await this.journal(
        run,
        keyId,
        "restore",
        outcome.status === "failed" ? "failed" : "pending",
        outcome.status === "failed" ? outcome.reason : "pending",
        `${what} not done (the next run tries again): ${detail}`,
        action,
      );
      return step;
    }
    this.deps.log.warn("version restored", fields);
    await this.journal(run, keyId, "restore", "done", action.reason, `${what}: ${action.message}`, {
      version: action.version,
      consumerId: neededBy.join(", ").slice(0, 1000),
    });
    events.push({
      name: "VersionRestored",
      subject: keyIdOf(action.key, action.version),
      at: run.now,
      data: {
        key: keyId,
        keyId: keyIdOf(action.key),
        version: action.version,
        neededBy,
        triggers: [...new Set(action.signs.map((sign) => sign.trigger))],
        reason: action.reason,
        message: action.message,
      },
    });
    await this.freezeAfterRestore(action, run, keyId);
    return step;
  }

  private async freezeAfterRestore(action: RestoreAction, run: ApplyRun, keyId: string): Promise<void> {
    if (!this.deps.freezes) return;
    try {
      const frozen = await this.deps.freezes.freeze(keyId, {
        reason: `version ${action.version} was restored (${action.reason}): needed by ${[...new Set(action.signs.map((sign) => sign.who))].join(", ")}`,
        at: run.now,
        by: "cmk-rotator",
      });
      if (frozen.changed) {
        await this.journal(
          run,
          keyId,
          "freeze",
          "done",
          "retirement-frozen",
          `retirement of ${keyId} frozen: ${frozen.record.reason}`,
          {
            version: action.version,
          },
        );
      }
    } catch (error) {
      // Not frozen: the next plan sees the restore tags, not a freeze; it logs loudly and retries.
      this.deps.log.error("freezing the key after a restore failed", {
        key: keyId,
        version: action.version,
        detail: describeError(error),
      });
      await this.journal(
        run,
        keyId,
        "freeze",
        "failed",
        "freeze-failed",
        `freezing retirement of ${keyId} after restoring ${action.version} failed: ${describeError(error)}`,
        {
          version: action.version,
        },
      );
    }
  }

  /**
   * A compromised version someone still needs is never enabled again automatically: RestoreNeeded
   * names who failed, once per failure episode (a version with a new set of failing callers is a
   * new episode; the same callers failing run after run are not), journaled as `restore-needed`.
   */
  private async noticeRestoresNeeded(
    notices: readonly RestoreNeeded[],
    run: ApplyRun,
    events: OutcomeEvent[],
  ): Promise<void> {
    for (const notice of notices) {
      const keyId = keyRefId(notice.key);
      const neededBy = [...new Set(notice.signs.map((sign) => sign.who))].sort();
      const episode = neededBy.join(", ").slice(0, 1000);
      let recent: JournalEntry[] = [];
      try {
        recent = await this.deps.journal.recent(keyId, 100);
      } catch (error) {
        this.deps.log.warn("could not read the journal to de-duplicate restore notices", {
          key: keyId,
          detail: describeError(error),
        });
      }
      const last = recent.find(
        (entry) => entry.action === "restore-needed" && entry.version === notice.version,
      );
      if (last && last.consumerId === episode && last.mode === run.mode) continue;
      this.deps.log.error("compromised version still needed: an operator decides", {
        key: keyId,
        version: notice.version,
        neededBy: episode,
      });
      await this.journal(
        run,
        keyId,
        "restore-needed",
        run.mode === "report" ? "skipped" : "held",
        notice.reason,
        notice.message,
        { version: notice.version, consumerId: episode },
      );
      events.push({
        name: "RestoreNeeded",
        subject: keyIdOf(notice.key, notice.version),
        at: run.now,
        data: {
          key: keyId,
          keyId: keyIdOf(notice.key),
          version: notice.version,
          neededBy,
          triggers: [...new Set(notice.signs.map((sign) => sign.trigger))],
          reason: notice.reason,
          message: notice.message,
        },
      });
    }
  }

  /** Holds and blocks change nothing; they are journaled when they first appear or change reason. */
  private async recordDecisions(plan: Plan, run: ApplyRun, events: OutcomeEvent[]): Promise<void> {
    const decisions: (Hold | Block)[] = [...plan.blocks, ...plan.holds];
    const byKey = new Map<string, (Hold | Block)[]>();
    for (const decision of decisions) {
      const keyId = keyRefId(decision.key);
      const keyDecisions = byKey.get(keyId);
      if (keyDecisions) keyDecisions.push(decision);
      else byKey.set(keyId, [decision]);
    }
    // The keys' journals are read a few at a time (each read waits on the table); the decisions
    // are then journaled key after key, in the plan's order.
    const keys = [...byKey.keys()];
    const recentByKey = await mapLimited(keys, JOURNAL_READ_CONCURRENCY, async (keyId) => {
      try {
        return await this.deps.journal.recent(keyId, 100);
      } catch (error) {
        this.deps.log.warn("could not read the journal to de-duplicate holds", {
          key: keyId,
          detail: describeError(error),
        });
        return [] as JournalEntry[];
      }
    });
    for (const [index, keyId] of keys.entries()) {
      const recent = recentByKey[index] ?? [];
      const keyDecisions = byKey.get(keyId) ?? [];
      for (const decision of keyDecisions) {
        const action: JournalAction = decision.type;
        // Per consumer too: two consumers held on one version (or two followers, version "") are two entries.
        const concerns = decision.type === "hold" ? decision.concerns : undefined;
        const last = recent.find(
          (entry) =>
            entry.action === action &&
            entry.version === decision.version &&
            (concerns === undefined || entry.consumerId === undefined || entry.consumerId === concerns),
        );
        const unchanged = last !== undefined && last.reason === decision.reason && last.mode === run.mode;
        if (decision.type === "block") {
          this.deps.log.warn("rotation blocked", {
            key: keyId,
            version: decision.version,
            reason: decision.reason,
          });
        }
        if (unchanged) continue;
        await this.journal(
          run,
          keyId,
          action,
          decision.type === "block" ? "blocked" : "held",
          decision.reason,
          decision.message,
          {
            version: decision.version,
            ...(decision.type === "hold" && decision.concerns ? { consumerId: decision.concerns } : {}),
          },
        );
        if (decision.type === "block") {
          events.push({
            name: "RotationBlocked",
            subject: keyIdOf(decision.key, decision.version),
            at: run.now,
            data: {
              key: keyId,
              keyId: keyIdOf(decision.key),
              version: decision.version,
              reason: decision.reason,
              message: decision.message,
            },
          });
        }
      }
    }
  }

  private repointEvent(
    name: "ConsumerRepointed" | "RepointFailed",
    action: RepointAction,
    run: ApplyRun,
    reason: string,
    message: string,
  ): OutcomeEvent {
    return {
      name,
      subject: action.consumerId,
      at: run.now,
      data: {
        key: keyRefId(action.key),
        keyId: keyIdOf(action.key),
        version: action.to,
        fromVersion: action.from,
        consumer: action.consumerId,
        consumerKind: action.consumerKind,
        pin: action.pin,
        reason,
        message,
      },
    };
  }

  /**
   * Publishes the run's outcome events. The publisher batches, retries and keeps what it could
   * not deliver for a later run; what it reports undelivered is logged and journaled per key
   * (pending when kept for republishing, failed when lost). Never throws.
   */
  private async publish(events: OutcomeEvent[], run: ApplyRun, report: ApplyReport): Promise<void> {
    if (events.length === 0) return;
    let result: PublishResult;
    try {
      result = await this.deps.publisher.publish(events);
    } catch (error) {
      result = {
        published: events.length,
        delivered: 0,
        kept: 0,
        lost: events.length,
        failures: [describeError(error)],
      };
    }
    report.outcomeEvents = result;
    if (result.delivered >= result.published) return;
    const undelivered = result.published - result.delivered;
    const names = [...new Set(events.map((e) => e.name))].join(", ");
    const detail =
      `${undelivered} of ${result.published} outcome event(s) (${names}) not delivered: ` +
      `${result.kept} kept for the next run to republish, ${result.lost} lost; ${result.failures.join("; ")}`;
    report.publishFailures.push(detail);
    this.deps.log.error("outcome events not delivered", {
      published: result.published,
      delivered: result.delivered,
      kept: result.kept,
      lost: result.lost,
      detail,
    });
    const outcome: JournalOutcome = result.lost > 0 ? "failed" : "pending";
    const reason = result.lost > 0 ? "publish-failed" : "publish-deferred";
    const keys = new Set(events.map((e) => e.data.key));
    for (const keyId of keys) await this.journal(run, keyId, "publish-event", outcome, reason, detail, {});
  }

  private stepFields(outcome: StepOutcome): Pick<StepReport, "status" | "detail" | "reason"> {
    if (outcome.status === "failed")
      return { status: "failed", detail: outcome.detail, reason: outcome.reason };
    return { status: outcome.status, detail: outcome.detail ?? "" };
  }

  private async journal(
    run: ApplyRun,
    keyId: string,
    action: JournalAction,
    outcome: JournalOutcome,
    reason: string,
    message: string,
    subject: { version?: string; to?: string; consumerId?: string; pin?: string },
  ): Promise<void> {
    const version = subject.to ?? subject.version;
    const entry: JournalEntry = {
      at: run.now,
      keyId,
      action,
      outcome,
      reason,
      message,
      runId: run.runId,
      trigger: run.trigger,
      mode: run.mode,
      ...(version ? { version } : {}),
      ...(subject.consumerId ? { consumerId: subject.consumerId } : {}),
      ...(subject.pin ? { pin: subject.pin } : {}),
    };
    try {
      await this.deps.journal.record(entry);
    } catch (error) {
      // The journal must not stop a rotation half-way; the structured log keeps the step.
      this.deps.log.error("journal write failed", {
        key: keyId,
        action,
        outcome,
        reason,
        detail: describeError(error),
      });
    }
  }
}
