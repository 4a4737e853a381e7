/**
 * Event Grid webhook delivery, sandbox-sized: the validation handshake before the first
 * event, one event per request, at least once, retries with exponential backoff (1 s, 2 s,
 * 4 s, ... up to MAX_DELIVERY_ATTEMPTS, then "failed", i.e. dead-lettered), and a switch
 * that duplicates every event and reorders events that fall in the same batch window.
 *
 *   publish ──► queue (per subscription) ──► round: handshake? ──► send due ──► delivered
 *                                                                   │ retryable failure
 *                                                                   └──► backoff ──► ... ──► failed
 *
 * Queues and switches live in a per-store runtime; `store.deliveries` is the inspectable
 * view (capped, newest last). Times come from the store's clock.
 */
import { randomUUID } from "node:crypto";
import { findVault } from "../keyvault/operations.js";
import type { SandboxDelivery, SandboxEventSubscription } from "../model.js";
import type { SandboxStore } from "../store.js";
import {
  subscriptionValidationEvent,
  type TopicEvent,
  toCloudEvent,
  toEventGridSchema,
} from "./keyVaultEvents.js";
import {
  httpWebhookSender,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookSender,
} from "./webhookSender.js";

export const MAX_DELIVERY_ATTEMPTS = 6;
/**
 * With reordering on, the first new event of a subscription opens a batch window of this
 * length; events published until it closes join the batch and are shuffled together.
 */
export const REORDER_WINDOW_MS = 2000;
/** store.deliveries keeps at most this many records. */
export const DELIVERY_HISTORY_LIMIT = 1000;
/** Real Event Grid sends this origin in the CloudEvents abuse-protection handshake. */
export const WEBHOOK_REQUEST_ORIGIN = "eventgrid.azure.net";
/** Webhook answers that Event Grid dead-letters at once instead of retrying. */
const NON_RETRYABLE_STATUSES = new Set([400, 401, 413]);

export interface DeliverySwitches {
  /** Deliver every event twice. */
  duplicate: boolean;
  /** Shuffle the order of events due in the same batch window. */
  reorder: boolean;
}

interface QueuedDelivery {
  subscriptionId: string;
  event: TopicEvent;
  record: SandboxDelivery;
  nextAttemptAt: number;
  inFlight: boolean;
}

interface HandshakeState {
  attempts: number;
  nextAttemptAt: number;
  inFlight: boolean;
}

export interface EventGridRuntime {
  switches: DeliverySwitches;
  send: WebhookSender;
  random: () => number;
  queue: QueuedDelivery[];
  handshakes: Map<string, HandshakeState>;
}

const runtimes = new WeakMap<SandboxStore, EventGridRuntime>();

/** The Event Grid runtime of a sandbox, created on first use. */
export function eventGridRuntime(store: SandboxStore): EventGridRuntime {
  let runtime = runtimes.get(store);
  if (!runtime) {
    runtime = {
      switches: { duplicate: false, reorder: false },
      send: httpWebhookSender,
      random: Math.random,
      queue: [],
      handshakes: new Map(),
    };
    runtimes.set(store, runtime);
  }
  return runtime;
}

/** Wait before attempt `attempt + 1` after attempt `attempt` (1-based) failed: 1 s, 2 s, 4 s, ... */
export function retryDelayMs(attempt: number): number {
  return 1000 * 2 ** (attempt - 1);
}

export function isRetryableStatus(status: number): boolean {
  return !NON_RETRYABLE_STATUSES.has(status);
}

/**
 * A new order for `items`: a shuffle that, for two or more items, never keeps the original
 * order (reordering that may silently do nothing would make the switch untestable).
 */
export function reorder<T>(items: readonly T[], random: () => number): T[] {
  const shuffled = [...items];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = shuffled[i] as T;
    shuffled[i] = shuffled[j] as T;
    shuffled[j] = a;
  }
  if (shuffled.length > 1 && shuffled.every((item, index) => item === items[index])) {
    shuffled.push(shuffled.shift() as T);
  }
  return shuffled;
}

/** Queue `event` for every subscription of `vaultName` that has not failed validation. */
export function publishToSubscriptions(store: SandboxStore, vaultName: string, event: TopicEvent): void {
  const runtime = eventGridRuntime(store);
  const now = store.now();
  const copies = runtime.switches.duplicate ? 2 : 1;
  for (const subscription of store.eventSubscriptions) {
    const forVault = subscription.vault.toLowerCase() === vaultName.toLowerCase();
    if (!forVault || subscription.validationError !== undefined) continue;
    const dueAt = runtime.switches.reorder ? reorderBatchDueAt(runtime, subscription.id, now) : now;
    for (let copy = 0; copy < copies; copy++) {
      const record: SandboxDelivery = {
        subscriptionId: subscription.id,
        eventId: event.id,
        eventType: event.eventType,
        attempt: 0,
        status: "pending",
        at: now,
        nextAttemptAt: dueAt,
      };
      addDeliveryRecord(store, record);
      runtime.queue.push({
        subscriptionId: subscription.id,
        event,
        record,
        nextAttemptAt: dueAt,
        inFlight: false,
      });
    }
  }
}

/** When the open batch window of a subscription closes, or a new window's end. */
function reorderBatchDueAt(runtime: EventGridRuntime, subscriptionId: string, now: number): number {
  const openBatch = runtime.queue.find(
    (item) => item.subscriptionId === subscriptionId && item.record.attempt === 0 && item.nextAttemptAt > now,
  );
  return openBatch?.nextAttemptAt ?? now + REORDER_WINDOW_MS;
}

function addDeliveryRecord(store: SandboxStore, record: SandboxDelivery): void {
  store.deliveries.push(record);
  const excess = store.deliveries.length - DELIVERY_HISTORY_LIMIT;
  if (excess > 0) store.deliveries.splice(0, excess);
}

/**
 * One pass over all subscriptions: start due handshakes and send due events. Resolves when
 * everything this round started has finished (the background loop does not wait for it).
 */
export function runDeliveryRound(store: SandboxStore): Promise<void> {
  const runtime = eventGridRuntime(store);
  const now = store.now();
  const work: Promise<void>[] = [];
  for (const subscription of store.eventSubscriptions) {
    if (subscription.validationError !== undefined) continue;
    if (!subscription.validated) {
      const handshake = runtime.handshakes.get(subscription.id) ?? {
        attempts: 0,
        nextAttemptAt: now,
        inFlight: false,
      };
      runtime.handshakes.set(subscription.id, handshake);
      if (!handshake.inFlight && handshake.nextAttemptAt <= now) {
        handshake.inFlight = true;
        work.push(validateSubscription(store, runtime, subscription, handshake));
      }
      continue;
    }
    const due = runtime.queue.filter(
      (item) => item.subscriptionId === subscription.id && !item.inFlight && item.nextAttemptAt <= now,
    );
    if (due.length === 0) continue;
    for (const item of due) item.inFlight = true;
    const ordered = runtime.switches.reorder ? reorder(due, runtime.random) : due;
    work.push(sendInOrder(store, runtime, subscription, ordered));
  }
  return Promise.all(work).then(() => undefined);
}

async function sendInOrder(
  store: SandboxStore,
  runtime: EventGridRuntime,
  subscription: SandboxEventSubscription,
  items: QueuedDelivery[],
): Promise<void> {
  for (const item of items) await attemptDelivery(store, runtime, subscription, item);
}

async function attemptDelivery(
  store: SandboxStore,
  runtime: EventGridRuntime,
  subscription: SandboxEventSubscription,
  item: QueuedDelivery,
): Promise<void> {
  const record = item.record;
  record.attempt += 1;
  let outcome:
    | { ok: true; status: number }
    | { ok: false; retryable: boolean; status?: number; error: string };
  try {
    const response = await runtime.send(notificationRequest(subscription, item.event, record.attempt));
    outcome =
      response.status >= 200 && response.status < 300
        ? { ok: true, status: response.status }
        : {
            ok: false,
            retryable: isRetryableStatus(response.status),
            status: response.status,
            error: `the endpoint answered ${response.status}`,
          };
  } catch (error) {
    outcome = {
      ok: false,
      retryable: true,
      error: `could not reach the endpoint: ${(error as Error).message}`,
    };
  }
  const now = store.now();
  record.at = now;
  item.inFlight = false;
  if (outcome.ok) {
    record.status = "delivered";
    record.lastStatusCode = outcome.status;
    record.lastError = undefined;
    record.nextAttemptAt = undefined;
    removeFromQueue(runtime, item);
    return;
  }
  record.lastStatusCode = outcome.status;
  record.lastError = outcome.error;
  if (!outcome.retryable || record.attempt >= MAX_DELIVERY_ATTEMPTS) {
    record.status = "failed";
    record.lastError = outcome.retryable
      ? `${outcome.error}; gave up after ${record.attempt} attempts (dead-lettered)`
      : `${outcome.error}, which Event Grid does not retry (dead-lettered)`;
    record.nextAttemptAt = undefined;
    removeFromQueue(runtime, item);
    return;
  }
  item.nextAttemptAt = now + retryDelayMs(record.attempt);
  record.nextAttemptAt = item.nextAttemptAt;
}

function removeFromQueue(runtime: EventGridRuntime, item: QueuedDelivery): void {
  const index = runtime.queue.indexOf(item);
  if (index >= 0) runtime.queue.splice(index, 1);
}

function aegHeaders(subscription: SandboxEventSubscription, eventType: string, deliveryCount: number) {
  return {
    "aeg-event-type": eventType,
    "aeg-subscription-name": subscription.id.toUpperCase(),
    "aeg-delivery-count": String(deliveryCount),
  };
}

/** The request that delivers `event`; `attempt` is 1-based, `aeg-delivery-count` counts earlier attempts. */
export function notificationRequest(
  subscription: SandboxEventSubscription,
  event: TopicEvent,
  attempt: number,
): WebhookRequest {
  const headers = aegHeaders(subscription, "Notification", attempt - 1);
  if (subscription.schema === "CloudEventSchema") {
    return {
      method: "POST",
      url: subscription.endpoint,
      headers: { ...headers, "content-type": "application/cloudevents+json; charset=utf-8" },
      body: JSON.stringify(toCloudEvent(event)),
    };
  }
  return {
    method: "POST",
    url: subscription.endpoint,
    headers: {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "aeg-data-version": event.dataVersion,
      "aeg-metadata-version": "1",
    },
    body: JSON.stringify([toEventGridSchema(event)]),
  };
}

async function validateSubscription(
  store: SandboxStore,
  runtime: EventGridRuntime,
  subscription: SandboxEventSubscription,
  handshake: HandshakeState,
): Promise<void> {
  handshake.attempts += 1;
  const problem = await handshakeProblem(store, runtime, subscription);
  handshake.inFlight = false;
  if (problem === undefined) {
    subscription.validated = true;
    runtime.handshakes.delete(subscription.id);
    return;
  }
  if (problem.retryable && handshake.attempts < MAX_DELIVERY_ATTEMPTS) {
    handshake.nextAttemptAt = store.now() + retryDelayMs(handshake.attempts);
    return;
  }
  subscription.validationError = `${problem.message} (after ${handshake.attempts} attempt(s)); the subscription gets no events. Fix the endpoint and add the subscription again.`;
  runtime.handshakes.delete(subscription.id);
  failQueuedDeliveries(store, runtime, subscription);
}

function failQueuedDeliveries(
  store: SandboxStore,
  runtime: EventGridRuntime,
  subscription: SandboxEventSubscription,
) {
  const now = store.now();
  for (const item of runtime.queue.filter((queued) => queued.subscriptionId === subscription.id)) {
    item.record.status = "failed";
    item.record.lastError = "the subscription's endpoint failed validation (dead-lettered)";
    item.record.at = now;
    item.record.nextAttemptAt = undefined;
    removeFromQueue(runtime, item);
  }
}

interface HandshakeProblem {
  message: string;
  retryable: boolean;
}

async function handshakeProblem(
  store: SandboxStore,
  runtime: EventGridRuntime,
  subscription: SandboxEventSubscription,
): Promise<HandshakeProblem | undefined> {
  let response: WebhookResponse;
  const isCloudEvents = subscription.schema === "CloudEventSchema";
  const validationCode = randomUUID();
  try {
    response = await runtime.send(validationRequest(store, subscription, validationCode));
  } catch (error) {
    return {
      message: `could not reach ${subscription.endpoint}: ${(error as Error).message}`,
      retryable: true,
    };
  }
  if (response.status < 200 || response.status >= 300) {
    return {
      message: `${subscription.endpoint} answered the ${isCloudEvents ? "OPTIONS abuse-protection" : "SubscriptionValidation"} handshake with ${response.status}`,
      retryable: isRetryableStatus(response.status),
    };
  }
  return isCloudEvents
    ? cloudEventsHandshakeProblem(subscription, response)
    : eventGridHandshakeProblem(subscription, response, validationCode);
}

function validationRequest(
  store: SandboxStore,
  subscription: SandboxEventSubscription,
  validationCode: string,
): WebhookRequest {
  if (subscription.schema === "CloudEventSchema") {
    return {
      method: "OPTIONS",
      url: subscription.endpoint,
      headers: { "webhook-request-origin": WEBHOOK_REQUEST_ORIGIN, "webhook-request-rate": "120" },
    };
  }
  const topic = findVault(store, subscription.vault)?.resourceId ?? subscription.vault;
  return {
    method: "POST",
    url: subscription.endpoint,
    headers: {
      ...aegHeaders(subscription, "SubscriptionValidation", 0),
      "content-type": "application/json; charset=utf-8",
    },
    body: JSON.stringify([subscriptionValidationEvent(topic, subscription.id, validationCode, store.now())]),
  };
}

function cloudEventsHandshakeProblem(
  subscription: SandboxEventSubscription,
  response: WebhookResponse,
): HandshakeProblem | undefined {
  const allowed = response.headers["webhook-allowed-origin"]?.trim();
  if (allowed === WEBHOOK_REQUEST_ORIGIN || allowed === "*") return undefined;
  return {
    message: `${subscription.endpoint} did not allow origin ${WEBHOOK_REQUEST_ORIGIN} in the OPTIONS handshake (WebHook-Allowed-Origin: ${allowed ?? "missing"})`,
    retryable: false,
  };
}

function eventGridHandshakeProblem(
  subscription: SandboxEventSubscription,
  response: WebhookResponse,
  validationCode: string,
): HandshakeProblem | undefined {
  let answer: unknown;
  try {
    answer = JSON.parse(response.body);
  } catch {
    answer = undefined;
  }
  const code =
    typeof answer === "object" && answer !== null
      ? (answer as Record<string, unknown>).validationResponse
      : undefined;
  if (code === validationCode) return undefined;
  return {
    message:
      code === undefined
        ? `${subscription.endpoint} answered the SubscriptionValidation event without {"validationResponse": "<code>"} (the sandbox does not support manual validation through validationUrl)`
        : `${subscription.endpoint} answered the SubscriptionValidation event with the wrong validationResponse`,
    retryable: false,
  };
}
