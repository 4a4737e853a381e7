/**
 * A simulated world as untidy as Azure, driven round by round by the real planner:
 *
 * - consumers of one key: pinned and versionless Kusto clusters, Cosmos DB accounts (with
 *   their own identity or the Azure Cosmos DB first-party app, some with backups), Cassandra
 *   clusters of one or two data centers sharing the cluster's identity;
 * - each unwraps on its own cadence, regular or (Kusto) rarer than the quiet period, and moves to a new
 *   version by a re-wrap (unwrap the old, wrap the new, at one instant) after its own lag: a
 *   follower after its pick-up delay, a pinned Kusto cluster some time after its update finished,
 *   a Cassandra data center when its update finishes;
 * - Kusto clusters stop and start, Cassandra clusters are deallocated; a stopped consumer makes
 *   no calls, and when it starts it first unwraps the version its data is wrapped with;
 * - callers nobody knows about (no consumer resource) use a version every P ≤ Q − L;
 * - every audit record arrives within L (ROTATOR_MAX_INGESTION_LATENCY), in any order;
 * - with faults, audit queries come back partial, actions are lost and updates take long.
 *
 * Each round the service observes (the snapshot a real observation would build), plans with
 * `plan`, and its actions are applied. A *wrong disable* is disabling a version that some
 * consumer unwraps later: the version its data is wrapped with (it unwraps it on its cadence,
 * at its switch and when it starts), one its backups still need, or one an active stray uses.
 */

import fc from "fast-check";
import type {
  AuditEvidence,
  ConsumerKind,
  ConsumerSnapshot,
  KeyVersionFacts,
  Plan,
  Policy,
  Snapshot,
  VersionUse,
} from "../../../src/model.js";
import { COSMOS_FIRST_PARTY_APP_ID, isProvisioningBusy, keyRefId } from "../../../src/model.js";
import { needsFreshListings, planOnFreshReads } from "../../../src/plan/freshReads.js";
import { plan } from "../../../src/plan/plan.js";
import {
  aPolicy,
  aVersion,
  DAY,
  HOUR,
  NOW,
  SERVICE_PRINCIPAL_ID,
  WORKSPACE_ID,
} from "../../builders/index.js";
import { KEY } from "./historyArbitrary.js";

export type UnitKind = "kusto-pinned" | "kusto-follower" | "cosmos" | "cosmos-first-party" | "cassandra";

export interface ConsumerSpec {
  kind: UnitKind;
  /** Data centers of a Cassandra cluster (1 or 2); 1 otherwise. */
  dataCenters: number;
  /** Unwraps at least every quarter quiet period, or rarer than the quiet period (1 to 3 Q). */
  rare: boolean;
  /** Its cadence within the band, 0..1. */
  cadence: number;
  /** Lag as a fraction of Q: a follower's pick-up delay (up to 2 Q), a pinned consumer's switch after its update finished (up to Q/2). */
  lag: number;
  /** Which of the initial versions its data (and pin) starts on, counted from the newest. */
  startsBack: number;
  /** Stopped from this round (-1: since before the evidence window) for `stopRounds` rounds (null: until the world settles). */
  stop: { atRound: number; stopRounds: number | null } | null;
  /** Backup retention as a fraction of Q (Cosmos only), or null. */
  backups: number | null;
}

export interface StraySpec {
  /** Which of the initial versions it uses, counted from the newest. */
  startsBack: number;
  /** Its period P as a fraction of Q − L (so P + L ≤ Q). */
  period: number;
  /** Active for this many rounds (it stops using the version then). */
  rounds: number;
}

export interface WorldSpec {
  quietPeriodMs: number;
  /** L as a fraction of Q (0 to 1/2). */
  latency: number;
  /** The timer interval as a fraction of Q. */
  step: number;
  initialVersions: number;
  /** Rounds of the active phase at which a new version is created. */
  rotations: number[];
  consumers: ConsumerSpec[];
  strays: StraySpec[];
  faulty: boolean;
  seed: number;
}

export const ACTIVE_ROUNDS = 12;
const FIRST_PARTY_PRINCIPAL = "77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f";

/** Deterministic pseudo-random numbers from a seed (mulberry32). */
export function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface AuditRecord {
  time: number;
  arrival: number;
  version: string;
  caller: string;
  appId?: string;
  own: boolean;
}

interface Unit {
  id: string;
  kind: ConsumerKind;
  spec: ConsumerSpec;
  /** Stop/start group: a Cassandra cluster's data centers stop together. */
  group: string;
  principal: string;
  appId?: string;
  pinned: boolean;
  /** What its key setting names (pinned), or null (follower). */
  pin: string | null;
  /** The version its data is wrapped with. */
  data: string;
  cadenceMs: number;
  nextUseAt: number;
  lagMs: number;
  /** The target it has noticed and since when. */
  noticed?: { version: string; at: number };
  /** Its update runs until then (provisioningState Updating). */
  updateUntil?: number;
  running: boolean;
  backupRetentionMs?: number;
  /** When it stopped using each version (its re-wrap off it). */
  offAt: Map<string, number>;
}

interface Stray {
  caller: string;
  version: string;
  periodMs: number;
  nextUseAt: number;
  stopAt: number;
}

interface Stop {
  group: string;
  from: number;
  /** Infinity: until the world settles. */
  until: number;
}

export class SimulatedWorld {
  readonly policy: Policy;
  readonly stepMs: number;
  readonly latencyMs: number;
  now = NOW.getTime();
  versions: KeyVersionFacts[] = [];
  units: Unit[] = [];
  strays: Stray[] = [];
  records: AuditRecord[] = [];
  stops: Stop[] = [];
  disables = 0;
  round = 0;
  private readonly random: () => number;
  private readonly windowMs: number;

  constructor(readonly spec: WorldSpec) {
    const q = spec.quietPeriodMs;
    this.random = randomFrom(spec.seed);
    this.latencyMs = Math.round(q * spec.latency);
    this.stepMs = Math.max(1000, Math.round(q * spec.step));
    this.policy = aPolicy({
      quietPeriodMs: q,
      emergencyQuietPeriodMs: q,
      // The previous round's own read is the canary: one timer interval plus the latency old.
      ingestionMarginMs: this.stepMs + this.latencyMs + 1000,
      maxIngestionLatencyMs: this.latencyMs,
    });
    const longestBackup = Math.max(0, ...spec.consumers.map((c) => (c.backups ?? 0) * q));
    this.windowMs = Math.max(q, longestBackup) + this.policy.ingestionMarginMs;
    this.seed();
  }

  private seed(): void {
    const q = this.spec.quietPeriodMs;
    const start = this.now;
    for (let index = 0; index < this.spec.initialVersions; index++) {
      const created = start - (this.spec.initialVersions - index) * 2 * q - 4 * q;
      this.versions.push(aVersion(index, { key: KEY, created: new Date(created) }));
    }
    const initial = (back: number) =>
      this.versions[Math.max(0, this.versions.length - 1 - (back % this.versions.length))]?.version ?? "";
    for (const [index, spec] of this.spec.consumers.entries()) {
      const count = spec.kind === "cassandra" ? spec.dataCenters : 1;
      const group = `g${index}`;
      const principal = `77777777-7777-7777-7777-${String(index).padStart(12, "0")}`;
      // Only Kusto clusters are rare callers: Cosmos DB accounts and Cassandra clusters are busy
      // databases, silent only when stopped (DESIGN.md, "silent when").
      const rare = spec.rare && kindOf(spec) === "kusto";
      const cadenceMs = rare
        ? q * (1 + 2 * spec.cadence)
        : Math.max(1000, (q / 4) * (0.2 + 0.8 * spec.cadence));
      for (let dc = 0; dc < count; dc++) {
        const unitKind = kindOf(spec);
        const follower = spec.kind === "kusto-follower" || unitKind === "cosmos";
        const data = follower ? (this.newestEnabled() ?? "") : initial(spec.startsBack);
        const firstParty = spec.kind === "cosmos-first-party";
        this.units.push({
          id:
            unitKind === "cassandra"
              ? `/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/cassandraClusters/c${index}/dataCenters/dc${dc}`
              : `/subscriptions/s/resourceGroups/rg/providers/sim/${spec.kind}/${index}`,
          kind: unitKind,
          spec,
          group,
          principal: firstParty ? FIRST_PARTY_PRINCIPAL : principal,
          ...(firstParty ? { appId: COSMOS_FIRST_PARTY_APP_ID } : {}),
          pinned: !follower,
          pin: follower ? null : data,
          data,
          cadenceMs,
          nextUseAt: start + this.random() * cadenceMs,
          // A Cassandra data center's update applies the key when it finishes: its read-back is
          // the proof (its data centers share the cluster's identity, so audit records cannot
          // tell them apart). A Kusto cluster may switch after its update finished.
          lagMs: follower ? spec.lag * 2 * q : unitKind === "cassandra" ? 0 : spec.lag * 0.5 * q,
          running: true,
          ...(unitKind === "cosmos" && spec.backups !== null ? { backupRetentionMs: spec.backups * q } : {}),
          offAt: new Map(),
        });
      }
      if (spec.stop) {
        const from =
          spec.stop.atRound < 0 ? start - this.windowMs - q : start + spec.stop.atRound * this.stepMs;
        const until =
          spec.stop.stopRounds === null
            ? Number.POSITIVE_INFINITY
            : from + spec.stop.stopRounds * this.stepMs;
        if (kindOf(spec) !== "cosmos") this.stops.push({ group, from, until });
      }
    }
    for (const [index, spec] of this.spec.strays.entries()) {
      const periodMs = Math.max(1000, (q - this.latencyMs) * (0.05 + 0.95 * spec.period));
      this.strays.push({
        caller: `88888888-8888-8888-8888-${String(index).padStart(12, "0")}`,
        version: initial(spec.startsBack),
        periodMs,
        nextUseAt: start - this.windowMs + this.random() * periodMs,
        stopAt: start + spec.rounds * this.stepMs,
      });
    }
    // The past: every consumer has been using its version (unless stopped then), the service reading the key.
    for (const unit of this.units) {
      for (
        let at = start - this.windowMs + this.random() * unit.cadenceMs;
        at < start;
        at += unit.cadenceMs
      ) {
        if (!this.stoppedAt(unit, at)) this.record(at, unit.data, unit.principal, unit.appId, false);
      }
      if (this.stoppedAt(unit, start)) unit.running = false;
    }
    for (let at = start - this.windowMs - this.stepMs; at < start; at += this.stepMs) this.recordOwn(at);
    for (const stray of this.strays) this.advanceStray(stray, start);
  }

  private stoppedAt(unit: Unit, at: number): boolean {
    return this.stops.some((stop) => stop.group === unit.group && at >= stop.from && at < stop.until);
  }

  private newestEnabled(): string | undefined {
    return this.versions.filter((version) => version.enabled).at(-1)?.version;
  }

  private record(at: number, version: string, caller: string, appId: string | undefined, own: boolean): void {
    // Audit records have whole milliseconds, as the Dates built from them do.
    const time = Math.floor(at);
    this.records.push({
      time,
      arrival: time + this.random() * this.latencyMs,
      version,
      caller,
      ...(appId ? { appId } : {}),
      own,
    });
  }

  private recordOwn(at: number): void {
    const newest = this.versions.at(-1)?.version;
    if (newest) this.record(at, newest, SERVICE_PRINCIPAL_ID, undefined, true);
  }

  /** What the service's observation sees now. */
  observe(faulty: boolean): Snapshot {
    const from = this.now - this.windowMs;
    const visible = this.records.filter((r) => r.arrival <= this.now && r.time >= from && r.time <= this.now);
    this.records = this.records.filter((r) => r.time >= from - this.stepMs);
    const uses = new Map<string, VersionUse>();
    const callerAppIds: Record<string, string> = {};
    let canarySeenAt: number | undefined;
    let canaryFirstSeenAt: number | undefined;
    for (const record of visible) {
      if (record.own) {
        canarySeenAt = Math.max(canarySeenAt ?? record.time, record.time);
        canaryFirstSeenAt = Math.min(canaryFirstSeenAt ?? record.time, record.time);
        continue;
      }
      if (record.appId) callerAppIds[record.caller] = record.appId;
      const at = new Date(record.time);
      const use = uses.get(record.version) ?? {
        version: record.version,
        lastUse: at,
        lastUser: record.caller,
        count: 0,
        byCaller: {},
      };
      use.count += 1;
      if (use.lastUse <= at) {
        use.lastUse = at;
        use.lastUser = record.caller;
      }
      const previous = use.byCaller[record.caller];
      if (!previous || previous < at) use.byCaller[record.caller] = at;
      uses.set(record.version, use);
    }
    const partial = faulty && this.random() < 0.2;
    const evidence: AuditEvidence = {
      key: KEY,
      workspaceId: WORKSPACE_ID,
      complete: !partial,
      ...(partial ? { problem: "partial result" } : {}),
      from: new Date(from),
      to: new Date(this.now),
      ...(canarySeenAt !== undefined ? { canarySeenAt: new Date(canarySeenAt) } : {}),
      ...(canaryFirstSeenAt !== undefined ? { canaryFirstSeenAt: new Date(canaryFirstSeenAt) } : {}),
      uses: [...uses.values()],
      callerAppIds,
    };
    return {
      observedAt: new Date(this.now),
      keys: [{ key: KEY, versions: this.versions.map((version) => ({ ...version })) }],
      consumers: this.units.map((unit) => this.consumerSnapshot(unit)),
      evidence: { [keyRefId(KEY)]: evidence },
      unreadableKeys: {},
    };
  }

  private consumerSnapshot(unit: Unit): ConsumerSnapshot {
    const updating = unit.updateUntil !== undefined && unit.updateUntil > this.now;
    return {
      id: unit.id,
      kind: unit.kind,
      subscriptionId: "s",
      pins: [{ pin: unit.kind === "cassandra" ? "managedDisk" : "key", key: KEY, version: unit.pin }],
      // Only Cosmos DB reports what it really uses.
      inUse: unit.kind === "cosmos" ? { key: unit.data } : {},
      provisioningState: updating ? "Updating" : "Succeeded",
      ...(unit.appId
        ? { identity: "FirstPartyIdentity", identityAppId: unit.appId }
        : { identity: unit.principal, identityPrincipalId: unit.principal }),
      ...(unit.kind === "cosmos"
        ? {}
        : { runState: unit.running ? "Running" : unit.kind === "cassandra" ? "Deallocated" : "Stopped" }),
      ...(unit.backupRetentionMs !== undefined
        ? { backupRetention: { retentionMs: unit.backupRetentionMs, description: "Continuous" } }
        : {}),
    };
  }

  /** Throws on a wrong disable: a version some consumer unwraps later. */
  private checkDisable(version: string): void {
    for (const unit of this.units) {
      if (unit.data === version)
        throw new Error(
          `round ${this.round}: disabled ${version}, which ${unit.id} still has its data wrapped with (running: ${unit.running})`,
        );
      const off = unit.offAt.get(version);
      if (
        unit.backupRetentionMs !== undefined &&
        off !== undefined &&
        off + unit.backupRetentionMs > this.now
      )
        throw new Error(
          `round ${this.round}: disabled ${version}, which backups of ${unit.id} need until ${new Date(off + unit.backupRetentionMs).toISOString()}`,
        );
    }
    for (const stray of this.strays) {
      if (stray.version === version && stray.stopAt > this.now)
        throw new Error(
          `round ${this.round}: disabled ${version}, which ${stray.caller} (every ${stray.periodMs} ms, L ${this.latencyMs} ms, Q ${this.policy.quietPeriodMs} ms) still uses`,
        );
    }
    if (version === this.versions.at(-1)?.version) throw new Error(`disabled the newest version ${version}`);
  }

  /**
   * `stale`: the plan was made on facts that may lag, and a repoint is sent only after the
   * re-read right before the write (as the adapters do): one whose pin moved, or whose
   * consumer stopped, since the facts were read is not sent.
   */
  private apply(result: Plan, faulty: boolean, stale = false): void {
    for (const action of result.actions) {
      if (faulty && this.random() < 0.3) continue;
      if (action.type === "disable") {
        this.checkDisable(action.version);
        const version = this.versions.find((candidate) => candidate.version === action.version);
        if (version) version.enabled = false;
        this.disables += 1;
        continue;
      }
      const unit = this.units.find((candidate) => candidate.id === action.consumerId);
      if (!unit) continue;
      if (stale && (unit.pin !== action.from || !unit.running)) continue;
      if (unit.pin !== action.from)
        throw new Error(`repoint of ${unit.id} from ${action.from}, but it pins ${unit.pin}`);
      if (!unit.running) throw new Error(`repointed ${unit.id} while it is stopped`);
      unit.pin = action.to;
      const rounds = faulty ? 1 + this.random() * 3 : this.random();
      unit.updateUntil = this.now + Math.max(1, Math.round(rounds * this.stepMs));
    }
  }

  /** The version a unit moves to: its pin once its update finished, or the newest enabled version. */
  private desired(unit: Unit, at: number): string {
    if (!unit.pinned) return this.newestEnabled() ?? unit.data;
    if (unit.updateUntil !== undefined && unit.updateUntil > at) return unit.data;
    return unit.pin ?? unit.data;
  }

  private notice(unit: Unit, at: number): void {
    const target = this.desired(unit, at);
    if (target === unit.data) {
      unit.noticed = undefined;
      return;
    }
    if (unit.noticed?.version !== target) unit.noticed = { version: target, at };
  }

  /** Moves one unit through (from, to]: starts and stops, updates ending, unwraps on its cadence, its switch. */
  private advanceUnit(unit: Unit, from: number, to: number): void {
    let t = from;
    for (let guard = 0; guard < 10_000; guard++) {
      const candidates: number[] = [];
      for (const stop of this.stops) {
        if (stop.group !== unit.group) continue;
        if (stop.from > t) candidates.push(stop.from);
        if (stop.until > t && Number.isFinite(stop.until)) candidates.push(stop.until);
      }
      // A stop that ended (or began) right at t.
      if (unit.running === this.stoppedAt(unit, t)) candidates.push(t);
      if (unit.updateUntil !== undefined && unit.updateUntil > t) candidates.push(unit.updateUntil);
      if (unit.running) {
        candidates.push(Math.max(unit.nextUseAt, t));
        if (unit.noticed) candidates.push(Math.max(unit.noticed.at + unit.lagMs, t));
      }
      const next = Math.min(...candidates.filter((candidate) => candidate >= t));
      if (!(next <= to)) return;
      t = next;
      const stopped = this.stoppedAt(unit, t);
      if (unit.running && stopped) {
        unit.running = false;
        continue;
      }
      if (!unit.running && !stopped) {
        // Started: first it unwraps what its data is wrapped with.
        unit.running = true;
        this.record(t, unit.data, unit.principal, unit.appId, false);
        unit.nextUseAt = t + unit.cadenceMs;
        this.notice(unit, t);
        continue;
      }
      if (!unit.running) continue;
      this.notice(unit, t);
      if (unit.noticed && t >= unit.noticed.at + unit.lagMs) {
        // The switch is a re-wrap: unwrap with the old version, wrap with the new, at once.
        const target = unit.noticed.version;
        this.record(t, unit.data, unit.principal, unit.appId, false);
        this.record(t, target, unit.principal, unit.appId, false);
        unit.offAt.set(unit.data, Math.floor(t));
        unit.data = target;
        unit.noticed = undefined;
        continue;
      }
      if (t >= unit.nextUseAt) {
        this.record(t, unit.data, unit.principal, unit.appId, false);
        unit.nextUseAt = t + unit.cadenceMs * (0.8 + 0.4 * this.random());
      }
    }
    throw new Error(`${unit.id} did not get through its events`);
  }

  private advanceStray(stray: Stray, to: number): void {
    while (stray.nextUseAt <= to && stray.nextUseAt < stray.stopAt) {
      this.record(stray.nextUseAt, stray.version, stray.caller, undefined, false);
      stray.nextUseAt += stray.periodMs * (0.5 + 0.5 * this.random());
    }
  }

  /** One timer round: maybe a new version, observe, plan, apply, the service's own read, time passes. */
  step(options: { faulty: boolean; rotate: boolean }): Plan {
    this.beginRound(options.rotate);
    const result = plan(this.observe(options.faulty), this.policy, new Date(this.now));
    this.apply(result, options.faulty);
    this.endRound();
    return result;
  }

  /** Consumer facts of the latest rounds, oldest first: what a lagging Resource Graph still shows. */
  private consumerHistory: ConsumerSnapshot[][] = [];

  /**
   * One round where observation takes each consumer's facts from Resource Graph rows up to
   * `maxLagRounds` rounds old (each consumer its own lag, drawn each round), while backup
   * retentions are lengthened (`lengthenRetentions`). With `freshReads`
   * the service plans as it does (`planOnFreshReads`: fresh ARM reads where they decide);
   * without, it plans on the rows alone.
   */
  async stepWithLaggingRows(options: {
    faulty: boolean;
    rotate: boolean;
    maxLagRounds: number;
    freshReads: boolean;
  }): Promise<Plan> {
    this.beginRound(options.rotate);
    this.lengthenRetentions();
    const fresh = this.observe(options.faulty);
    this.consumerHistory.push(fresh.consumers);
    if (this.consumerHistory.length > options.maxLagRounds + 1) this.consumerHistory.shift();
    const rows = fresh.consumers.map((consumer): ConsumerSnapshot => {
      const lag = Math.floor(this.random() * (options.maxLagRounds + 1));
      const seen = this.consumerHistory[Math.max(0, this.consumerHistory.length - 1 - lag)];
      const row = seen?.find((candidate) => candidate.id === consumer.id) ?? consumer;
      return { ...row, readFrom: "resource-graph" };
    });
    const now = new Date(this.now);
    const makePlan = (snapshot: Snapshot) => plan(snapshot, this.policy, now);
    const stale: Snapshot = { ...fresh, consumers: rows };
    const result = options.freshReads
      ? (
          await planOnFreshReads(stale, makePlan, async (snapshot, ids) => ({
            ...snapshot,
            consumers: snapshot.consumers.map((consumer) =>
              ids.includes(consumer.id)
                ? (fresh.consumers.find((candidate) => candidate.id === consumer.id) ?? consumer)
                : consumer,
            ),
          }))
        ).plan
      : makePlan(stale);
    this.apply(result, options.faulty, true);
    this.endRound();
    return result;
  }

  /** Each Cassandra cluster's last listing, by group: its data centers' facts then, and the round. */
  private listings = new Map<string, { round: number; consumers: ConsumerSnapshot[] }>();
  /** Rounds planned on reused listings, and plans made again afresh because they would disable. */
  reusedRounds = 0;
  relists = 0;

  /**
   * Someone adds a data center to the Cassandra cluster of `group`, pinned to `version` and its
   * data wrapped with it. A running cluster unwraps it at once; a deallocated one makes no call.
   */
  addDataCenter(group: string, version: string): void {
    const sibling = this.units.find((unit) => unit.group === group && unit.kind === "cassandra");
    if (!sibling) return;
    const count = this.units.filter((unit) => unit.group === group).length;
    const running = !this.stoppedAt(sibling, this.now);
    this.units.push({
      ...sibling,
      id: sibling.id.replace(/dataCenters\/[^/]+$/, `dataCenters/added${count}`),
      pin: version,
      data: version,
      nextUseAt: this.now + sibling.cadenceMs,
      running,
      offAt: new Map(),
      noticed: undefined,
      updateUntil: undefined,
    });
    if (running) this.record(this.now, version, sibling.principal, sibling.appId, false);
  }

  /**
   * One round where the service takes each Cassandra cluster's data centers from its listing of
   * up to `maxAgeRounds` rounds ago (ROTATOR_DATACENTER_LISTING_MAX_AGE), listing afresh a
   * cluster it wrote to or read a data center of, or whose listing showed an update; data
   * centers are added meanwhile (`additions`). With `relistBeforeDisable` it plans as the
   * service does: a plan that would disable on reused listings is made again on listings made
   * now (`needsFreshListings`); without, it applies the plan made on the reused listings.
   */
  async stepWithReusedListings(options: {
    faulty: boolean;
    rotate: boolean;
    maxAgeRounds: number;
    relistBeforeDisable: boolean;
    additions: readonly { atRound: number; group: string; back: number }[];
  }): Promise<Plan> {
    this.beginRound(options.rotate);
    for (const addition of options.additions) {
      if (addition.atRound !== this.round) continue;
      const enabled = this.versions.filter((version) => version.enabled);
      const version = enabled[Math.max(0, enabled.length - 1 - addition.back)]?.version;
      if (version) this.addDataCenter(addition.group, version);
    }
    const fresh = this.observe(options.faulty);
    const groupOf = (id: string) => this.units.find((unit) => unit.id === id)?.group ?? id;
    const listed = (reuse: boolean): Snapshot => {
      let reused = 0;
      let oldestRound = this.round;
      const consumers = fresh.consumers.filter((consumer) => consumer.kind !== "cassandra");
      const groups = new Set(fresh.consumers.filter((c) => c.kind === "cassandra").map((c) => groupOf(c.id)));
      for (const group of groups) {
        const cached = this.listings.get(group);
        if (reuse && cached && this.round - cached.round < options.maxAgeRounds) {
          reused += 1;
          oldestRound = Math.min(oldestRound, cached.round);
          consumers.push(...cached.consumers);
          continue;
        }
        const now = fresh.consumers
          .filter((consumer) => consumer.kind === "cassandra" && groupOf(consumer.id) === group)
          .map((consumer): ConsumerSnapshot => ({ ...consumer, readFrom: "resource-graph" }));
        if (now.some((consumer) => isProvisioningBusy(consumer.provisioningState)))
          this.listings.delete(group);
        else this.listings.set(group, { round: this.round, consumers: now });
        consumers.push(...now);
      }
      const oldestListedAt = new Date(this.now - (this.round - oldestRound) * this.stepMs);
      return {
        ...fresh,
        consumers,
        ...(reused > 0 ? { reusedListings: { rows: reused, oldestListedAt } } : {}),
      };
    };
    const now = new Date(this.now);
    const makePlan = (snapshot: Snapshot) => plan(snapshot, this.policy, now);
    const confirm = async (snapshot: Snapshot, ids: readonly string[]): Promise<Snapshot> => {
      for (const id of ids) this.listings.delete(groupOf(id));
      return {
        ...snapshot,
        consumers: snapshot.consumers.map((consumer) =>
          ids.includes(consumer.id)
            ? (fresh.consumers.find((candidate) => candidate.id === consumer.id) ?? consumer)
            : consumer,
        ),
      };
    };
    let result = await planOnFreshReads(listed(true), makePlan, confirm);
    if (result.snapshot.reusedListings) this.reusedRounds += 1;
    if (options.relistBeforeDisable && needsFreshListings(result.snapshot, result.plan)) {
      this.relists += 1;
      result = await planOnFreshReads(listed(false), makePlan, confirm);
    }
    this.apply(result.plan, options.faulty, true);
    // The service reads a data center right before it writes to it: its cluster is listed again.
    for (const action of result.plan.actions)
      if (action.type !== "disable") this.listings.delete(groupOf(action.consumerId));
    this.endRound();
    return result.plan;
  }

  /** Backup retentions as set before the lengthening (`lengthenRetentions`), by unit id. */
  private lengthened = new Set<string>();

  /**
   * Someone lengthens a consumer's backup retention (Continuous7Days to Continuous30Days): it
   * starts at a quarter of its spec and, at some active round, becomes the spec's. Its backups
   * then need a version for the longer retention, while rows may still show the shorter one.
   */
  private lengthenRetentions(): void {
    for (const unit of this.units) {
      const full = unit.spec.backups;
      if (full === null || unit.backupRetentionMs === undefined || this.lengthened.has(unit.id)) continue;
      if (this.round === 0) unit.backupRetentionMs = (full * this.spec.quietPeriodMs) / 4;
      else if (this.round >= ACTIVE_ROUNDS - 1 || this.random() < 0.15) {
        unit.backupRetentionMs = full * this.spec.quietPeriodMs;
        this.lengthened.add(unit.id);
      }
    }
  }

  private beginRound(rotate: boolean): void {
    if (rotate) {
      this.versions.push(aVersion(this.versions.length, { key: KEY, created: new Date(this.now) }));
    }
    for (const unit of this.units) if (unit.running) this.notice(unit, this.now);
  }

  private endRound(): void {
    for (const unit of this.units) if (unit.running) this.notice(unit, this.now);
    this.recordOwn(this.now);
    const end = this.now + this.stepMs;
    for (const unit of this.units) this.advanceUnit(unit, this.now, end);
    for (const stray of this.strays) this.advanceStray(stray, end);
    this.now = end;
    this.round += 1;
  }

  /** Ends every stop (the world settles: every consumer runs again). */
  startEverything(): void {
    for (const stop of this.stops) if (stop.until > this.now) stop.until = this.now;
  }

  /** Every version older than the newest is disabled, and nothing is planned. */
  settled(result: Plan): boolean {
    const newest = this.versions.at(-1)?.version;
    return (
      result.actions.length === 0 &&
      this.versions.every((version) => version.version === newest || !version.enabled)
    );
  }
}

function kindOf(spec: ConsumerSpec): ConsumerKind {
  return spec.kind.startsWith("kusto") ? "kusto" : spec.kind.startsWith("cosmos") ? "cosmos" : "cassandra";
}

// ---- generators and the run of one world ----

export const fraction = fc.integer({ min: 0, max: 1000 }).map((value) => value / 1000);

const consumerArb: fc.Arbitrary<ConsumerSpec> = fc.record({
  kind: fc.constantFrom<ConsumerSpec["kind"]>(
    "kusto-pinned",
    "kusto-follower",
    "cosmos",
    "cosmos-first-party",
    "cassandra",
  ),
  dataCenters: fc.integer({ min: 1, max: 2 }),
  rare: fc.boolean(),
  cadence: fraction,
  lag: fraction,
  startsBack: fc.nat(2),
  stop: fc.option(
    fc.record({
      atRound: fc.integer({ min: -1, max: ACTIVE_ROUNDS - 1 }),
      stopRounds: fc.option(fc.integer({ min: 1, max: 10 }), { freq: 3 }),
    }),
    { freq: 3 },
  ),
  backups: fc.option(fc.integer({ min: 1, max: 3 }), { freq: 2 }),
});

const strayArb: fc.Arbitrary<StraySpec> = fc.record({
  startsBack: fc.nat(2),
  period: fraction,
  rounds: fc.integer({ min: 0, max: ACTIVE_ROUNDS + 6 }),
});

export const worldArb: fc.Arbitrary<WorldSpec> = fc.record({
  quietPeriodMs: fc.integer({ min: HOUR, max: DAY }),
  latency: fc.integer({ min: 0, max: 500 }).map((value) => value / 1000),
  step: fc.integer({ min: 150, max: 500 }).map((value) => value / 1000),
  initialVersions: fc.integer({ min: 1, max: 3 }),
  rotations: fc.uniqueArray(fc.integer({ min: 0, max: ACTIVE_ROUNDS - 1 }), { maxLength: 3 }),
  consumers: fc.array(consumerArb, { minLength: 1, maxLength: 4 }),
  strays: fc.array(strayArb, { maxLength: 2 }),
  faulty: fc.boolean(),
  seed: fc.integer(),
});

/** Long enough for the rarest cadence (3 Q), the longest lag (2 Q), backups (3 Q) and a quiet period, in steps. */
function settleRounds(world: SimulatedWorld): number {
  return Math.ceil((10 * world.spec.quietPeriodMs) / world.stepMs) + 10;
}

export function runWorld(spec: WorldSpec): SimulatedWorld {
  const world = new SimulatedWorld(spec);
  for (let round = 0; round < ACTIVE_ROUNDS; round++) {
    world.step({ faulty: spec.faulty, rotate: spec.rotations.includes(round) });
  }
  world.startEverything();
  const limit = settleRounds(world);
  for (let round = 0; round < limit; round++) {
    if (world.settled(world.step({ faulty: false, rotate: false }))) return world;
  }
  const enabled = world.versions.filter((version) => version.enabled).map((version) => version.version);
  throw new Error(`not settled after ${limit} rounds: still enabled ${enabled.join(", ")}`);
}

/** `runWorld` with observation on Resource Graph rows that lag up to `maxLagRounds` rounds. */
export async function runWorldWithLaggingRows(
  spec: WorldSpec,
  options: { maxLagRounds: number; freshReads: boolean },
): Promise<SimulatedWorld> {
  const world = new SimulatedWorld(spec);
  for (let round = 0; round < ACTIVE_ROUNDS; round++) {
    await world.stepWithLaggingRows({
      ...options,
      faulty: spec.faulty,
      rotate: spec.rotations.includes(round),
    });
  }
  world.startEverything();
  // The rows catch up with Resource Manager only by chance each round: allow for that too.
  const limit = settleRounds(world) + 20 * (options.maxLagRounds + 1);
  for (let round = 0; round < limit; round++) {
    const result = await world.stepWithLaggingRows({ ...options, faulty: false, rotate: false });
    if (world.settled(result)) return world;
  }
  const enabled = world.versions.filter((version) => version.enabled).map((version) => version.version);
  throw new Error(`not settled after ${limit} rounds: still enabled ${enabled.join(", ")}`);
}

export interface ListingWorldSpec {
  world: WorldSpec;
  /** How many rounds a cluster's listing is reused (ROTATOR_DATACENTER_LISTING_MAX_AGE in rounds). */
  maxAgeRounds: number;
  /** Data centers someone adds: at a round, to the nth Cassandra cluster, pinned `back` versions behind the newest. */
  additions: { atRound: number; cluster: number; back: number }[];
}

/** Worlds with at least one Cassandra cluster (the first consumer), and data centers added to them. */
export const listingWorldArb: fc.Arbitrary<ListingWorldSpec> = fc
  .record({
    world: worldArb,
    cluster: consumerArb.map((consumer): ConsumerSpec => ({ ...consumer, kind: "cassandra", rare: false })),
    maxAgeRounds: fc.integer({ min: 1, max: 8 }),
    additions: fc.array(
      fc.record({
        atRound: fc.integer({ min: 0, max: ACTIVE_ROUNDS - 1 }),
        cluster: fc.nat(3),
        back: fc.nat(2),
      }),
      { minLength: 1, maxLength: 2 },
    ),
  })
  .map(({ world, cluster, maxAgeRounds, additions }) => ({
    world: { ...world, consumers: [cluster, ...world.consumers] },
    maxAgeRounds,
    additions,
  }));

/** `runWorld` with Cassandra data centers taken from listings reused for up to `maxAgeRounds` rounds. */
export async function runWorldWithReusedListings(
  spec: ListingWorldSpec,
  options: { relistBeforeDisable: boolean },
): Promise<SimulatedWorld> {
  const world = new SimulatedWorld(spec.world);
  const clusters = spec.world.consumers.flatMap((consumer, index) =>
    consumer.kind === "cassandra" ? [`g${index}`] : [],
  );
  const additions = spec.additions.map((addition) => ({
    atRound: addition.atRound,
    group: clusters[addition.cluster % clusters.length] ?? "g0",
    back: addition.back,
  }));
  const step = (faulty: boolean, rotate: boolean, withAdditions: boolean) =>
    world.stepWithReusedListings({
      faulty,
      rotate,
      maxAgeRounds: spec.maxAgeRounds,
      relistBeforeDisable: options.relistBeforeDisable,
      additions: withAdditions ? additions : [],
    });
  for (let round = 0; round < ACTIVE_ROUNDS; round++) {
    await step(spec.world.faulty, spec.world.rotations.includes(round), true);
  }
  world.startEverything();
  const limit = settleRounds(world) + 2 * spec.maxAgeRounds;
  for (let round = 0; round < limit; round++) {
    if (world.settled(await step(false, false, false))) return world;
  }
  const enabled = world.versions.filter((version) => version.enabled).map((version) => version.version);
  throw new Error(`not settled after ${limit} rounds: still enabled ${enabled.join(", ")}`);
}
