/**
 * Benchmark 13, reconcile at scale: one timer reconcile of every key (`reconcileAll`, through
 * the runtime as the timer function runs it) of 1,000, 5,000 and 10,000 consumers on 100, 500
 * and 1,000 keys, on the sandbox with Resource Manager's budgets on (reads 250 refilled at
 * 25/s, writes 200 at 10/s, Resource Graph 15 queries in 5 s) and Azure-like latencies (every
 * Resource Manager read and Resource Graph query `armReadMs`, every write `armWriteMs`).
 *
 * The estate: every consumer on its key's newest version, the previous one superseded two
 * hours ago (within the quiet period, so held): the steady state between rotations, what every
 * timer run does. The sandbox runs without its background loops (see below). Reported: the run's time, the growth against the smallest estate and the
 * doubling (5,000 to 10,000), the requests per consumer by API as the service's clients sent
 * them (every attempt), and the 429s the sandbox's budget emulation answered. Each size runs
 * one warm-up reconcile first (the sandbox derives key pairs on first use; the first run
 * journals every hold once, and lists every Cassandra cluster's data centers), then, once the
 * budgets have refilled (timer runs are minutes apart), three timed ones (the median is
 * reported): they take data centers
 * from the warm-up's listings (ROTATOR_DATACENTER_LISTING_MAX_AGE), as a timer run does that
 * plans no disable. Then, budgets refilled again, the same run listing every cluster afresh
 * (ROTATOR_DATACENTER_LISTING_MAX_AGE=PT1S): what a run costs whose plan would disable.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { startSandbox } from "../sandbox/server.js";
import type { ReconcileResult } from "../src/rotation/rotationService.js";
import type { Runtime } from "../src/runtime.js";
import { benchEstate } from "./benchEstate.js";
import { benchRuntime, RequestCounter } from "./benchStack.js";
import { formatTable, median, milliseconds, ratio, timed } from "./benchTable.js";

/** Timed runs per size that reuse the warm-up's listings (the median is reported). */
const TIMED_RUNS = 3;

/** The longest refill of a drained budget: writes, 200 at 10 a second (reads: 250 at 25, 10 s). */
const BUDGET_REFILL_MS = 20_000;

export interface ReconcileScaleOptions {
  sizes: readonly { consumers: number; keys: number }[];
  armReadMs: number;
  armWriteMs: number;
}

export interface ReconcileScaleRound {
  consumers: number;
  keys: number;
  /** The timed run: Cassandra data centers from the warm-up's listings (ROTATOR_DATACENTER_LISTING_MAX_AGE). */
  ms: number;
  /** The same run listing every cluster afresh (what a run whose plan would disable costs), and its ARM reads and 429s. */
  fresh: { ms: number; armReads: number; throttled: number };
  requests: Map<string, number>;
  throttled: number;
  paced: { reads: number; writes: number; resourceGraph: number };
}

function pacerWaits(factory: Runtime["factory"]) {
  return {
    reads: factory.armReadPacer.waits.count,
    writes: factory.armWritePacer.waits.count,
    resourceGraph: factory.resourceGraphPacer.waits.count,
  };
}

export async function measureReconcileScale(
  azurite: AzuriteTables,
  options: ReconcileScaleOptions,
): Promise<ReconcileScaleRound[]> {
  const rounds: ReconcileScaleRound[] = [];
  for (const size of options.sizes) {
    const estate = benchEstate({
      consumers: size.consumers,
      keys: size.keys,
      versionAgesHours: [720, 2],
      pinnedVersion: "newest",
    });
    // No background loops: the simulated consumers' loop runs in this process and visits every
    // consumer four times a second, so with 10,000 of them it took the CPU the service needs
    // (its cost grows with consumers x run time). Azure's consumers never run on the service's
    // CPU; the estate is the steady state, nothing to follow or unwrap that the run looks at.
    const sandbox = await startSandbox({ estate, backgroundLoops: false });
    try {
      sandbox.store.latency.armReadMs = options.armReadMs;
      sandbox.store.latency.armWriteMs = options.armWriteMs;
      const counter = new RequestCounter();
      const runtime = benchRuntime(sandbox, azurite, { metrics: counter.metrics });
      // The same service listing every cluster every run (the journal shared, so it journals nothing new).
      const freshCounter = new RequestCounter();
      const freshRuntime = benchRuntime(sandbox, azurite, {
        metrics: freshCounter.metrics,
        settings: {
          ROTATOR_JOURNAL_TABLE: runtime.settings.journalTable,
          ROTATOR_DATACENTER_LISTING_MAX_AGE: "PT1S",
        },
      });
      // The warm-up: the sandbox derives every version's key pair on first use, and the first
      // run journals every hold once; then the timed run, what every timer run does.
      await runtime.service.reconcileAll("bench warm-up");
      // Timer runs are minutes apart, so each starts with Resource Manager's budgets refilled:
      // wait until they are (the warm-up may have drained the read bucket).
      await sleep(BUDGET_REFILL_MS);
      const paced = pacerWaits(runtime.factory);
      // Runs that reuse the listings read next to nothing from Resource Manager: they go back to
      // back, and the median of TIMED_RUNS is the figure (one run varies by a third on this machine).
      const times: number[] = [];
      let throttled = 0;
      let run: Awaited<ReturnType<typeof timed<ReconcileResult>>> | undefined;
      for (let index = 0; index < TIMED_RUNS; index++) {
        counter.reset();
        run = await timed(() => runtime.service.reconcileAll("bench"));
        times.push(run.ms);
        for (const [status, count] of counter.byStatus) if (status.endsWith(" 429")) throttled += count;
      }
      if (!run) throw new Error("no timed run");
      if (run.result.status !== "done")
        throw new Error(`reconcile of ${size.consumers} consumers: ${run.result.status}`);
      if (run.result.keyIds.length !== size.keys) {
        throw new Error(
          `reconcile of ${size.consumers} consumers reconciled ${run.result.keyIds.length} keys, not ${size.keys}`,
        );
      }
      const failed = run.result.report.steps.filter((step) => step.status === "failed");
      if (failed.length > 0)
        throw new Error(`reconcile at scale: ${failed.length} step(s) failed: ${failed[0]?.detail}`);
      const observed = run.result.plan.targets;
      if (Object.keys(observed).length !== size.keys)
        throw new Error(
          `reconcile at scale: the plan has targets for ${Object.keys(observed).length} of ${size.keys} keys`,
        );
      const after = pacerWaits(runtime.factory);
      await sleep(BUDGET_REFILL_MS);
      freshCounter.reset();
      const freshRun = await timed(() => freshRuntime.service.reconcileAll("bench, listing afresh"));
      if (freshRun.result.status !== "done")
        throw new Error(`reconcile of ${size.consumers} consumers listing afresh: ${freshRun.result.status}`);
      let freshThrottled = 0;
      for (const [status, count] of freshCounter.byStatus)
        if (status.endsWith(" 429")) freshThrottled += count;
      rounds.push({
        consumers: size.consumers,
        keys: size.keys,
        ms: median(times),
        fresh: {
          ms: freshRun.ms,
          armReads: freshCounter.byApi.get("resource-manager") ?? 0,
          throttled: freshThrottled,
        },
        requests: counter.snapshot(),
        throttled,
        paced: {
          reads: after.reads - paced.reads,
          writes: after.writes - paced.writes,
          resourceGraph: after.resourceGraph - paced.resourceGraph,
        },
      });
    } finally {
      await sandbox.close();
    }
  }
  return rounds;
}

const APIS = ["resource-manager", "resource-graph", "keyvault", "log-analytics", "table-storage"] as const;

export function reconcileScaleTable(rounds: readonly ReconcileScaleRound[]): string {
  const first = rounds[0];
  if (!first) return "(no rounds)";
  const perConsumer = (round: ReconcileScaleRound, api: string) =>
    ((round.requests.get(api as never) ?? 0) / round.consumers).toFixed(3);
  return formatTable(
    [
      "consumers",
      "keys",
      "reconcile",
      "time ratio",
      "size ratio",
      "doubling",
      ...APIS.map((api) => `${api} / consumer`),
      "429s",
      "paced (reads, writes, RG)",
      "listing afresh",
      "its doubling",
      "its ARM reads, 429s",
    ],
    rounds.map((round, index) => {
      const previous = rounds[index - 1];
      const doubling =
        previous && round.consumers === 2 * previous.consumers ? ratio(round.ms, previous.ms) : "-";
      return [
        String(round.consumers),
        String(round.keys),
        milliseconds(round.ms),
        ratio(round.ms, first.ms),
        ratio(round.consumers, first.consumers),
        doubling,
        ...APIS.map((api) => perConsumer(round, api)),
        String(round.throttled),
        `${round.paced.reads}, ${round.paced.writes}, ${round.paced.resourceGraph}`,
        milliseconds(round.fresh.ms),
        previous && round.consumers === 2 * previous.consumers
          ? ratio(round.fresh.ms, previous.fresh.ms)
          : "-",
        `${round.fresh.armReads}, ${round.fresh.throttled}`,
      ];
    }),
  );
}
