/**
 * Resource Graph through the real @azure/arm-resourcegraph client (2024-04-01): a query
 * over the sandbox's resources, paged with $skipToken; then every exchange against
 * resourcegraph.json 2024-04-01.
 */
import { describe, expect, it } from "vitest";
import { expectRecordingConforms, SUBSCRIPTION_ID, useConformanceSandbox } from "./conformanceSandbox.js";

const CLUSTERS_QUERY =
  "Resources | where type =~ 'microsoft.kusto/clusters' | project id, name, type, properties | order by name asc";

describe("Resource Graph conformance", () => {
  const run = useConformanceSandbox();

  it("answers a query in pages linked by $skipToken", async () => {
    const graph = run.clients.resourceGraph();
    const first = await graph.resources({
      query: CLUSTERS_QUERY,
      subscriptions: [SUBSCRIPTION_ID],
      options: { top: 1 },
    });
    expect(first.totalRecords).toBe(2);
    expect(first.count).toBe(1);
    expect(first.skipToken).toBeTruthy();
    const second = await graph.resources({
      query: CLUSTERS_QUERY,
      subscriptions: [SUBSCRIPTION_ID],
      options: { top: 1, skipToken: first.skipToken },
    });
    expect(second.count).toBe(1);
    const names = [first.data, second.data]
      .flatMap((page) => (Array.isArray(page) ? page : []))
      .map((row) => row.name);
    expect(names).toEqual(["adx-latest", "adx-pinned"]);
  });

  it("every recorded request and response conforms to resourcegraph.json 2024-04-01", () => {
    expectRecordingConforms(run.exchanges(), ["Resources"]);
  });
});
