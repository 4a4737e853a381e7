import { describe, expect, it } from "vitest";
import { plan } from "../../../src/plan/plan.js";
import { buildKeyViews } from "../../../src/plan/view.js";
import {
  aConsumer,
  ago,
  aKeyRef,
  aKeySnapshot,
  aPin,
  aPolicy,
  aRolloutInProgress,
  aSnapshot,
  aVersion,
  DAY,
  HOUR,
  NOW,
  RECENT_CALLER,
  versionId,
} from "../../builders/index.js";

const key = aKeyRef();
const V0 = versionId(0);
const V1 = versionId(1);
const V2 = versionId(2);
const caller = RECENT_CALLER;

function scenario() {
  const rollout = aRolloutInProgress({
    unreadableKeys: { "kv9/broken": "403 Forbidden: the service lacks keys/list on kv9" },
  });
  return { ...rollout, result: plan(rollout.snapshot, aPolicy(), NOW) };
}

describe("buildKeyViews", () => {
  it("shows each version's state, supersession, last use, hold and next action, newest first", () => {
    const { snapshot, result } = scenario();
    const [view] = buildKeyViews(snapshot, result, NOW);
    expect(view?.target).toBe(V2);
    expect(view?.versions.map((v) => v.version)).toEqual([V2, V1, V0]);

    const [v2, v1, v0] = view?.versions ?? [];
    expect(v2).toMatchObject({
      isNewest: true,
      isTarget: true,
      superseded: null,
      nextAction: { type: "none" },
    });
    expect(v1).toMatchObject({
      state: "enabled",
      superseded: ago(2 * DAY).toISOString(),
      hold: { reason: "pinned-by-consumer" },
      nextAction: { type: "hold", reason: "pinned-by-consumer" },
    });
    expect(v0).toMatchObject({
      lastUse: { at: ago(2 * HOUR).toISOString(), by: caller, count: 1 },
      hold: {
        reason: "used-recently",
        concerns: caller,
        until: new Date(ago(2 * HOUR).getTime() + DAY).toISOString(),
      },
    });
  });

  it("shows consumers with pins, the version really in use, and planned repoints", () => {
    const { snapshot, result, lagging, follower } = scenario();
    const [view] = buildKeyViews(snapshot, result, NOW);
    expect(view?.consumers.find((c) => c.id === lagging.id)?.pins).toEqual([
      expect.objectContaining({
        pin: "key",
        version: V1,
        followsLatest: false,
        status: "lags",
        repointTo: V2,
      }),
    ]);
    expect(view?.consumers.find((c) => c.id === follower.id)).toMatchObject({
      kind: "cosmos",
      provisioningState: "Succeeded",
      pins: [
        {
          pin: "key",
          version: null,
          followsLatest: true,
          inUse: V2,
          status: "follows-latest",
          repointTo: null,
        },
      ],
    });
  });

  it("lists keys that could not be read, with the reason", () => {
    const { snapshot, result } = scenario();
    const views = buildKeyViews(snapshot, result, NOW);
    expect(views.map((v) => v.id)).toEqual(["kv1/cmk", "kv9/broken"]);
    expect(views[1]).toMatchObject({ error: expect.stringContaining("403"), versions: [], vaultUrl: null });
  });

  it("shows blocks, and warns a consumer following the newest when the newest is blocked", () => {
    const keySnapshot = aKeySnapshot({
      key,
      versions: [aVersion(1, { ageMs: 3 * DAY }), aVersion(2, { ageMs: HOUR, keyType: "EC" })],
    });
    const follower = aConsumer({ pins: [aPin(key, null)] });
    const snapshot = aSnapshot({ keys: [keySnapshot], consumers: [follower] });
    const [view] = buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW);
    expect(view?.blocks).toEqual([expect.objectContaining({ version: V2, reason: "preflight-not-rsa" })]);
    expect(view?.versions[0]?.nextAction).toMatchObject({ type: "block", reason: "preflight-not-rsa" });
    expect(view?.target).toBe(V1);
    expect(view?.consumers[0]?.pins[0]?.message).toContain("blocked");
  });

  it("is plain JSON and stable", () => {
    const { snapshot, result } = scenario();
    const views = buildKeyViews(snapshot, result, NOW);
    expect(JSON.parse(JSON.stringify(views))).toEqual(views);
    expect(buildKeyViews(snapshot, result, NOW)).toEqual(views);
  });

  it("reports the mode of the plan", () => {
    const { snapshot } = scenario();
    const [view] = buildKeyViews(snapshot, plan(snapshot, aPolicy({ mode: "report" }), NOW), NOW);
    expect(view?.mode).toBe("report");
  });
});
