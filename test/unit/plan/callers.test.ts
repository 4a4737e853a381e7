import { describe, expect, it } from "vitest";
import { consumerAttributions } from "../../../src/plan/callers.js";
import { aConsumer } from "../../builders/index.js";

const SHARED = "55555555-5555-5555-5555-555555555555";
const kusto = (name: string) =>
  aConsumer({
    id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kusto/clusters/${name}`,
    kind: "kusto",
    identity: SHARED,
    identityPrincipalId: SHARED,
  });

describe("consumerAttributions", () => {
  it("names every consumer of a shared principal up to three, then says how many more", () => {
    expect(consumerAttributions([kusto("a"), kusto("b")])[SHARED]?.name).toBe("kusto a and kusto b");
    const many = ["a", "b", "c", "d", "e"].map(kusto);
    expect(consumerAttributions(many)[SHARED]).toEqual({
      name: "kusto a, kusto b, kusto c and 2 more consumers",
      kind: "consumer",
      resourceId: many[0]?.id,
    });
  });

  it("names a principal 20,000 consumers share by three of them and a count", () => {
    const many = Array.from({ length: 20_000 }, (_, index) => kusto(`c${index}`));
    expect(consumerAttributions(many)[SHARED]?.name).toMatch(/and 19997 more consumers$/);
  });
});
