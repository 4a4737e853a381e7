/**
 * Webhook subscriptions to vault system topics, from the estate or from
 * `POST /_sandbox/eventgrid/subscriptions`, and the delivery switches of
 * `POST /_sandbox/eventgrid/delivery`. Every input is validated; a bad one changes nothing.
 */

import { SandboxHttpError } from "../http.js";
import { findVault } from "../keyvault/operations.js";
import type { EventSchema, SandboxEventSubscription } from "../model.js";
import type { SandboxStore } from "../store.js";
import { type DeliverySwitches, eventGridRuntime } from "./delivery.js";

const EVENT_SCHEMAS: readonly EventSchema[] = ["EventGridSchema", "CloudEventSchema"];
const LOOPBACK_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

export interface EventSubscriptionRequest {
  vault: string;
  endpoint: string;
  schema: EventSchema;
}

function badRequest(message: string): SandboxHttpError {
  return new SandboxHttpError(400, "BadRequest", message);
}

function requireObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest(`${what} must be a JSON object.`);
  }
  return body as Record<string, unknown>;
}

function rejectUnknownFields(body: Record<string, unknown>, allowed: readonly string[], what: string): void {
  const unknown = Object.keys(body).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) {
    throw badRequest(`${what} has unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}.`);
  }
}

/** Validate a subscription request against the store; throws a 400 SandboxHttpError saying what is wrong. */
export function parseEventSubscriptionRequest(store: SandboxStore, body: unknown): EventSubscriptionRequest {
  const what = "An Event Grid subscription";
  const fields = requireObject(body, what);
  rejectUnknownFields(fields, ["vault", "endpoint", "schema"], what);
  const { vault, endpoint, schema } = fields;
  if (typeof vault !== "string" || vault === "")
    throw badRequest(`${what} needs "vault": the name of a vault.`);
  const target = findVault(store, vault);
  if (!target) {
    const known = [...store.vaults.values()].map((candidate) => candidate.name);
    throw badRequest(`Vault "${vault}" is not in the estate; known vaults: ${known.join(", ")}.`);
  }
  if (target.kind !== "vault") {
    throw badRequest(
      `"${vault}" is a Managed HSM: Managed HSMs publish no Event Grid events; subscribe to a vault.`,
    );
  }
  if (typeof endpoint !== "string") throw badRequest(`${what} needs "endpoint": the webhook URL.`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw badRequest(`"endpoint" ${JSON.stringify(endpoint)} is not a URL.`);
  }
  const isLoopback = LOOPBACK_HOSTS.has(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback)) {
    throw badRequest(
      `"endpoint" ${endpoint} must use https (Event Grid webhooks require it); plain http is accepted for loopback hosts only.`,
    );
  }
  if (typeof schema !== "string" || !EVENT_SCHEMAS.includes(schema as EventSchema)) {
    throw badRequest(`"schema" must be one of ${EVENT_SCHEMAS.join(", ")}, not ${JSON.stringify(schema)}.`);
  }
  return { vault: target.name, endpoint, schema: schema as EventSchema };
}

/** Add a subscription; its validation handshake runs in the next delivery round. */
export function addEventSubscription(
  store: SandboxStore,
  request: EventSubscriptionRequest,
): SandboxEventSubscription {
  const taken = new Set(store.eventSubscriptions.map((subscription) => subscription.id));
  let number = store.eventSubscriptions.length + 1;
  while (taken.has(`${request.vault}-sub-${number}`)) number++;
  const subscription: SandboxEventSubscription = {
    id: `${request.vault}-sub-${number}`,
    vault: request.vault,
    endpoint: request.endpoint,
    schema: request.schema,
    validated: false,
  };
  store.eventSubscriptions.push(subscription);
  return subscription;
}

/** Validate and apply `{"duplicate"?: bool, "reorder"?: bool}`; returns the switches now in force. */
export function updateDeliverySwitches(store: SandboxStore, body: unknown): DeliverySwitches {
  const what = "The Event Grid delivery settings";
  const fields = requireObject(body, what);
  rejectUnknownFields(fields, ["duplicate", "reorder"], what);
  const change: Partial<DeliverySwitches> = {};
  for (const name of ["duplicate", "reorder"] as const) {
    const value = fields[name];
    if (value === undefined) continue;
    if (typeof value !== "boolean")
      throw badRequest(`"${name}" must be true or false, not ${JSON.stringify(value)}.`);
    change[name] = value;
  }
  if (Object.keys(change).length === 0) throw badRequest(`${what} need "duplicate" and/or "reorder".`);
  const runtime = eventGridRuntime(store);
  runtime.switches = { ...runtime.switches, ...change };
  return { ...runtime.switches };
}
