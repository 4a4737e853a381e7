import { describe, expect, it } from "vitest";
import type { Estate } from "../../../../sandbox/estate.js";
import { seedEventGrid } from "../../../../sandbox/eventgrid/eventGridSimulation.js";
import { key, SUBSCRIPTION, storeWith, vault } from "./sandboxBuilders.js";

function estateWith(eventGrid: Estate["eventGrid"]): Estate {
  return {
    subscriptions: [{ id: SUBSCRIPTION, resourceGroups: ["rg-keys", "rg-data"] }],
    identities: [],
    roleAssignments: [],
    workspaces: [],
    vaults: [],
    consumers: [],
    eventGrid,
  };
}

const topic = { name: "events", host: "Events.westeurope-1.eventgrid.azure.net", accessKey: "a2V5" };

describe("Event Grid seeding", () => {
  it("adds custom topics with their ARM id, also to topics the core seeding already added", () => {
    const store = storeWith([]);
    store.customTopics.push({
      name: "events",
      host: "events.westeurope-1.eventgrid.azure.net",
      accessKey: "a2V5",
    });
    seedEventGrid(
      store,
      estateWith({
        customTopics: [
          topic,
          { ...topic, name: "other", host: "other.x.eventgrid.azure.net", resourceGroup: "rg-data" },
        ],
      }),
    );
    expect(store.customTopics.map((each) => [each.host, each.resourceId])).toEqual([
      [
        "events.westeurope-1.eventgrid.azure.net",
        `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.EventGrid/topics/events`,
      ],
      [
        "other.x.eventgrid.azure.net",
        `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.EventGrid/topics/other`,
      ],
    ]);
  });

  it("adds the estate's webhook subscriptions, naming the estate field of a bad one", () => {
    const store = storeWith([vault("kv1", [key("k")]), vault("hsm1", [key("h")], "managedHsm")]);
    const good = {
      vault: "kv1",
      endpoint: "http://127.0.0.1:7071/api/events",
      schema: "CloudEventSchema" as const,
    };
    seedEventGrid(store, estateWith({ subscriptions: [good] }));
    expect(store.eventSubscriptions).toMatchObject([{ id: "kv1-sub-1", ...good, validated: false }]);
    expect(() =>
      seedEventGrid(store, estateWith({ subscriptions: [good, { ...good, vault: "hsm1" }] })),
    ).toThrow(/^estate\.eventGrid\.subscriptions\[1\]: "hsm1" is a Managed HSM/);
  });
});
