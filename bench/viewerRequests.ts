/**
 * Benchmark 9, views that cost nothing: the Azure requests caused by 10 viewers with the
 * dashboard open for 5 minutes. The time is simulated: the service runs on a manual clock and
 * each viewer's reloads are replayed in time order (viewer i opens the page i x 6 s after the
 * start, then reloads every refresh interval), so 5 minutes take a few seconds. Requests are
 * counted by API as the service's clients send them (every attempt), through the metrics hook.
 *
 *   cached, reload 60 s   the service now: ROTATOR_VIEW_MAX_AGE PT1M, the dashboard reloads every minute
 *   cached, reload 5 s    the old reload interval against the cache (what the cache alone saves)
 *   one observation/view  the old behaviour, computed in the same run: the requests of one
 *                         uncached observation times the views of the old schedule (5 s reloads)
 */
import type { AzuriteTables } from "../sandbox/azurite.js";
import { startSandbox } from "../sandbox/server.js";
import type { AzureApi } from "../src/azure/pipelinePolicies.js";
import { benchEstate } from "./benchEstate.js";
import { benchRuntime, RequestCounter } from "./benchStack.js";
import { formatTable } from "./benchTable.js";

export interface ViewerRequestsOptions {
  viewers: number;
  minutes: number;
  consumers: number;
  keys: number;
}

export interface ViewerRound {
  label: string;
  reloadSeconds: number;
  views: number;
  observations: number;
  requests: Map<AzureApi, number>;
  computed: boolean;
}

class ManualClock {
  constructor(private time: number) {}
  now(): Date {
    return new Date(this.time);
  }
  set(time: number): void {
    this.time = time;
  }
}

/** When each view happens (ms after the start), in order: viewer i first at i x (period / viewers). */
export function viewSchedule(viewers: number, durationMs: number, reloadMs: number): number[] {
  const times: number[] = [];
  const stagger = reloadMs / viewers;
  for (let viewer = 0; viewer < viewers; viewer++) {
    for (let at = viewer * stagger; at < durationMs; at += reloadMs) times.push(Math.round(at));
  }
  return times.sort((a, b) => a - b);
}

export async function measureViewerRequests(
  azurite: AzuriteTables,
  options: ViewerRequestsOptions,
): Promise<ViewerRound[]> {
  const estate = benchEstate({
    consumers: options.consumers,
    keys: options.keys,
    versionAgesHours: [720, 48],
    pinnedVersion: "newest",
    throttling: { enabled: false },
  });
  const sandbox = await startSandbox({ estate });
  try {
    const durationMs = options.minutes * 60_000;
    const rounds: ViewerRound[] = [];
    const simulate = async (label: string, reloadSeconds: number): Promise<ViewerRound> => {
      const start = Date.now();
      const clock = new ManualClock(start);
      const counter = new RequestCounter();
      const observations = { count: 0 };
      const runtime = benchRuntime(sandbox, azurite, {
        clock,
        metrics: {
          ...counter.metrics,
          planned: () => {
            observations.count++;
          },
        },
        settings: { ROTATOR_VIEW_MAX_AGE: "PT1M" },
      });
      const schedule = viewSchedule(options.viewers, durationMs, reloadSeconds * 1000);
      // Views at the same instant are concurrent viewers; they wait for one observation together.
      for (let index = 0; index < schedule.length; ) {
        const at = schedule[index] as number;
        const together: Promise<unknown>[] = [];
        while (index < schedule.length && schedule[index] === at) {
          clock.set(start + at);
          together.push(runtime.service.currentPlan());
          index++;
        }
        await Promise.all(together);
      }
      return {
        label,
        reloadSeconds,
        views: schedule.length,
        observations: observations.count,
        requests: counter.snapshot(),
        computed: false,
      };
    };
    rounds.push(await simulate("cached, reload 60 s (now)", 60));
    rounds.push(await simulate("cached, reload 5 s", 5));

    // One uncached observation, to compute the old behaviour: every view observed.
    const counter = new RequestCounter();
    const runtime = benchRuntime(sandbox, azurite, { metrics: counter.metrics });
    await runtime.service.currentPlan({}, { maxAgeMs: 0 });
    const views = viewSchedule(options.viewers, durationMs, 5000).length;
    rounds.push({
      label: "one observation per view (before; computed)",
      reloadSeconds: 5,
      views,
      observations: views,
      requests: new Map([...counter.snapshot()].map(([api, count]) => [api, count * views])),
      computed: true,
    });
    if (rounds[0] && rounds[0].observations > Math.ceil(options.minutes) + 1) {
      throw new Error(
        `views bench: ${rounds[0].observations} observations for ${options.viewers} viewers over ${options.minutes} minutes with a 1-minute max age; expected at most ${Math.ceil(options.minutes) + 1}`,
      );
    }
    return rounds;
  } finally {
    await sandbox.close();
  }
}

const APIS: AzureApi[] = ["resource-manager", "resource-graph", "keyvault", "log-analytics", "table-storage"];

export function viewerTable(rounds: readonly ViewerRound[]): string {
  const baseline = rounds.find((round) => round.computed);
  const total = (round: ViewerRound) => [...round.requests.values()].reduce((sum, count) => sum + count, 0);
  return formatTable(
    ["behaviour", "views", "observations", ...APIS, "all requests", "vs before"],
    rounds.map((round) => [
      round.label,
      String(round.views),
      String(round.observations),
      ...APIS.map((api) => String(round.requests.get(api) ?? 0)),
      String(total(round)),
      baseline && round !== baseline && total(round) > 0
        ? `${(total(baseline) / total(round)).toFixed(0)}x fewer`
        : "",
    ]),
  );
}
