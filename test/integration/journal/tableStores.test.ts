import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteTables, startAzuriteTables } from "../../../sandbox/azurite.js";
import { TableIdempotencyStore } from "../../../src/idempotency/idempotencyStore.js";
import { type JournalEntry, TableJournal } from "../../../src/journal/journal.js";
import { openRotatorTable, type RotatorTable } from "../../../src/journal/rotatorTable.js";
import { type Clock, TableKeyLock, withKeyLease } from "../../../src/lock/keyLease.js";
import { leasesLeft } from "../../support/leases.js";

let azurite: AzuriteTables;

beforeAll(async () => {
  azurite = await startAzuriteTables();
});

afterAll(async () => {
  await azurite?.stop();
});

function freshTable(): RotatorTable {
  const tableName = `t${randomUUID().replaceAll("-", "").slice(0, 20)}`;
  return openRotatorTable({ connectionString: azurite.connectionString, tableName });
}

class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

function entry(overrides: Partial<JournalEntry> = {}): JournalEntry {
  return {
    at: new Date("2026-01-01T00:00:00Z"),
    keyId: "kv-cmk-1/cmk-adx",
    action: "repoint",
    outcome: "done",
    reason: "consumer-lags",
    message: "repointed",
    runId: "run-1",
    trigger: "timer",
    mode: "enforce",
    ...overrides,
  };
}

describe("TableJournal on Azurite", () => {
  it("returns a key's entries newest first, and only that key's", async () => {
    const journal = new TableJournal(freshTable());
    await journal.record(entry({ at: new Date("2026-01-01T00:00:01Z"), message: "first" }));
    await journal.record(
      entry({ at: new Date("2026-01-01T00:00:03Z"), message: "third", version: "a".repeat(32) }),
    );
    await journal.record(entry({ at: new Date("2026-01-01T00:00:02Z"), message: "second" }));
    await journal.record(entry({ keyId: "kv-cmk-1/other", message: "other key" }));

    const recent = await journal.recent("kv-cmk-1/cmk-adx", 10);

    expect(recent.map((e) => e.message)).toEqual(["third", "second", "first"]);
    expect(recent[0]?.version).toBe("a".repeat(32));
    expect(recent[0]?.at.toISOString()).toBe("2026-01-01T00:00:03.000Z");
  });

  it("keeps two entries written in the same millisecond and honours the limit", async () => {
    const journal = new TableJournal(freshTable());
    await journal.record(entry({ message: "one" }));
    await journal.record(entry({ message: "two" }));
    await journal.record(entry({ message: "three" }));

    expect(await journal.recent("kv-cmk-1/cmk-adx", 10)).toHaveLength(3);
    expect(await journal.recent("kv-cmk-1/cmk-adx", 2)).toHaveLength(2);
  });
});

describe("TableKeyLock on Azurite", () => {
  it("lets one holder in at a time, and a second one once the first released", async () => {
    const lock = new TableKeyLock(freshTable(), new ManualClock(Date.parse("2026-01-01T00:00:00Z")));
    const first = await lock.tryAcquire("kv/key");
    expect(first).toBeDefined();
    expect(await lock.tryAcquire("kv/key")).toBeUndefined();
    expect(await lock.tryAcquire("kv/another-key")).toBeDefined();
    await first?.release();
    expect(await lock.tryAcquire("kv/key")).toBeDefined();
  });

  it("takes over a lease that expired by itself, and the old holder can no longer renew", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const lock = new TableKeyLock(freshTable(), clock, 30_000);
    const crashed = await lock.tryAcquire("kv/key", "crashed-instance");
    expect(crashed).toBeDefined();
    clock.advance(29_000);
    expect(await lock.tryAcquire("kv/key")).toBeUndefined();
    clock.advance(2_000);
    const next = await lock.tryAcquire("kv/key", "next-instance");
    expect(next?.holder).toBe("next-instance");
    expect(await crashed?.renew()).toBe(false);
    await crashed?.release();
    expect(await lock.tryAcquire("kv/key")).toBeUndefined();
  });

  it("renewal keeps the lease past its original expiry", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const lock = new TableKeyLock(freshTable(), clock, 30_000);
    const lease = await lock.tryAcquire("kv/key");
    clock.advance(20_000);
    expect(await lease?.renew()).toBe(true);
    clock.advance(20_000);
    expect(await lock.tryAcquire("kv/key")).toBeUndefined();
  });

  it("withKeyLease reports busy for a concurrent run and releases after the work", async () => {
    const lock = new TableKeyLock(freshTable());
    const outcome = await withKeyLease(lock, "kv/key", async () => {
      const concurrent = await withKeyLease(lock, "kv/key", async () => "should not run");
      return concurrent;
    });
    expect(outcome).toEqual({
      status: "done",
      value: { status: "busy", holderMessage: "another run holds the key kv/key" },
    });
    expect(await withKeyLease(lock, "kv/key", async () => 42)).toEqual({ status: "done", value: 42 });
  });
});

describe("TableKeyLock on Azurite: acquire racing release", () => {
  it("many holders acquiring and releasing one key at once: never an error, never two holders, no lease left", async () => {
    const table = freshTable();
    const lock = new TableKeyLock(table);
    let holding = 0;
    let mostAtOnce = 0;
    let acquired = 0;
    const worker = async (rounds: number) => {
      for (let round = 0; round < rounds; round++) {
        const lease = await lock.tryAcquire("kv/key");
        if (!lease) continue;
        acquired++;
        holding++;
        mostAtOnce = Math.max(mostAtOnce, holding);
        await new Promise((resolve) => setImmediate(resolve));
        holding--;
        await lease.release();
      }
    };
    await Promise.all(Array.from({ length: 12 }, () => worker(15)));
    expect(mostAtOnce).toBe(1);
    expect(acquired).toBeGreaterThan(0);
    expect(await leasesLeft(table)).toEqual([]);
  });

  it("a 404 on the read after a 409 (the holder released in between) is a retry, not an error", async () => {
    const table = freshTable();
    await table.ready();
    const client = table.client;
    const holder = await new TableKeyLock(table).tryAcquire("kv/key", "first");
    expect(holder).toBeDefined();
    // The holder releases exactly between our failed create and our read.
    const getEntity = client.getEntity.bind(client);
    let released = false;
    client.getEntity = (async (...args: Parameters<typeof getEntity>) => {
      if (!released) {
        released = true;
        await holder?.release();
      }
      return getEntity(...args);
    }) as typeof client.getEntity;
    const lease = await new TableKeyLock(table).tryAcquire("kv/key", "second");
    expect(released).toBe(true);
    expect(lease?.holder).toBe("second");
    await lease?.release();
    expect(await leasesLeft(table)).toEqual([]);
  });
});

describe("TableIdempotencyStore on Azurite", () => {
  it("replays the first answer, refuses a different request, and forgets an abandoned claim", async () => {
    const store = new TableIdempotencyStore(freshTable());
    expect(await store.begin("req-1", "fingerprint-a")).toEqual({ status: "new" });
    expect(await store.begin("req-1", "fingerprint-a")).toEqual({ status: "in-progress" });
    await store.complete("req-1", "fingerprint-a", { newVersion: "abc" });
    expect(await store.begin("req-1", "fingerprint-a")).toEqual({
      status: "replay",
      response: { newVersion: "abc" },
    });
    expect(await store.begin("req-1", "fingerprint-b")).toEqual({ status: "mismatch" });

    expect(await store.begin("req-2", "fingerprint-a")).toEqual({ status: "new" });
    await store.abandon("req-2");
    expect(await store.begin("req-2", "fingerprint-a")).toEqual({ status: "new" });
  });

  it("a claim abandoned between another's failed create and its read is claimed again, not an error", async () => {
    const table = freshTable();
    const store = new TableIdempotencyStore(table);
    expect(await store.begin("req-1", "f")).toEqual({ status: "new" });
    const client = table.client;
    const getEntity = client.getEntity.bind(client);
    let abandoned = false;
    client.getEntity = (async (...args: Parameters<typeof getEntity>) => {
      if (!abandoned) {
        abandoned = true;
        await store.abandon("req-1");
      }
      return getEntity(...args);
    }) as typeof client.getEntity;
    expect(await store.begin("req-1", "f")).toEqual({ status: "new" });
    expect(abandoned).toBe(true);
  });

  it("lets a retry in once an in-progress claim expired (the first attempt crashed)", async () => {
    const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z"));
    const store = new TableIdempotencyStore(freshTable(), clock, 10_000);
    expect(await store.begin("req-1", "f")).toEqual({ status: "new" });
    clock.advance(11_000);
    expect(await store.begin("req-1", "f")).toEqual({ status: "new" });
  });
});
