import { describe, expect, it } from "vitest";
import {
  DELIVERY_HISTORY_LIMIT,
  eventGridRuntime,
  MAX_DELIVERY_ATTEMPTS,
  publishToSubscriptions,
  REORDER_WINDOW_MS,
  reorder,
  retryDelayMs,
  runDeliveryRound,
} from "../../../../sandbox/eventgrid/delivery.js";
import { addEventSubscription } from "../../../../sandbox/eventgrid/eventSubscriptions.js";
import { KEY_VAULT_EVENT_TYPES, keyVaultEvent } from "../../../../sandbox/eventgrid/keyVaultEvents.js";
import type { WebhookRequest, WebhookResponse } from "../../../../sandbox/eventgrid/webhookSender.js";
import type { EventSchema } from "../../../../sandbox/model.js";
import type { SandboxStore } from "../../../../sandbox/store.js";
import { key, keyVersion, ManualClock, storeWith, vault } from "./sandboxBuilders.js";

const ENDPOINT = "http://127.0.0.1:9/hook";

/** A webhook that answers handshakes correctly and notifications with the scripted statuses (then 200). */
function fakeWebhook(notificationStatuses: number[] = []) {
  const requests: WebhookRequest[] = [];
  const script = [...notificationStatuses];
  const send = async (request: WebhookRequest): Promise<WebhookResponse> => {
    requests.push(request);
    if (request.method === "OPTIONS") {
      return { status: 200, headers: { "webhook-allowed-origin": "eventgrid.azure.net" }, body: "" };
    }
    if (request.headers["aeg-event-type"] === "SubscriptionValidation") {
      const [event] = JSON.parse(request.body ?? "[]") as { data: { validationCode: string } }[];
      return {
        status: 200,
        headers: {},
        body: JSON.stringify({ validationResponse: event?.data.validationCode }),
      };
    }
    return { status: script.shift() ?? 200, headers: {}, body: "" };
  };
  const notifications = () =>
    requests.filter((request) => request.headers["aeg-event-type"] === "Notification");
  return { requests, send, notifications };
}

function setUp(schema: EventSchema = "EventGridSchema", notificationStatuses: number[] = []) {
  const clock = new ManualClock();
  const version = keyVersion();
  const kv = vault("kv1", [key("k", [version])]);
  const store = storeWith([kv], clock);
  const webhook = fakeWebhook(notificationStatuses);
  eventGridRuntime(store).send = webhook.send;
  const subscription = addEventSubscription(store, { vault: "kv1", endpoint: ENDPOINT, schema });
  const publish = () => {
    const event = keyVaultEvent(kv, "k", version, KEY_VAULT_EVENT_TYPES.newVersionCreated, clock.now());
    publishToSubscriptions(store, "kv1", event);
    return event;
  };
  return { clock, store, webhook, subscription, publish };
}

async function rounds(store: SandboxStore, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await runDeliveryRound(store);
}

describe("Event Grid webhook delivery", () => {
  it("backs off 1 s, 2 s, 4 s, 8 s, 16 s between attempts", () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it("validates an Event Grid schema endpoint before delivering the first event", async () => {
    const { store, webhook, subscription, publish } = setUp();
    const event = publish();
    await rounds(store, 2);
    expect(webhook.requests.map((request) => request.headers["aeg-event-type"])).toEqual([
      "SubscriptionValidation",
      "Notification",
    ]);
    expect(subscription.validated).toBe(true);
    const notification = webhook.notifications()[0];
    expect(notification?.headers).toMatchObject({
      "content-type": "application/json; charset=utf-8",
      "aeg-subscription-name": "KV1-SUB-1",
      "aeg-delivery-count": "0",
    });
    expect(JSON.parse(notification?.body ?? "")).toMatchObject([
      { id: event.id, eventType: event.eventType },
    ]);
    expect(store.deliveries).toMatchObject([{ eventId: event.id, status: "delivered", attempt: 1 }]);
  });

  it("validates a CloudEvents endpoint with the OPTIONS handshake and delivers one structured event", async () => {
    const { store, webhook, publish } = setUp("CloudEventSchema");
    const event = publish();
    await rounds(store, 2);
    expect(webhook.requests[0]).toMatchObject({
      method: "OPTIONS",
      headers: { "webhook-request-origin": "eventgrid.azure.net" },
    });
    const notification = webhook.notifications()[0];
    expect(notification?.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    expect(JSON.parse(notification?.body ?? "")).toMatchObject({
      id: event.id,
      specversion: "1.0",
      type: event.eventType,
    });
  });

  it("gives an endpoint that fails validation no events and says why", async () => {
    const { store, webhook, subscription, publish } = setUp();
    webhook.requests.length = 0;
    eventGridRuntime(store).send = async (request) => {
      webhook.requests.push(request);
      return { status: 200, headers: {}, body: "{}" };
    };
    publish();
    await rounds(store, 3);
    expect(subscription.validated).toBe(false);
    expect(subscription.validationError).toMatch(/without \{"validationResponse"/);
    expect(webhook.requests).toHaveLength(1);
    expect(store.deliveries[0]).toMatchObject({
      status: "failed",
      lastError: expect.stringMatching(/validation/),
    });
  });

  it("retries after a 500 with backoff and counts earlier attempts in aeg-delivery-count", async () => {
    const { clock, store, webhook, publish } = setUp("EventGridSchema", [500]);
    publish();
    await rounds(store, 2);
    expect(store.deliveries[0]).toMatchObject({ status: "pending", attempt: 1, lastStatusCode: 500 });
    expect(store.deliveries[0]?.nextAttemptAt).toBe(clock.now() + 1000);
    await rounds(store, 1);
    expect(webhook.notifications()).toHaveLength(1);
    clock.advance(1000);
    await rounds(store, 1);
    expect(webhook.notifications().map((request) => request.headers["aeg-delivery-count"])).toEqual([
      "0",
      "1",
    ]);
    expect(store.deliveries[0]).toMatchObject({ status: "delivered", attempt: 2 });
  });

  it("dead-letters an event after the last attempt fails", async () => {
    const { clock, store, webhook, publish } = setUp("EventGridSchema", Array(10).fill(503));
    publish();
    for (let i = 0; i < MAX_DELIVERY_ATTEMPTS + 2; i++) {
      await rounds(store, 1);
      clock.advance(60_000);
    }
    expect(webhook.notifications()).toHaveLength(MAX_DELIVERY_ATTEMPTS);
    expect(store.deliveries[0]).toMatchObject({ status: "failed", attempt: MAX_DELIVERY_ATTEMPTS });
    expect(store.deliveries[0]?.lastError).toMatch(/gave up after 6 attempts/);
  });

  it("does not retry a 400 answer, as Event Grid does not", async () => {
    const { clock, store, webhook, publish } = setUp("EventGridSchema", [400]);
    publish();
    await rounds(store, 2);
    clock.advance(60_000);
    await rounds(store, 1);
    expect(webhook.notifications()).toHaveLength(1);
    expect(store.deliveries[0]).toMatchObject({ status: "failed", lastStatusCode: 400 });
  });

  it("retries when the endpoint cannot be reached", async () => {
    const { store, publish } = setUp();
    await rounds(store, 1);
    eventGridRuntime(store).send = async () => {
      throw new Error("connect ECONNREFUSED");
    };
    publish();
    await rounds(store, 1);
    expect(store.deliveries[0]).toMatchObject({
      status: "pending",
      lastError: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it("delivers every event twice when duplication is on", async () => {
    const { store, webhook, publish } = setUp();
    eventGridRuntime(store).switches.duplicate = true;
    const event = publish();
    await rounds(store, 2);
    const ids = webhook
      .notifications()
      .map((request) => (JSON.parse(request.body ?? "") as { id: string }[])[0]?.id);
    expect(ids).toEqual([event.id, event.id]);
  });

  it("reorders the events of one batch window when reordering is on", async () => {
    const { clock, store, webhook, publish } = setUp();
    await rounds(store, 1);
    eventGridRuntime(store).switches.reorder = true;
    const first = publish().id;
    clock.advance(REORDER_WINDOW_MS - 1);
    const published = [first, publish().id, publish().id];
    await rounds(store, 1);
    expect(webhook.notifications()).toHaveLength(0);
    clock.advance(1);
    await rounds(store, 1);
    const received = webhook
      .notifications()
      .map((request) => (JSON.parse(request.body ?? "") as { id: string }[])[0]?.id);
    expect([...received].sort()).toEqual([...published].sort());
    expect(received).not.toEqual(published);
  });

  it("never keeps the original order when reordering two or more items", () => {
    const identity = () => 0.999999;
    expect(reorder([1, 2, 3], identity)).not.toEqual([1, 2, 3]);
    expect(reorder([1], identity)).toEqual([1]);
  });

  it("keeps the delivery history bounded", () => {
    const { store, publish } = setUp();
    for (let i = 0; i < DELIVERY_HISTORY_LIMIT + 5; i++) publish();
    expect(store.deliveries).toHaveLength(DELIVERY_HISTORY_LIMIT);
  });
});
