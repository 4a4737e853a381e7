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
 */
import { cpus, platform, release, totalmem } from "node:os";
import { startAzuriteTables } from "../sandbox/azurite.js";
import { auditTable, measureAuditQueryCost } from "./auditQueryCost.js";
import { milliseconds, timed } from "./benchTable.js";
import { deploymentPackageTable, measureDeploymentPackage } from "./deploymentPackage.js";
import { measureObservationScale, observationTable } from "./observationScale.js";
import { fanOutTable, measureRepointFanOut } from "./repointFanOut.js";
import { measureResourceGraphPaging, resourceGraphPagingTable } from "./resourceGraphPaging.js";
import { measureSandboxStart, sandboxStartTable } from "./sandboxStart.js";

const FAN_OUT = { consumers: 60, concurrencies: [1, 4, 16], armWriteMs: 150, lroDurationMs: 300 } as const;
const OBSERVATION = { sizes: [10, 100, 300], repetitions: 3 } as const;
const AUDIT = { versions: 20, usesPerVersion: 50, repetitions: 5 } as const;
const SANDBOX_START = { keys: 1000, consumers: 1000, samples: 4 } as const;
const GRAPH_PAGING = { rows: 5100, pageSize: 100, pages: 50, repetitions: 3 } as const;

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
  const azurite = await startAzuriteTables();
  try {
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

    const observation = await timed(() => measureObservationScale(azurite, OBSERVATION));
    section("2. Observation scale: one observe + plan (currentPlan) of every managed key", [
      observationTable(observation.result),
      `median of ${OBSERVATION.repetitions} runs after a warm-up; consumers split between Kusto, Cosmos DB and Cassandra on two keys.`,
      "marginal per consumer = added time / added consumers since the previous size (flat or falling = linear or better);",
      "per-consumer ratio below 1.00x = fixed costs amortised. RG pages = Resource Graph requests, ARM GETs = consumer reads",
      `(Cassandra adds cluster reads and data center lists), LA queries = Log Analytics queries. (${milliseconds(observation.ms)} in all)`,
    ]);

    const audit = await timed(() => measureAuditQueryCost(azurite, AUDIT));
    section(
      `3. Audit query cost: evidence for a key with ${AUDIT.versions} versions (${audit.result.records} audit records)`,
      [
        auditTable(audit.result.variants),
        `median of ${AUDIT.repetitions} runs after a warm-up; both variants counted the same ${AUDIT.usesPerVersion} uses of every version. (${milliseconds(audit.ms)} in all)`,
      ],
    );

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

    const deployment = await timed(() => measureDeploymentPackage());
    section(
      "6. Deployment zip: what npm run package ships (host.json, package.json, dist/src, dist/functions, node_modules)",
      [
        deploymentPackageTable(deployment.result),
        "node_modules = only package-lock.json's production packages, without source maps, type declarations, Markdown and",
        `the browser / React Native / workerd builds Node cannot resolve into. (${milliseconds(deployment.ms)} in all)`,
      ],
    );
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
