/**
 * The restore rule (src/plan/restore.ts) and the freeze rule of retirement, one sign at a time
 * over one baseline: v0 disabled by the service an hour ago, v1 the newest.
 */
import { describe, expect, it } from "vitest";
import { type FailedUse, type KeyVersionFacts, TAGS } from "../../../src/model.js";
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
  MINUTE,
  NOW,
  versionId,
} from "../../builders/index.js";

const key = aKeyRef();
const CALLER = "66666666-0000-0000-0000-000000000001";
const V0 = versionId(0);

function disabledByService(at: Date, tags: Record<string, string> = {}): KeyVersionFacts {
  return aVersion(0, {
    key,
    enabled: false,
    tags: { [TAGS.disabledBy]: "cmk-rotator timer run r1", [TAGS.disabledAt]: at.toISOString(), ...tags },
  });
}

function failure(at: Date, caller = CALLER): FailedUse {
  return { version: V0, firstFailure: at, lastFailure: at, count: 1, byCaller: { [caller]: at } };
}

function planWith(
  options: { v0?: KeyVersionFacts; failures?: FailedUse[]; consumers?: ReturnType<typeof aConsumer>[] } = {},
  now = NOW,
) {
  const keySnapshot = aKeySnapshot({
    key,
    versions: [options.v0 ?? disabledByService(ago(HOUR)), aVersion(1, { key })],
  });
  return plan(
    aSnapshot({
      keys: [keySnapshot],
      consumers: options.consumers ?? [],
      evidence: { "kv1/cmk": anEvidence(key, { failures: options.failures ?? [] }) },
    }),
    aPolicy({ restoreWatchMs: 7 * DAY }),
    now,
  );
}

describe("planRestores", () => {
  it("restores a version the service disabled when a call on it failed with 403 after the disable", () => {
    const result = planWith({ failures: [failure(ago(10 * MINUTE))] });
    expect(result.restores).toHaveLength(1);
    expect(result.restores?.[0]).toMatchObject({ version: V0, reason: "failed-use-after-disable" });
    expect(result.restores?.[0]?.signs[0]).toMatchObject({ trigger: "failed-use", id: CALLER });
    expect(result.restores?.[0]?.message).toContain(CALLER);
  });

  it("does nothing without a sign, for a failure before the disable, or one after the watch", () => {
    expect(planWith().restores).toBeUndefined();
    expect(planWith({ failures: [failure(ago(2 * HOUR))] }).restores).toBeUndefined();
    const longAgo = disabledByService(ago(10 * DAY));
    expect(planWith({ v0: longAgo, failures: [failure(ago(MINUTE))] }).restores).toBeUndefined();
    // Within the watch, seen late (its record arrived after the watch ended): still restored.
    const watchEnded = disabledByService(ago(7 * DAY + 5 * MINUTE));
    expect(planWith({ v0: watchEnded, failures: [failure(ago(7 * DAY - MINUTE))] }).restores).toHaveLength(1);
  });

  it("leaves versions someone else disabled, and versions restored since their disable", () => {
    const byOperator = aVersion(0, {
      key,
      enabled: false,
      tags: { [TAGS.disabledAt]: ago(HOUR).toISOString() },
    });
    expect(planWith({ v0: byOperator, failures: [failure(ago(MINUTE))] }).restores).toBeUndefined();
    const restoredThenDisabledByHand = disabledByService(ago(2 * HOUR), {
      [TAGS.restoredAt]: ago(HOUR).toISOString(),
    });
    expect(
      planWith({ v0: restoredThenDisabledByHand, failures: [failure(ago(MINUTE))] }).restores,
    ).toBeUndefined();
  });

  it("restores on a consumer's key error: naming the version, pinning it, or versionless on the key", () => {
    const cosmos = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      keyStatus: "Access to your account is currently revoked because ... (4002).",
    });
    expect(planWith({ consumers: [cosmos] }).restores?.[0]).toMatchObject({
      reason: "consumer-key-error-after-disable",
      signs: [expect.objectContaining({ trigger: "consumer-key-error", id: cosmos.id })],
    });
    const healthy = aConsumer({
      kind: "cosmos",
      pins: [aPin(key, null)],
      keyStatus: "Access to the configured customer managed key confirmed.",
    });
    expect(planWith({ consumers: [healthy] }).restores).toBeUndefined();
    const kusto = aConsumer({
      kind: "kusto",
      pins: [aPin(key, versionId(1))],
      keyStatus: `Unavailable: cannot access https://kv1.vault.azure.net/keys/cmk/${V0}: 403 KeyDisabled`,
    });
    expect(planWith({ consumers: [kusto] }).restores).toHaveLength(1);
    const otherVersion = aConsumer({
      kind: "kusto",
      pins: [aPin(key, versionId(1))],
      keyStatus: `Unavailable: cannot access https://kv1.vault.azure.net/keys/cmk/${versionId(1)}: 403`,
    });
    expect(planWith({ consumers: [otherVersion] }).restores).toBeUndefined();
    // Versionless, failing on a newer version (not yet valid): that is no sign the disabled one is needed.
    const notYetValid = aConsumer({
      kind: "kusto",
      pins: [aPin(key, null)],
      keyStatus: `Unavailable: cannot access https://kv1.vault.azure.net/keys/cmk/${versionId(1)}: 403 KeyNotYetValid`,
    });
    expect(planWith({ consumers: [notYetValid] }).restores).toBeUndefined();
  });

  it("never restores a compromised version: RestoreNeeded names who failed", () => {
    const v0 = disabledByService(ago(HOUR), { [TAGS.compromised]: ago(2 * HOUR).toISOString() });
    const result = planWith({ v0, failures: [failure(ago(MINUTE))] });
    expect(result.restores).toBeUndefined();
    expect(result.restoresNeeded?.[0]).toMatchObject({ version: V0, reason: "compromised-version-needed" });
    expect(result.restoresNeeded?.[0]?.message).toContain(CALLER);
  });
});

describe("the freeze rule of retirement", () => {
  it("holds every old version of a frozen key, and of every key when the freezes cannot be read", () => {
    const keySnapshot = aKeySnapshot({
      key,
      versions: [aVersion(0, { key, ageMs: 10 * DAY }), aVersion(1, { key, ageMs: 5 * DAY })],
    });
    const unfrozen = plan(aSnapshot({ keys: [keySnapshot] }), aPolicy(), NOW);
    expect(unfrozen.actions.map((action) => action.type)).toEqual(["disable"]);
    const frozen = plan(
      {
        ...aSnapshot({ keys: [keySnapshot] }),
        freezes: { "kv1/cmk": { reason: "audit", at: ago(HOUR), by: "operator" } },
      },
      aPolicy(),
      NOW,
    );
    expect(frozen.actions).toEqual([]);
    expect(frozen.holds[0]).toMatchObject({ version: V0, reason: "retirement-frozen" });
    expect(frozen.holds[0]?.message).toContain("audit");
    const unknown = plan(
      { ...aSnapshot({ keys: [keySnapshot] }), freezeProblem: "table down" },
      aPolicy(),
      NOW,
    );
    expect(unknown.holds[0]).toMatchObject({ reason: "retirement-frozen" });
  });

  it("holds retirement of a key in the same plan that restores one of its versions", () => {
    const keySnapshot = aKeySnapshot({
      key,
      versions: [
        disabledByService(ago(HOUR)),
        aVersion(1, { key, ageMs: 10 * DAY }),
        aVersion(2, { key, ageMs: 5 * DAY }),
      ],
    });
    const result = plan(
      aSnapshot({
        keys: [keySnapshot],
        evidence: { "kv1/cmk": anEvidence(key, { failures: [failure(ago(MINUTE))] }) },
      }),
      aPolicy(),
      NOW,
    );
    expect(result.restores).toHaveLength(1);
    expect(result.actions).toEqual([]);
    expect(result.holds.map((hold) => hold.reason)).toEqual(["retirement-frozen"]);
  });
});
