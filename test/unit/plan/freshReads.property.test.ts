/**
 * Observation takes consumers' facts from Resource Graph rows, which lag Resource Manager.
 * Over generated histories of the simulated world whose rows lag up to three rounds (each
 * consumer its own lag, drawn anew each round): with fresh reads where they decide
 * (`planOnFreshReads`), zero wrong disables and every old version retired once the world
 * settles; planning on the rows alone disables wrongly in some world (a consumer stopped
 * since its row, a read-back not yet in its row).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runWorldWithLaggingRows, worldArb } from "./simulatedWorld.js";

const MAX_LAG_ROUNDS = 3;

describe("planning on Resource Graph rows that lag", () => {
  it("never disables a version a consumer unwraps later, and retires every old version once it settles", async () => {
    await fc.assert(
      fc.asyncProperty(worldArb, async (spec) => {
        await runWorldWithLaggingRows(spec, { maxLagRounds: MAX_LAG_ROUNDS, freshReads: true });
      }),
      { numRuns: 1500 },
    );
  });

  it("without the fresh reads, some world disables a version a consumer unwraps later", async () => {
    const result = await fc.check(
      fc.asyncProperty(worldArb, async (spec) => {
        try {
          await runWorldWithLaggingRows(spec, { maxLagRounds: MAX_LAG_ROUNDS, freshReads: false });
        } catch (error) {
          // Only a wrong disable counts: a world that merely does not settle is no counterexample.
          if (error instanceof Error && / disabled /.test(error.message)) throw error;
        }
      }),
      { numRuns: 1500, seed: 7 },
    );
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/disabled/);
  });
});
