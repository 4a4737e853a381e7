import type { SendEventGridEventInput } from "@azure/eventgrid";
import { describe, expect, it } from "vitest";
import { EventGridOutcomePublisher, type OutcomeEvent } from "../../../src/outcomes/outcomeEvents.js";

const AT = new Date("2026-11-29T12:00:00Z");

function repointed(): OutcomeEvent {
  return {
    name: "ConsumerRepointed",
    subject: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1",
    at: AT,
    data: {
      key: "kv1/k",
      keyId: "https://kv1.vault.azure.net/keys/k",
      version: "b".repeat(32),
      fromVersion: "a".repeat(32),
      consumer: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/adx1",
      consumerKind: "kusto",
      pin: "key",
      reason: "consumer-lags",
      message: "repointed",
    },
  };
}

describe("outcome events", () => {
  it("publishes the event types exactly as the contract names them, in one batch", async () => {
    const sent: SendEventGridEventInput<unknown>[][] = [];
    const publisher = new EventGridOutcomePublisher({ send: async (events) => void sent.push(events) });
    const names = ["ConsumerRepointed", "RepointFailed", "VersionDisabled", "RotationBlocked"] as const;
    await publisher.publish(names.map((name) => ({ ...repointed(), name })));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.map((event) => event.eventType)).toEqual([...names]);
    expect(sent[0]?.[0]).toMatchObject({
      subject: repointed().subject,
      eventTime: AT,
      dataVersion: "1.0",
      data: { key: "kv1/k", fromVersion: "a".repeat(32), consumerKind: "kusto" },
    });
  });

  it("sends nothing for no events", async () => {
    let calls = 0;
    const publisher = new EventGridOutcomePublisher({
      send: async () => {
        calls++;
      },
    });
    await publisher.publish([]);
    expect(calls).toBe(0);
  });
});
