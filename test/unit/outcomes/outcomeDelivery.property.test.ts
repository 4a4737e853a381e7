/**
 * Nothing lost: whatever Event Grid answers (a generated script of 429s with Retry-After, 503s,
 * network errors, 400s, 413s, then acceptance), and however much stricter its real size limit
 * is than the service's estimate, every outcome event of a run is delivered once the topic
 * takes requests again: in the run itself or by the timer's later runs republishing the outbox.
 * No request the topic accepted was over its limit; an event republished keeps its id, so a
 * duplicate is recognisable.
 */
import type { SendEventGridEventInput } from "@azure/eventgrid";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryOutbox, OutcomeDelivery } from "../../../src/outcomes/outcomeDelivery.js";
import type { OutcomeEvent } from "../../../src/outcomes/outcomeEvents.js";
import { silentLog } from "../../../src/rotation/log.js";

type Answer =
  | { kind: "ok" }
  | { kind: "status"; status: 400 | 413 | 429 | 500 | 503; retryAfterSeconds?: number }
  | { kind: "network" };

const answer: fc.Arbitrary<Answer> = fc.oneof(
  fc.constant<Answer>({ kind: "ok" }),
  fc.constantFrom<Answer>(
    { kind: "status", status: 400 },
    { kind: "status", status: 413 },
    { kind: "status", status: 500 },
    { kind: "status", status: 503 },
    { kind: "network" },
  ),
  fc
    .integer({ min: 0, max: 30 })
    .map<Answer>((seconds) => ({ kind: "status", status: 429, retryAfterSeconds: seconds })),
);

function event(index: number, messageLength: number): OutcomeEvent {
  const consumer = `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx${index}`;
  return {
    name: "ConsumerRepointed",
    subject: consumer,
    at: new Date("2026-11-29T12:00:00Z"),
    data: {
      key: "kv1/k",
      keyId: "https://kv1.vault.azure.net/keys/k",
      version: "b".repeat(32),
      fromVersion: "a".repeat(32),
      consumer,
      consumerKind: "kusto",
      pin: "key",
      reason: "consumer-lags",
      message: "m".repeat(messageLength),
    },
  };
}

const SERVICE_LIMITS = { requestBytes: 20_000, eventBytes: 20_000 };

describe("outcome events are never lost (generated answers of Event Grid)", () => {
  it("delivers every event of a run, in the run or by republishing, once the topic takes requests", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 120 }),
        fc.array(answer, { maxLength: 40 }),
        fc.double({ min: 0.25, max: 1, noNaN: true }),
        async (messageLengths, script, strictness) => {
          const events = messageLengths.map((length, index) => event(index, length));
          const largestEvent = Math.max(
            ...events.map((each) => Buffer.byteLength(JSON.stringify({ ...each, data: each.data }), "utf8")),
          );
          // Event Grid's real limit: at most the service's, at least what one event needs.
          const topicLimit = Math.max(
            largestEvent + 400,
            Math.floor(SERVICE_LIMITS.requestBytes * strictness),
          );
          const accepted: SendEventGridEventInput<unknown>[][] = [];
          const pending = [...script];
          const sender = {
            send: async (batch: SendEventGridEventInput<unknown>[]) => {
              const bytes = Buffer.byteLength(JSON.stringify(batch), "utf8");
              const next = pending.shift() ?? { kind: "ok" };
              if (next.kind === "network")
                throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
              if (next.kind === "status") {
                const headers = new Map<string, string>();
                if (next.retryAfterSeconds !== undefined)
                  headers.set("retry-after", String(next.retryAfterSeconds));
                throw Object.assign(new Error(`status ${next.status}`), {
                  statusCode: next.status,
                  response: { headers: { get: (name: string) => headers.get(name) } },
                });
              }
              if (bytes > topicLimit) {
                throw Object.assign(new Error("The maximum size has been exceeded."), { statusCode: 413 });
              }
              accepted.push(batch);
            },
          };
          const outbox = new MemoryOutbox();
          const delivery = new OutcomeDelivery({
            sender,
            outbox,
            log: silentLog,
            sleep: async () => undefined,
            random: () => 0.5,
            limits: SERVICE_LIMITS,
          });
          const result = await delivery.publish(events);
          expect(result.lost).toBe(0);
          expect(result.delivered + result.kept).toBe(events.length);
          // The timer's runs: the script is finite, so the outbox empties.
          for (let run = 0; run < 60 && outbox.events.size > 0; run++) await delivery.republishUndelivered();
          expect(outbox.events.size).toBe(0);

          const delivered = accepted.flat();
          const subjects = new Set(delivered.map((each) => each.subject));
          expect(subjects).toEqual(new Set(events.map((each) => each.subject)));
          for (const batch of accepted) {
            expect(Buffer.byteLength(JSON.stringify(batch), "utf8")).toBeLessThanOrEqual(topicLimit);
          }
          // One id per event, whichever send delivered it.
          const idsBySubject = new Map<string, Set<string>>();
          for (const each of delivered) {
            const ids = idsBySubject.get(each.subject) ?? new Set<string>();
            ids.add(each.id as string);
            idsBySubject.set(each.subject, ids);
          }
          for (const ids of idsBySubject.values()) expect(ids.size).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});
