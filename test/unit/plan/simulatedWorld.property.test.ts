/**
 * The properties over generated histories of the simulated world (simulatedWorld.ts):
 * silent, stopped and rare consumers, late out-of-order records, first-party identities,
 * unknown callers. Zero wrong disables, where a wrong disable is disabling a version that a
 * consumer unwraps later; and once the world settles (every consumer runs, no faults, no new
 * versions) every old version is retired, so the safety is not bought by never disabling.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DAY, MINUTE } from "../../builders/index.js";
import { ACTIVE_ROUNDS, type ConsumerSpec, fraction, runWorld, worldArb } from "./simulatedWorld.js";

const WORLD_RUNS = 4000;

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
