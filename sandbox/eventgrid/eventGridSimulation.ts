/**
 * Event Grid in the sandbox: what the estate seeds (custom topics, webhook subscriptions),
 * the system topics' listener, and the background loop that publishes due expiry events and
 * runs delivery rounds.
 */
import type { Estate } from "../estate.js";
import { SandboxHttpError } from "../http.js";
import type { SandboxBackgroundLoop } from "../registry.js";
import type { SandboxStore } from "../store.js";
import { runDeliveryRound } from "./delivery.js";
import { addEventSubscription, parseEventSubscriptionRequest } from "./eventSubscriptions.js";
import { attachSystemTopics, publishDueExpiryEvents } from "./systemTopic.js";

export function seedEventGrid(store: SandboxStore, estate: Estate): void {
  const defaultSubscription = estate.subscriptions[0];
  for (const topic of estate.eventGrid?.customTopics ?? []) {
    const host = topic.host.toLowerCase();
    const subscriptionId = topic.subscriptionId ?? defaultSubscription?.id;
    const resourceGroup = topic.resourceGroup ?? defaultSubscription?.resourceGroups[0];
    const resourceId =
      subscriptionId && resourceGroup
        ? `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.EventGrid/topics/${topic.name}`
        : undefined;
    // The core seeding may already have added the topic; it does not know its ARM id.
    const existing = store.customTopics.find((candidate) => candidate.host.toLowerCase() === host);
    if (existing) existing.resourceId ??= resourceId;
    else store.customTopics.push({ name: topic.name, host, accessKey: topic.accessKey, resourceId });
  }
  for (const [index, subscription] of (estate.eventGrid?.subscriptions ?? []).entries()) {
    try {
      addEventSubscription(store, parseEventSubscriptionRequest(store, subscription));
    } catch (error) {
      if (error instanceof SandboxHttpError)
        throw new Error(`estate.eventGrid.subscriptions[${index}]: ${error.message}`);
      throw error;
    }
  }
  attachSystemTopics(store);
}

export const eventGridLoop: SandboxBackgroundLoop = {
  name: "eventgrid-delivery",
  tick(store) {
    publishDueExpiryEvents(store);
    // Deliveries take as long as the webhooks do; the loop must not wait for them.
    runDeliveryRound(store).catch((error: unknown) => {
      console.error(
        JSON.stringify({
          level: "error",
          component: "sandbox.eventgrid",
          message: "delivery round failed",
          error: String(error),
        }),
      );
    });
  },
};
