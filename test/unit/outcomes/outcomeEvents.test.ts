import type { SendEventGridEventInput } from "@azure/eventgrid";
import { describe, expect, it } from "vitest";
import {
  batchesUnderLimits,
  EVENT_GRID_LIMITS,
  eventBytes,
  MemoryOutbox,
  OutcomeDelivery,
  type OutcomeOutbox,
} from "../../../src/outcomes/outcomeDelivery.js";
import { EVENT_MESSAGE_LIMIT, type OutcomeEvent } from "../../../src/outcomes/outcomeEvents.js";
import { undeliveredFromEntity } from "../../../src/outcomes/tableOutbox.js";
import { silentLog } from "../../../src/rotation/log.js";

const AT = new Date("2026-11-29T12:00:00Z");

function repointed(index = 0): OutcomeEvent {
  const consumer = `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx${index}`;
  return {
    name: "ConsumerRepointed",
    subject: consumer,
    at: AT,
    data: {
      key: "kv1/k",
      keyId: "https://kv1.vault.azure.net/keys/k",
      version: "b".repeat(32),
      fromVersion: "a".repeat(32),
      consumer,
      consumerKind: "kusto",
      pin: "key",
      reason: "consumer-lags",
      message: `repoint kusto ${consumer} pin key of kv1/k from ${"a".repeat(32)} to ${"b".repeat(32)}: update begun`,
    },
  };
}

type Sent = SendEventGridEventInput<unknown>[];

/** A topic that answers each send with the next scripted failure (an error), then accepts. */
function scriptedTopic(failures: unknown[] = []) {
  const requests: Sent[] = [];
  const accepted: Sent[] = [];
  return {
    requests,
    accepted,
    send: async (events: Sent) => {
      requests.push(events);
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      accepted.push(events);
    },
  };
}

function httpError(statusCode: number, retryAfter?: string): Error & { statusCode: number } {
  const headers = new Map(retryAfter === undefined ? [] : [["retry-after", retryAfter]]);
  return Object.assign(new Error(`status ${statusCode}`), {
    statusCode,
    response: { headers: { get: (name: string) => headers.get(name) } },
  });
}

function delivery(sender: ReturnType<typeof scriptedTopic>, outbox: OutcomeOutbox = new MemoryOutbox()) {
  const waits: number[] = [];
  const publisher = new OutcomeDelivery({
    sender,
    outbox,
    log: silentLog,
    clock: { now: () => AT },
    sleep: async (ms) => void waits.push(ms),
    random: () => 0.5,
  });
  return { publisher, waits, outbox };
}

describe("outcome events", () => {
  it("publishes the event types exactly as the contract names them, in one batch, each with an id", async () => {
    const topic = scriptedTopic();
    const { publisher } = delivery(topic);
    const names = ["ConsumerRepointed", "RepointFailed", "VersionDisabled", "RotationBlocked"] as const;
    const result = await publisher.publish(names.map((name) => ({ ...repointed(), name })));
    expect(result).toEqual({ published: 4, delivered: 4, kept: 0, lost: 0, failures: [] });
    expect(topic.requests).toHaveLength(1);
    expect(topic.requests[0]?.map((event) => event.eventType)).toEqual([...names]);
    expect(topic.requests[0]?.[0]).toMatchObject({
      subject: repointed().subject,
      eventTime: AT,
      dataVersion: "1.0",
      data: { key: "kv1/k", fromVersion: "a".repeat(32), consumerKind: "kusto" },
    });
    const ids = topic.requests[0]?.map((event) => event.id) ?? [];
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sends nothing for no events", async () => {
    const topic = scriptedTopic();
    const { publisher } = delivery(topic);
    await publisher.publish([]);
    expect(topic.requests).toHaveLength(0);
  });

  it("splits a run larger than one request into batches under Event Grid's 1 MB, and delivers every event", async () => {
    const topic = scriptedTopic();
    const { publisher } = delivery(topic);
    const events = Array.from({ length: 5000 }, (_, index) => repointed(index));
    const result = await publisher.publish(events);
    expect(result).toMatchObject({ published: 5000, delivered: 5000, lost: 0, kept: 0 });
    expect(topic.requests.length).toBeGreaterThan(1);
    for (const request of topic.requests) {
      const bytes = Buffer.byteLength(JSON.stringify(request), "utf8");
      expect(bytes).toBeLessThanOrEqual(EVENT_GRID_LIMITS.requestBytes);
    }
    const subjects = topic.accepted.flat().map((event) => event.subject);
    expect(subjects).toEqual(events.map((event) => event.subject));
  });

  it("cuts a long message so that an event stays far below the per-event limit", async () => {
    const topic = scriptedTopic();
    const { publisher } = delivery(topic);
    const long = repointed();
    long.data.message = "x".repeat(100_000);
    await publisher.publish([long]);
    const sent = topic.requests[0]?.[0]?.data as { message: string };
    expect(sent.message).toHaveLength(EVENT_MESSAGE_LIMIT);
  });

  it("retries 503, 429 (after its Retry-After) and network errors with a growing backoff, then delivers", async () => {
    const network = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const topic = scriptedTopic([httpError(503), httpError(429, "3"), network]);
    const { publisher, waits } = delivery(topic);
    const result = await publisher.publish([repointed()]);
    expect(result).toMatchObject({ delivered: 1, kept: 0, lost: 0 });
    expect(topic.requests).toHaveLength(4);
    // 500 ms, then Retry-After 3 s, then 2,000 ms, each base backoff times a jitter of 0.75 here.
    expect(waits).toEqual([375, 3000, 1500]);
    expect(new Set(topic.requests.map((request) => request[0]?.id)).size).toBe(1);
  });

  it("splits a batch Event Grid refuses with 413 until each part is accepted", async () => {
    const topic = scriptedTopic([httpError(413)]);
    const { publisher } = delivery(topic);
    const result = await publisher.publish([repointed(1), repointed(2), repointed(3)]);
    expect(result.delivered).toBe(3);
    expect(topic.requests.map((request) => request.length)).toEqual([3, 2, 1]);
  });

  it("keeps what still fails in the outbox, and a later run republishes it with the same id", async () => {
    const failures = Array.from({ length: 5 }, () => httpError(500));
    const topic = scriptedTopic(failures);
    const outbox = new MemoryOutbox();
    const { publisher } = delivery(topic, outbox);
    const result = await publisher.publish([repointed(7)]);
    expect(result).toMatchObject({ published: 1, delivered: 0, kept: 1, lost: 0 });
    expect(result.failures[0]).toContain("500");
    expect(topic.requests).toHaveLength(5);
    const [kept] = [...outbox.events.values()];
    expect(kept).toMatchObject({
      eventType: "ConsumerRepointed",
      subject: repointed(7).subject,
      attempts: 5,
    });

    const republished = await publisher.republishUndelivered();
    expect(republished).toEqual({ waiting: 1, republished: 1, stillWaiting: 0 });
    expect(outbox.events.size).toBe(0);
    const resent = topic.accepted.at(-1)?.[0];
    expect(resent).toMatchObject({ id: kept?.id, eventType: "ConsumerRepointed", data: repointed(7).data });
  });

  it("keeps a refused batch at once (400) and honours a Retry-After longer than a run waits by leaving it", async () => {
    const topic = scriptedTopic([httpError(400), httpError(429, "60")]);
    const { publisher, waits, outbox } = delivery(topic);
    expect((await publisher.publish([repointed(1)])).kept).toBe(1);
    expect((await publisher.publish([repointed(2)])).kept).toBe(1);
    expect(topic.requests).toHaveLength(2);
    expect(waits).toEqual([]);
    expect((outbox as MemoryOutbox).events.size).toBe(2);
  });

  it("counts events as lost (and says so) only when the outbox cannot keep them either", async () => {
    const topic = scriptedTopic(Array.from({ length: 5 }, () => httpError(503)));
    const broken: OutcomeOutbox = {
      save: async () => {
        throw new Error("table unreachable");
      },
      list: async () => [],
      remove: async () => undefined,
    };
    const { publisher } = delivery(topic, broken);
    expect(await publisher.publish([repointed()])).toMatchObject({ delivered: 0, kept: 0, lost: 1 });
  });

  it("batches by bytes, brackets and commas included, and sets apart an event no request could carry", () => {
    const small = { eventType: "t", subject: "s", dataVersion: "1", data: "x".repeat(40) };
    const size = eventBytes(small);
    const limits = { requestBytes: 2 + size * 3 + 2, eventBytes: 200 };
    const big = { ...small, data: "y".repeat(300) };
    const { batches, oversized } = batchesUnderLimits([small, small, small, big, small], limits);
    expect(batches.map((batch) => batch.length)).toEqual([3, 1]);
    expect(oversized).toEqual([big]);
    for (const batch of batches)
      expect(JSON.stringify(batch).length).toBeLessThanOrEqual(limits.requestBytes);
  });
});

describe("the outbox's rows", () => {
  const row = {
    partitionKey: "outbox",
    rowKey: "0f8fad5b-d9cb-469f-a165-70867728950e",
    eventType: "ConsumerRepointed",
    subject: "/subscriptions/s/x",
    eventTime: AT.toISOString(),
    dataVersion: "1.0",
    data: JSON.stringify(repointed().data),
    firstFailedAt: AT.toISOString(),
    lastError: "503",
    attempts: 5,
  };

  it("reads a row back as the event to send again", () => {
    expect(undeliveredFromEntity(row)).toMatchObject({
      id: row.rowKey,
      eventTime: AT,
      data: repointed().data,
      attempts: 5,
    });
  });

  it.each([
    ["a row key that is no event id", { rowKey: "a/b" }],
    ["data that is not JSON", { data: "{" }],
    ["data without a key", { data: JSON.stringify({ version: "v", reason: "r", message: "m", keyId: "k" }) }],
    ["a bad time", { eventTime: "yesterday" }],
    ["a negative attempt count", { attempts: -1 }],
  ])("skips %s", (_what, change) => {
    expect(undeliveredFromEntity({ ...row, ...change })).toBeUndefined();
  });
});
