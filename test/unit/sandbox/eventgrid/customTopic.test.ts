import { describe, expect, it } from "vitest";
import {
  customTopicService,
  MAX_EVENT_BYTES,
  MAX_PUBLISH_BYTES,
} from "../../../../sandbox/eventgrid/customTopic.js";
import type { SandboxRequest } from "../../../../sandbox/http.js";
import { mintSandboxToken } from "../../../../sandbox/identity.js";
import { builtInRoleDefinitions } from "../../../../sandbox/rbac.js";
import { START, SUBSCRIPTION, storeWith } from "./sandboxBuilders.js";

const HOST = "rotator-events.westeurope-1.eventgrid.azure.net";
const TOPIC_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.EventGrid/topics/rotator-events`;
const SENDER = "22222222-2222-2222-2222-222222222222";
const OTHER = "33333333-3333-3333-3333-333333333333";

function topicStore() {
  const store = storeWith([]);
  store.customTopics.push({
    name: "rotator-events",
    host: HOST,
    accessKey: "c2VjcmV0",
    resourceId: TOPIC_ID,
  });
  for (const role of builtInRoleDefinitions) store.roleDefinitions.set(role.roleName, role);
  store.roleAssignments.push({
    principalId: SENDER,
    roleName: "EventGrid Data Sender",
    scope: `/subscriptions/${SUBSCRIPTION}`,
  });
  return store;
}

const event = {
  id: "e1",
  subject: "cmk-rotator/kv1/k",
  eventType: "CmkRotator.RotationCompleted",
  eventTime: "2026-01-01T00:00:00Z",
  data: { ok: true },
  dataVersion: "1.0",
};

function request(
  body: unknown,
  headers: Record<string, string> = { "aeg-sas-key": "c2VjcmV0" },
): SandboxRequest {
  return {
    method: "POST",
    host: HOST,
    path: "/api/events",
    query: new URLSearchParams({ "api-version": "2018-01-01" }),
    headers,
    body: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)),
    remoteAddress: "127.0.0.1",
  };
}

function bearer(oid: string, aud = "https://eventgrid.azure.net") {
  return { authorization: `Bearer ${mintSandboxToken({ oid, aud, tid: "t" }, START)}` };
}

describe("Event Grid custom topic", () => {
  it("keeps events published with the access key, stamped with the topic", async () => {
    const store = topicStore();
    const response = await customTopicService.handle(request([event]), store);
    expect(response.status).toBe(200);
    expect(store.publishedEvents).toEqual([
      {
        topic: "rotator-events",
        receivedAt: START,
        event: { ...event, topic: TOPIC_ID, metadataVersion: "1" },
      },
    ]);
  });

  it("accepts a bearer token of an identity with EventGrid Data Sender on the topic", async () => {
    const store = topicStore();
    expect((await customTopicService.handle(request([event], bearer(SENDER)), store)).status).toBe(200);
  });

  it.each([
    [
      "no credential",
      {},
      /Request must contain one of the following authorization signature: aeg-sas-token, aeg-sas-key/,
    ],
    [
      "a wrong key",
      { "aeg-sas-key": "d3Jvbmc=" },
      /not authorized for ROTATOR-EVENTS\.WESTEUROPE-1\.EVENTGRID\.AZURE\.NET/,
    ],
    [
      "a token without the role",
      bearer(OTHER),
      /needs the data action Microsoft\.EventGrid\/events\/send\/action/,
    ],
    [
      "a token for another audience",
      bearer(SENDER, "https://vault.azure.net"),
      /not a token for https:\/\/eventgrid/,
    ],
  ])("refuses %s with 401 in Event Grid's error shape", async (_case, headers, message) => {
    const store = topicStore();
    const response = await customTopicService.handle(request([event], headers), store);
    expect(response.status).toBe(401);
    const body = response.body as { error: { code: string; message: string; details: { code: string }[] } };
    expect(body.error.code).toBe("Unauthorized");
    expect(body.error.message).toMatch(message);
    expect(body.error.details[0]?.code).toBe("Unauthorized");
    expect(store.publishedEvents).toEqual([]);
  });

  it.each([
    ["not JSON", "{", /not valid JSON/],
    ["an object instead of an array", event, /JSON array/],
    ["an event without id", [{ ...event, id: undefined }], /missing the required string property 'id'/],
    ["an event without data", [{ ...event, data: undefined }], /missing the required property 'data'/],
    ["a bad eventTime", [{ ...event, eventTime: "yesterday" }], /not a valid date-time/],
  ])("refuses %s with 400 InputJsonInvalid", async (_case, body, message) => {
    const store = topicStore();
    const response = await customTopicService.handle(request(body), store);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      error: { code: "BadRequest", details: [{ code: "InputJsonInvalid" }] },
    });
    expect((response.body as { error: { message: string } }).error.message).toMatch(message);
  });

  it("refuses a request over 1,536,000 bytes with 413, and keeps none of its events", async () => {
    const store = topicStore();
    const third = Math.ceil(MAX_PUBLISH_BYTES / 3);
    const big = [1, 2, 3].map((n) => ({ ...event, id: `e${n}`, data: "x".repeat(third) }));
    const answer = await customTopicService.handle(request(big), store);
    expect(answer.status).toBe(413);
    expect(JSON.stringify(answer.body)).toContain("The maximum size (1536000) has been exceeded.");
    expect(store.publishedEvents).toEqual([]);
  });

  it("accepts a request over 1 MiB whose events are each under the per-event limit, as Event Grid does", async () => {
    const store = topicStore();
    const batch = [1, 2].map((n) => ({ ...event, id: `e${n}`, data: "x".repeat(600_000) }));
    expect((await customTopicService.handle(request(batch), store)).status).toBe(200);
    expect(store.publishedEvents).toHaveLength(2);
  });

  it("refuses one event over 1,049,600 bytes with 413, even alone in its request", async () => {
    const store = topicStore();
    const envelope = JSON.stringify({ ...event, data: "" }).length;
    const atLimit = [{ ...event, data: "x".repeat(MAX_EVENT_BYTES - envelope) }];
    expect((await customTopicService.handle(request(atLimit), store)).status).toBe(200);
    const overLimit = [event, { ...event, id: "e2", data: "x".repeat(MAX_EVENT_BYTES - envelope + 1) }];
    const answer = await customTopicService.handle(request(overLimit), store);
    expect(answer.status).toBe(413);
    expect(JSON.stringify(answer.body)).toContain("The maximum size (1049600) has been exceeded.");
    expect(store.publishedEvents).toHaveLength(1);
  });

  it("refuses an unknown api-version and an unknown topic", async () => {
    const store = topicStore();
    const wrongVersion = { ...request([event]), query: new URLSearchParams({ "api-version": "2020-01-01" }) };
    expect((await customTopicService.handle(wrongVersion, store)).status).toBe(400);
    const unknownTopic = { ...request([event]), host: "other.westeurope-1.eventgrid.azure.net" };
    expect((await customTopicService.handle(unknownTopic, store)).status).toBe(404);
  });
});
