import { describe, expect, it } from "vitest";
import {
  faultMatches,
  faultResponseBody,
  parseFaultRules,
  takeOperationFault,
  takeTransportFault,
} from "../../../../sandbox/faults.js";
import type { FaultRule } from "../../../../sandbox/model.js";
import { SandboxStore } from "../../../../sandbox/store.js";

function rule(overrides: Partial<FaultRule> = {}): FaultRule {
  return {
    id: "r",
    method: "*",
    host: "*",
    path: ".*",
    action: { kind: "status", status: 503 },
    remaining: 1,
    ...overrides,
  };
}

const GET_KEY = { method: "GET", host: "kv1.vault.azure.net", path: "/keys/k" };

describe("fault matching", () => {
  it.each([
    [{}, true],
    [{ method: "get" }, true],
    [{ method: "PATCH" }, false],
    [{ host: "KV1.vault.azure.net" }, true],
    [{ host: "*.vault.azure.net" }, true],
    [{ host: "management.azure.com" }, false],
    [{ path: "^/keys/k$" }, true],
    [{ path: "^/keys/other" }, false],
    [{ remaining: 0 }, false],
  ] as [Partial<FaultRule>, boolean][])("%j matches GET kv1 /keys/k: %s", (overrides, expected) => {
    expect(faultMatches(rule(overrides), GET_KEY)).toBe(expected);
  });

  it("takes transport faults in order, counts them down and removes exhausted rules", () => {
    const store = new SandboxStore();
    store.faults = [
      rule({ id: "fail-op", action: { kind: "failOperation", code: "X", message: "y" } }),
      rule({ id: "first", remaining: 2 }),
      rule({ id: "second" }),
    ];
    expect(takeTransportFault(store, GET_KEY)?.id).toBe("first");
    expect(takeTransportFault(store, GET_KEY)?.id).toBe("first");
    expect(takeTransportFault(store, GET_KEY)?.id).toBe("second");
    expect(takeTransportFault(store, GET_KEY)).toBeUndefined();
    expect(store.faults.map((each) => each.id)).toEqual(["fail-op"]);
    expect(takeOperationFault(store, GET_KEY)).toEqual({ code: "X", message: "y" });
    expect(store.faults).toEqual([]);
  });

  it("answers in the error shape, with Key Vault's throttling code on vault hosts", () => {
    expect(faultResponseBody({ status: 429 }, "kv1.vault.azure.net").error.code).toBe("Throttled");
    expect(faultResponseBody({ status: 429 }, "management.azure.com").error.code).toBe("TooManyRequests");
    expect(faultResponseBody({ status: 500, code: "Boom", message: "m" }, "x")).toEqual({
      error: { code: "Boom", message: "m" },
    });
  });
});

describe("fault rule parsing", () => {
  it("fills defaults and accepts one rule or several", () => {
    const [parsed] = parseFaultRules({ action: { kind: "delay", ms: 100 } });
    expect(parsed).toMatchObject({
      method: "*",
      host: "*",
      path: ".*",
      remaining: 1,
      action: { kind: "delay", ms: 100 },
    });
    expect(
      parseFaultRules([{ action: { kind: "drop" } }, { count: 3, action: { kind: "drop" } }]),
    ).toHaveLength(2);
  });

  it.each([
    [{ action: { kind: "status", status: 200 } }, "action.status"],
    [{ action: { kind: "explode" } }, "action.kind"],
    [{ path: "(", action: { kind: "drop" } }, "not a valid regular expression"],
    [{ count: 0, action: { kind: "drop" } }, "count"],
    [{ action: { kind: "failOperation", code: "X" } }, "action.code and action.message"],
    ["nonsense", "must be an object"],
  ])("rejects %j", (body, message) => {
    expect(() => parseFaultRules(body)).toThrow(message);
  });
});
