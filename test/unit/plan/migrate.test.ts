/**
 * The planner's migration decisions, one case each: moves keep the consumer's mode, the
 * destination's checks hold the consumer that fails them (with the reason), a cancelled
 * migration moves nothing, a pin that moves is not also repointed, and the source afterwards:
 * reported unused, or (retireSource) retired by the rule chain, while the backups of a consumer
 * that moved away still hold its versions.
 */
import { describe, expect, it } from "vitest";
import {
  type ConsumerSnapshot,
  type DisableAction,
  type MigrateAction,
  type MigrationIntent,
  type Snapshot,
  TAGS,
} from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import {
  aConsumer,
  ago,
  aKeyRef,
  aKeySnapshot,
  anEvidence,
  aPin,
  aPolicy,
  aSnapshot,
  aVersion,
  DAY,
  HOUR,
  NOW,
  versionId,
} from "../../builders/index.js";

const SOURCE = aKeyRef({ vaultName: "kv1", keyName: "old" });
const DEST = aKeyRef({ vaultName: "kv2", keyName: "new" });
const S0 = versionId(0);
const S1 = versionId(1);
const D0 = "d".repeat(32);

function intent(overrides: Partial<MigrationIntent> = {}): MigrationIntent {
  return {
    source: SOURCE,
    destination: DEST,
    requestedAt: ago(2 * DAY),
    reason: "move",
    retireSource: false,
    state: "active",
    runId: "r1",
    ...overrides,
  };
}

function world(consumers: ConsumerSnapshot[], overrides: Partial<Snapshot> = {}): Snapshot {
  const source = aKeySnapshot({
    key: SOURCE,
    versions: [aVersion(0, { key: SOURCE, ageMs: 10 * DAY }), aVersion(1, { key: SOURCE, ageMs: 5 * DAY })],
  });
  const destination = aKeySnapshot({
    key: DEST,
    versions: [aVersion(0, { key: DEST, version: D0, ageMs: 3 * DAY })],
  });
  return {
    ...aSnapshot({ keys: [source, destination], consumers }),
    migrations: [intent()],
    vaults: { kv2: { location: "westeurope", softDelete: true, purgeProtection: true } },
    ...overrides,
  };
}

const moves = (snapshot: Snapshot) =>
  plan(snapshot, aPolicy(), NOW).actions.filter((a): a is MigrateAction => a.type === "migrate");

describe("migration planning", () => {
  it("moves a pinned consumer to the destination's newest valid version, a follower versionless", () => {
    const pinned = aConsumer({ kind: "cassandra", pins: [aPin(SOURCE, S1, "managedDisk")] });
    const follower = aConsumer({ kind: "cosmos", pins: [aPin(SOURCE, null)] });
    const result = moves(world([pinned, follower]));
    expect(result.map((a) => [a.consumerId, a.from, a.to])).toEqual(
      [
        [pinned.id, S1, D0],
        [follower.id, null, null],
      ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    );
  });

  it("holds a Kusto cluster in another region than the destination vault, naming both; the others move", () => {
    const far = aConsumer({ kind: "kusto", location: "eastus", pins: [aPin(SOURCE, S1)] });
    const other = aConsumer({ kind: "cassandra", pins: [aPin(SOURCE, S1, "managedDisk")] });
    const snapshot = world([far, other]);
    const result = plan(snapshot, aPolicy(), NOW);
    expect(
      result.actions.filter((a) => a.type === "migrate").map((a) => a.type === "migrate" && a.consumerId),
    ).toEqual([other.id]);
    const hold = result.holds.find((h) => h.concerns === far.id && h.reason === "migration-held");
    expect(hold?.message).toContain("eastus");
    expect(hold?.message).toContain("westeurope");
    expect(result.migrations?.[0]?.held.map((h) => h.consumerId)).toEqual([far.id]);
  });

  it("holds every consumer when the destination vault lacks purge protection", () => {
    const consumer = aConsumer({ kind: "cassandra", pins: [aPin(SOURCE, S1, "managedDisk")] });
    const snapshot = world([consumer], {
      vaults: { kv2: { location: "westeurope", purgeProtection: false } },
    });
    expect(moves(snapshot)).toEqual([]);
    expect(plan(snapshot, aPolicy(), NOW).holds.some((h) => h.message.includes("purge protection"))).toBe(
      true,
    );
  });

  it("a pinned consumer skips a destination version that fails its preflight; a follower is held by one", () => {
    const snapshot = world([
      aConsumer({ kind: "kusto", location: "westeurope", pins: [aPin(SOURCE, S1)] }),
      aConsumer({ kind: "cosmos", pins: [aPin(SOURCE, null)] }),
    ]);
    const destination = snapshot.keys[1];
    if (!destination) throw new Error("no destination");
    destination.versions.push(
      aVersion(5, { key: DEST, version: "e".repeat(32), ageMs: DAY, tags: { [TAGS.compromised]: "x" } }),
    );
    const result = plan(snapshot, aPolicy(), NOW);
    const moved = result.actions.filter((a): a is MigrateAction => a.type === "migrate");
    expect(moved.map((a) => a.to)).toEqual([D0]);
    expect(result.holds.some((h) => h.reason === "migration-held" && h.message.includes("compromised"))).toBe(
      true,
    );
  });

  it("a cancelled migration moves nothing; a moving pin is not repointed on the source in the same run", () => {
    const lagging = aConsumer({ kind: "kusto", location: "westeurope", pins: [aPin(SOURCE, S0)] });
    const active = plan(world([lagging]), aPolicy(), NOW);
    expect(active.actions.map((a) => a.type)).toEqual(["migrate"]);
    const cancelled = plan(
      world([lagging], { migrations: [intent({ state: "cancelled" })] }),
      aPolicy(),
      NOW,
    );
    expect(cancelled.actions.filter((a) => a.type === "migrate")).toEqual([]);
    expect(cancelled.actions.filter((a) => a.type === "repoint").length).toBe(1);
  });

  it("a source nothing references is reported unused; with retireSource its newest retires on evidence", () => {
    const moved = aConsumer({ kind: "kusto", location: "westeurope", pins: [aPin(DEST, D0)] });
    const unused = plan(world([moved]), aPolicy(), NOW);
    expect(unused.warnings?.map((w) => w.reason)).toContain("migration-source-unused");
    expect(unused.actions.some((a) => a.type === "disable" && a.version === S1)).toBe(false);

    const retiring = plan(world([moved], { migrations: [intent({ retireSource: true })] }), aPolicy(), NOW);
    const disable = retiring.actions.find(
      (a): a is DisableAction => a.type === "disable" && a.version === S1,
    );
    expect(disable?.retiresMigrationSource).toBe(true);
    expect(disable?.reason).toBe("migration-source-retired");

    // Asked an hour ago: not yet quiet for the period, so it is held.
    const recent = plan(
      world([moved], { migrations: [intent({ retireSource: true, requestedAt: ago(HOUR) })] }),
      aPolicy(),
      NOW,
    );
    expect(recent.actions.some((a) => a.type === "disable" && a.version === S1)).toBe(false);
    expect(recent.holds.some((h) => h.version === S1)).toBe(true);
  });

  it("the backups of a consumer that moved away still hold the source's versions for their retention", () => {
    const caller = "55555555-5555-5555-5555-555555555555";
    const cosmos = aConsumer({
      kind: "cosmos",
      identity: caller,
      identityPrincipalId: caller,
      pins: [aPin(DEST, null)],
      backupRetention: { retentionMs: 30 * DAY, description: "Continuous30Days continuous backup" },
    });
    const evidence = {
      ...aSnapshot().evidence,
      [`${SOURCE.vaultName}/${SOURCE.keyName}`]: anEvidence(SOURCE, {
        from: ago(31 * DAY),
        uses: [
          {
            version: S0,
            lastUse: ago(3 * DAY),
            lastUser: caller,
            count: 1,
            byCaller: { [caller]: ago(3 * DAY) },
          },
        ],
      }),
    };
    const result = plan(world([cosmos], { evidence }), aPolicy(), NOW);
    expect(result.actions.some((a) => a.type === "disable" && a.version === S0)).toBe(false);
    expect(result.holds.find((h) => h.version === S0)?.reason).toBe("backup-retention");
  });

  it("a consumer that moved away but still reports a source version in use holds that version", () => {
    const cosmos = aConsumer({ kind: "cosmos", pins: [aPin(DEST, null)], inUse: { key: S0 } });
    const result = plan(world([cosmos]), aPolicy(), NOW);
    expect(result.actions.some((a) => a.type === "disable" && a.version === S0)).toBe(false);
    expect(result.holds.find((h) => h.version === S0)).toMatchObject({
      reason: "in-use-by-consumer",
      concerns: cosmos.id,
    });
  });
});
