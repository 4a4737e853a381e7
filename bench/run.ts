/**
 * `npm run bench`: the performance and scale targets, measured side by side in one run on
 * the sandbox (loopback only) and printed as tables with ratios. It reports and never
 * judges timings; it exits non-zero only when a run errors or a result is wrong (for
 * example a repoint that did not begin, or the two audit query variants disagreeing).
 *
 *   1. repoint fan-out     one reconcile beginning N repoints, at several concurrencies
 *   2. observation scale   one observe + plan for 10, 100 and 300 consumers
 *   3. audit query cost    one batched Log Analytics query vs one query per version
 */
import { cpus, platform, release, totalmem } from "node:os";
import { startAzuriteTables } from "../sandbox/azurite.js";
import { auditTable, measureAuditQueryCost } from "./auditQueryCost.js";
import { milliseconds, timed } from "./benchTable.js";
import { measureObservationScale, observationTable } from "./observationScale.js";
import { fanOutTable, measureRepointFanOut } from "./repointFanOut.js";

const FAN_OUT = { consumers: 60, concurrencies: [1, 4, 16], armWriteMs: 150, lroDurationMs: 300 } as const;
const OBSERVATION = { sizes: [10, 100, 300], repetitions: 3 } as const;
const AUDIT = { versions: 20, usesPerVersion: 50, repetitions: 5 } as const;

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
