import { describe, expect, it } from "vitest";
import { matchRoute, parseRouteTemplate } from "../../../sandbox/local/routeTemplate.js";

describe("route templates", () => {
  it("matches literal segments case-insensitively and captures parameters", () => {
    const route = parseRouteTemplate("keys/{vault}/{key}/rotate");
    expect(matchRoute(route, "/Keys/kv1/my-key/ROTATE")).toEqual({ vault: "kv1", key: "my-key" });
    expect(matchRoute(route, "/keys/kv1/my-key")).toBeUndefined();
    expect(matchRoute(route, "/keys/kv1/my-key/rotate/extra")).toBeUndefined();
  });

  it("lets optional parameters be missing at the end", () => {
    const route = parseRouteTemplate("keys/{vault?}/{key?}");
    expect(matchRoute(route, "/keys")).toEqual({});
    expect(matchRoute(route, "/keys/kv1")).toEqual({ vault: "kv1" });
    expect(matchRoute(route, "/keys/kv1/k")).toEqual({ vault: "kv1", key: "k" });
  });

  it("decodes parameters and checks constraints", () => {
    const route = parseRouteTemplate("items/{id:int}/{name}");
    expect(matchRoute(route, "/items/42/a%20b")).toEqual({ id: "42", name: "a b" });
    expect(matchRoute(route, "/items/x/a")).toBeUndefined();
  });

  it("refuses segments that mix literals and parameters", () => {
    expect(() => parseRouteTemplate("keys/v{vault}")).toThrow(/whole-segment/);
  });
});
