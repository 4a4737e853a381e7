/**
 * Benchmark 1, repoint fan-out: how long one reconcile takes to BEGIN repointing N consumers
 * at several ROTATOR_REPOINT_CONCURRENCY values, with every ARM write taking `armWriteMs`
 * (the sandbox's model of Resource Manager latency). The service begins each long-running
 * update and does not wait for it, so the repoint phase should shrink about linearly with
 * the concurrency.
 *
 * Per concurrency: a new key version is created (not timed), then `reconcileKey` is timed as
 * a whole and from the moment its plan is made (the "plan made" log line) to its end: the
 * repoint phase. Each round must begin a repoint of every consumer, or the bench fails.
 */
import { performance } from "node:perf_hooks";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { startSandbox } from "../sandbox/server.js";
import { keyRefId } from "../src/model.js";
import { jsonLine, type LogFields, type RotatorLog } from "../src/rotation/log.js";
import { BENCH_KEY, BENCH_VAULT, benchEstate } from "./benchEstate.js";
import { benchRuntime, untilNoUpdateInFlight } from "./benchStack.js";
import { formatTable, milliseconds, ratio, timed } from "./benchTable.js";

export interface RepointFanOutOptions {
  consumers: number;
  concurrencies: readonly number[];
  armWriteMs: number;
  /** How long a consumer's update runs after the PATCH was accepted (kept short: nobody waits for it). */
  lroDurationMs: number;
}

export interface FanOutRound {
  concurrency: number;
  reconcileMs: number;
  repointPhaseMs: number;
  repointsBegun: number;
}

/** A log that remembers when the plan was made and the warnings of the round, and discards the rest. */
function planMadeClock(): {
  log: RotatorLog;
  planMadeAt(): number | undefined;
  warnings(): string[];
  reset(): void;
} {
  let planMadeAt: number | undefined;
  let warnings: string[] = [];
  const warn = (message: string, fields?: LogFields) => warnings.push(jsonLine("warn", message, fields));
  return {
    log: {
      info: (message) => {
        if (message === "plan made") planMadeAt = performance.now();
      },
      warn,
      error: warn,
    },
    planMadeAt: () => planMadeAt,
    warnings: () => warnings,
    reset: () => {
      planMadeAt = undefined;
      warnings = [];
    },
  };
}

export async function measureRepointFanOut(
  azurite: AzuriteTables,
  options: RepointFanOutOptions,
): Promise<FanOutRound[]> {
  // Kusto and Cassandra share one RSA 2048 key; Cosmos needs a 3072-bit key of its own (see benchEstate).
  const estate = benchEstate({
    consumers: options.consumers,
    kinds: ["kusto", "cassandra"],
    versionAgesHours: [48],
    pinnedVersion: "newest",
    // Budgets off: the rounds follow each other at once, and ARM's read refill would pace them.
    throttling: { enabled: false },
  });
  const sandbox = await startSandbox({ estate });
  try {
    sandbox.store.latency = { armWriteMs: options.armWriteMs, lroDurationMs: options.lroDurationMs };
    const clock = planMadeClock();

    const round = async (concurrency: number): Promise<FanOutRound> => {
      const runtime = benchRuntime(sandbox, azurite, {
        settings: { ROTATOR_REPOINT_CONCURRENCY: String(concurrency) },
        log: clock.log,
      });
      const key = runtime.service.managedKey(BENCH_VAULT, BENCH_KEY);
      await runtime.factory.keys(key.vaultUrl).rotateKey(BENCH_KEY);
      clock.reset();
      const { result, ms } = await timed(() => runtime.service.reconcileKey(key, "bench"));
      const reconcileEnd = performance.now();
      if (result.status !== "done") {
        throw new Error(
          `repoint fan-out at concurrency ${concurrency}: ${keyRefId(key)} was busy: ${result.message}`,
        );
      }
      const repoints = result.report.steps.filter((step) => step.type === "repoint");
      const begun = repoints.filter((step) => step.status === "done");
      if (begun.length !== options.consumers) {
        const notBegun = repoints.find((step) => step.status !== "done");
        const warnings = clock.warnings().slice(0, 3);
        throw new Error(
          `repoint fan-out at concurrency ${concurrency}: ${begun.length} of ${options.consumers} repoints began ` +
            `(${result.plan.actions.length} actions, ${result.plan.holds.length} holds, ${result.plan.blocks.length} blocks planned)` +
            (notBegun
              ? `; for example ${notBegun.consumerId}: ${notBegun.status} (${notBegun.detail})`
              : "") +
            (warnings.length > 0 ? `; the service warned: ${warnings.join(" ")}` : ""),
        );
      }
      const planMadeAt = clock.planMadeAt();
      if (planMadeAt === undefined) {
        throw new Error(
          `repoint fan-out: the service logged no "plan made" line, so the repoint phase cannot be timed`,
        );
      }
      // The next round's PATCHes would get 409 while these updates still run.
      await untilNoUpdateInFlight(sandbox, 30_000);
      return {
        concurrency,
        reconcileMs: ms,
        repointPhaseMs: reconcileEnd - planMadeAt,
        repointsBegun: begun.length,
      };
    };

    // A warm-up round, so the first measured concurrency does not pay for cold code paths.
    await round(Math.max(...options.concurrencies));
    const rounds: FanOutRound[] = [];
    for (const concurrency of options.concurrencies) rounds.push(await round(concurrency));
    return rounds;
  } finally {
    await sandbox.close();
  }
}

/** The best speedup possible: N writes in ceil(N / concurrency) waves instead of N. */
export function idealSpeedup(consumers: number, concurrency: number): number {
  return consumers / Math.ceil(consumers / concurrency);
}

export function fanOutTable(rounds: readonly FanOutRound[]): string {
  const baseline = rounds[0];
  if (!baseline) return "(no rounds)";
  return formatTable(
    [
      "concurrency",
      "repoints begun",
      "reconcile",
      "repoint phase",
      "speedup (repoint phase)",
      "speedup (reconcile)",
      "ideal",
    ],
    rounds.map((round) => [
      String(round.concurrency),
      String(round.repointsBegun),
      milliseconds(round.reconcileMs),
      milliseconds(round.repointPhaseMs),
      ratio(baseline.repointPhaseMs, round.repointPhaseMs),
      ratio(baseline.reconcileMs, round.reconcileMs),
      `${idealSpeedup(round.repointsBegun, round.concurrency).toFixed(2)}x`,
    ]),
  );
}
