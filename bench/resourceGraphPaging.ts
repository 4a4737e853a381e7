/**
 * Benchmark 5, Resource Graph paging in the sandbox: the time of page 1, page 2 and page 50
 * of one query over a large Resources table (100 rows a page, through the real
 * ResourceGraphClient). Page 1 runs the query; the pages after it are served from the rows
 * page 1 kept, so they cost their own rows only. For comparison, page 50 asked with `$skip`
 * and no skip token runs the whole query again: what every page cost before.
 * Resource Manager's budgets are off: 150 queries in a few seconds would wait for Resource
 * Graph's 15 per 5 s, and this measures the sandbox's own work.
 */
import type { QueryRequest } from "@azure/arm-resourcegraph";
import { startSandbox } from "../sandbox/server.js";
import { createAzureClientFactory } from "../src/azure/clientFactory.js";
import { benchEstate } from "./benchEstate.js";
import { formatTable, median, milliseconds, ratio, timed } from "./benchTable.js";

export interface ResourceGraphPagingOptions {
  rows: number;
  pageSize: number;
  pages: number;
  repetitions: number;
}

export interface PageTiming {
  label: string;
  rows: number;
  medianMs: number;
}

export async function measureResourceGraphPaging(options: ResourceGraphPagingOptions): Promise<PageTiming[]> {
  const estate = benchEstate({
    consumers: options.rows,
    kinds: ["kusto"],
    versionAgesHours: [48],
    pinnedVersion: "newest",
    throttling: { enabled: false },
  });
  const sandbox = await startSandbox({ estate, backgroundLoops: false });
  try {
    const graph = createAzureClientFactory(sandbox.transport("rotator")).resourceGraph();
    const subscriptions = estate.subscriptions.map((subscription) => subscription.id);
    const query =
      "Resources | where type =~ 'microsoft.kusto/clusters' | project id, name, type, properties | order by id asc";
    const ask = (options: QueryRequest["options"]) => graph.resources({ query, subscriptions, options });
    const times = new Map<string, number[]>();
    const rowsOf = new Map<string, number>();
    const note = (label: string, ms: number, rows: number) => {
      times.set(label, [...(times.get(label) ?? []), ms]);
      rowsOf.set(label, rows);
    };
    for (let pass = 0; pass <= options.repetitions; pass++) {
      const warmUp = pass === 0;
      let skipToken: string | undefined;
      for (let page = 1; page <= options.pages; page++) {
        const { result, ms } = await timed(() =>
          ask({ top: options.pageSize, resultFormat: "objectArray", ...(skipToken ? { skipToken } : {}) }),
        );
        if (result.count !== options.pageSize || !result.skipToken) {
          throw new Error(
            `Resource Graph page ${page} had ${result.count} rows and ${result.skipToken ? "a" : "no"} skip token; expected ${options.pageSize} and a token`,
          );
        }
        skipToken = result.skipToken;
        if (!warmUp && (page === 1 || page === 2 || page === options.pages))
          note(`page ${page}`, ms, Number(result.count));
      }
      const offset = (options.pages - 1) * options.pageSize;
      const rerun = await timed(() =>
        ask({ top: options.pageSize, skip: offset, resultFormat: "objectArray" }),
      );
      if (!warmUp)
        note(
          `page ${options.pages} by $skip, no token (runs the query again)`,
          rerun.ms,
          Number(rerun.result.count),
        );
    }
    return [...times].map(([label, runs]) => ({
      label,
      rows: rowsOf.get(label) ?? 0,
      medianMs: median(runs),
    }));
  } finally {
    await sandbox.close();
  }
}

export function resourceGraphPagingTable(timings: readonly PageTiming[]): string {
  const first = timings[0];
  if (!first) return "(no pages)";
  return formatTable(
    ["request", "rows", "time (median)", "vs page 1"],
    timings.map((timing) => [
      timing.label,
      String(timing.rows),
      milliseconds(timing.medianMs),
      ratio(timing.medianMs, first.medianMs),
    ]),
  );
}
