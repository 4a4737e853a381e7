/**
 * `npm run bench`: the performance and scale targets, measured side by side in one run on
 * the sandbox (loopback only) and printed as tables with ratios. It reports and never
 * judges timings; it exits non-zero only when a run errors or a result is wrong (for
 * example a repoint that did not begin, or the two audit query variants disagreeing).
 *
 *   1. repoint fan-out     one reconcile beginning N repoints, at several concurrencies
 *   2. observation scale   one observe + plan for 10, 100 and 300 consumers
 *   3. audit query cost    one batched Log Analytics query vs one query per version
 *   4. sandbox start       1,000 keys: ready, then every version's key pair, vs a pair each
 *   5. Resource Graph      page 1, page 2 and page 50 of one query over 5,100 rows
 *   6. deployment zip      what `npm run package` ships, and what dominates it
 *   7. cold start          loading the entry modules against a bare `node -e 0`
 *   8. propagation         200 repoints with 1 s writes at the default concurrency vs 1
 *   9. viewers             the Azure requests of 10 viewers over 5 (simulated) minutes
 *  10. outcome events      5,000 repoints' events: delivered against published
 *  11. estate growth       plan + views at 10x the estate; a view's journal reads
 *  12. time to restore     first failed use of a disabled version → enabled again, against L + I
 *  13. reconcile at scale  one timer reconcile of 1,000 / 5,000 / 10,000 / 20,000 consumers, budgets on
 *  14. audit log scale     the service's audit queries over 10,000 / 50,000 / 200,000 records, 192 MB heap
 *
 * `npm run bench -- --only 7,9` runs only those sections.
 */
import { cpus, platform, release, totalmem } from "node:os";
import { startAzuriteTables } from "../sandbox/azurite.js";
import { AUDIT_LOG_HEAP_LIMIT_MB, auditLogScaleTable, measureAuditLogScale } from "./auditLogScale.js";
import { auditTable, measureAuditQueryCost } from "./auditQueryCost.js";
import { milliseconds, timed } from "./benchTable.js";
import { coldStartTable, measureColdStart } from "./coldStart.js";
import { deploymentPackageTable, measureDeploymentPackage } from "./deploymentPackage.js";
import { growthTable, journalTable, measureEstateGrowth } from "./estateGrowth.js";
import { measureObservationScale, observationTable } from "./observationScale.js";
import { measureOutcomeEvents, outcomeEventsTable } from "./outcomeEvents.js";
import { measurePropagation, propagationTable } from "./propagation.js";
import { measureReconcileScale, reconcileScaleTable } from "./reconcileScale.js";
import { fanOutTable, measureRepointFanOut } from "./repointFanOut.js";
import { measureResourceGraphPaging, resourceGraphPagingTable } from "./resourceGraphPaging.js";
import { measureSandboxStart, sandboxStartTable } from "./sandboxStart.js";
import { measureTimeToRestore, timeToRestoreTable } from "./timeToRestore.js";
import { measureViewerRequests, viewerTable } from "./viewerRequests.js";

const FAN_OUT = { consumers: 60, concurrencies: [1, 4, 16], armWriteMs: 150, lroDurationMs: 300 } as const;
const OBSERVATION = { sizes: [10, 100, 300], repetitions: 3 } as const;
const AUDIT = { versions: 20, usesPerVersion: 50, repetitions: 5 } as const;
const SANDBOX_START = { keys: 1000, consumers: 1000, samples: 4 } as const;
const GRAPH_PAGING = { rows: 5100, pageSize: 100, pages: 50, repetitions: 3 } as const;
const COLD_START = { runs: 15 } as const;
const PROPAGATION = { consumers: 200, armWriteMs: 1000 } as const;
const VIEWERS = { viewers: 10, minutes: 5, consumers: 100, keys: 5 } as const;
const OUTCOME_EVENTS = { repoints: 5000 } as const;
const AUDIT_LOG_SIZES = [10_000, 50_000, 200_000] as const;
/** Azure's 3-10 min (up to 20) ingestion and a 5 min timer, scaled to seconds: the section stays under a minute. */
const RESTORE = { latencySeconds: { min: 1, max: 8 }, intervalSeconds: 4, trials: 4 } as const;
const GROWTH = {
  sizes: [
    { keys: 100, consumers: 1000 },
    { keys: 1000, consumers: 10_000 },
  ],
  repetitions: 3,
  journalKeys: 100,
  journalEntries: 20,
} as const;

const RECONCILE_SCALE = {
  sizes: [
    { consumers: 1000, keys: 100 },
    { consumers: 5000, keys: 500 },
    { consumers: 10_000, keys: 1000 },
    { consumers: 20_000, keys: 2000 },
  ],
  armReadMs: 100,
  armWriteMs: 300,
} as const;

/** The sections `--only 1,7` asks for (every one without it). */
function selectedSections(argv: readonly string[]): Set<number> | undefined {
  const at = argv.indexOf("--only");
  if (at < 0) return undefined;
  const list = (argv[at + 1] ?? "").split(",").map((part) => Number(part.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1 || n > 14)) {
    throw new Error(
      `--only takes section numbers 1-14 separated by commas, not ${JSON.stringify(argv[at + 1])}`,
    );
  }
  return new Set(list);
}

function environment(): string {
  const processors = cpus();
  return [
    `node ${process.version} on ${platform()} ${release()} (${process.arch})`,
    `cpus: ${processors.length} x ${processors[0]?.model.trim() ?? "unknown"}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `started: ${new Date().toISOString()}`,
  ].join("\n");
}

function section(title: string, lines: string[]): void {
  process.stdout.write(`\n== ${title}\n${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  process.stdout.write(
    `cmk-rotator benchmarks (sandbox on loopback; ratios matter, absolute times depend on the machine)\n${environment()}\n`,
  );
  const only = selectedSections(process.argv.slice(2));
  const wanted = (n: number) => only === undefined || only.has(n);
  const azurite = await startAzuriteTables();
  try {
    if (wanted(1)) {
      const fanOut = await timed(() => measureRepointFanOut(azurite, FAN_OUT));
      section(
        `1. Repoint fan-out: one reconcile beginning ${FAN_OUT.consumers} repoints (Kusto + Cassandra), ARM write latency ${FAN_OUT.armWriteMs} ms`,
        [
          fanOutTable(fanOut.result),
          "reconcile = the whole reconcileKey (lease, observe, plan, apply); repoint phase = from the plan to the end of apply",
          "(begin each ARM update, journal it, publish the outcome events). speedup = concurrency 1 time / this time;",
          `ideal = ${FAN_OUT.consumers} writes in ceil(${FAN_OUT.consumers} / concurrency) waves. (${milliseconds(fanOut.ms)} in all)`,
        ],
      );
    }

    if (wanted(2)) {
      const observation = await timed(() => measureObservationScale(azurite, OBSERVATION));
      section("2. Observation scale: one observe + plan (currentPlan) of every managed key", [
        observationTable(observation.result),
        `median of ${OBSERVATION.repetitions} runs after a warm-up; consumers split between Kusto, Cosmos DB and Cassandra on two keys.`,
        "marginal per consumer = added time / added consumers since the previous size (flat or falling = linear or better);",
        "per-consumer ratio below 1.00x = fixed costs amortised. RG pages = Resource Graph requests, ARM GETs = fresh consumer reads",
        `(Cassandra adds cluster reads and data center lists), LA queries = Log Analytics queries. (${milliseconds(observation.ms)} in all)`,
      ]);
    }

    if (wanted(3)) {
      const audit = await timed(() => measureAuditQueryCost(azurite, AUDIT));
      section(
        `3. Audit query cost: evidence for a key with ${AUDIT.versions} versions (${audit.result.records} audit records)`,
        [
          auditTable(audit.result.variants),
          `median of ${AUDIT.repetitions} runs after a warm-up; both variants counted the same ${AUDIT.usesPerVersion} uses of every version. (${milliseconds(audit.ms)} in all)`,
        ],
      );
    }

    if (wanted(4)) {
      const start = await timed(() => measureSandboxStart(SANDBOX_START));
      section(
        `4. Sandbox start: ${SANDBOX_START.keys} keys, two versions each, ${SANDBOX_START.consumers} consumers`,
        [
          sandboxStartTable(start.result),
          "in a fresh process (the prime pool starts empty). ready = startSandbox until it serves; a version's key pair is",
          "derived on first use from a pool of primes. before = the versions times a sampled RSA generation per size, what",
          `a start cost when every version got a generated pair (the ratio is before / ready). (${milliseconds(start.ms)} in all)`,
        ],
      );
    }

    if (wanted(5)) {
      const paging = await timed(() => measureResourceGraphPaging(GRAPH_PAGING));
      section(
        `5. Resource Graph paging: one query over ${GRAPH_PAGING.rows} rows, ${GRAPH_PAGING.pageSize} a page, through ResourceGraphClient`,
        [
          resourceGraphPagingTable(paging.result),
          `median of ${GRAPH_PAGING.repetitions} passes over ${GRAPH_PAGING.pages} pages after a warm-up. Page 1 runs the query; later pages are cut from`,
          "the rows it kept. Asked by $skip without a token, page 50 runs the query again: what every page cost before.",
          `Resource Manager's budgets are off for this one (it measures the sandbox). (${milliseconds(paging.ms)} in all)`,
        ],
      );
    }

    if (wanted(6)) {
      const deployment = await timed(() => measureDeploymentPackage());
      section(
        "6. Deployment zip: what npm run package ships (host.json, package.json, dist/src, dist/functions, node_modules)",
        [
          deploymentPackageTable(deployment.result),
          "node_modules = only package-lock.json's production packages, without source maps, type declarations, Markdown and",
          `the browser / React Native / workerd builds Node cannot resolve into. (${milliseconds(deployment.ms)} in all)`,
        ],
      );
    }

    if (wanted(7)) {
      const cold = await timed(async () => measureColdStart(COLD_START));
      section(
        "7. Cold start: what the Functions worker loads (package.json main = dist/functions/*.js), against node -e 0",
        [
          coldStartTable(cold.result),
          `each a fresh process, interleaved, median of ${COLD_START.runs} runs after a warm-up. The entry modules load the runtime`,
          "(every SDK client, the table client, telemetry) on the first invocation, and @azure/functions with require.",
          `(${milliseconds(cold.ms)} in all)`,
        ],
      );
    }

    if (wanted(8)) {
      const propagation = await timed(() => measurePropagation(azurite, PROPAGATION));
      section(
        `8. Propagation: one reconcile beginning ${PROPAGATION.consumers} repoints, every ARM write taking ${PROPAGATION.armWriteMs} ms, within ARM's write budget`,
        [
          propagationTable(propagation.result),
          "repoint phase = from the plan to the end of apply; speedup = sequential time / this time. ARM's write budget is",
          "Azure's (200, refilled at 10/s); paced writes = writes that waited for the refill (x-ms-ratelimit-remaining-* headers).",
          `The read budget is raised for this one (reads are part of observation, not of propagation). (${milliseconds(propagation.ms)} in all)`,
        ],
      );
    }

    if (wanted(9)) {
      const viewers = await timed(() => measureViewerRequests(azurite, VIEWERS));
      section(
        `9. Viewers: the Azure requests of ${VIEWERS.viewers} viewers with the dashboard open for ${VIEWERS.minutes} minutes (${VIEWERS.consumers} consumers on ${VIEWERS.keys} keys)`,
        [
          viewerTable(viewers.result),
          "time simulated with the service's clock; requests as the service's clients sent them, every attempt, by API.",
          "now: ROTATOR_VIEW_MAX_AGE PT1M and the dashboard reloading every minute; one observation serves every viewer.",
          `before: every view observed (the dashboard reloaded every 5 s), computed from one uncached observation. (${milliseconds(viewers.ms)} in all)`,
        ],
      );
    }

    if (wanted(10)) {
      const events = await timed(() => measureOutcomeEvents(OUTCOME_EVENTS));
      section(
        `10. Outcome events: a run beginning ${OUTCOME_EVENTS.repoints} repoints, through EventGridPublisherClient to the sandbox's topic`,
        [
          outcomeEventsTable(events.result),
          "delivered = events the topic accepted (its recording). The topic refuses what Event Grid refuses (413 over 1,536,000",
          `bytes a request or 1,049,600 an event); the service batches under the documented 1 MB. (${milliseconds(events.ms)} in all)`,
        ],
      );
    }

    if (wanted(11)) {
      const growth = await timed(() => measureEstateGrowth(azurite, GROWTH));
      section(
        "11. Estate growth: plan + views at ten times the estate (in memory), and the journal reads of a view",
        [
          growthTable(growth.result.growth),
          journalTable(growth.result.journal),
          `median of ${GROWTH.repetitions} runs after a warm-up; consumers round-robin over the keys, each lagging one version.`,
          "per-key scan (before) = the pass over every consumer per key that gathering pins made until now (grows as keys x consumers).",
          `(${milliseconds(growth.ms)} in all)`,
        ],
      );
    }

    if (wanted(12)) {
      const restore = await timed(() => measureTimeToRestore(azurite, RESTORE));
      section(
        `12. Time to restore: a stale consumer outside the watched subscriptions fails on a disabled version; audit records ${RESTORE.latencySeconds.min}-${RESTORE.latencySeconds.max} s late, timer every ${RESTORE.intervalSeconds} s`,
        [
          timeToRestoreTable(restore.result),
          "from the consumer's first failed unwrap (403 KeyDisabled) to the version's cmk-rotator-restored-at tag. The README's bound is",
          "the ingestion latency L plus the timer interval I (here scaled to seconds; in Azure ROTATOR_MAX_INGESTION_LATENCY, PT20M,",
          `plus the timer interval: 35 minutes at the template's 15-minute schedule, 25 at 5 minutes). (${milliseconds(restore.ms)} in all)`,
        ],
      );
    }

    if (wanted(13)) {
      const scale = await timed(() => measureReconcileScale(azurite, RECONCILE_SCALE));
      section(
        `13. Reconcile at scale: one timer reconcile (reconcileAll) with Resource Manager's budgets on, every ARM read ${RECONCILE_SCALE.armReadMs} ms, every write ${RECONCILE_SCALE.armWriteMs} ms`,
        [
          reconcileScaleTable(scale.result),
          "every consumer on its key's newest version, the previous one superseded 2 h ago (held: within the quiet period).",
          "time ratio and size ratio against the smallest estate; doubling = this time / the previous size's, where it is twice as large.",
          "requests per consumer as the service's clients sent them (every attempt); 429s = answers of the sandbox's budget emulation;",
          "paced = requests the service's pacers held back (ARM reads, ARM writes, Resource Graph). The timed runs take Cassandra data centers",
          "from the warm-up's listings (ROTATOR_DATACENTER_LISTING_MAX_AGE); listing afresh = the same run listing every cluster (one ARM read each),",
          `what a run costs whose plan would disable. reconcile = the median of 3 runs; listing afresh: one run. (${milliseconds(scale.ms)} in all)`,
        ],
      );
    }

    if (wanted(14)) {
      const log = await timed(() => measureAuditLogScale(AUDIT_LOG_SIZES));
      section(
        `14. Audit log scale: the service's two audit queries over the sandbox's log, each size in a fresh process with --max-old-space-size=${AUDIT_LOG_HEAP_LIMIT_MB} (as npm start)`,
        [
          auditLogScaleTable(log.result),
          "records over the last hour, calls of the default estate's keys by five callers; query = one audit query (median of both",
          "tables, two passes after a warm-up); log MB = the heap the records take; live heap = after a full collection, once the",
          `queries ran. 200,000 records is the log's bound. (${milliseconds(log.ms)} in all)`,
        ],
      );
      const failed = log.result.filter((round) => !round.probe);
      if (failed.length > 0)
        throw new Error(
          `audit log scale: ${failed.map((round) => `${round.records} records: ${round.failure}`).join("; ")}`,
        );
    }
  } finally {
    await azurite.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
