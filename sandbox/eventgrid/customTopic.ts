/**
 * Event Grid custom topics (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`),
 * as EventGridPublisherClient ("EventGrid" schema) talks to them: `aeg-sas-key` (header or
 * query) or a bearer token whose identity may `Microsoft.EventGrid/events/send/action` on
 * the topic. Accepted events are kept in `store.publishedEvents` (capped) for inspection.
 * Errors use Event Grid's shape: `{error: {code, message, details: [{code, message}]}}`.
 */
import { randomUUID } from "node:crypto";
import { json, type SandboxRequest, type SandboxResponse, type SandboxService } from "../http.js";
import { bearerToken, parseSandboxToken } from "../identity.js";
import { isAuthorized } from "../rbac.js";
import type { SandboxCustomTopic, SandboxStore } from "../store.js";

export const CUSTOM_TOPIC_API_VERSION = "2018-01-01";
export const SEND_EVENTS_DATA_ACTION = "Microsoft.EventGrid/events/send/action";
/**
 * What Event Grid accepts, as it really behaves: the documentation ("Azure Event Grid quotas
 * and limits") says 1 MB per request and 1 MB per event, and anything larger gets 413. Measured
 * against real topics, a request may be up to 1,536,000 bytes and one event up to 1,049,600
 * bytes (pm7y/AzureEventGridSimulator#201, 2025, which measured both; the 1,536,000 request
 * limit is also the service's message "The maximum size (1536000) has been exceeded." that
 * Azure/azure-functions-dotnet-worker#538 and Azure/azure-sdk-for-net#28657 quote; the
 * per-event limit matches Azure/azure-sdk-for-go#16160, where 786,955 bytes of binary data,
 * base64-encoded into one event, were refused and one byte less was accepted). The service
 * batches under the documented 1 MB, so it is right whichever holds.
 */
export const MAX_PUBLISH_BYTES = 1_536_000;
/** The largest single event (its JSON) Event Grid accepts; see MAX_PUBLISH_BYTES. */
export const MAX_EVENT_BYTES = 1_049_600;
/** store.publishedEvents keeps at most this many events. */
export const PUBLISHED_EVENTS_LIMIT = 1000;

const REQUIRED_STRING_FIELDS = ["id", "subject", "eventType", "eventTime", "dataVersion"] as const;

function eventGridError(
  store: SandboxStore,
  status: number,
  code: string,
  detailCode: string,
  message: string,
): SandboxResponse {
  const text = `${message} Report '${randomUUID()}:${new Date(store.now()).toUTCString()}' to our forums for assistance or raise a support ticket.`;
  return json(status, { error: { code, message: text, details: [{ code: detailCode, message: text }] } });
}

function badRequest(store: SandboxStore, message: string): SandboxResponse {
  return eventGridError(store, 400, "BadRequest", "InputJsonInvalid", message);
}

/** Event Grid's answer to a request or an event over its size limit (nothing of the request is accepted). */
function tooLarge(store: SandboxStore, limit: number): SandboxResponse {
  return eventGridError(
    store,
    413,
    "RequestEntityTooLarge",
    "PayloadTooLarge",
    `The maximum size (${limit}) has been exceeded.`,
  );
}

function unauthorized(store: SandboxStore, message: string): SandboxResponse {
  return eventGridError(store, 401, "Unauthorized", "Unauthorized", message);
}

export function topicResourceId(store: SandboxStore, topic: SandboxCustomTopic): string {
  if (topic.resourceId) return topic.resourceId;
  const subscription = store.subscriptions[0];
  return `/subscriptions/${subscription?.id ?? "00000000-0000-0000-0000-000000000000"}/resourceGroups/${subscription?.resourceGroups[0] ?? "default"}/providers/Microsoft.EventGrid/topics/${topic.name}`;
}

function headerValue(request: SandboxRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Why the caller may not publish to `topic`, or undefined when it may. */
function authorizationProblem(request: SandboxRequest, store: SandboxStore, topic: SandboxCustomTopic) {
  const host = topic.host.toUpperCase();
  const key = headerValue(request, "aeg-sas-key") ?? request.query.get("aeg-sas-key") ?? undefined;
  if (key !== undefined) {
    return key === topic.accessKey
      ? undefined
      : `The request authorization key is not authorized for ${host}. This is due to the reason: The key does not match the topic's access key.`;
  }
  const token = bearerToken(headerValue(request, "authorization"));
  if (token === undefined) {
    return "Request must contain one of the following authorization signature: aeg-sas-token, aeg-sas-key.";
  }
  const claims = parseSandboxToken(token);
  if (!claims || !/^https:\/\/eventgrid\.azure\.net\/?$/.test(claims.aud)) {
    return `The request authorization key is not authorized for ${host}. This is due to the reason: The bearer token is not a token for https://eventgrid.azure.net.`;
  }
  const scope = topicResourceId(store, topic);
  if (!isAuthorized(store, claims.oid, scope, SEND_EVENTS_DATA_ACTION, "data")) {
    return `The principal '${claims.oid}' is not authorized for ${host}: it needs the data action ${SEND_EVENTS_DATA_ACTION} (role "EventGrid Data Sender") on ${scope}.`;
  }
  return undefined;
}

/** Why `events` is not a valid Event Grid schema batch, or undefined when it is. */
export function eventBatchProblem(events: unknown): string | undefined {
  if (!Array.isArray(events))
    return "The request body must be a JSON array of events in the Event Grid schema.";
  if (events.length === 0) return "The request body must contain at least one event.";
  for (const [index, event] of events.entries()) {
    if (typeof event !== "object" || event === null || Array.isArray(event)) {
      return `Event ${index} is not a JSON object.`;
    }
    const fields = event as Record<string, unknown>;
    for (const name of REQUIRED_STRING_FIELDS) {
      if (typeof fields[name] !== "string" || fields[name] === "") {
        return `Event ${index} is missing the required string property '${name}'.`;
      }
    }
    if (!("data" in fields)) return `Event ${index} is missing the required property 'data'.`;
    if (Number.isNaN(Date.parse(fields.eventTime as string))) {
      return `Event ${index} has an eventTime that is not a valid date-time: '${String(fields.eventTime)}'.`;
    }
  }
  return undefined;
}

export const customTopicService: SandboxService = {
  name: "eventgrid-custom-topic",
  matches: (host) => host.endsWith(".eventgrid.azure.net"),
  async handle(request, store) {
    const topic = store.customTopics.find((candidate) => candidate.host.toLowerCase() === request.host);
    if (!topic) {
      return eventGridError(
        store,
        404,
        "NotFound",
        "ResourceNotFound",
        `The topic ${request.host} does not exist in this sandbox; topics: ${store.customTopics.map((t) => t.host).join(", ") || "none"}.`,
      );
    }
    if (request.path !== "/api/events") {
      return eventGridError(
        store,
        404,
        "NotFound",
        "ResourceNotFound",
        `Event Grid topics serve only /api/events, not ${request.path}.`,
      );
    }
    if (request.method !== "POST") {
      return eventGridError(
        store,
        405,
        "MethodNotAllowed",
        "MethodNotAllowed",
        `Use POST to publish events, not ${request.method}.`,
      );
    }
    const apiVersion = request.query.get("api-version");
    if (apiVersion !== CUSTOM_TOPIC_API_VERSION) {
      return badRequest(
        store,
        `The api-version '${apiVersion ?? ""}' is not supported by this topic; supported: ${CUSTOM_TOPIC_API_VERSION}.`,
      );
    }
    const problem = authorizationProblem(request, store, topic);
    if (problem) return unauthorized(store, problem);
    if (request.body.length > MAX_PUBLISH_BYTES) return tooLarge(store, MAX_PUBLISH_BYTES);
    let events: unknown;
    try {
      events = JSON.parse(request.body.toString("utf8"));
    } catch (error) {
      return badRequest(store, `The request body is not valid JSON: ${(error as Error).message}.`);
    }
    const invalid = eventBatchProblem(events);
    if (invalid) return badRequest(store, invalid);
    for (const event of events as unknown[]) {
      if (Buffer.byteLength(JSON.stringify(event), "utf8") > MAX_EVENT_BYTES)
        return tooLarge(store, MAX_EVENT_BYTES);
    }
    const receivedAt = store.now();
    const resourceId = topicResourceId(store, topic);
    for (const event of events as Record<string, unknown>[]) {
      store.publishedEvents.push({
        topic: topic.name,
        receivedAt,
        event: { ...event, topic: resourceId, metadataVersion: "1" },
      });
    }
    const excess = store.publishedEvents.length - PUBLISHED_EVENTS_LIMIT;
    if (excess > 0) store.publishedEvents.splice(0, excess);
    return { status: 200 };
  },
};
