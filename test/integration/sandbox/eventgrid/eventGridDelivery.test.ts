/**
 * The sandbox's Event Grid with the real SDK clients: a key version created through KeyClient
 * reaches webhooks on 127.0.0.1 after the validation handshake, in both schemas; a 500 is
 * retried; the duplicate and reorder switches; HSM keys emit nothing; the custom topic keeps
 * what EventGridPublisherClient publishes.
 */
import { EventGridDeserializer } from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxControl } from "../../../../sandbox/controlClient.js";
import type { RunningSandbox } from "../../../../sandbox/server.js";
import { type AzureClientFactory, createAzureClientFactory } from "../../../../src/azure/clientFactory.js";
import {
  HSM_URL,
  pause,
  startFastSandbox,
  startWebhookReceiver,
  TOPIC_ENDPOINT,
  VAULT_URL,
  waitFor,
} from "./sandboxHarness.js";

describe("sandbox Event Grid", () => {
  let sandbox: RunningSandbox;
  let clients: AzureClientFactory;
  let webhook: Awaited<ReturnType<typeof startWebhookReceiver>>;

  async function subscribe(path: string, schema: "EventGridSchema" | "CloudEventSchema", vault = "kv-cmk-1") {
    return sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
      vault,
      endpoint: `${webhook.url}${path}`,
      schema,
    });
  }

  function subscriptionFor(path: string) {
    return sandbox.store.eventSubscriptions.find((each) => each.endpoint === `${webhook.url}${path}`);
  }

  async function subscribeValidated(path: string, schema: "EventGridSchema" | "CloudEventSchema") {
    const answer = await subscribe(path, schema);
    expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
    await waitFor(`validation of ${path}`, () => subscriptionFor(path)?.validated);
  }

  function eventIdsOf(path: string): string[] {
    return webhook
      .notifications(path)
      .map((each) => (JSON.parse(each.body) as { id: string }[])[0]?.id ?? "?");
  }

  beforeAll(async () => {
    sandbox = await startFastSandbox();
    clients = createAzureClientFactory(sandbox.transport());
    webhook = await startWebhookReceiver();
  });

  afterAll(async () => {
    await sandbox?.close();
    await webhook?.close();
  });

  it("validates an Event Grid schema webhook, then delivers KeyNewVersionCreated", async () => {
    await subscribe("/eventgrid", "EventGridSchema");
    const created = await clients.keys(VAULT_URL).createKey("adx-key", "RSA", { keySize: 2048 });
    const delivery = await waitFor("a notification", () => webhook.notifications("/eventgrid")[0]);
    const toEventGrid = webhook.received.filter((each) => each.path === "/eventgrid");
    expect(toEventGrid[0]?.headers["aeg-event-type"]).toBe("SubscriptionValidation");
    expect(delivery.headers).toMatchObject({
      "aeg-subscription-name": "KV-CMK-1-SUB-1",
      "aeg-delivery-count": "0",
    });
    const [event] = await new EventGridDeserializer().deserializeEventGridEvents(delivery.body);
    expect(event).toMatchObject({
      eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
      subject: "adx-key",
      topic:
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-cmk-1",
      data: {
        Id: created.id,
        VaultName: "kv-cmk-1",
        ObjectType: "Key",
        ObjectName: "adx-key",
        Version: created.properties.version,
      },
    });
  });

  it("validates a CloudEvents webhook with OPTIONS, then delivers a structured CloudEvent", async () => {
    await subscribe("/cloudevents", "CloudEventSchema");
    await waitFor("CloudEvents validation", () => subscriptionFor("/cloudevents")?.validated);
    const created = await clients.keys(VAULT_URL).rotateKey("cosmos-key");
    const delivery = await waitFor("a CloudEvent", () =>
      webhook
        .notifications("/cloudevents")
        .find((each) => each.body.includes(created.properties.version ?? "?")),
    );
    expect(webhook.received.find((each) => each.path === "/cloudevents")?.method).toBe("OPTIONS");
    expect(delivery.headers["content-type"]).toBe("application/cloudevents+json; charset=utf-8");
    const [event] = await new EventGridDeserializer().deserializeCloudEvents(delivery.body);
    expect(event).toMatchObject({
      type: "Microsoft.KeyVault.KeyNewVersionCreated",
      subject: "cosmos-key",
      specversion: "1.0",
    });
    expect(event?.data).toMatchObject({ Version: created.properties.version, ObjectName: "cosmos-key" });
  });

  it("retries a delivery that got a 500", async () => {
    await subscribeValidated("/flaky", "EventGridSchema");
    webhook.failNext.set("/flaky", [500]);
    const created = await clients.keys(VAULT_URL).rotateKey("adx-key");
    const retried = await waitFor("the retried delivery", () =>
      webhook.notifications("/flaky").find((each) => each.headers["aeg-delivery-count"] === "1"),
    );
    expect(retried.body).toContain(created.properties.version);
    // The webhook has the second attempt before the sandbox has read its 200: wait for the record.
    const subscriptionId = subscriptionFor("/flaky")?.id;
    const record = await waitFor("the delivery recorded as delivered", () =>
      sandbox.store.deliveries.find(
        (each) => each.subscriptionId === subscriptionId && each.status !== "pending",
      ),
    );
    expect(record).toMatchObject({ status: "delivered", attempt: 2, lastStatusCode: 200 });
  });

  it("duplicates every event when asked to", async () => {
    await subscribeValidated("/duplicates", "EventGridSchema");
    expect(
      (await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/delivery", { duplicate: true })).status,
    ).toBe(200);
    try {
      const created = await clients.keys(VAULT_URL).rotateKey("cassandra-backup-key");
      await waitFor("two copies", () => webhook.notifications("/duplicates").length >= 2);
      const ids = eventIdsOf("/duplicates");
      expect(ids).toHaveLength(2);
      expect(ids[0]).toBe(ids[1]);
      expect(webhook.notifications("/duplicates")[0]?.body).toContain(created.properties.version);
    } finally {
      await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/delivery", { duplicate: false });
    }
  });

  it("reorders events created together when asked to", async () => {
    await subscribeValidated("/reordered", "EventGridSchema");
    expect(
      (await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/delivery", { reorder: true })).status,
    ).toBe(200);
    try {
      const keys = clients.keys(VAULT_URL);
      await Promise.all([
        keys.rotateKey("adx-key"),
        keys.rotateKey("cosmos-key"),
        keys.rotateKey("cassandra-backup-key"),
      ]);
      await waitFor("three events", () => webhook.notifications("/reordered").length >= 3);
      const subscriptionId = subscriptionFor("/reordered")?.id;
      const published = sandbox.store.deliveries
        .filter((each) => each.subscriptionId === subscriptionId)
        .map((each) => each.eventId);
      const received = eventIdsOf("/reordered");
      expect([...received].sort()).toEqual([...published].sort());
      expect(received).not.toEqual(published);
    } finally {
      await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/delivery", { reorder: false });
    }
  });

  it("refuses subscriptions to a Managed HSM, and HSM key versions emit nothing", async () => {
    const answer = await subscribe("/hsm", "EventGridSchema", "hsm-cmk-1");
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toMatch(/Managed HSM/);
    const before = sandbox.store.deliveries.length;
    const created = await clients.keys(HSM_URL).rotateKey("cosmos-hsm-key");
    expect(created.properties.version).toBeTruthy();
    await pause(1000);
    expect(sandbox.store.deliveries.length).toBe(before);
    expect(webhook.received.some((each) => each.body.includes(created.properties.version ?? "?"))).toBe(
      false,
    );
  });

  it("refuses a subscription with a bad endpoint or schema", async () => {
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
          vault: "kv-cmk-1",
          endpoint: "ftp://x",
          schema: "EventGridSchema",
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
          vault: "kv-cmk-1",
          endpoint: `${webhook.url}/x`,
          schema: "Custom",
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
          vault: "nope",
          endpoint: `${webhook.url}/x`,
          schema: "EventGridSchema",
        })
      ).status,
    ).toBe(400);
  });

  it("keeps events published to the custom topic with the access key or an EventGrid Data Sender token", async () => {
    const accessKey = sandbox.store.customTopics[0]?.accessKey;
    await clients.eventGridPublisher(TOPIC_ENDPOINT, accessKey).send([
      {
        eventType: "CmkRotator.ConsumerRepointed",
        subject: "by-key",
        dataVersion: "1.0",
        data: { consumer: "adx-pinned" },
      },
    ]);
    await clients.eventGridPublisher(TOPIC_ENDPOINT).send([
      {
        eventType: "CmkRotator.ConsumerRepointed",
        subject: "by-token",
        dataVersion: "1.0",
        data: { consumer: "adx-latest" },
      },
    ]);
    const state = await sandboxControl(sandbox, "GET", "/_sandbox/state");
    expect(state.status).toBe(200);
    expect(JSON.stringify(state.body)).toContain("by-key");
    expect(JSON.stringify(state.body)).toContain("by-token");
  });

  it("refuses a publisher without the key or the role", async () => {
    const operator = createAzureClientFactory(sandbox.transport("operator"));
    await expect(
      operator
        .eventGridPublisher(TOPIC_ENDPOINT)
        .send([{ eventType: "X", subject: "s", dataVersion: "1", data: {} }]),
    ).rejects.toMatchObject({ statusCode: 401 });
    await expect(
      clients
        .eventGridPublisher(TOPIC_ENDPOINT, "d3Jvbmc=")
        .send([{ eventType: "X", subject: "s", dataVersion: "1", data: {} }]),
    ).rejects.toMatchObject({ statusCode: 401 });
  });
});
