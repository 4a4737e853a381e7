import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type {
  DisableAction,
  KeyVersionFacts,
  Plan,
  Policy,
  RepointAction,
  Snapshot,
} from "../../../src/model.js";
import { keyRefId } from "../../../src/model.js";
import { quietPeriodFor } from "../../../src/plan/keyContext.js";
import { plan } from "../../../src/plan/plan.js";
import { NOW } from "../../builders/index.js";
import { historyArb, KEY, snapshotOf } from "./historyArbitrary.js";

const RUNS = { numRuns: 1500 };

function disables(result: Plan): DisableAction[] {
  return result.actions.filter((action): action is DisableAction => action.type === "disable");
}

function repoints(result: Plan): RepointAction[] {
  return result.actions.filter((action): action is RepointAction => action.type === "repoint");
}

function versionsOf(snapshot: Snapshot): KeyVersionFacts[] {
  return [...(snapshot.keys[0]?.versions ?? [])].sort((a, b) => a.created.getTime() - b.created.getTime());
}

function planned(history: Parameters<typeof snapshotOf>[0]): {
  snapshot: Snapshot;
  policy: Policy;
  result: Plan;
} {
  const { snapshot, policy } = snapshotOf(history);
  return { snapshot, policy, result: plan(snapshot, policy, NOW) };
}

describe("planner invariants over generated histories", () => {
  it("never disables the newest version", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const newest = versionsOf(snapshot).at(-1)?.version;
        const newestEnabled = versionsOf(snapshot)
          .filter((v) => v.enabled)
          .at(-1)?.version;
        for (const action of disables(result)) {
          expect(action.version).not.toBe(newest);
          expect(action.version).not.toBe(newestEnabled);
          expect(action.version).not.toBe(result.targets[keyRefId(KEY)]);
        }
      }),
      RUNS,
    );
  });

  it("never disables a version a consumer pins or reports in use", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const pinned = new Set(snapshot.consumers.flatMap((c) => c.pins.map((p) => p.version)));
        const inUse = new Set(snapshot.consumers.flatMap((c) => Object.values(c.inUse)));
        for (const action of disables(result)) {
          expect(pinned.has(action.version)).toBe(false);
          expect(inUse.has(action.version)).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it("never disables a version used inside the quiet period, nor one superseded inside it", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, policy, result } = planned(history);
        const evidence = snapshot.evidence[keyRefId(KEY)];
        const versions = versionsOf(snapshot);
        for (const action of disables(result)) {
          const index = versions.findIndex((v) => v.version === action.version);
          const version = versions[index];
          const next = versions[index + 1];
          if (!version || !next || !evidence?.canarySeenAt)
            throw new Error("disable without a successor or canary");
          const quiet = quietPeriodFor(version, policy);
          expect(next.created.getTime() + quiet).toBeLessThanOrEqual(NOW.getTime());
          const use = evidence.uses.find((u) => u.version === action.version);
          if (use) {
            expect(use.lastUse.getTime()).toBeLessThan(evidence.canarySeenAt.getTime() - quiet);
            expect(use.lastUse.getTime()).toBeLessThan(NOW.getTime() - quiet);
          }
        }
      }),
      RUNS,
    );
  });

  it("never disables a version of a key a consumer uses under the rotator's own identity", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, policy, result } = planned(history);
        const sharing = snapshot.consumers.some(
          (consumer) => consumer.identityPrincipalId === policy.servicePrincipalId,
        );
        if (sharing) expect(disables(result)).toEqual([]);
      }),
      RUNS,
    );
  });

  it("never disables anything while the log pipeline is not proven current or evidence is incomplete", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, policy, result } = planned(history);
        const evidence = snapshot.evidence[keyRefId(KEY)];
        const proven =
          evidence?.complete === true &&
          evidence.canarySeenAt !== undefined &&
          evidence.canarySeenAt.getTime() >= NOW.getTime() - policy.ingestionMarginMs;
        if (!proven) expect(disables(result)).toEqual([]);
      }),
      RUNS,
    );
  });

  it("never disables a version unless the service's own reads prove the logs flowed through its whole quiet period", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, policy, result } = planned(history);
        const evidence = snapshot.evidence[keyRefId(KEY)];
        for (const action of disables(result)) {
          const version = snapshot.keys[0]?.versions.find(
            (candidate) => candidate.version === action.version,
          );
          expect(version).toBeDefined();
          const quiet = quietPeriodFor(version!, policy);
          expect(evidence?.canaryFirstSeenAt).toBeDefined();
          expect(evidence!.canaryFirstSeenAt!.getTime()).toBeLessThanOrEqual(
            evidence!.canarySeenAt!.getTime() - quiet + policy.ingestionMarginMs,
          );
        }
      }),
      RUNS,
    );
  });

  it("never disables what a stopped consumer may need: the newest version its own identity used and anything newer, or everything when unknown", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const versions = versionsOf(snapshot);
        const position = (version: string) => versions.findIndex((v) => v.version === version);
        const uses = snapshot.evidence[keyRefId(KEY)]?.uses ?? [];
        for (const consumer of snapshot.consumers) {
          if (!consumer.runState || consumer.runState === "Running") continue;
          const principal = (consumer.identityPrincipalId ?? consumer.identity ?? "").toLowerCase();
          const shared = snapshot.consumers.some(
            (other) =>
              other !== consumer &&
              (other.identityPrincipalId ?? other.identity ?? "").toLowerCase() === principal,
          );
          const used = shared
            ? []
            : uses
                .filter((use) => Object.keys(use.byCaller).some((caller) => caller === principal))
                .map((use) => position(use.version));
          const newestUsed = used.length > 0 ? Math.max(...used) : -1;
          for (const action of disables(result)) {
            if (newestUsed < 0)
              throw new Error(
                `disabled ${action.version} while ${consumer.id} is stopped and its last version is unknown`,
              );
            expect(position(action.version)).toBeLessThan(newestUsed);
          }
        }
      }),
      RUNS,
    );
  });

  it("never disables a version while a running consumer is not proven on a newer one", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const versions = versionsOf(snapshot);
        const position = (version: string | null | undefined) =>
          versions.findIndex((v) => v.version === version);
        const uses = snapshot.evidence[keyRefId(KEY)]?.uses ?? [];
        for (const action of disables(result)) {
          for (const consumer of snapshot.consumers) {
            if (consumer.runState && consumer.runState !== "Running") continue;
            const principal = (consumer.identityPrincipalId ?? consumer.identity ?? "").toLowerCase();
            const usedNewer = uses.some(
              (use) =>
                position(use.version) > position(action.version) && use.byCaller[principal] !== undefined,
            );
            const reported = consumer.inUse.key;
            const pinned = consumer.pins[0]?.version ?? null;
            const proven =
              reported !== undefined
                ? reported !== action.version && position(reported) >= 0
                : pinned !== null
                  ? pinned !== action.version &&
                    position(pinned) >= 0 &&
                    consumer.provisioningState === "Succeeded"
                  : usedNewer;
            expect(proven, `${consumer.id} proven off ${action.version}`).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });

  it("never disables anything on a quiet period shorter than the longest ingestion latency", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, policy, result } = planned(history);
        for (const action of disables(result)) {
          const version = snapshot.keys[0]?.versions.find(
            (candidate) => candidate.version === action.version,
          );
          expect(quietPeriodFor(version!, policy)).toBeGreaterThanOrEqual(policy.maxIngestionLatencyMs);
        }
      }),
      RUNS,
    );
  });

  it("never downgrades a consumer and only repoints to an enabled version that passes preflight", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const versions = versionsOf(snapshot);
        const position = (version: string) => versions.findIndex((v) => v.version === version);
        const blocked = new Set(result.blocks.map((b) => b.version));
        for (const action of repoints(result)) {
          expect(position(action.from)).toBeGreaterThanOrEqual(0);
          expect(position(action.to)).toBeGreaterThan(position(action.from));
          expect(action.to).toBe(result.targets[keyRefId(KEY)]);
          expect(versions[position(action.to)]?.enabled).toBe(true);
          expect(blocked.has(action.to)).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it("blocks a newest version that fails preflight and never targets it", () => {
    fc.assert(
      fc.property(historyArb, (history) => {
        const { snapshot, result } = planned(history);
        const newest = versionsOf(snapshot).at(-1);
        const target = result.targets[keyRefId(KEY)];
        if (newest && target !== newest.version) {
          expect(result.blocks.map((b) => b.version)).toContain(newest.version);
        }
        if (target) expect(result.blocks.map((b) => b.version)).not.toContain(target);
      }),
      RUNS,
    );
  });

  it("gives the same plan whatever the order of versions and consumers", () => {
    fc.assert(
      fc.property(historyArb, fc.integer(), (history, seed) => {
        const { snapshot, policy, result } = planned(history);
        const shuffle = <T>(items: T[]): T[] =>
          items
            .map((item, index) => ({ item, rank: (index * 7919 + seed) % 101 }))
            .sort((a, b) => a.rank - b.rank)
            .map((entry) => entry.item);
        const shuffled: Snapshot = {
          ...snapshot,
          keys: snapshot.keys.map((k) => ({ ...k, versions: shuffle(k.versions) })),
          consumers: shuffle(snapshot.consumers),
        };
        expect(plan(shuffled, policy, NOW)).toEqual(result);
      }),
      { numRuns: 300 },
    );
  });
});

describe("the history generator", () => {
  it("exercises disables, repoints, holds of every retire reason, and blocks", () => {
    const seen = new Map<string, number>();
    const count = (name: string) => seen.set(name, (seen.get(name) ?? 0) + 1);
    for (const history of fc.sample(historyArb, { numRuns: 5000, seed: 42 })) {
      const { result } = planned(history);
      for (const action of result.actions) count(action.type);
      for (const hold of result.holds) count(hold.reason);
      for (const block of result.blocks) count(block.reason);
    }
    for (const name of [
      "disable",
      "repoint",
      "pinned-by-consumer",
      "in-use-by-consumer",
      "superseded-recently",
      "evidence-incomplete",
      "pipeline-not-current",
      "used-recently",
      "backup-retention",
      "consumer-shares-rotator-identity",
      "consumer-stopped",
      "consumer-not-proven-switched",
      "repoint-in-progress",
      "pinned-version-unknown",
      "preflight-not-rsa",
      "preflight-compromised",
    ]) {
      expect(seen.get(name) ?? 0, name).toBeGreaterThan(0);
    }
  });
});
