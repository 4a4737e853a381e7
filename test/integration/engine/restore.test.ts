/**
 * Issue 12, "Undo: a disabled version comes back by itself when someone still needs it", on the
 * sandbox through the function handlers:
 *   1  a stale consumer outside the watched subscriptions fails after a disable: the version is
 *      restored, with tags, journal and event, and the key's retirement frozen
 *   2  the key stays frozen until an operator unfreezes it; then retirement resumes
 *   3  report mode changes nothing: no enable, no freeze, the journal says what it would do
 *   4  a compromised version is not restored automatically; RestoreNeeded names the caller, once
 *   5  the operator's restore, freeze and unfreeze work, and a replay changes nothing
 *
 * The stale consumer is a Kusto cluster in a subscription the service is not told about
 * (`watched: false`), pinned to the version the key had at seeding; it is stopped while the
 * service retires that version, and started after: its first call unwraps that version.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Estate } from "../../../sandbox/estate.js";
import type { JournalEntry } from "../../../src/journal/journal.js";
import { TAGS } from "../../../src/model.js";
import { CONSUMERS, EngineWorld, sleep, versionInUse, waitUntil } from "./engineWorld.js";

const VAULT = "kv-cmk-1";
const KEY = "adx-key";
const KEY_ID = `${VAULT}/${KEY}`;
const HIDDEN_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000aa";
const STALE_OID = "66666666-0000-0000-0000-000000000001";
const STALE = `/subscriptions/${HIDDEN_SUBSCRIPTION}/resourceGroups/rg-hidden/providers/Microsoft.Kusto/clusters/adx-stale`;

/** The default estate plus a pinned Kusto cluster in an unwatched subscription; every adx-key consumer unwraps each second. */
function withStaleConsumer(estate: Estate): void {
  estate.subscriptions.push({ id: HIDDEN_SUBSCRIPTION, resourceGroups: ["rg-hidden"], watched: false });
  estate.identities.push({
    name: "uai-adx-stale",
    objectId: STALE_OID,
    userAssigned: { subscriptionId: HIDDEN_SUBSCRIPTION, resourceGroup: "rg-hidden" },
  });
  estate.roleAssignments.push({
    principal: "uai-adx-stale",
    role: "Key Vault Crypto Service Encryption User",
    scope: `key:${VAULT}/${KEY}`,
  });
  for (const consumer of estate.consumers) {
    if (consumer.kind === "kusto" && consumer.name === "adx-latest") {
      consumer.enableAutoStop = false;
      consumer.behaviour = { unwrapIntervalSeconds: 1 };
    }
  }
  estate.consumers.push({
    kind: "kusto",
    name: "adx-stale",
    subscriptionId: HIDDEN_SUBSCRIPTION,
    resourceGroup: "rg-hidden",
    location: "westeurope",
    identity: "uai-adx-stale",
    key: { vault: VAULT, key: KEY, version: "newest" },
    enableAutoStop: false,
    behaviour: { unwrapIntervalSeconds: 1 },
  });
}

/** Every consumer the service watches uses an enabled version. */
function expectNoKnownConsumerCutOff(world: EngineWorld): void {
  for (const id of [CONSUMERS.adxPinned, CONSUMERS.adxLatest]) {
    const version = versionInUse(world, id);
    expect(version && world.version(VAULT, KEY, version).enabled).toBe(true);
  }
}

async function entries(world: EngineWorld, action: JournalEntry["action"], version?: string) {
  return (await world.journalEntries(KEY_ID)).filter(
    (entry) => entry.action === action && (version === undefined || entry.version === version),
  );
}

function eventsOf(world: EngineWorld, type: string): Record<string, unknown>[] {
  return world.sandbox.store.publishedEvents
    .map((published) => published.event)
    .filter((event) => String(event.eventType ?? event.type) === type)
    .map((event) => (event.data ?? {}) as Record<string, unknown>);
}

interface KeyViewBody {
  keys: {
    id: string;
    frozen: { reason: string; at: string; by: string } | null;
    versions: { version: string; restores: { at: string; trigger: string; reason: string }[] }[];
  }[];
}

async function keyView(world: EngineWorld) {
  const answer = await world.keysView(VAULT, KEY);
  expect(answer.status).toBe(200);
  const view = (answer.body as KeyViewBody).keys.find((candidate) => candidate.id === KEY_ID);
  if (!view) throw new Error("no view of adx-key");
  return view;
}

/** Rotates adx-key (an event), waits until the consumers moved and the service disabled the old version. */
async function rotateAndRetire(world: EngineWorld): Promise<string> {
  const [old] = await world.supersede(VAULT, KEY, [CONSUMERS.adxPinned, CONSUMERS.adxLatest]);
  await world.timerUntilDisabled(VAULT, KEY, old, 150_000);
  return old;
}

describe("1-3: a stale consumer outside the watched subscriptions", () => {
  let world: EngineWorld;
  let old: string;

  beforeAll(async () => {
    world = await EngineWorld.start({
      estate: withStaleConsumer,
      settings: { ROTATOR_RESTORE_WATCH: "PT5M" },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("1: fails after the disable, and the version is restored with tags, journal and event; the key is frozen", async () => {
    world.setConsumerState(STALE, "Stopped");
    old = await rotateAndRetire(world);
    expect(world.version(VAULT, KEY, old).tags[TAGS.disabledBy]).toMatch(/^cmk-rotator/);

    const startedAt = Date.now();
    world.setConsumerState(STALE, "Running");
    await waitUntil(() => world.failures(STALE).length > 0, 30_000, "the stale consumer's failed unwrap");
    const failure = world.failures(STALE)[0] as { version: string; status: number; errorCode?: string };
    expect(failure).toMatchObject({ version: old, status: 403, errorCode: "KeyDisabled" });

    await world.timerUntil(() => world.version(VAULT, KEY, old).enabled, 60_000);
    const restoredWithinMs = Date.now() - startedAt;
    const tags = world.version(VAULT, KEY, old).tags;
    expect(Date.parse(tags[TAGS.restoredAt] ?? "")).not.toBeNaN();
    expect(tags[TAGS.restoredReason]).toContain("failed-use-after-disable");
    expect(tags[TAGS.restoredReason]).toContain(STALE_OID);
    // Nothing else of the version changed: the disable's evidence tags stay as they were.
    expect(tags[TAGS.disabledAt]).toBeDefined();

    const [restore] = await entries(world, "restore", old);
    expect(restore).toMatchObject({ outcome: "done", reason: "failed-use-after-disable" });
    expect(restore?.message).toContain(STALE_OID);
    expect((await entries(world, "freeze")).length).toBe(1);
    await waitUntil(() => eventsOf(world, "VersionRestored").length > 0, 30_000, "VersionRestored");
    const [event] = eventsOf(world, "VersionRestored");
    expect(event).toMatchObject({ key: KEY_ID, version: old, reason: "failed-use-after-disable" });
    expect(JSON.stringify(event?.neededBy)).toContain(STALE_OID);

    const view = await keyView(world);
    expect(view.frozen?.by).toBe("cmk-rotator");
    expect(view.frozen?.reason).toContain(old);
    const restores = view.versions.find((version) => version.version === old)?.restores ?? [];
    expect(restores).toEqual([expect.objectContaining({ trigger: "failed-use" })]);
    // The stale consumer works again once the version is back.
    const failuresBefore = world.failures(STALE).length;
    await sleep(3_000);
    expect(world.failures(STALE).length).toBe(failuresBefore);
    expect(restoredWithinMs).toBeGreaterThan(0);
  });

  it("2: the key stays frozen until unfrozen, and retirement resumes after that", async () => {
    world.setConsumerState(STALE, "Stopped");
    // Well past the quiet period: the restored version is unused, but retirement is frozen.
    const until = Date.now() + 6_000 * 2 + 2_000;
    while (Date.now() < until) {
      await world.timer();
      expect(world.version(VAULT, KEY, old).enabled).toBe(true);
      await sleep(500);
    }
    const holds = await world.holdsOf(KEY_ID, old);
    expect(holds.map((hold) => hold.reason)).toContain("retirement-frozen");

    const unfrozen = await world.operator("unfreeze", VAULT, KEY, { reason: "the stale cluster is retired" });
    expect(unfrozen.status).toBe(200);
    expect(unfrozen.body).toMatchObject({ key: KEY_ID, frozen: null, changed: true });
    await world.timerUntilDisabled(VAULT, KEY, old, 150_000);
    expect((await keyView(world)).frozen).toBeNull();
    expect((await entries(world, "unfreeze")).length).toBe(1);
    // The stopped stale cluster (unknown to the service) is cut off again on purpose, for 3; the
    // consumers the service knows never are.
    expectNoKnownConsumerCutOff(world);
  });

  it("3: report mode changes nothing: no enable, no freeze, no event", async () => {
    world.reconfigure({
      mode: "report",
      estate: withStaleConsumer,
      settings: { ROTATOR_RESTORE_WATCH: "PT5M" },
    });
    const restoredEvents = eventsOf(world, "VersionRestored").length;
    const failuresBefore = world.failures(STALE).length;
    world.setConsumerState(STALE, "Running");
    await waitUntil(() => world.failures(STALE).length > failuresBefore, 30_000, "a failed unwrap");
    await world.timerUntil(async () => (await entries(world, "restore", old)).length > 0, 60_000);
    for (let run = 0; run < 3; run++) await world.timer();

    expect(world.version(VAULT, KEY, old).enabled).toBe(false);
    const [wouldRestore] = await entries(world, "restore", old);
    expect(wouldRestore).toMatchObject({ outcome: "skipped", reason: "report-mode", mode: "report" });
    expect(await entries(world, "freeze")).toEqual([]);
    expect((await keyView(world)).frozen).toBeNull();
    expect(eventsOf(world, "VersionRestored").length).toBe(restoredEvents);
    // The operator's acts change nothing in report mode either.
    const restore = await world.operator("restore", VAULT, KEY, { reason: "try" }, old);
    expect(restore.body).toMatchObject({ state: "disabled", changed: false, mode: "report" });
    const freeze = await world.operator("freeze", VAULT, KEY, { reason: "try" });
    expect(freeze.body).toMatchObject({ frozen: null, changed: false });
    expect(world.version(VAULT, KEY, old).enabled).toBe(false);
    world.setConsumerState(STALE, "Stopped");
  });
});

describe("4-5: a compromised version, and the operator's controls", () => {
  let world: EngineWorld;
  let compromised: string;

  beforeAll(async () => {
    world = await EngineWorld.start({
      estate: withStaleConsumer,
      settings: { ROTATOR_RESTORE_WATCH: "PT5M" },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("4: is not restored automatically, and RestoreNeeded names the caller, once per episode", async () => {
    world.setConsumerState(STALE, "Stopped");
    compromised = world.newestVersion(VAULT, KEY);
    const rotated = await world.rotate(VAULT, KEY, { reason: "key material leaked" });
    expect(rotated.status).toBe(202);
    expect(world.version(VAULT, KEY, compromised).tags[TAGS.compromised]).toBeDefined();
    await world.timerUntilDisabled(VAULT, KEY, compromised, 150_000);

    world.setConsumerState(STALE, "Running");
    await waitUntil(() => world.failures(STALE).length > 0, 30_000, "the stale consumer's failed unwrap");
    await world.timerUntil(
      async () => (await entries(world, "restore-needed", compromised)).length > 0,
      60_000,
    );
    for (let run = 0; run < 4; run++) {
      await world.timer();
      await sleep(300);
    }
    expect(world.version(VAULT, KEY, compromised).enabled).toBe(false);
    expect(world.version(VAULT, KEY, compromised).tags[TAGS.restoredAt]).toBeUndefined();
    expect(await entries(world, "restore", compromised)).toEqual([]);
    const notices = await entries(world, "restore-needed", compromised);
    expect(notices.length).toBe(1);
    expect(notices[0]?.message).toContain(STALE_OID);
    await waitUntil(() => eventsOf(world, "RestoreNeeded").length > 0, 30_000, "RestoreNeeded");
    const needed = eventsOf(world, "RestoreNeeded");
    expect(needed.length).toBe(1);
    expect(needed[0]).toMatchObject({ version: compromised, reason: "compromised-version-needed" });
    expect(JSON.stringify(needed[0]?.neededBy)).toContain(STALE_OID);
  });

  it("5: the operator's restore, freeze and unfreeze work, and a replay changes nothing", async () => {
    // Bad input: clear 4xx, nothing changed.
    expect((await world.operator("restore", VAULT, KEY, {}, compromised)).status).toBe(400);
    expect((await world.operator("restore", VAULT, KEY, { reason: "x", extra: 1 }, compromised)).status).toBe(
      400,
    );
    expect((await world.operator("restore", VAULT, KEY, { reason: "x" }, "not-a-version")).status).toBe(400);
    expect((await world.operator("restore", VAULT, KEY, "x".repeat(5000))).status).toBe(413);
    expect((await world.operator("restore", VAULT, KEY, { reason: "x" }, "0".repeat(32))).status).toBe(404);
    expect((await world.operator("freeze", "kv-unknown", KEY, { reason: "x" })).status).toBe(404);
    expect((await world.operator("freeze", VAULT, "no-such-key", { reason: "x" })).status).toBe(404);
    expect(world.version(VAULT, KEY, compromised).enabled).toBe(false);

    const restored = await world.operator(
      "restore",
      VAULT,
      KEY,
      { reason: "the stale cluster needs it until it is moved" },
      compromised,
    );
    expect(restored.status).toBe(200);
    expect(restored.body).toMatchObject({
      key: KEY_ID,
      version: compromised,
      state: "enabled",
      compromised: true,
      changed: true,
      frozen: { by: "operator" },
    });
    const tags = world.version(VAULT, KEY, compromised).tags;
    expect(world.version(VAULT, KEY, compromised).enabled).toBe(true);
    expect(tags[TAGS.restoredReason]).toBe("operator: the stale cluster needs it until it is moved");
    await waitUntil(() => eventsOf(world, "VersionRestored").length === 1, 30_000, "VersionRestored");

    const journalBefore = (await world.journalEntries(KEY_ID)).length;
    const replay = await world.operator(
      "restore",
      VAULT,
      KEY,
      { reason: "the stale cluster needs it until it is moved" },
      compromised,
    );
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ state: "enabled", changed: false });
    expect(world.version(VAULT, KEY, compromised).tags).toEqual(tags);

    const freezeAgain = await world.operator("freeze", VAULT, KEY, { reason: "again" });
    expect(freezeAgain.body).toMatchObject({ changed: false, frozen: { by: "operator" } });
    expect((await world.journalEntries(KEY_ID)).length).toBe(journalBefore);

    const unfrozen = await world.operator("unfreeze", VAULT, KEY, { reason: "moved" });
    expect(unfrozen.body).toMatchObject({ changed: true, frozen: null });
    const unfreezeReplay = await world.operator("unfreeze", VAULT, KEY, { reason: "moved" });
    expect(unfreezeReplay.body).toMatchObject({ changed: false, frozen: null });
    const frozen = await world.operator("freeze", VAULT, KEY, { reason: "audit in progress" });
    expect(frozen.body).toMatchObject({
      changed: true,
      frozen: { reason: "audit in progress", by: "operator" },
    });
    const freezeReplay = await world.operator("freeze", VAULT, KEY, { reason: "audit in progress" });
    expect(freezeReplay.body).toMatchObject({ changed: false, frozen: { reason: "audit in progress" } });
    expect((await keyView(world)).frozen?.reason).toBe("audit in progress");
    expect(eventsOf(world, "VersionRestored").length).toBe(1);
  });
});
