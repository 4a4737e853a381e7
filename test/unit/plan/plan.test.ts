import { describe, expect, it } from "vitest";
import type {
  ConsumerSnapshot,
  DisableAction,
  KeySnapshot,
  Plan,
  RepointAction,
  Snapshot,
} from "../../../src/model.js";
import { COSMOS_FIRST_PARTY_APP_ID, keyRefId, TAGS } from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import {
  aConsumer,
  ago,
  aKeyRef,
  aKeySnapshot,
  aKeyWithThreeVersions,
  anEvidence,
  anEvidenceWithUses,
  aPin,
  aPolicy,
  aSnapshot,
  aUse,
  aUseBy,
  aVersion,
  DAY,
  HOUR,
  MINUTE,
  NOW,
  SERVICE_PRINCIPAL_ID,
  versionId,
} from "../../builders/index.js";

/**
 * Baseline: key kv1/cmk with three versions, v0 (10 days old), v1 (3 days old) and the newest
 * v2 (2 days old). v1 was superseded 2 days ago, so with the 1-day quiet period and fresh,
 * complete, empty evidence it is retired; v0 likewise. Every test tweaks one thing.
 */
const key = aKeyRef();
const V0 = versionId(0);
const V1 = versionId(1);
const V2 = versionId(2);

function baselineKey(overrides: Partial<KeySnapshot> = {}): KeySnapshot {
  return aKeyWithThreeVersions({ key, ...overrides });
}

function snapshotWith(overrides: Partial<Snapshot> = {}): Snapshot {
  return aSnapshot({ keys: [baselineKey()], ...overrides });
}

function repoints(result: Plan): RepointAction[] {
  return result.actions.filter((action): action is RepointAction => action.type === "repoint");
}

function disabled(result: Plan): string[] {
  return result.actions
    .filter((action): action is DisableAction => action.type === "disable")
    .map((a) => a.version);
}

function holdOf(result: Plan, version: string) {
  return result.holds.find((hold) => hold.version === version);
}

function withVersion(index: number, tweak: Parameters<typeof aVersion>[1]): KeySnapshot {
  const base = baselineKey();
  return {
    ...base,
    versions: base.versions.map((v, i) => {
      if (i !== index) return v;
      const { created, ...facts } = v;
      return aVersion(index, { ...facts, ...(tweak?.ageMs === undefined ? { created } : {}), ...tweak });
    }),
  };
}

describe("plan: target and repoint", () => {
  it("targets the newest valid version and repoints every pin older than it", () => {
    const kusto = aConsumer({ kind: "kusto", pins: [aPin(key, V0)] });
    const cassandra = aConsumer({ kind: "cassandra", pins: [aPin(key, V1, "backupStorage")] });
    const result = plan(snapshotWith({ consumers: [kusto, cassandra] }), aPolicy(), NOW);

    expect(result.targets[keyRefId(key)]).toBe(V2);
    expect(repoints(result).map((a) => [a.consumerId, a.from, a.to, a.reason])).toEqual(
      [
        [kusto.id, V0, V2, "consumer-lags"],
        [cassandra.id, V1, V2, "consumer-lags"],
      ].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)),
    );
  });

  it("repoints both pins of a Cassandra data center", () => {
    const cassandra = aConsumer({
      kind: "cassandra",
      pins: [aPin(key, V0, "managedDisk"), aPin(key, V1, "backupStorage")],
    });
    const result = plan(snapshotWith({ consumers: [cassandra] }), aPolicy(), NOW);
    expect(repoints(result).map((a) => [a.pin, a.from, a.to])).toEqual([
      ["backupStorage", V1, V2],
      ["managedDisk", V0, V2],
    ]);
  });

  it("never repoints a versionless pin", () => {
    const follower = aConsumer({ pins: [aPin(key, null)] });
    expect(repoints(plan(snapshotWith({ consumers: [follower] }), aPolicy(), NOW))).toEqual([]);
  });

  it("leaves a consumer already on the target alone", () => {
    const current = aConsumer({ pins: [aPin(key, V2)] });
    const result = plan(
      snapshotWith({ consumers: [current], evidence: anEvidenceWithUses(key, [aUseBy(current, V2)]) }),
      aPolicy(),
      NOW,
    );
    expect(repoints(result)).toEqual([]);
    expect(result.holds.filter((h) => h.concerns === current.id)).toEqual([]);
  });

  it("orders versions created in the same second by the key's current version, never downgrading", () => {
    const second = ago(DAY);
    const [v0, v1, v2] = [aVersion(0), aVersion(1, { created: second }), aVersion(2, { created: second })];
    // V1 sorts before V2 by id, but Key Vault says V1 is the current (newest) version.
    const sameSecond = aKeySnapshot({ versions: [v0, v1, v2], currentVersion: V1 });
    const onV2 = aConsumer({ pins: [aPin(key, V2)] });
    const result = plan(snapshotWith({ keys: [sameSecond], consumers: [onV2] }), aPolicy(), NOW);
    expect(result.targets[keyRefId(key)]).toBe(V1);
    expect(repoints(result).map((a) => [a.from, a.to])).toEqual([[V2, V1]]);
    expect(disabled(result)).not.toContain(V1);
  });

  it("holds a pin whose order against the target cannot be known (same second, neither current)", () => {
    const second = ago(DAY);
    const versions = [
      aVersion(0),
      aVersion(1, { created: second }),
      aVersion(2, { created: second }),
      aVersion(3, { keyType: "EC" }), // the current version, blocked: the target falls back into the tie
    ];
    const onV1 = aConsumer({ pins: [aPin(key, V1)] });
    const result = plan(
      snapshotWith({
        keys: [aKeySnapshot({ versions, currentVersion: versions[3]!.version })],
        consumers: [onV1],
      }),
      aPolicy(),
      NOW,
    );
    expect(result.targets[keyRefId(key)]).toBe(V2);
    expect(repoints(result)).toEqual([]);
    expect(result.holds).toContainEqual(expect.objectContaining({ version: V1, concerns: onV1.id }));
  });

  it("matches pins case-insensitively on key name and version", () => {
    const shouty = aConsumer({ pins: [aPin(aKeyRef({ keyName: "CMK" }), V0.toUpperCase())] });
    const result = plan(snapshotWith({ consumers: [shouty] }), aPolicy(), NOW);
    expect(repoints(result).map((a) => a.from)).toEqual([V0]);
  });

  it.each([
    "Updating",
    "Running", // Kusto's provisioningState while an operation runs
    "SomethingNew", // an unknown state counts as busy
  ])("holds a consumer whose provisioning state is %s instead of repointing it", (provisioningState) => {
    const busy = aConsumer({ pins: [aPin(key, V0)], provisioningState });
    const result = plan(snapshotWith({ consumers: [busy] }), aPolicy(), NOW);
    expect(repoints(result)).toEqual([]);
    expect(result.holds).toContainEqual(
      expect.objectContaining({ reason: "repoint-in-progress", version: V0, concerns: busy.id }),
    );
  });

  it("holds a pin on a version the key does not list instead of guessing", () => {
    const unknown = "f".repeat(32);
    const stray = aConsumer({ pins: [aPin(key, unknown)] });
    const result = plan(snapshotWith({ consumers: [stray] }), aPolicy(), NOW);
    expect(repoints(result)).toEqual([]);
    expect(holdOf(result, unknown)).toMatchObject({ reason: "pinned-version-unknown", concerns: stray.id });
  });

  it("ignores consumers of other keys", () => {
    const other = aConsumer({ pins: [aPin(aKeyRef({ keyName: "other" }), V0)] });
    expect(repoints(plan(snapshotWith({ consumers: [other] }), aPolicy(), NOW))).toEqual([]);
  });

  it("does not depend on the order of versions in the snapshot", () => {
    const consumer = aConsumer({ pins: [aPin(key, V0)] });
    const base = baselineKey();
    const shuffled = { ...base, versions: [...base.versions].reverse() };
    const a = plan(snapshotWith({ consumers: [consumer] }), aPolicy(), NOW);
    const b = plan(snapshotWith({ keys: [shuffled], consumers: [consumer] }), aPolicy(), NOW);
    expect(b).toEqual(a);
  });
});

describe("plan: preflight blocks", () => {
  const cases: [string, Parameters<typeof aVersion>[1], string][] = [
    ["disabled", { enabled: false }, "preflight-disabled"],
    ["expired", { expiresOn: ago(HOUR) }, "preflight-expired"],
    ["not yet valid", { notBefore: new Date(NOW.getTime() + HOUR) }, "preflight-not-yet-valid"],
    ["not RSA", { keyType: "EC" }, "preflight-not-rsa"],
    ["too small", { keySize: 1024 }, "preflight-key-too-small"],
    ["of unknown size", { keySize: undefined }, "preflight-key-too-small"],
    ["missing unwrapKey", { keyOps: ["wrapKey", "encrypt"] }, "preflight-missing-key-ops"],
    ["on a purgeable vault", { recoveryLevel: "Recoverable+Purgeable" }, "preflight-not-purge-protected"],
    ["of unknown recovery level", { recoveryLevel: undefined }, "preflight-not-purge-protected"],
    ["tagged compromised", { tags: { [TAGS.compromised]: "true" } }, "preflight-compromised"],
  ];

  it.each(cases)("blocks a newest version that is %s and repoints nothing to it", (_name, tweak, reason) => {
    const onPrevious = aConsumer({ pins: [aPin(key, V1)] });
    const onOldest = aConsumer({ pins: [aPin(key, V0)] });
    const result = plan(
      snapshotWith({ keys: [withVersion(2, tweak)], consumers: [onPrevious, onOldest] }),
      aPolicy(),
      NOW,
    );

    expect(result.blocks).toEqual([expect.objectContaining({ type: "block", version: V2, reason })]);
    expect(result.targets[keyRefId(key)]).toBe(V1);
    // The consumer on the previous target stays; the one on an older version moves up to it.
    expect(repoints(result).map((a) => [a.consumerId, a.from, a.to])).toEqual([[onOldest.id, V0, V1]]);
    expect(disabled(result)).not.toContain(V2);
    expect(disabled(result)).not.toContain(V1);
  });

  it("uses the strictest minimum size of the consumer kinds on the key", () => {
    const keyWith2048 = withVersion(2, { keySize: 2048 });
    const kustoOnly = aConsumer({ kind: "kusto", pins: [aPin(key, V1)] });
    expect(
      plan(snapshotWith({ keys: [keyWith2048], consumers: [kustoOnly] }), aPolicy(), NOW).blocks,
    ).toEqual([]);

    const cosmosToo = aConsumer({ kind: "cosmos", pins: [aPin(key, null)] });
    const result = plan(
      snapshotWith({ keys: [keyWith2048], consumers: [kustoOnly, cosmosToo] }),
      aPolicy(),
      NOW,
    );
    expect(result.blocks.map((b) => b.reason)).toEqual(["preflight-key-too-small"]);
    expect(result.blocks[0]?.message).toContain("3072");
  });

  it("blocks a size a consumer kind does not accept at all (Kusto: RSA 2048 only)", () => {
    const kusto = aConsumer({ kind: "kusto", pins: [aPin(key, V1)] });
    const kustoOnly2048 = aPolicy({ acceptedRsaBits: { kusto: [2048] } });
    const sized = aKeySnapshot({
      versions: [
        aVersion(0, { keySize: 2048 }),
        aVersion(1, { keySize: 2048 }),
        aVersion(2, { keySize: 3072 }),
      ],
    });
    const result = plan(snapshotWith({ keys: [sized], consumers: [kusto] }), kustoOnly2048, NOW);
    expect(result.blocks).toEqual([
      expect.objectContaining({ version: V2, reason: "preflight-key-size-unsupported" }),
    ]);
    expect(result.blocks[0]?.message).toContain("kusto accepts RSA 2048");
    expect(repoints(result)).toEqual([]);

    const cassandra = aConsumer({ kind: "cassandra", pins: [aPin(key, V1)] });
    const wider = plan(snapshotWith({ keys: [sized], consumers: [cassandra] }), kustoOnly2048, NOW);
    expect(wider.blocks).toEqual([]);
  });

  it("keeps a consumer pinned to a blocked newer version where it is", () => {
    const ahead = aConsumer({ pins: [aPin(key, V2)] });
    const result = plan(
      snapshotWith({ keys: [withVersion(2, { keyType: "EC" })], consumers: [ahead] }),
      aPolicy(),
      NOW,
    );
    expect(repoints(result)).toEqual([]);
    expect(holdOf(result, V2)).toMatchObject({ reason: "consumer-ahead-of-target", concerns: ahead.id });
  });

  it("with no valid version at all, repoints nothing and disables nothing", () => {
    const base = baselineKey();
    const purgeable = {
      ...base,
      versions: base.versions.map((v) => ({ ...v, recoveryLevel: "Recoverable+Purgeable" })),
    };
    const consumer = aConsumer({ pins: [aPin(key, V0)] });
    const result = plan(snapshotWith({ keys: [purgeable], consumers: [consumer] }), aPolicy(), NOW);
    expect(result.targets).toEqual({});
    expect(result.actions).toEqual([]);
    expect(result.blocks.map((b) => b.version)).toContain(V2);
    expect(holdOf(result, V1)).toMatchObject({ reason: "no-valid-target" });
  });
});

describe("plan: retire", () => {
  it("disables old unused versions with evidence when every rule passes", () => {
    const result = plan(snapshotWith(), aPolicy(), NOW);
    expect(disabled(result)).toEqual([V0, V1]);
    const v1 = result.actions.find((a): a is DisableAction => a.type === "disable" && a.version === V1);
    expect(v1?.reason).toBe("quiet-period-elapsed-unused");
    expect(v1?.evidence).toMatchObject({
      supersededAt: ago(2 * DAY),
      quietPeriodMs: DAY,
      canarySeenAt: ago(MINUTE),
      workspaceId: anEvidence().workspaceId,
    });
  });

  it("never disables the newest version, nor a disabled one again", () => {
    const result = plan(snapshotWith({ keys: [withVersion(0, { enabled: false })] }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([V1]);
    expect(holdOf(result, V2)).toBeUndefined();
    expect(holdOf(result, V0)).toBeUndefined();
  });

  it("holds a version pinned by a consumer and names it", () => {
    const pinner = aConsumer({ pins: [aPin(key, V1)] });
    const result = plan(
      snapshotWith({ consumers: [pinner], evidence: anEvidenceWithUses(key, [aUseBy(pinner, V1)]) }),
      aPolicy(),
      NOW,
    );
    expect(disabled(result)).toEqual([V0]);
    expect(result.holds).toContainEqual(
      expect.objectContaining({ version: V1, reason: "pinned-by-consumer", concerns: pinner.id }),
    );
  });

  it("holds old versions while a consumer that reports no version in use is updating", () => {
    const switching = aConsumer({ kind: "kusto", pins: [aPin(key, V2)], provisioningState: "Updating" });
    const result = plan(snapshotWith({ consumers: [switching] }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    expect(holdOf(result, V0)).toMatchObject({ reason: "repoint-in-progress", concerns: switching.id });
    expect(holdOf(result, V1)?.message).toContain("Updating");
  });

  it("holds a version a Cosmos DB account still reports in use (keyVaultKeyUriVersion), and never repoints it", () => {
    const follower = aConsumer({ kind: "cosmos", pins: [aPin(key, null)], inUse: { key: V1 } });
    const result = plan(snapshotWith({ consumers: [follower] }), aPolicy(), NOW);
    expect(holdOf(result, V1)).toMatchObject({ reason: "in-use-by-consumer", concerns: follower.id });
    expect(repoints(result)).toEqual([]);
    // Once its read-back shows the newer version, the rule lets the old one go.
    const moved = aConsumer({ kind: "cosmos", pins: [aPin(key, null)], inUse: { key: V2 } });
    expect(disabled(plan(snapshotWith({ consumers: [moved] }), aPolicy(), NOW))).toEqual([V0, V1]);
  });

  it("holds a version superseded less than the quiet period ago, until it ends", () => {
    const result = plan(snapshotWith({ keys: [withVersion(2, { ageMs: 2 * HOUR })] }), aPolicy(), NOW);
    expect(holdOf(result, V1)).toMatchObject({
      reason: "superseded-recently",
      until: new Date(ago(2 * HOUR).getTime() + DAY),
    });
  });

  it("uses the emergency quiet period for a compromised version", () => {
    const compromisedKey = baselineKey({
      versions: [
        aVersion(0, { ageMs: 10 * DAY, enabled: false }),
        aVersion(1, { ageMs: 3 * DAY, tags: { [TAGS.compromised]: "true" } }),
        aVersion(2, { ageMs: 2 * HOUR }),
      ],
    });
    expect(disabled(plan(snapshotWith({ keys: [compromisedKey] }), aPolicy(), NOW))).toEqual([V1]);
    const notYet = plan(
      snapshotWith({ keys: [compromisedKey] }),
      aPolicy({ emergencyQuietPeriodMs: 3 * HOUR }),
      NOW,
    );
    expect(holdOf(notYet, V1)).toMatchObject({ reason: "superseded-recently" });
    expect(holdOf(notYet, V1)?.message).toContain("emergency quiet period");
  });

  it("never lets the emergency quiet period be longer than the normal one", () => {
    const compromisedKey = baselineKey({
      versions: [
        aVersion(1, { ageMs: 3 * DAY, tags: { [TAGS.compromised]: "yes" } }),
        aVersion(2, { ageMs: 2 * DAY }),
      ],
    });
    const result = plan(
      snapshotWith({ keys: [compromisedKey] }),
      aPolicy({ emergencyQuietPeriodMs: 7 * DAY }),
      NOW,
    );
    expect(disabled(result)).toEqual([V1]);
  });

  it("holds everything when the evidence is missing", () => {
    const result = plan(snapshotWith({ evidence: {} }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    expect(holdOf(result, V1)).toMatchObject({ reason: "evidence-incomplete" });
  });

  it("holds on a partial query result, quoting the problem", () => {
    const partial = anEvidence(key, { complete: false, problem: "PartialError: query limits exceeded" });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: partial } }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    expect(holdOf(result, V1)?.message).toContain("PartialError");
  });

  it("holds when no canary has arrived", () => {
    const noCanary = anEvidence(key, { canarySeenAt: undefined });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: noCanary } }), aPolicy(), NOW);
    expect(holdOf(result, V1)).toMatchObject({ reason: "pipeline-not-current" });
  });

  it("holds when the canary is older than the ingestion margin", () => {
    const stale = anEvidence(key, { canarySeenAt: ago(31 * MINUTE) });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: stale } }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    expect(holdOf(result, V1)).toMatchObject({ reason: "pipeline-not-current" });
  });

  it("accepts a canary exactly at the ingestion margin", () => {
    const edge = anEvidence(key, { canarySeenAt: ago(30 * MINUTE) });
    expect(disabled(plan(snapshotWith({ evidence: { [keyRefId(key)]: edge } }), aPolicy(), NOW))).toEqual([
      V0,
      V1,
    ]);
  });

  it("holds when the service's own reads appear only for part of the quiet period (logs not proven flowing)", () => {
    // Quiet period P1D, margin 30 min, canary 1 minute old: own reads must reach back to 23h 31m ago.
    const recent = anEvidence(key, { canaryFirstSeenAt: ago(20 * HOUR) });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: recent } }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    const hold = holdOf(result, V1);
    expect(hold).toMatchObject({ reason: "pipeline-history-too-short" });
    expect(hold?.message).toContain("only since");
    expect(hold?.until?.toISOString()).toBe(
      new Date(ago(20 * HOUR).getTime() + DAY - 30 * MINUTE).toISOString(),
    );
  });

  it("accepts own reads that reach back to the start of the quiet period within the margin", () => {
    const edge = anEvidence(key, { canaryFirstSeenAt: new Date(ago(MINUTE).getTime() - DAY + 30 * MINUTE) });
    expect(disabled(plan(snapshotWith({ evidence: { [keyRefId(key)]: edge } }), aPolicy(), NOW))).toEqual([
      V0,
      V1,
    ]);
  });

  it("holds when the query window does not cover the quiet period before the canary", () => {
    const short = anEvidence(key, { from: ago(12 * HOUR) });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: short } }), aPolicy(), NOW);
    expect(holdOf(result, V1)).toMatchObject({ reason: "evidence-incomplete" });
  });

  it("holds a version used inside the quiet period and names the last user", () => {
    const caller = "55555555-5555-5555-5555-555555555555";
    const used = anEvidence(key, { uses: [aUse(V1, ago(5 * HOUR), caller)] });
    const result = plan(snapshotWith({ evidence: { [keyRefId(key)]: used } }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([V0]);
    expect(holdOf(result, V1)).toMatchObject({
      reason: "used-recently",
      concerns: caller,
      until: new Date(ago(5 * HOUR).getTime() + DAY),
    });
    expect(holdOf(result, V1)?.message).toContain(caller);
  });

  it("measures the quiet period back from the canary, not from now", () => {
    // The canary is 20 minutes old: a use 1 day minus 1 minute before it is inside the quiet period.
    const canary = ago(20 * MINUTE);
    const justInside = anEvidence(key, {
      canarySeenAt: canary,
      uses: [aUse(V1, new Date(canary.getTime() - DAY + MINUTE))],
    });
    expect(
      holdOf(plan(snapshotWith({ evidence: { [keyRefId(key)]: justInside } }), aPolicy(), NOW), V1),
    ).toMatchObject({
      reason: "used-recently",
    });
    const justOutside = anEvidence(key, {
      canarySeenAt: canary,
      uses: [aUse(V1, new Date(canary.getTime() - DAY - MINUTE))],
    });
    expect(
      disabled(plan(snapshotWith({ evidence: { [keyRefId(key)]: justOutside } }), aPolicy(), NOW)),
    ).toEqual([V0, V1]);
  });

  it("holds a version for a consumer's backup retention after its last use", () => {
    const cosmos: ConsumerSnapshot = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      inUse: { key: V2 },
      backupRetention: { retentionMs: 7 * DAY, description: "Continuous7Days" },
    });
    const identity = cosmos.identity ?? "";
    const lastUse = ago(2 * DAY);
    const evidence = anEvidence(key, {
      from: ago(10 * DAY),
      uses: [{ version: V1, lastUse, lastUser: identity, count: 3, byCaller: { [identity]: lastUse } }],
    });
    const result = plan(
      snapshotWith({ consumers: [cosmos], evidence: { [keyRefId(key)]: evidence } }),
      aPolicy(),
      NOW,
    );
    expect(holdOf(result, V1)).toMatchObject({
      reason: "backup-retention",
      concerns: cosmos.id,
      until: new Date(lastUse.getTime() + 7 * DAY),
    });
  });

  it("matches a user-assigned identity to the audit caller by its principal id", () => {
    const principalId = "66666666-6666-6666-6666-666666666666";
    const cosmos: ConsumerSnapshot = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      inUse: { key: V2 },
      identity:
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai",
      identityPrincipalId: principalId,
      backupRetention: { retentionMs: 7 * DAY, description: "Continuous7Days" },
    });
    const lastUse = ago(2 * DAY);
    const evidence = anEvidence(key, {
      from: ago(10 * DAY),
      uses: [{ version: V1, lastUse, lastUser: principalId, count: 3, byCaller: { [principalId]: lastUse } }],
    });
    const result = plan(
      snapshotWith({ consumers: [cosmos], evidence: { [keyRefId(key)]: evidence } }),
      aPolicy(),
      NOW,
    );
    expect(disabled(result)).not.toContain(V1);
    expect(holdOf(result, V1)).toMatchObject({ reason: "backup-retention", concerns: cosmos.id });
  });

  it("holds every old version while a consumer of the key unwraps with the rotator's own identity", () => {
    const selfKusto: ConsumerSnapshot = aConsumer({
      pins: [aPin(key, V2)],
      identity:
        "/subscriptions/s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/rotator",
      identityPrincipalId: SERVICE_PRINCIPAL_ID.toUpperCase(),
    });
    const result = plan(snapshotWith({ consumers: [selfKusto] }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    for (const version of [V0, V1]) {
      expect(holdOf(result, version)).toMatchObject({
        reason: "consumer-shares-rotator-identity",
        concerns: selfKusto.id,
      });
    }
    expect(holdOf(result, V1)?.message).toContain("Give kusto");
    expect(holdOf(result, V1)?.message).toContain("a managed identity of its own");
    // The same consumer with an identity of its own: nothing stands in the way.
    const own = { ...selfKusto, identityPrincipalId: "66666666-6666-6666-6666-666666666666" };
    const switched = anEvidenceWithUses(key, [aUseBy(own, V2)]);
    expect(disabled(plan(snapshotWith({ consumers: [own], evidence: switched }), aPolicy(), NOW))).toEqual([
      V0,
      V1,
    ]);
  });

  it("sorts actions by key, consumer, pin and version", () => {
    const other = aKeyRef({ vaultName: "kv0", keyName: "zeta" });
    const otherKey = aKeySnapshot({
      key: other,
      versions: [aVersion(0, { key: other }), aVersion(1, { key: other })],
    });
    const consumers = [aConsumer({ pins: [aPin(key, V0)] }), aConsumer({ pins: [aPin(other, V0)] })];
    const snapshot = aSnapshot({ keys: [baselineKey(), otherKey], consumers });
    const result = plan(snapshot, aPolicy(), NOW);
    const ids = result.actions.map((a) => [
      keyRefId(a.key),
      a.type === "repoint" ? a.consumerId : "",
      a.type === "repoint" ? a.from : a.type === "disable" ? a.version : (a.from ?? ""),
    ]);
    expect(ids).toEqual([...ids].sort((a, b) => (a.join("\u0000") < b.join("\u0000") ? -1 : 1)));
    expect(ids.map((id) => id[0])).toEqual(["kv0/zeta", "kv1/cmk", "kv1/cmk"]);
    expect(
      plan(
        { ...snapshot, keys: [...snapshot.keys].reverse(), consumers: [...consumers].reverse() },
        aPolicy(),
        NOW,
      ),
    ).toEqual(result);
  });

  it("plans the same in report mode, and says so", () => {
    const enforce = plan(snapshotWith(), aPolicy(), NOW);
    const report = plan(snapshotWith(), aPolicy({ mode: "report" }), NOW);
    expect(report.actions).toEqual(enforce.actions);
    expect(report.mode).toBe("report");
  });
});

describe("plan: proof that every consumer moved", () => {
  const follower = () => aConsumer({ kind: "kusto", pins: [aPin(key, null)], runState: "Running" });

  it("holds every old version while a follower without read-back has not been seen on a newer one", () => {
    const silent = follower();
    const result = plan(snapshotWith({ consumers: [silent] }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([]);
    for (const version of [V0, V1]) {
      expect(holdOf(result, version)).toMatchObject({
        reason: "consumer-not-proven-switched",
        concerns: silent.id,
      });
    }
    expect(holdOf(result, V1)?.message).toContain("has not yet been seen using a newer version");
    // Its own identity on the newest version proves it moved off both.
    const seen = plan(
      snapshotWith({ consumers: [silent], evidence: anEvidenceWithUses(key, [aUseBy(silent, V2)]) }),
      aPolicy(),
      NOW,
    );
    expect(disabled(seen)).toEqual([V0, V1]);
  });

  it("does not take another caller's use of a newer version as a follower's proof", () => {
    const silent = follower();
    const evidence = anEvidenceWithUses(key, [aUse(V2, ago(HOUR), "77777777-7777-7777-7777-777777777777")]);
    const result = plan(snapshotWith({ consumers: [silent], evidence }), aPolicy(), NOW);
    expect(holdOf(result, V1)?.reason).toBe("consumer-not-proven-switched");
  });

  it("proves a pinned cluster by its read-back only once its update finished and its own calls show the newer version", () => {
    const pinned = aConsumer({ kind: "kusto", pins: [aPin(key, V2)], runState: "Running" });
    const withUse = anEvidenceWithUses(key, [aUseBy(pinned, V2)]);
    expect(disabled(plan(snapshotWith({ consumers: [pinned], evidence: withUse }), aPolicy(), NOW))).toEqual([
      V0,
      V1,
    ]);
    // The configuration runs ahead of the switch until its own calls show the new version.
    const noUse = plan(snapshotWith({ consumers: [pinned] }), aPolicy(), NOW);
    expect(holdOf(noUse, V1)?.reason).toBe("consumer-not-proven-switched");
    const failed = plan(
      snapshotWith({ consumers: [{ ...pinned, provisioningState: "Failed" }], evidence: withUse }),
      aPolicy(),
      NOW,
    );
    expect(holdOf(failed, V1)?.message).toContain("its update has not finished (provisioningState Failed)");
  });

  it("proves a Cosmos DB account by keyVaultKeyUriVersion alone, also a first-party one", () => {
    const account = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      inUse: { key: V2 },
      identity: "FirstPartyIdentity",
      identityAppId: COSMOS_FIRST_PARTY_APP_ID,
    });
    expect(disabled(plan(snapshotWith({ consumers: [account] }), aPolicy(), NOW))).toEqual([V0, V1]);
    const unreported = plan(snapshotWith({ consumers: [{ ...account, inUse: {} }] }), aPolicy(), NOW);
    expect(holdOf(unreported, V1)?.message).toContain("first-party application");
  });

  it("proves data centers that share their cluster's identity by read-back alone", () => {
    const identity = "44444444-0000-0000-0000-000000000001";
    const dataCenters = ["dc1", "dc2"].map((name) =>
      aConsumer({
        kind: "cassandra",
        id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/cassandraClusters/c1/dataCenters/${name}`,
        pins: [aPin(key, V2, "managedDisk")],
        identity,
        identityPrincipalId: identity,
        runState: "Running",
      }),
    );
    expect(disabled(plan(snapshotWith({ consumers: dataCenters }), aPolicy(), NOW))).toEqual([V0, V1]);
  });

  it("holds what a stopped consumer may need: the newest version its own identity used and every newer one", () => {
    const stopped = { ...follower(), runState: "Stopped" };
    const evidence = anEvidenceWithUses(key, [aUseBy(stopped, V1, ago(DAY + HOUR))]);
    const result = plan(snapshotWith({ consumers: [stopped], evidence }), aPolicy(), NOW);
    expect(disabled(result)).toEqual([V0]);
    expect(holdOf(result, V1)).toMatchObject({ reason: "consumer-stopped", concerns: stopped.id });
    expect(holdOf(result, V1)?.message).toContain("is Stopped: it makes no Key Vault calls now");
    expect(holdOf(result, V1)?.message).toContain("Start it again");
    // Without any use of its own in the evidence, every old version is kept.
    const unknown = plan(snapshotWith({ consumers: [stopped] }), aPolicy(), NOW);
    expect(disabled(unknown)).toEqual([]);
    expect(holdOf(unknown, V0)?.message).toContain("every old version is kept");
  });

  it("disables nothing on a quiet period shorter than the longest ingestion latency allowed for", () => {
    const result = plan(
      snapshotWith(),
      aPolicy({ quietPeriodMs: HOUR, maxIngestionLatencyMs: 2 * HOUR }),
      NOW,
    );
    expect(disabled(result)).toEqual([]);
    expect(holdOf(result, V1)?.message).toContain("shorter than ROTATOR_MAX_INGESTION_LATENCY (PT2H)");
    expect(
      disabled(plan(snapshotWith(), aPolicy({ quietPeriodMs: HOUR, maxIngestionLatencyMs: HOUR }), NOW)),
    ).toEqual([V0, V1]);
  });

  it("never repoints a stopped or deallocated consumer, and says it is repointed once it runs", () => {
    const deallocated = aConsumer({
      kind: "cassandra",
      pins: [aPin(key, V1, "managedDisk")],
      runState: "Deallocated",
    });
    const result = plan(snapshotWith({ consumers: [deallocated] }), aPolicy(), NOW);
    expect(repoints(result)).toEqual([]);
    expect(result.holds).toContainEqual(
      expect.objectContaining({ version: V1, reason: "consumer-stopped", concerns: deallocated.id }),
    );
    expect(
      repoints(plan(snapshotWith({ consumers: [{ ...deallocated, runState: "Running" }] }), aPolicy(), NOW)),
    ).toHaveLength(1);
  });

  it("attributes a first-party Cosmos DB account's backups by app id, and falls back to the conservative bound when its caller is unknown", () => {
    const firstPartyPrincipal = "77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f";
    const account = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      inUse: { key: V2 },
      identity: "FirstPartyIdentity",
      identityAppId: COSMOS_FIRST_PARTY_APP_ID,
      backupRetention: { retentionMs: 30 * DAY, description: "Continuous30Days continuous backup" },
    });
    const lastUse = ago(3 * DAY);
    const evidence = anEvidenceWithUses(key, [aUse(V1, lastUse, firstPartyPrincipal)], {
      from: ago(31 * DAY),
      callerAppIds: { [firstPartyPrincipal]: COSMOS_FIRST_PARTY_APP_ID },
    });
    const result = plan(snapshotWith({ consumers: [account], evidence }), aPolicy(), NOW);
    expect(holdOf(result, V1)).toMatchObject({
      reason: "backup-retention",
      concerns: account.id,
      until: new Date(lastUse.getTime() + 30 * DAY),
    });
    expect(holdOf(result, V1)?.message).toContain(COSMOS_FIRST_PARTY_APP_ID);
    // Without the app id on the records its calls cannot be told: the conservative bound, the
    // later of the supersession (2 days ago) and the last use by anyone (3 days ago), plus the retention.
    const { callerAppIds: _ignored, ...withoutAppIds } = evidence[keyRefId(key)]!;
    const unattributed = plan(
      snapshotWith({ consumers: [account], evidence: { [keyRefId(key)]: withoutAppIds } }),
      aPolicy(),
      NOW,
    );
    expect(holdOf(unattributed, V1)).toMatchObject({
      reason: "backup-retention",
      until: new Date(ago(2 * DAY).getTime() + 30 * DAY),
    });
    expect(holdOf(unattributed, V1)?.message).toContain("no record carries its app id");
    // A consumer whose identity is not known at all: superseded (2 days ago) plus the retention.
    const unknown = { ...account, identity: undefined, identityAppId: undefined };
    const bound = plan(snapshotWith({ consumers: [unknown], evidence }), aPolicy(), NOW);
    expect(holdOf(bound, V1)).toMatchObject({
      reason: "backup-retention",
      until: new Date(ago(2 * DAY).getTime() + 30 * DAY),
    });
    expect(holdOf(bound, V1)?.message).toContain("conservative bound");
  });

  it("warns from 90 versions of a Managed HSM key on, and says when the cap is reached", () => {
    const hsm = aKeyRef({ vaultName: "hsm1", hostKind: "managedHsm" });
    const withVersions = (count: number) =>
      aSnapshot({
        keys: [
          aKeySnapshot({
            key: hsm,
            versions: Array.from({ length: count }, (_, index) =>
              aVersion(index, { key: hsm, ageMs: (count - index) * HOUR }),
            ),
          }),
        ],
      });
    expect(plan(withVersions(89), aPolicy(), NOW).warnings).toEqual([]);
    const near = plan(withVersions(90), aPolicy(), NOW).warnings ?? [];
    expect(near).toMatchObject([{ reason: "hsm-version-cap-near", key: hsm }]);
    expect(near[0]?.message).toContain("has 90 of the at most 100 versions");
    expect(plan(withVersions(100), aPolicy(), NOW).warnings?.[0]?.message).toContain(
      "has reached the Managed HSM cap",
    );
    // A vault key has no cap.
    expect(
      plan(
        aSnapshot({ keys: [aKeySnapshot({ versions: withVersions(95).keys[0]!.versions })] }),
        aPolicy(),
        NOW,
      ).warnings,
    ).toEqual([]);
  });
});
