import { describe, expect, it } from "vitest";
import { eventGridRuntime } from "../../../../sandbox/eventgrid/delivery.js";
import { addEventSubscription } from "../../../../sandbox/eventgrid/eventSubscriptions.js";
import { attachSystemTopics, publishDueExpiryEvents } from "../../../../sandbox/eventgrid/systemTopic.js";
import type { SandboxStore } from "../../../../sandbox/store.js";
import { addVersion, key, keyVersion, ManualClock, START, storeWith, vault } from "./sandboxBuilders.js";

const DAY = 24 * 3600 * 1000;

function queuedTypes(store: SandboxStore): string[] {
  return eventGridRuntime(store).queue.map((item) => item.event.eventType);
}

describe("vault system topics", () => {
  it("publish KeyNewVersionCreated for a vault key and nothing for a Managed HSM key", () => {
    const kv = vault("kv1", [key("k")]);
    const hsm = vault("hsm1", [key("h")], "managedHsm");
    const store = storeWith([kv, hsm]);
    store.eventSubscriptions.push({
      id: "hsm1-sub",
      vault: "hsm1",
      endpoint: "http://127.0.0.1:9/",
      schema: "EventGridSchema",
      validated: true,
    });
    addEventSubscription(store, { vault: "kv1", endpoint: "http://127.0.0.1:9/", schema: "EventGridSchema" });
    attachSystemTopics(store);

    const created = addVersion(store, "kv1", "k");
    store.events.emit("keyVersionCreated", { vault: kv, keyName: "k", version: created.version });
    const hsmVersion = addVersion(store, "hsm1", "h");
    store.events.emit("keyVersionCreated", { vault: hsm, keyName: "h", version: hsmVersion.version });

    const queue = eventGridRuntime(store).queue;
    expect(queue).toHaveLength(1);
    expect(queue[0]?.event).toMatchObject({
      eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
      subject: "k",
      data: { Version: created.version, VaultName: "kv1" },
    });
  });

  it("publish KeyNearExpiry 30 days before the current version expires and KeyExpired when it does, once each", () => {
    const clock = new ManualClock();
    const store = storeWith([vault("kv1", [key("k", [keyVersion({ exp: START + 40 * DAY })])])], clock);
    addEventSubscription(store, { vault: "kv1", endpoint: "http://127.0.0.1:9/", schema: "EventGridSchema" });

    publishDueExpiryEvents(store);
    expect(queuedTypes(store)).toEqual([]);
    clock.advance(10 * DAY);
    publishDueExpiryEvents(store);
    publishDueExpiryEvents(store);
    expect(queuedTypes(store)).toEqual(["Microsoft.KeyVault.KeyNearExpiry"]);
    clock.advance(30 * DAY);
    publishDueExpiryEvents(store);
    publishDueExpiryEvents(store);
    expect(queuedTypes(store)).toEqual(["Microsoft.KeyVault.KeyNearExpiry", "Microsoft.KeyVault.KeyExpired"]);
  });

  it("watch only the current version: a new version without expiry ends the notices", () => {
    const clock = new ManualClock();
    const store = storeWith([vault("kv1", [key("k", [keyVersion({ exp: START + DAY })])])], clock);
    addEventSubscription(store, { vault: "kv1", endpoint: "http://127.0.0.1:9/", schema: "EventGridSchema" });
    addVersion(store, "kv1", "k");
    clock.advance(2 * DAY);
    publishDueExpiryEvents(store);
    expect(queuedTypes(store)).toEqual([]);
  });
});
