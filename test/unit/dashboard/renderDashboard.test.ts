import { describe, expect, it } from "vitest";
import {
  type DashboardJournalEntry,
  keyAnchor,
  pipelineState,
  renderDashboard,
  renderDashboardError,
} from "../../../src/dashboard/renderDashboard.js";
import { keyRefId, type Snapshot, TAGS } from "../../../src/model.js";
import { plan } from "../../../src/plan/plan.js";
import { buildKeyViews, type KeyView } from "../../../src/plan/view.js";
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
  SERVICE_PRINCIPAL_ID,
  versionId,
} from "../../builders/index.js";

const key = aKeyRef({ vaultName: "kv1", keyName: "cmk" });
const KEY_ID = keyRefId(key);
const caller = RECENT_CALLER;

/** Three versions: V0 used 2 h ago (held), V1 pinned by a lagging Kusto cluster, V2 the target. */
function views(): KeyView[] {
  const { snapshot } = aRolloutInProgress();
  return buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW);
}

function aJournalEntry(overrides: Partial<DashboardJournalEntry> = {}): DashboardJournalEntry {
  return {
    at: ago(5 * 60_000).toISOString(),
    action: "repoint",
    outcome: "done",
    reason: "consumer-lags",
    message: "repointed adx to the target",
    trigger: "event",
    mode: "enforce",
    ...overrides,
  };
}

function render(keys: KeyView[], journal: Record<string, DashboardJournalEntry[]> = {}): string {
  return renderDashboard({ keys, journal, now: NOW, mode: "enforce", refreshSeconds: 5 });
}

/** The markup of the element with this data-testid (first match), up to its closing tag name. */
function section(page: string, testId: string): string {
  const start = page.indexOf(`data-testid="${testId}"`);
  expect(start, `no element with data-testid="${testId}"`).toBeGreaterThanOrEqual(0);
  return page.slice(start, start + 4000);
}

describe("renderDashboard", () => {
  it("renders one section per key with every part a person looks for", () => {
    const page = render(views(), { [KEY_ID]: [aJournalEntry()] });
    expect(page.startsWith("<!doctype html>")).toBe(true);
    expect(page).toContain(`id="${keyAnchor(KEY_ID)}"`);
    for (const testId of [
      "timeline",
      "versions",
      "consumers",
      "evidence",
      "hold",
      "next-action-item",
      "journal",
    ]) {
      expect(page).toContain(`data-testid="${testId}"`);
    }
    for (const heading of [
      "Timeline",
      "Versions",
      "Consumers",
      "Audit evidence",
      "Holds and blocks",
      "Next actions",
      "Recent journal",
    ]) {
      expect(page).toContain(`<h3>${heading}</h3>`);
    }
  });

  it("shows for each version who pins it, who uses it and its last use in the audit logs", () => {
    const page = render(views());
    const v1 = section(page, `version-row" data-version="${versionId(1)}`);
    expect(v1).toMatch(/data-testid="pinned-by"><li[^>]*>kusto\d+<\/li>/);
    const v2 = section(page, `version-row" data-version="${versionId(2)}`);
    expect(v2).toMatch(/data-testid="used-by"><li[^>]*>cosmos\d+<\/li>/);
    expect(v2).toContain(">target<");
    const v0 = section(page, `version-row" data-version="${versionId(0)}`);
    expect(v0).toContain("2 h ago");
    expect(v0).toContain(`by ${caller}, 1 call`);
  });

  it("gives each hold its reason and a countdown to when it can lift", () => {
    const page = render(views());
    const hold = section(page, `hold" data-version="${versionId(0)}`);
    expect(hold).toContain("used-recently");
    const until = new Date(ago(2 * HOUR).getTime() + DAY).toISOString();
    expect(hold).toContain(`data-until="${until}"`);
    expect(hold).toContain("lifts in 22 h");
    expect(page).toContain("setInterval(tick, 1000)");
  });

  it("lists the planned repoint of the lagging consumer as a next action", () => {
    const page = render(views());
    const next = section(page, "next-action-item");
    expect(next).toContain('data-type="repoint"');
    expect(next).toContain(`from <span class="mono">${versionId(1).slice(0, 8)}</span>`);
  });

  it("escapes every string that comes from outside", () => {
    const [view] = views();
    if (!view) throw new Error("no view");
    const hostile = '<script>alert("x")</script>';
    const keys: KeyView[] = [
      {
        ...view,
        id: `kv1/${hostile}`,
        keyName: hostile,
        versions: view.versions.map((version) => ({
          ...version,
          nextAction: { ...version.nextAction, message: hostile },
        })),
      },
    ];
    const page = render(keys, {
      [`kv1/${hostile}`]: [aJournalEntry({ message: hostile, consumerId: hostile })],
    });
    expect(page).not.toContain(hostile);
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    // Only the page's own countdown script is a script.
    expect(page.match(/<script>/g)).toHaveLength(1);
  });

  it("says so plainly when there are no keys, consumers, holds or journal entries", () => {
    expect(render([])).toContain('data-testid="no-keys"');
    const snapshot = aSnapshot({ keys: [aKeySnapshot({ key, versions: [aVersion(0, { key })] })] });
    const page = render(buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW));
    for (const testId of ["no-consumers", "no-holds", "no-next-actions", "no-journal"]) {
      expect(page).toContain(`data-testid="${testId}"`);
    }
  });

  it("shows a key that could not be read with its reason", () => {
    const snapshot = aSnapshot({ keys: [], unreadableKeys: { "kv9/broken": "403 Forbidden on kv9" } });
    const page = render(buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW));
    expect(section(page, "key-error")).toContain("403 Forbidden on kv9");
  });

  it("refreshes itself by reloading the same URL (the ?code= query stays)", () => {
    expect(render([])).toContain('<meta http-equiv="refresh" content="5">');
    expect(
      renderDashboard({ keys: [], journal: {}, now: NOW, mode: "report", refreshSeconds: 0 }),
    ).not.toContain("http-equiv");
  });

  it("shows a consumer that shares the rotator's identity, with what to do about it", () => {
    const kusto = aConsumer({
      pins: [aPin(key, versionId(1))],
      identityPrincipalId: SERVICE_PRINCIPAL_ID,
    });
    const snapshot = aSnapshot({
      keys: [aKeySnapshot({ key, versions: [aVersion(0, { key }), aVersion(1, { key })] })],
      consumers: [kusto],
    });
    const [view] = buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW);
    expect(view?.consumers[0]).toMatchObject({ sharesRotatorIdentity: true });
    expect(view?.versions[1]?.hold).toMatchObject({
      reason: "consumer-shares-rotator-identity",
      concerns: kusto.id,
    });
    const page = render(view ? [view] : []);
    expect(section(page, "consumers")).toContain('data-testid="shares-rotator-identity"');
    expect(section(page, "consumers")).toContain("Give it a managed identity of its own");
    expect(page).toContain('data-reason="consumer-shares-rotator-identity"');
  });

  it("shows frozen keys, restored versions and what triggered each restore", () => {
    const restoredAt = ago(HOUR).toISOString();
    const restored = aVersion(0, {
      key,
      tags: {
        [TAGS.disabledBy]: "cmk-rotator timer run r1",
        [TAGS.disabledAt]: ago(2 * HOUR).toISOString(),
        [TAGS.restoredAt]: restoredAt,
        [TAGS.restoredReason]: "failed-use-after-disable (cmk-rotator timer run r2): needed by caller 6666",
      },
    });
    const snapshot: Snapshot = {
      ...aSnapshot({ keys: [aKeySnapshot({ key, versions: [restored, aVersion(1, { key })] })] }),
      freezes: { [KEY_ID]: { reason: "version 0 was restored", at: ago(HOUR), by: "cmk-rotator" } },
    };
    const [view] = buildKeyViews(snapshot, plan(snapshot, aPolicy(), NOW), NOW);
    expect(view?.frozen).toEqual({
      reason: "version 0 was restored",
      at: ago(HOUR).toISOString(),
      by: "cmk-rotator",
    });
    expect(view?.versions[1]?.restores).toEqual([
      { at: restoredAt, trigger: "failed-use", reason: expect.stringContaining("needed by caller 6666") },
    ]);
    const page = render(view ? [view] : []);
    expect(section(page, "frozen")).toContain("version 0 was restored");
    expect(page).toContain('data-testid="frozen-badge"');
    expect(section(page, "frozen-total")).toContain("1 frozen key");
    expect(section(page, "restored")).toContain("failed-use");
    expect(page).toContain('data-trigger="failed-use"');
  });

  it("says whether the log pipeline is proven current", () => {
    const [view] = views();
    if (!view?.evidence) throw new Error("no evidence");
    expect(pipelineState(view)).toBe("proven-current");
    expect(pipelineState({ ...view, evidence: { ...view.evidence, canarySeenAt: null } })).toBe("not-proven");
    expect(pipelineState({ ...view, evidence: { ...view.evidence, complete: false } })).toBe("incomplete");
    expect(pipelineState({ ...view, evidence: null })).toBe("no-evidence");
  });

  it("says when the logs are current but do not yet cover a whole quiet period", () => {
    const [view] = views();
    if (!view?.evidence) throw new Error("no evidence");
    const young: KeyView = {
      ...view,
      evidence: { ...view.evidence, canaryFirstSeenAt: new Date().toISOString() },
      versions: view.versions.map((version, index) =>
        index === view.versions.length - 1
          ? {
              ...version,
              hold: {
                reason: "pipeline-history-too-short",
                message: "held",
                until: null,
                concerns: null,
                concernsName: null,
              },
            }
          : version,
      ),
    };
    expect(pipelineState(young)).toBe("history-too-short");
    const page = render([young]);
    expect(page).toContain('data-pipeline="history-too-short"');
    expect(page).toContain("Own reads since");
  });

  it("renders the same page for the same input", () => {
    const keys = views();
    expect(render(keys)).toBe(render(keys));
  });
});

describe("renderDashboardError", () => {
  it("is a readable page that escapes the message", () => {
    const page = renderDashboardError("The dashboard failed", "boom <b>", 5);
    expect(page).toContain('data-testid="dashboard-error"');
    expect(page).toContain("boom &lt;b&gt;");
  });
});
