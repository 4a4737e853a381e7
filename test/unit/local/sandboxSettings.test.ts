/**
 * The service's settings derived from a sandbox estate: a subscription the estate marks
 * `watched: false` stays out of ROTATOR_SUBSCRIPTIONS, so its consumers are unknown to the
 * service (how a test stages a consumer that "reappears" after a disable).
 */
import { describe, expect, it } from "vitest";
import { sandboxSettings } from "../../../sandbox/local/sandboxEnvironment.js";
import { defaultEstate, seedStore } from "../../../sandbox/seed.js";
import type { RunningSandbox } from "../../../sandbox/server.js";
import { SandboxStore } from "../../../sandbox/store.js";

describe("sandboxSettings", () => {
  it("leaves subscriptions marked watched: false out of ROTATOR_SUBSCRIPTIONS", () => {
    const estate = defaultEstate();
    estate.subscriptions.push(
      { id: "00000000-0000-0000-0000-000000000002", resourceGroups: ["rg-other"], watched: false },
      { id: "00000000-0000-0000-0000-000000000003", resourceGroups: ["rg-more"], watched: true },
    );
    const store = new SandboxStore();
    seedStore(store, estate);
    const settings = sandboxSettings({ store } as unknown as RunningSandbox, "UseDevelopmentStorage=true");
    expect(settings.ROTATOR_SUBSCRIPTIONS).toBe(
      "00000000-0000-0000-0000-000000000001,00000000-0000-0000-0000-000000000003",
    );
  });
});
