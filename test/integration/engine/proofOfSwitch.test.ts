/**
 * Issue 11, "Retire only on proof that every consumer has moved", scenarios a, c and d on the
 * sandbox, through the function handlers:
 *   a  versionless Cosmos DB accounts are never patched; the old version is held while an
 *      account's keyVaultKeyUriVersion still names it, and nothing retires it before the
 *      account moved and a quiet period passed
 *   c  a versionless Kusto cluster auto-stops before a rotation: the old version is never
 *      disabled while it is stopped; started, it unwraps the old version and moves, and only
 *      then can the old version retire
 *   d  a consumer that unwraps rarer than the quiet period (the "once a day with a 24-hour
 *      quiet period" case, in seconds) and picks new versions up late: held, never cut off
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxExchange } from "../../../sandbox/http.js";
import { TAGS } from "../../../src/model.js";
import {
  CONSUMERS,
  EngineWorld,
  expectNoPinnedVersionDisabled,
  sameId,
  sleep,
  versionInUse,
} from "./engineWorld.js";

const ADX_KEY = "kv-cmk-1/adx-key";
const COSMOS_KEY = "kv-cmk-1/cosmos-key";

describe("a: versionless Cosmos DB accounts", () => {
  const QUIET_MS = 6_000;
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT6S",
      ingestionMargin: "PT5S",
      estate: (estate) => {
        for (const consumer of estate.consumers) {
          // The first-party account takes its time to pick a new version up.
          if (consumer.kind === "cosmos" && consumer.name === "cosmos-firstparty")
            consumer.pickUpDelaySeconds = 12;
        }
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("are never patched, and the old version is held until keyVaultKeyUriVersion moved and a quiet period passed", async () => {
    const accounts = [CONSUMERS.cosmosLatest, CONSUMERS.cosmosPeriodic, CONSUMERS.cosmosFirstParty];
    const before = accounts.map((id) => structuredClone(world.armProperties(id)));
    const exchanges: SandboxExchange[] = [];
    world.sandbox.store.recording = exchanges;
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "cosmos-key");

    let movedAt: number | undefined;
    const reasons = new Set<string>();
    await world.timerUntil(async () => {
      if (movedAt === undefined && versionInUse(world, CONSUMERS.cosmosFirstParty) === next)
        movedAt = Date.now();
      // Never disabled: not while an account still unwraps it, not after (the backups need it).
      expect(world.version("kv-cmk-1", "cosmos-key", old).enabled).toBe(true);
      for (const hold of await world.holdsOf(COSMOS_KEY, old)) reasons.add(hold.reason);
      return (
        movedAt !== undefined && Date.now() - movedAt > QUIET_MS + 2_000 && reasons.has("backup-retention")
      );
    }, 150_000);
    world.sandbox.store.recording = undefined;

    const holds = await world.holdsOf(COSMOS_KEY, old);
    // While cosmos-firstparty's keyVaultKeyUriVersion still named the old version, it held it.
    const inUse = holds.find((hold) => hold.reason === "in-use-by-consumer");
    expect(sameId(inUse?.consumerId, CONSUMERS.cosmosFirstParty)).toBe(true);
    expect(inUse?.message).toContain("according to its read-back");
    expect(inUse && movedAt !== undefined && inUse.at.getTime() <= movedAt).toBe(true);
    // Moved and quiet: only the accounts' backups keep it now.
    expect(holds[0]?.reason).toBe("backup-retention");
    // No account was ever written: no PATCH or PUT reached databaseAccounts.
    const writes = exchanges.filter(
      (exchange) => ["PATCH", "PUT"].includes(exchange.method) && /databaseaccounts/i.test(exchange.path),
    );
    expect(writes).toEqual([]);
    expect(accounts.map((id) => world.armProperties(id))).toEqual(before);
    expectNoPinnedVersionDisabled(world);
  });
});

describe("c: a versionless Kusto cluster that stopped itself before a rotation", () => {
  const QUIET_MS = 6_000;
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT6S",
      ingestionMargin: "PT5S",
      estate: (estate) => {
        for (const consumer of estate.consumers) {
          if (consumer.kind === "kusto" && consumer.name === "adx-latest") {
            consumer.enableAutoStop = true;
            consumer.autoStopAfterIdleSeconds = 3;
            consumer.behaviour = { unwrapIntervalSeconds: 1 };
          }
        }
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("keeps the old version while it is stopped; started, it unwraps it, moves, and only then the old version retires", async () => {
    await world.timerUntil(() => world.consumerState(CONSUMERS.adxLatest) === "Stopped", 20_000);
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "adx-key");

    // Well past the quiet period: adx-pinned moved, adx-latest is silent; the old version stays.
    const until = Date.now() + QUIET_MS * 2 + 3_000;
    while (Date.now() < until) {
      await world.timer();
      expect(world.consumerState(CONSUMERS.adxLatest)).toBe("Stopped");
      expect(world.version("kv-cmk-1", "adx-key", old).enabled).toBe(true);
      await sleep(500);
    }
    expect(versionInUse(world, CONSUMERS.adxPinned)).toBe(next);
    const stopped = (await world.holdsOf(ADX_KEY, old)).find((hold) => hold.reason === "consumer-stopped");
    expect(sameId(stopped?.consumerId, CONSUMERS.adxLatest)).toBe(true);
    expect(stopped?.message).toContain("kusto adx-latest is Stopped");
    expect(stopped?.message).toContain("Start it again");

    // Started: its first call unwraps the version its data is wrapped with, then it moves.
    const startedAt = Date.now();
    world.setConsumerState(CONSUMERS.adxLatest, "Running");
    let movedAt: number | undefined;
    await world.timerUntil(() => {
      if (movedAt === undefined && versionInUse(world, CONSUMERS.adxLatest) === next) movedAt = Date.now();
      return !world.version("kv-cmk-1", "adx-key", old).enabled;
    }, 60_000);
    const unwrapsOfOld = world.sandbox.store.audit.filter(
      (record) =>
        record.operationName === "KeyUnwrap" &&
        record.id.endsWith(`/adx-key/${old}`) &&
        record.callerObjectId === "22222222-0000-0000-0000-000000000002" &&
        record.time >= startedAt,
    );
    expect(unwrapsOfOld.length).toBeGreaterThan(0);
    expect(movedAt).toBeDefined();
    const disabledAt = Date.parse(world.version("kv-cmk-1", "adx-key", old).tags[TAGS.disabledAt] ?? "");
    // Its re-wrap was the last use of the old version: a whole quiet period after it (measured
    // by polling, so a second or two of slack).
    expect(disabledAt - (movedAt ?? 0)).toBeGreaterThanOrEqual(QUIET_MS - 2_000);
    expect(world.failures(CONSUMERS.adxLatest)).toEqual([]);
    expectNoPinnedVersionDisabled(world);
  });
});

describe("d: a consumer rarer than the quiet period that picks new versions up late", () => {
  let world: EngineWorld;

  beforeAll(async () => {
    world = await EngineWorld.start({
      quietPeriod: "PT6S",
      ingestionMargin: "PT5S",
      estate: (estate) => {
        for (const consumer of estate.consumers) {
          if (consumer.kind === "kusto" && consumer.name === "adx-latest") {
            consumer.enableAutoStop = false;
            // It unwraps every two quiet periods ("once a day" against a shorter quiet period)
            // and takes three quiet periods to notice a new version.
            consumer.behaviour = { unwrapIntervalSeconds: 12, jitterSeconds: 0, lagSeconds: 18 };
          }
        }
      },
    });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("is held, never cut off, and the old version retires only after it moved", async () => {
    const [old, next] = await world.rotateByEvent("kv-cmk-1", "adx-key");
    let movedAt: number | undefined;
    const reasons = new Set<string>();
    await world.timerUntil(async () => {
      if (movedAt === undefined && versionInUse(world, CONSUMERS.adxLatest) === next) movedAt = Date.now();
      const enabled = world.version("kv-cmk-1", "adx-key", old).enabled;
      if (movedAt === undefined) {
        // Still on the old version: whatever the silence of the logs, it is never disabled.
        expect(enabled).toBe(true);
        for (const hold of await world.holdsOf(ADX_KEY, old)) reasons.add(hold.reason);
      }
      return !enabled;
    }, 150_000);
    expect(reasons).toContain("consumer-not-proven-switched");
    const proofHold = (await world.holdsOf(ADX_KEY, old)).find(
      (hold) => hold.reason === "consumer-not-proven-switched",
    );
    expect(sameId(proofHold?.consumerId, CONSUMERS.adxLatest)).toBe(true);
    expect(proofHold?.message).toContain("kusto adx-latest is not proven off");
    expect(world.failures(CONSUMERS.adxLatest)).toEqual([]);
    expect(movedAt).toBeDefined();
    expectNoPinnedVersionDisabled(world);
  });
});
