/**
 * Listings reused across timer runs (ROTATOR_DATACENTER_LISTING_MAX_AGE) over generated
 * histories of the simulated world: data centers are added to Cassandra clusters (deallocated
 * ones among them, which make no call) while the service takes each cluster's data centers from
 * a listing up to several rounds old. Zero wrong disables, and the world still settles, when a
 * plan that would disable on reused listings is made again on listings made now; without that
 * rule, a disable of the version an added data center is wrapped with is found.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { listingWorldArb, runWorldWithReusedListings } from "./simulatedWorld.js";

const RUNS = 1500;

describe("listings reused across timer runs", () => {
  it("never disables a version an added data center needs, and every old version still retires", async () => {
    await fc.assert(
      fc.asyncProperty(listingWorldArb, async (spec) => {
        await runWorldWithReusedListings(spec, { relistBeforeDisable: true });
      }),
      { numRuns: RUNS },
    );
  });

  it("exercises it: rounds on reused listings, plans made again afresh, data centers added to deallocated clusters", async () => {
    const seen = { reused: 0, relisted: 0, addedWhileDeallocated: 0 };
    for (const spec of fc.sample(listingWorldArb, { numRuns: 200, seed: 3 })) {
      const world = await runWorldWithReusedListings(spec, { relistBeforeDisable: true });
      if (world.reusedRounds > 0) seen.reused++;
      if (world.relists > 0) seen.relisted++;
      const cluster = spec.world.consumers[0];
      if (
        cluster?.stop &&
        spec.additions.some((addition) => addition.atRound >= (cluster.stop?.atRound ?? 0))
      )
        seen.addedWhileDeallocated++;
    }
    for (const [name, count] of Object.entries(seen)) expect(count, name).toBeGreaterThan(20);
  });

  it("without the fresh listing before a disable, a wrong disable is found", async () => {
    const result = await fc.check(
      fc.asyncProperty(listingWorldArb, async (spec) => {
        await runWorldWithReusedListings(spec, { relistBeforeDisable: false });
      }),
      { numRuns: RUNS, seed: 7 },
    );
    expect(result.failed).toBe(true);
    expect(String(result.errorInstance)).toMatch(/still has its data wrapped with/);
  });
});
