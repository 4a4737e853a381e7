/**
 * The properties over generated histories of the simulated world (simulatedWorld.ts):
 * silent, stopped and rare consumers, late out-of-order records, first-party identities,
 * unknown callers. Zero wrong disables, where a wrong disable is disabling a version that a
 * consumer unwraps later; and once the world settles (every consumer runs, no faults, no new
 * versions) every old version is retired, so the safety is not bought by never disabling.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, MINUTE } from "../../builders/index.js";
import {
  ACTIVE_ROUNDS,
  type ConsumerSpec,
  SimulatedWorld,
  type StraySpec,
  type WorldSpec,
} from "./simulatedWorld.js";

const fraction = fc.integer({ min: 0, max: 1000 }).map((value) => value / 1000);

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

export const WORLD_RUNS = 4000;

describe("the simulated world", () => {
  it("never disables a version a consumer unwraps later, and retires every old version once it settles", () => {
    fc.assert(
      fc.property(worldArb, (spec) => {
        runWorld(spec);
      }),
      { numRuns: WORLD_RUNS },
    );
  });

  it("exercises what the issue asks for: stopped, rare and first-party consumers, late records, retirements", () => {
    const seen = { disables: 0, stopped: 0, rare: 0, firstParty: 0, late: 0, strays: 0 };
    for (const spec of fc.sample(worldArb, { numRuns: 300, seed: 11 })) {
      const world = runWorld(spec);
      seen.disables += world.disables;
      if (spec.consumers.some((c) => c.stop && c.kind !== "cosmos" && c.kind !== "cosmos-first-party"))
        seen.stopped++;
      if (spec.consumers.some((c) => c.rare && c.kind.startsWith("kusto"))) seen.rare++;
      if (spec.consumers.some((c) => c.kind === "cosmos-first-party")) seen.firstParty++;
      if (world.latencyMs > 0) seen.late++;
      if (spec.strays.length > 0) seen.strays++;
    }
    for (const [name, count] of Object.entries(seen)) expect(count, name).toBeGreaterThan(20);
  });
});

describe("a caller the service does not know about", () => {
  it("using a version at least once every P, each record arriving within L, is never cut off whenever P + L <= Q", () => {
    // The strays of the world use a version every P <= Q - L until they stop; consumers are
    // followers that move at once, so only the absence-of-use rule stands between a stray and
    // a disable.
    const strayWorld = fc.record({
      quietPeriodMs: fc.integer({ min: 10 * MINUTE, max: DAY }),
      latency: fc.integer({ min: 0, max: 500 }).map((value) => value / 1000),
      step: fc.integer({ min: 100, max: 1000 }).map((value) => value / 1000),
      initialVersions: fc.integer({ min: 2, max: 3 }),
      rotations: fc.uniqueArray(fc.integer({ min: 0, max: ACTIVE_ROUNDS - 1 }), { maxLength: 3 }),
      consumers: fc.constant<ConsumerSpec[]>([
        {
          kind: "cosmos",
          dataCenters: 1,
          rare: false,
          cadence: 0,
          lag: 0,
          startsBack: 0,
          stop: null,
          backups: null,
        },
      ]),
      strays: fc.array(
        fc.record({
          startsBack: fc.integer({ min: 1, max: 2 }),
          period: fraction,
          rounds: fc.integer({ min: 1, max: ACTIVE_ROUNDS + 6 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      faulty: fc.constant(false),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(strayWorld, (spec) => {
        runWorld(spec);
      }),
      { numRuns: 3000 },
    );
  });
});
