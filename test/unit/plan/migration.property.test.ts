/**
 * Planner properties of migrations over generated worlds: a source key and a destination key
 * with random (some flawed) versions, a destination vault in a random region with random soft
 * delete and purge protection, and consumers of every kind on either key (pinned or following,
 * some busy or stopped, in random regions).
 *
 *  - No consumer is moved back: every move goes from the source to the destination, and over
 *    repeated runs (moves applied, new destination versions) a consumer on the destination is
 *    never planned onto the source again.
 *  - No consumer ends up on a key or version that fails its preflight: each move's version (the
 *    destination's newest for a follower) passes the preflight for the consumer's kind, the
 *    destination vault keeps deleted keys, and a Kusto cluster moves only within its region.
 *
 * Each rule of the second property is also removed in turn: the property must then find a
 * counterexample, so the tests prove the rules are what keeps it true.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ConsumerKind,
  type ConsumerSnapshot,
  type KeySnapshot,
  type KeyVersionFacts,
  keyRefId,
  type MigrateAction,
  type MigrationIntent,
  type Policy,
  type Snapshot,
  TAGS,
  type VaultFacts,
} from "../../../src/model.js";
import { gatherKeyContext } from "../../../src/plan/keyContext.js";
import {
  DEFAULT_MIGRATION_RULES,
  DESTINATION_CHECKS,
  type MigrationRules,
  planMigration,
  SAME_REGION_KINDS,
} from "../../../src/plan/migrate.js";
import { plan } from "../../../src/plan/plan.js";
import { preflight } from "../../../src/plan/preflight.js";
import {
  aConsumer,
  aKeyRef,
  aPin,
  aPolicy,
  aSnapshot,
  aVersion,
  DAY,
  HOUR,
  NOW,
} from "../../builders/index.js";

const RUNS = { numRuns: 800 };
const SOURCE = aKeyRef({ vaultName: "kv-source", keyName: "old" });
const DESTINATION = aKeyRef({ vaultName: "kv-dest", keyName: "new" });
const REGIONS = ["westeurope", "eastus"] as const;

type Flaw =
  | "none"
  | "small"
  | "large"
  | "EC"
  | "disabled"
  | "expired"
  | "notYetValid"
  | "purgeable"
  | "compromised";

interface VersionSpec {
  flaw: Flaw;
}

interface ConsumerSpec {
  kind: ConsumerKind;
  onDestination: boolean;
  pinned: boolean;
  pinIndex: number;
  busy: boolean;
  stopped: boolean;
  region: (typeof REGIONS)[number] | undefined;
}

interface World {
  source: VersionSpec[];
  destination: VersionSpec[];
  vault:
    | { region: (typeof REGIONS)[number] | undefined; softDelete: boolean; purgeProtection: boolean }
    | undefined;
  consumers: ConsumerSpec[];
  cancelled: boolean;
  /** Versions added to the destination between runs (the multi-run property). */
  later: VersionSpec[][];
}

const versionSpecArb: fc.Arbitrary<VersionSpec> = fc.record({
  flaw: fc.constantFrom<Flaw>(
    "none",
    "none",
    "none",
    "small",
    "large",
    "EC",
    "disabled",
    "expired",
    "notYetValid",
    "purgeable",
    "compromised",
  ),
});

/** True about one time in four: most consumers are idle and running, most migrations active. */
const sometimes = fc.constantFrom(false, false, false, true);

const consumerSpecArb: fc.Arbitrary<ConsumerSpec> = fc.record({
  kind: fc.constantFrom<ConsumerKind>("kusto", "cosmos", "cassandra"),
  onDestination: fc.boolean(),
  pinned: fc.boolean(),
  pinIndex: fc.nat({ max: 3 }),
  busy: sometimes,
  stopped: sometimes,
  region: fc.constantFrom(...REGIONS, undefined),
});

const worldArb: fc.Arbitrary<World> = fc.record({
  source: fc.array(versionSpecArb, { minLength: 1, maxLength: 3 }),
  destination: fc.array(versionSpecArb, { minLength: 1, maxLength: 4 }),
  vault: fc.option(
    fc.record({
      region: fc.constantFrom(...REGIONS, undefined),
      softDelete: fc.constantFrom(true, true, true, false),
      purgeProtection: fc.constantFrom(true, true, true, false),
    }),
    { nil: undefined, freq: 5 },
  ),
  consumers: fc.array(consumerSpecArb, { minLength: 1, maxLength: 6 }),
  cancelled: sometimes,
  later: fc.array(fc.array(versionSpecArb, { minLength: 0, maxLength: 2 }), { minLength: 1, maxLength: 3 }),
});

const POLICY: Policy = aPolicy({ acceptedRsaBits: { kusto: [2048, 3072] } });

function versionOf(key: typeof SOURCE, index: number, spec: VersionSpec, ageMs: number): KeyVersionFacts {
  const version = `${key.vaultName === SOURCE.vaultName ? "a" : "b"}${index.toString(16).padStart(31, "0")}`;
  const flawed: Partial<KeyVersionFacts> = {
    none: {},
    small: { keySize: 2048 },
    large: { keySize: 4096 },
    EC: { keyType: "EC" },
    disabled: { enabled: false },
    expired: { expiresOn: new Date(NOW.getTime() - HOUR) },
    notYetValid: { notBefore: new Date(NOW.getTime() + HOUR) },
    purgeable: { recoveryLevel: "Recoverable+Purgeable" },
    compromised: { tags: { [TAGS.compromised]: NOW.toISOString() } },
  }[spec.flaw];
  return aVersion(index, { key, version, ageMs, ...flawed });
}

function keyOf(key: typeof SOURCE, specs: readonly VersionSpec[], firstIndex = 0): KeySnapshot {
  return {
    key,
    versions: specs.map((spec, offset) =>
      versionOf(key, firstIndex + offset, spec, (20 - firstIndex - offset) * DAY),
    ),
  };
}

function consumerOf(
  spec: ConsumerSpec,
  index: number,
  source: KeySnapshot,
  destination: KeySnapshot,
): ConsumerSnapshot {
  const on = spec.onDestination ? destination : source;
  const pinned = spec.pinned && spec.kind !== "cosmos";
  const version = pinned ? (on.versions[spec.pinIndex % on.versions.length]?.version ?? null) : null;
  return aConsumer({
    id: `/subscriptions/s/resourceGroups/rg/providers/${spec.kind}/c${index}`,
    kind: spec.kind,
    pins: [aPin(on.key, version, spec.kind === "cassandra" ? "managedDisk" : "key")],
    provisioningState: spec.busy ? "Updating" : "Succeeded",
    ...(spec.stopped && spec.kind !== "cosmos" ? { runState: "Stopped" } : {}),
    ...(spec.region ? { location: spec.region } : {}),
  });
}

function snapshotOf(world: World, destinationVersions?: KeySnapshot): Snapshot {
  const source = keyOf(SOURCE, world.source);
  const destination = destinationVersions ?? keyOf(DESTINATION, world.destination);
  const intent: MigrationIntent = {
    source: SOURCE,
    destination: DESTINATION,
    requestedAt: new Date(NOW.getTime() - HOUR),
    reason: "property",
    retireSource: false,
    state: world.cancelled ? "cancelled" : "active",
    runId: "run",
  };
  const vaults: Record<string, VaultFacts> = world.vault
    ? {
        [DESTINATION.vaultName]: {
          ...(world.vault.region ? { location: world.vault.region } : {}),
          softDelete: world.vault.softDelete,
          purgeProtection: world.vault.purgeProtection,
        },
      }
    : {};
  return {
    ...aSnapshot({
      keys: [source, destination],
      consumers: world.consumers.map((spec, index) => consumerOf(spec, index, source, destination)),
    }),
    migrations: [intent],
    vaults,
  };
}

function migrateActions(
  snapshot: Snapshot,
  rules: MigrationRules = DEFAULT_MIGRATION_RULES,
): MigrateAction[] {
  const [source, destination] = snapshot.keys.map((key) => gatherKeyContext(key, snapshot, POLICY, NOW));
  const intent = snapshot.migrations?.[0];
  if (!source || !destination || !intent) return [];
  return planMigration(intent, source, destination, snapshot, POLICY, NOW, rules).actions;
}

/** Why a move is unsafe for its consumer, or null when it is safe. */
function unsafeMove(snapshot: Snapshot, action: MigrateAction): string | null {
  const consumer = snapshot.consumers.find((candidate) => candidate.id === action.consumerId);
  if (!consumer) return "the consumer is not in the snapshot";
  const destination = snapshot.keys.find((key) => keyRefId(key.key) === keyRefId(action.toKey));
  if (!destination) return "the destination is not observed";
  const versions = [...destination.versions].sort((a, b) => a.created.getTime() - b.created.getTime());
  const facts =
    action.to === null ? versions.at(-1) : versions.find((version) => version.version === action.to);
  if (!facts) return `version ${action.to} is not a version of the destination`;
  const verdict = preflight({
    key: destination.key,
    version: facts,
    consumerKinds: [consumer.kind],
    policy: POLICY,
    now: NOW,
  });
  if (verdict) return `${facts.version} fails preflight for ${consumer.kind}: ${verdict.reason}`;
  const vault = snapshot.vaults?.[action.toKey.vaultName];
  if (vault?.softDelete === false || vault?.purgeProtection === false)
    return "the destination vault does not keep deleted keys";
  if (SAME_REGION_KINDS.has(consumer.kind)) {
    if (!consumer.location || !vault?.location || consumer.location !== vault.location)
      return `${consumer.kind} in ${consumer.location} moves to a vault in ${vault?.location}`;
  }
  return null;
}

function everyMoveSafe(rules: MigrationRules): fc.IPropertyWithHooks<[World]> {
  return fc.property(worldArb, (world) => {
    const snapshot = snapshotOf(world);
    for (const action of migrateActions(snapshot, rules)) {
      const problem = unsafeMove(snapshot, action);
      if (problem) throw new Error(problem);
    }
  });
}

/** Applies the moves to the world's consumers, as the consumers' updates would. */
function applyMoves(consumers: ConsumerSnapshot[], actions: readonly MigrateAction[]): ConsumerSnapshot[] {
  return consumers.map((consumer) => {
    const moves = actions.filter((action) => action.consumerId === consumer.id);
    if (moves.length === 0) return consumer;
    return {
      ...consumer,
      pins: consumer.pins.map((pin) => {
        const move = moves.find((candidate) => candidate.pin === pin.pin);
        return move ? { ...pin, key: move.toKey, version: move.to } : pin;
      }),
    };
  });
}

describe("migration planner invariants over generated worlds", () => {
  it("never moves a consumer back: moves go source → destination only, across runs", () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        let snapshot = snapshotOf(world);
        let destination = snapshot.keys[1] as KeySnapshot;
        const onDestination = new Set<string>();
        for (let run = 0; run <= world.later.length; run++) {
          const result = plan(snapshot, POLICY, NOW);
          for (const consumer of snapshot.consumers)
            if (consumer.pins.some((pin) => keyRefId(pin.key) === keyRefId(DESTINATION)))
              onDestination.add(consumer.id);
          const moves = result.actions.filter((action): action is MigrateAction => action.type === "migrate");
          for (const action of moves) {
            expect(keyRefId(action.key)).toBe(keyRefId(SOURCE));
            expect(keyRefId(action.toKey)).toBe(keyRefId(DESTINATION));
            expect(onDestination.has(action.consumerId)).toBe(false);
          }
          for (const action of result.actions) {
            // A repoint stays on its key; nothing plans a consumer onto the source from elsewhere.
            if (action.type === "repoint" && keyRefId(action.key) === keyRefId(SOURCE))
              expect(onDestination.has(action.consumerId)).toBe(false);
          }
          if (world.cancelled) expect(moves).toEqual([]);
          const added = world.later[run] ?? [];
          destination = {
            ...destination,
            versions: [
              ...destination.versions,
              ...added.map((spec, offset) =>
                versionOf(DESTINATION, destination.versions.length + offset, spec, (5 - run) * HOUR),
              ),
            ],
          };
          snapshot = {
            ...snapshot,
            keys: [snapshot.keys[0] as KeySnapshot, destination],
            consumers: applyMoves(snapshot.consumers, moves),
          };
        }
        for (const consumer of snapshot.consumers)
          if (onDestination.has(consumer.id))
            expect(consumer.pins.every((pin) => keyRefId(pin.key) === keyRefId(DESTINATION))).toBe(true);
      }),
      RUNS,
    );
  });

  it("never moves a consumer to a key or version that fails its preflight, region or vault checks", () => {
    fc.assert(everyMoveSafe(DEFAULT_MIGRATION_RULES), RUNS);
  });

  it("moves the consumers that pass, so the property above is not met by moving nothing", () => {
    let moved = 0;
    fc.assert(
      fc.property(worldArb, (world) => {
        moved += migrateActions(snapshotOf(world)).length;
      }),
      RUNS,
    );
    expect(moved).toBeGreaterThan(RUNS.numRuns / 10);
  });

  describe("with a rule removed, the property finds a counterexample", () => {
    const variants: Record<string, MigrationRules> = {
      "no version preflight": { ...DEFAULT_MIGRATION_RULES, versionCheck: () => null },
      "no region check": {
        ...DEFAULT_MIGRATION_RULES,
        checks: DESTINATION_CHECKS.filter((check) => check.name !== "sameRegion"),
      },
      "no vault check": {
        ...DEFAULT_MIGRATION_RULES,
        checks: DESTINATION_CHECKS.filter((check) => check.name !== "vaultKeepsDeletedKeys"),
      },
    };
    for (const [name, rules] of Object.entries(variants)) {
      it(name, () => {
        expect(
          rules.checks.length + (rules.versionCheck === DEFAULT_MIGRATION_RULES.versionCheck ? 1 : 0),
        ).toBeLessThan(DESTINATION_CHECKS.length + 1);
        const result = fc.check(everyMoveSafe(rules), { numRuns: 2000 });
        expect(result.failed).toBe(true);
      });
    }
  });
});
