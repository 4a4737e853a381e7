/**
 * Benchmark 2, observation scale: the time of one observe + plan of every managed key
 * (`currentPlan`, what GET /api/keys and the dashboard run) for estates of growing size.
 * Observation makes one Resource Graph query (paged, its rows carry every consumer's facts),
 * one data center list per Cassandra cluster, ARM GETs only where the plan needs a fresh read,
 * and one Log Analytics query per workspace however many keys, versions and consumers there
 * are, so the time per consumer should stay about flat.
 *
 * Per size: a fresh sandbox whose consumers of all three kinds (on two keys, see
 * benchEstate) pin the older of two versions, so the plan holds one repoint per Kusto cluster
 * and Cassandra data center (Cosmos DB accounts follow the newest version themselves); one warm-up, one run that counts the requests the sandbox received by API, then
 * the timed repetitions (median reported).
 */

import type { AzuriteTables } from "../sandbox/azurite.js";
import type { SandboxExchange } from "../sandbox/http.js";
import { startSandbox } from "../sandbox/server.js";
import { benchEstate, consumerSplit } from "./benchEstate.js";
import { benchRuntime } from "./benchStack.js";
import { formatTable, median, milliseconds, ratio, timed } from "./benchTable.js";

export interface ObservationScaleOptions {
  sizes: readonly number[];
  repetitions: number;
}

export interface RequestCounts {
  resourceGraph: number;
  armReads: number;
  logAnalytics: number;
  keyVault: number;
}

export interface ObservationRound {
  consumers: number;
  medianMs: number;
  runsMs: number[];
  repointsPlanned: number;
  requests: RequestCounts;
}

/** Sorts what the sandbox recorded into the APIs observation uses. */
export function countRequests(exchanges: readonly SandboxExchange[]): RequestCounts {
  const counts: RequestCounts = { resourceGraph: 0, armReads: 0, logAnalytics: 0, keyVault: 0 };
  for (const exchange of exchanges) {
    if (exchange.host === "api.loganalytics.io") counts.logAnalytics++;
    else if (exchange.host === "management.azure.com") {
      if (exchange.path.toLowerCase().includes("/providers/microsoft.resourcegraph/")) counts.resourceGraph++;
      else if (exchange.method === "GET") counts.armReads++;
    } else if (
      exchange.host.endsWith(".vault.azure.net") ||
      exchange.host.endsWith(".managedhsm.azure.net")
    ) {
      counts.keyVault++;
    }
  }
  return counts;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Consumers observed and repoints planned, summed over the keys views of the bench keys. */
export function planSize(answer: { keys: unknown[] }): { consumers: number; repointsPlanned: number } {
  let consumers = 0;
  let repointsPlanned = 0;
  for (const view of answer.keys) {
    if (!isRecord(view) || !Array.isArray(view.consumers)) {
      throw new Error(`a keys view has no consumers list: ${JSON.stringify(view)?.slice(0, 300)}`);
    }
    if (typeof view.error === "string")
      throw new Error(`key ${String(view.id)} could not be observed: ${view.error}`);
    consumers += view.consumers.length;
    for (const consumer of view.consumers) {
      const pins = isRecord(consumer) && Array.isArray(consumer.pins) ? consumer.pins : [];
      for (const pin of pins) if (isRecord(pin) && typeof pin.repointTo === "string") repointsPlanned++;
    }
  }
  return { consumers, repointsPlanned };
}

export async function measureObservationScale(
  azurite: AzuriteTables,
  options: ObservationScaleOptions,
): Promise<ObservationRound[]> {
  const rounds: ObservationRound[] = [];
  for (const size of options.sizes) {
    // Budgets off: this measures the service's own cost per consumer, not ARM's pacing of it.
    const estate = benchEstate({
      consumers: size,
      versionAgesHours: [720, 48],
      pinnedVersion: 0,
      throttling: { enabled: false },
    });
    const sandbox = await startSandbox({ estate });
    try {
      const runtime = benchRuntime(sandbox, azurite);
      const observed = planSize(await runtime.service.currentPlan({}, { maxAgeMs: 0 }));
      // Cosmos DB accounts follow the newest version by themselves: no repoint is planned for them.
      const repointable = size - consumerSplit(size, ["kusto", "cosmos", "cassandra"]).cosmos;
      if (observed.consumers !== size || observed.repointsPlanned !== repointable) {
        throw new Error(
          `observation scale with ${size} consumers: the plan shows ${observed.consumers} consumers and ${observed.repointsPlanned} planned repoints; expected ${size} consumers and ${repointable} repoints`,
        );
      }
      sandbox.store.recording = [];
      await runtime.service.currentPlan({}, { maxAgeMs: 0 });
      const requests = countRequests(sandbox.store.recording);
      sandbox.store.recording = undefined;
      const runsMs: number[] = [];
      for (let run = 0; run < options.repetitions; run++) {
        runsMs.push((await timed(() => runtime.service.currentPlan({}, { maxAgeMs: 0 }))).ms);
      }
      rounds.push({
        consumers: size,
        medianMs: median(runsMs),
        runsMs,
        repointsPlanned: observed.repointsPlanned,
        requests,
      });
    } finally {
      await sandbox.close();
    }
  }
  return rounds;
}

export function observationTable(rounds: readonly ObservationRound[]): string {
  const baseline = rounds[0];
  if (!baseline) return "(no rounds)";
  const perConsumer = (round: ObservationRound) => round.medianMs / round.consumers;
  /** What each consumer added since the previous, smaller size: flat or falling = linear or better. */
  const marginal = (round: ObservationRound, index: number) => {
    const previous = rounds[index - 1];
    return previous
      ? milliseconds((round.medianMs - previous.medianMs) / (round.consumers - previous.consumers))
      : "-";
  };
  return formatTable(
    [
      "consumers",
      "observe+plan (median)",
      "per consumer",
      "marginal per consumer",
      "per-consumer ratio",
      "time ratio",
      "size ratio",
      "RG pages",
      "ARM GETs",
      "LA queries",
    ],
    rounds.map((round, index) => [
      String(round.consumers),
      milliseconds(round.medianMs),
      milliseconds(perConsumer(round)),
      marginal(round, index),
      ratio(perConsumer(round), perConsumer(baseline)),
      ratio(round.medianMs, baseline.medianMs),
      ratio(round.consumers, baseline.consumers),
      String(round.requests.resourceGraph),
      String(round.requests.armReads),
      String(round.requests.logAnalytics),
    ]),
  );
}
