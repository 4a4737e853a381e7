import { describe, expect, it } from "vitest";
import { eventGridRuntime } from "../../../../sandbox/eventgrid/delivery.js";
import {
  addEventSubscription,
  parseEventSubscriptionRequest,
  updateDeliverySwitches,
} from "../../../../sandbox/eventgrid/eventSubscriptions.js";
import { SandboxHttpError } from "../../../../sandbox/http.js";
import { key, storeWith, vault } from "./sandboxBuilders.js";

const valid = {
  vault: "kv1",
  endpoint: "http://127.0.0.1:7071/runtime/webhooks/eventgrid",
  schema: "EventGridSchema",
};

function store() {
  return storeWith([vault("kv1", [key("k")]), vault("hsm1", [key("h")], "managedHsm")]);
}

function badRequestMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof SandboxHttpError && error.status === 400) return error.message;
    throw error;
  }
  throw new Error("expected a 400");
}

describe("Event Grid subscription requests", () => {
  it("accept a vault, a loopback http or any https endpoint, and a schema", () => {
    const s = store();
    expect(parseEventSubscriptionRequest(s, valid)).toEqual(valid);
    expect(
      parseEventSubscriptionRequest(s, { ...valid, vault: "KV1", endpoint: "https://hooks.example.com/x" }),
    ).toEqual({
      ...valid,
      endpoint: "https://hooks.example.com/x",
    });
  });

  it.each([
    [{ ...valid, vault: "nope" }, /Vault "nope" is not in the estate/],
    [{ ...valid, vault: "hsm1" }, /Managed HSMs publish no Event Grid events/],
    [{ ...valid, endpoint: "not a url" }, /is not a URL/],
    [{ ...valid, endpoint: "http://hooks.example.com/x" }, /must use https/],
    [{ ...valid, schema: "CustomInputSchema" }, /"schema" must be one of/],
    [{ ...valid, extra: 1 }, /unknown field\(s\) extra/],
    [[valid], /must be a JSON object/],
  ])("refuse %j", (body, message) => {
    expect(badRequestMessage(() => parseEventSubscriptionRequest(store(), body))).toMatch(message);
  });

  it("name subscriptions after their vault, uniquely", () => {
    const s = store();
    const first = addEventSubscription(s, parseEventSubscriptionRequest(s, valid));
    const second = addEventSubscription(s, parseEventSubscriptionRequest(s, valid));
    expect([first.id, second.id]).toEqual(["kv1-sub-1", "kv1-sub-2"]);
    expect(first.validated).toBe(false);
  });
});

describe("delivery switches", () => {
  it("change only what is given", () => {
    const s = store();
    expect(updateDeliverySwitches(s, { duplicate: true })).toEqual({ duplicate: true, reorder: false });
    expect(updateDeliverySwitches(s, { reorder: true })).toEqual({ duplicate: true, reorder: true });
  });

  it.each([[{}], [{ duplicate: "yes" }], [{ duplicate: true, sometimes: true }], [null]])(
    "refuse %j and change nothing",
    (body) => {
      const s = store();
      expect(badRequestMessage(() => updateDeliverySwitches(s, body))).not.toBe("");
      expect(eventGridRuntime(s).switches).toEqual({ duplicate: false, reorder: false });
    },
  );
});
