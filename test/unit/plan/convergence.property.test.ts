/**
 * A small simulated world driven by the planner: each round consumers use the version they
 * really use, the service observes (with an audit pipeline that delays, pauses or fails),
 * plans, and applies the plan (with faults, some actions fail and consumers stay busy).
 * Properties: no round ever disables a version a consumer pins or uses, and once faults
 * stop, a bounded number of rounds reaches a fixed point with nothing left to do.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type {
  ConsumerKind,
  KeyVersionFacts,
  Plan,
  Policy,
  ReasonCode,
  Snapshot,
} from "../../../src/model.js";
import { keyRefId, TAGS } from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import { aConsumer, anEvidence, aPin, aPolicy, aVersion, HOUR, MINUTE, NOW } from "../../builders/index.js";
import { KEY } from "./historyArbitrary.js";

const INGESTION_DELAY = MINUTE;
/** Steps are half the quiet period, the emergency quiet period a quarter: 8 uses per step keep use continuous. */
const USES_PER_STEP = 8;

interface SimConsumer {
  id: string;
  identity: string;
  kind: ConsumerKind;
  /** Pinned version, or null when following the newest. */
  pinned: string | null;
  /** Version really used right now. */
  inUse: string;
  busyRounds: number;
}

interface World {
  now: number;
  versions: KeyVersionFacts[];
  consumers: SimConsumer[];
  uses: { version: string; at: number; caller: string }[];
  /** Callers the service does not know about (no consumer resource), using a version until `stopAt`. */
  strays: { caller: string; version: string; stopAt: number }[];
  /** Audit records up to this time have been ingested. */
  ingestedUntil: number;
}

/** Deterministic pseudo-random numbers from a seed (mulberry32). */
function randomFrom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Flaw = "none" | "EC" | "compromised" | "small";

function newVersion(index: number, created: number, flaw: Flaw): KeyVersionFacts {
  const base = aVersion(index, { key: KEY, created: new Date(created) });
  if (flaw === "EC") return { ...base, keyType: "EC" };
  if (flaw === "small") return { ...base, keySize: 1024 };
  if (flaw === "compromised") return { ...base, tags: { [TAGS.compromised]: "true" } };
  return base;
}

function newestEnabled(world: World): string | undefined {
  return world.versions.filter((v) => v.enabled).at(-1)?.version;
}

function observe(world: World, faulty: boolean, random: () => number): Snapshot {
  const from = world.now - 4 * DAY_MS;
  const visible = world.uses.filter((use) => use.at >= from && use.at <= world.ingestedUntil);
  const uses = new Map<
    string,
    { version: string; lastUse: Date; lastUser: string; count: number; byCaller: Record<string, Date> }
  >();
  for (const use of visible) {
    const at = new Date(use.at);
    const entry = uses.get(use.version) ?? {
      version: use.version,
      lastUse: at,
      lastUser: use.caller,
      count: 0,
      byCaller: {},
    };
    entry.count += 1;
    if (entry.lastUse <= at) {
      entry.lastUse = at;
      entry.lastUser = use.caller;
    }
    const previous = entry.byCaller[use.caller];
    if (!previous || previous < at) entry.byCaller[use.caller] = at;
    uses.set(use.version, entry);
  }
  const partial = faulty && random() < 0.25;
  return {
    observedAt: new Date(world.now),
    keys: [{ key: KEY, versions: world.versions.map((v) => ({ ...v })) }],
    consumers: world.consumers.map((consumer) =>
      aConsumer({
        id: consumer.id,
        kind: consumer.kind,
        identity: consumer.identity,
        pins: [aPin(KEY, consumer.pinned)],
        // Only Cosmos reports the version it really uses.
        inUse: consumer.kind === "cosmos" ? { key: consumer.inUse } : {},
        provisioningState: consumer.busyRounds > 0 ? "Updating" : "Succeeded",
      }),
    ),
    evidence: {
      [keyRefId(KEY)]: anEvidence(KEY, {
        complete: !partial,
        ...(partial ? { problem: "partial result" } : {}),
        from: new Date(from),
        to: new Date(world.now),
        // The service reads the key every few minutes; its newest ingested read is the canary.
        canarySeenAt: new Date(world.ingestedUntil - MINUTE),
        uses: [...uses.values()],
      }),
    },
    unreadableKeys: {},
  };
}

const DAY_MS = 24 * HOUR;

function assertSafe(world: World, result: Plan): void {
  for (const action of result.actions) {
    if (action.type !== "disable") continue;
    for (const consumer of world.consumers) {
      if (consumer.pinned === action.version || consumer.inUse === action.version) {
        throw new Error(`disabled ${action.version}, which ${consumer.id} pins or uses`);
      }
    }
    const stray = world.strays.find(
      (candidate) => candidate.version === action.version && candidate.stopAt > world.now,
    );
    if (stray) throw new Error(`disabled ${action.version}, which ${stray.caller} still uses`);
    if (action.version === world.versions.at(-1)?.version)
      throw new Error(`disabled the newest ${action.version}`);
  }
}

/** Applies the plan; with faults some actions fail and repoints stay busy longer. */
function apply(world: World, result: Plan, faulty: boolean, random: () => number): void {
  for (const action of result.actions) {
    if (faulty && random() < 0.3) continue;
    if (action.type === "disable") {
      const version = world.versions.find((v) => v.version === action.version);
      if (version) version.enabled = false;
    } else {
      const consumer = world.consumers.find((c) => c.id === action.consumerId);
      if (!consumer) continue;
      if (consumer.pinned !== action.from)
        throw new Error(`repoint from ${action.from}, but ${consumer.id} pins ${consumer.pinned}`);
      consumer.pinned = action.to;
      consumer.busyRounds = faulty ? 1 + Math.floor(random() * 3) : 1;
    }
  }
}

/** Time passes: consumers use their keys, finish updates; the audit pipeline ingests (or pauses). */
function advance(world: World, stepMs: number, faulty: boolean, random: () => number): void {
  // Someone creates a new version; consumers following the newest adopt it by the end of the step.
  for (const stray of world.strays) {
    for (let at = world.now; at < Math.min(world.now + stepMs, stray.stopAt); at += stepMs / USES_PER_STEP) {
      world.uses.push({ version: stray.version, at, caller: stray.caller });
    }
  }
  if (faulty && random() < 0.2) {
    const flaws: Flaw[] = ["none", "none", "EC", "compromised"];
    world.versions.push(
      newVersion(world.versions.length, world.now, flaws[Math.floor(random() * flaws.length)] ?? "none"),
    );
  }
  for (const consumer of world.consumers) {
    // Consumers unwrap their key throughout the step, more often than any quiet period.
    for (let sample = 0; sample < USES_PER_STEP; sample++) {
      world.uses.push({
        version: consumer.inUse,
        at: world.now + (sample * stepMs) / USES_PER_STEP,
        caller: consumer.identity,
      });
    }
    if (consumer.busyRounds > 0) {
      consumer.busyRounds -= 1;
      if (consumer.busyRounds === 0 && consumer.pinned) consumer.inUse = consumer.pinned;
    }
    if (consumer.pinned === null) consumer.inUse = newestEnabled(world) ?? consumer.inUse;
  }
  world.now += stepMs;
  const paused = faulty && random() < 0.4;
  if (!paused) world.ingestedUntil = world.now - INGESTION_DELAY;
}

function snapshotOfWorld(world: World): string {
  return JSON.stringify({
    versions: world.versions.map((v) => [v.version, v.enabled]),
    consumers: world.consumers,
  });
}

/** Holds that stay at a fixed point; every other hold lifts by itself once faults stop. */
const LASTING_HOLDS: ReadonlySet<ReasonCode> = new Set([
  "consumer-ahead-of-target",
  // Only for a version newer than the target (consumers are never downgraded).
  "pinned-by-consumer",
  "no-valid-target",
]);

type WorldSpec = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

const worldArb = fc.record({
  versionFlaws: fc.array(fc.constantFrom<Flaw>("none", "none", "none", "EC", "compromised", "small"), {
    minLength: 1,
    maxLength: 5,
  }),
  consumers: fc.array(
    fc.record({
      kind: fc.constantFrom<ConsumerKind>("kusto", "cosmos", "cassandra"),
      pinIndex: fc.option(fc.nat(4), { freq: 4 }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  strays: fc.array(fc.record({ versionIndex: fc.nat(4), rounds: fc.nat(6) }), { maxLength: 2 }),
  quietPeriodMs: fc.integer({ min: 10 * MINUTE, max: DAY_MS }),
  faultyRounds: fc.integer({ min: 0, max: 8 }),
  seed: fc.integer(),
});

function simulate(spec: WorldSpec): void {
  const random = randomFrom(spec.seed);
  const stepMs = spec.quietPeriodMs / 2;
  const start = NOW.getTime();
  const versions = spec.versionFlaws.map((flaw, index) =>
    newVersion(index, start - (spec.versionFlaws.length - index) * spec.quietPeriodMs, flaw),
  );
  const world: World = {
    now: start,
    versions,
    consumers: [],
    uses: [],
    strays: [],
    ingestedUntil: start - INGESTION_DELAY,
  };
  world.consumers = spec.consumers.map((consumer, index) => {
    const pinned =
      consumer.pinIndex === null ? null : (versions[consumer.pinIndex % versions.length]?.version ?? null);
    return {
      id: `/subscriptions/s/resourceGroups/rg/providers/sim/${consumer.kind}/${index}`,
      identity: `77777777-7777-7777-7777-${String(index).padStart(12, "0")}`,
      kind: consumer.kind,
      pinned,
      inUse: pinned ?? newestEnabled(world) ?? "",
      busyRounds: 0,
    };
  });
  world.strays = spec.strays.map((stray, index) => ({
    caller: `88888888-8888-8888-8888-${String(index).padStart(12, "0")}`,
    version: versions[stray.versionIndex % versions.length]?.version ?? "",
    stopAt: start + stray.rounds * stepMs,
  }));
  // Consumers and strays have been using their versions all along, not only since the simulation began.
  for (let at = start - 3 * spec.quietPeriodMs; at < start; at += stepMs / USES_PER_STEP) {
    for (const consumer of world.consumers)
      world.uses.push({ version: consumer.inUse, at, caller: consumer.identity });
    for (const stray of world.strays) world.uses.push({ version: stray.version, at, caller: stray.caller });
  }
  const policy: Policy = aPolicy({
    quietPeriodMs: spec.quietPeriodMs,
    emergencyQuietPeriodMs: spec.quietPeriodMs / 4,
    ingestionMarginMs: 30 * MINUTE,
    maxIngestionLatencyMs: INGESTION_DELAY,
  });

  const round = (faulty: boolean): Plan => {
    const result = plan(observe(world, faulty, random), policy, new Date(world.now));
    assertSafe(world, result);
    apply(world, result, faulty, random);
    advance(world, stepMs, faulty, random);
    return result;
  };

  for (let index = 0; index < spec.faultyRounds; index++) round(true);

  const MAX_QUIET_ROUNDS = 12;
  let last: Plan | undefined;
  let rounds = 0;
  for (; rounds < MAX_QUIET_ROUNDS; rounds++) {
    last = round(false);
    const waiting = last.holds.some((hold) => !LASTING_HOLDS.has(hold.reason));
    if (last.actions.length === 0 && !waiting && world.consumers.every((c) => c.busyRounds === 0)) break;
  }
  expect(rounds, "rounds after faults stopped").toBeLessThan(MAX_QUIET_ROUNDS);

  // A fixed point: more rounds change nothing.
  const settled = snapshotOfWorld(world);
  for (let index = 0; index < 2; index++) expect(round(false).actions).toEqual([]);
  expect(snapshotOfWorld(world)).toBe(settled);

  // Every pinned consumer is on the target (or stays on a newer, blocked version), and
  // every version older than the target is disabled.
  const target = last?.targets[keyRefId(KEY)];
  if (target) {
    const position = (version: string) => world.versions.findIndex((v) => v.version === version);
    for (const consumer of world.consumers) {
      if (consumer.pinned) expect(position(consumer.pinned)).toBeGreaterThanOrEqual(position(target));
    }
    for (const version of world.versions.slice(0, position(target))) expect(version.enabled).toBe(false);
  }
}

describe("reconciling a simulated world", () => {
  it("never disables a version in use, and converges once faults stop", () => {
    fc.assert(fc.property(worldArb, simulate), { numRuns: 1000 });
  });
});
