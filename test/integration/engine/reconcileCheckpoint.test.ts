/**
 * A reconcile of every key that reaches ROTATOR_RECONCILE_DEADLINE begins no further key,
 * saves where it stopped in the rotator table, and the next timer run goes on from there.
 * On the sandbox, through the timer function, with a deadline of one second and every
 * Resource Manager write taking 1.5 s: the first key's repoints outlast the deadline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RotatorLog } from "../../../src/rotation/log.js";
import { CONSUMERS, EngineWorld, sameId } from "./engineWorld.js";

const ADX_KEY = "kv-cmk-1/adx-key";
const BACKUP_KEY = "kv-cmk-1/cassandra-backup-key";

describe("a reconcile that cannot finish before its deadline", () => {
  let world: EngineWorld;
  const warnings: { message: string; fields: Record<string, unknown> }[] = [];
  const log: RotatorLog = {
    info: () => undefined,
    warn: (message, fields = {}) => warnings.push({ message, fields }),
    error: () => undefined,
  };

  beforeAll(async () => {
    world = await EngineWorld.start({ log, settings: { ROTATOR_RECONCILE_DEADLINE: "PT1S" } });
  });

  afterAll(async () => {
    await world?.close();
  });

  it("saves the first key it left, and the next run begins with it", async () => {
    const repointsOf = async (keyId: string) =>
      (await world.journal(keyId)).filter((entry) => entry.action === "repoint" && entry.outcome === "done");
    const adx = await world.newVersion("kv-cmk-1", "adx-key");
    const backup = await world.newVersion("kv-cmk-1", "cassandra-backup-key");
    world.sandbox.store.latency.armWriteMs = 1500;

    // Keys in key id order: adx-key first. Its repoint outlasts the deadline, so the Cassandra key is left.
    await world.timer();
    expect(await repointsOf(ADX_KEY)).toEqual([
      expect.objectContaining({ version: adx, consumerId: expect.stringMatching(/adx-pinned$/i) }),
    ]);
    expect(await repointsOf(BACKUP_KEY)).toEqual([]);
    const stopped = warnings.find((warning) => warning.message.includes("reached its deadline"));
    expect(stopped?.fields).toMatchObject({ key: BACKUP_KEY });

    // The next run begins with the key left: both its data centers are repointed.
    await world.timer();
    const backupRepoints = await repointsOf(BACKUP_KEY);
    expect(backupRepoints.map((entry) => entry.version)).toEqual([backup, backup]);
    expect(backupRepoints.some((entry) => sameId(entry.consumerId, CONSUMERS.dcEast))).toBe(true);
    expect(backupRepoints.some((entry) => sameId(entry.consumerId, CONSUMERS.dcWest))).toBe(true);
    // Nothing twice: adx-pinned was repointed once.
    expect(await repointsOf(ADX_KEY)).toHaveLength(1);
  });
});
