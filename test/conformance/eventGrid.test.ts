/**
 * Event Grid: a key rotation delivered to webhooks on 127.0.0.1 in both schemas and read
 * with the real EventGridDeserializer, and a publish to the custom topic with the real
 * EventGridPublisherClient. Envelopes are checked against EventGridEvent / CloudEvents
 * 1.0, event data against KeyVault.json, the publish exchange against PublishEvents.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EventGridDeserializer } from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxControl } from "../../sandbox/controlClient.js";
import { cloudEventProblems, eventGridEventProblems } from "../support/swagger/eventGridEvents.js";
import {
  expectRecordingConforms,
  specCatalog,
  useConformanceSandbox,
  VAULT_URL,
} from "./conformanceSandbox.js";

const TOPIC_ENDPOINT = "https://rotator-events.westeurope-1.eventgrid.azure.net/api/events";
const KEY_NEW_VERSION_CREATED = "Microsoft.KeyVault.KeyNewVersionCreated";

interface ReceivedDelivery {
  path: string;
  eventType: string | undefined;
  body: string;
}

/** A webhook that passes both handshakes and keeps every notification it receives. */
async function startWebhook(): Promise<{ server: Server; url: string; received: ReceivedDelivery[] }> {
  const received: ReceivedDelivery[] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      if (request.method === "OPTIONS") {
        response.writeHead(200, {
          "webhook-allowed-origin": String(request.headers["webhook-request-origin"] ?? "*"),
        });
        response.end();
        return;
      }
      const eventType = request.headers["aeg-event-type"];
      if (eventType === "SubscriptionValidation") {
        const [validation] = JSON.parse(body) as { data: { validationCode: string } }[];
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ validationResponse: validation?.data.validationCode }));
        return;
      }
      received.push({
        path: request.url ?? "",
        eventType: typeof eventType === "string" ? eventType : undefined,
        body,
      });
      response.writeHead(200);
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, received };
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Event Grid conformance", () => {
  const run = useConformanceSandbox();
  let webhook: Awaited<ReturnType<typeof startWebhook>>;

  beforeAll(async () => {
    webhook = await startWebhook();
    for (const [path, schema] of [
      ["/eventgrid", "EventGridSchema"],
      ["/cloudevents", "CloudEventSchema"],
    ]) {
      const answer = await sandboxControl(run.sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
        vault: "kv-cmk-1",
        endpoint: `${webhook.url}${path}`,
        schema,
      });
      expect(answer.status, answer.text).toBeLessThan(300);
    }
  });

  afterAll(async () => {
    await new Promise((resolve) => webhook?.server.close(resolve));
  });

  it("delivers KeyNewVersionCreated in the Event Grid schema, readable by EventGridDeserializer", async () => {
    const rotated = await run.clients.keys(VAULT_URL).rotateKey("adx-key");
    const delivery = await waitFor("an Event Grid schema delivery", () =>
      webhook.received.find(
        (each) => each.path === "/eventgrid" && each.body.includes(rotated.properties.version ?? "?"),
      ),
    );
    expect(delivery.eventType).toBe("Notification");
    const raw = JSON.parse(delivery.body) as unknown[];
    expect(raw.flatMap((event) => eventGridEventProblems(event))).toEqual([]);
    const events = await new EventGridDeserializer().deserializeEventGridEvents(delivery.body);
    const created = events.find((event) => event.eventType === KEY_NEW_VERSION_CREATED);
    expect(created?.subject).toBe("adx-key");
    expect(specCatalog.keyVaultEventDataProblems(KEY_NEW_VERSION_CREATED, created?.data)).toEqual([]);
  });

  it("delivers KeyNewVersionCreated as CloudEvents 1.0, readable by EventGridDeserializer", async () => {
    const rotated = await run.clients.keys(VAULT_URL).rotateKey("cosmos-key");
    const delivery = await waitFor("a CloudEvents delivery", () =>
      webhook.received.find(
        (each) => each.path === "/cloudevents" && each.body.includes(rotated.properties.version ?? "?"),
      ),
    );
    const parsed: unknown = JSON.parse(delivery.body);
    const raw = Array.isArray(parsed) ? parsed : [parsed];
    expect(raw.flatMap((event) => cloudEventProblems(event))).toEqual([]);
    const events = await new EventGridDeserializer().deserializeCloudEvents(delivery.body);
    const created = events.find((event) => event.type === KEY_NEW_VERSION_CREATED);
    expect(created?.subject).toBe("cosmos-key");
    expect(specCatalog.keyVaultEventDataProblems(KEY_NEW_VERSION_CREATED, created?.data)).toEqual([]);
  });

  it("accepts events published to the custom topic and keeps them", async () => {
    const accessKey = run.sandbox.store.customTopics[0]?.accessKey;
    expect(accessKey).toBeTruthy();
    const publisher = run.clients.eventGridPublisher(TOPIC_ENDPOINT, accessKey);
    await publisher.send([
      {
        eventType: "CmkRotator.ConsumerRepointed",
        subject: "conformance",
        dataVersion: "1.0",
        data: { consumer: "adx-pinned" },
      },
    ]);
    expect(run.sandbox.store.publishedEvents.some((each) => each.event.subject === "conformance")).toBe(true);
  });

  it("every recorded exchange conforms (Key Vault rotations, PublishEvents)", () => {
    expectRecordingConforms(run.exchanges(), ["RotateKey", "PublishEvents"]);
  });
});
