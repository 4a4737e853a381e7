/**
 * Benchmark 8, propagation: one reconcile of a key whose 200 consumers (Kusto clusters and
 * Cassandra data centers) lag one version, every Resource Manager write taking 1 s, at the
 * default ROTATOR_REPOINT_CONCURRENCY against concurrency 1 (the sequential peer), in the same
 * run. Resource Manager's write budget is Azure's (200, refilled at 10/s; the service paces its
 * writes by the x-ms-ratelimit-remaining-* headers and Retry-After); its read budget is raised
 * for this one, because reads are not what it measures (each repoint also reads its consumer
 * again before the write). The default runs first, on a full bucket: the sequential run then
 * cannot drain it (1 write a second against a refill of 10).
 */
import { performance } from "node:perf_hooks";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { startSandbox } from "../sandbox/server.js";
import { keyRefId } from "../src/model.js";
import type { RotatorLog } from "../src/rotation/log.js";
import { BENCH_KEY, BENCH_VAULT, benchEstate } from "./benchEstate.js";
import { benchRuntime, untilNoUpdateInFlight } from "./benchStack.js";
import { formatTable, milliseconds, ratio } from "./benchTable.js";

export interface PropagationOptions {
  consumers: number;
  armWriteMs: number;
}

export interface PropagationRound {
  label: string;
  concurrency: number;
  repointPhaseMs: number;
  repointsBegun: number;
  writes: number;
  write429s: number;
  pacedWrites: number;
  pacedMs: number;
}

export async function measurePropagation(
  azurite: AzuriteTables,
  options: PropagationOptions,
): Promise<PropagationRound[]> {
  const estate = benchEstate({
    consumers: options.consumers,
    kinds: ["kusto", "cassandra"],
    versionAgesHours: [48],
    pinnedVersion: "newest",
    throttling: { reads: { size: 100_000, refillPerSecond: 100_000 } },
  });
  const sandbox = await startSandbox({ estate });
  try {
    sandbox.store.latency = { armWriteMs: options.armWriteMs, lroDurationMs: 300 };
    const round = async (label: string, concurrency: number | undefined): Promise<PropagationRound> => {
      let planMadeAt: number | undefined;
      const log: RotatorLog = {
        info: (message) => {
          if (message === "plan made") planMadeAt = performance.now();
        },
        warn: () => undefined,
        error: () => undefined,
      };
      const runtime = benchRuntime(sandbox, azurite, {
        log,
        ...(concurrency ? { settings: { ROTATOR_REPOINT_CONCURRENCY: String(concurrency) } } : {}),
      });
      const key = runtime.service.managedKey(BENCH_VAULT, BENCH_KEY);
      await runtime.factory.keys(key.vaultUrl).rotateKey(BENCH_KEY);
      sandbox.store.recording = [];
      const result = await runtime.service.reconcileKey(key, "bench");
      const end = performance.now();
      const exchanges = sandbox.store.recording;
      sandbox.store.recording = undefined;
      if (result.status !== "done")
        throw new Error(`propagation: ${keyRefId(key)} was busy: ${result.message}`);
      const begun = result.report.steps.filter((step) => step.type === "repoint" && step.status === "done");
      if (begun.length !== options.consumers) {
        const other = result.report.steps.find((step) => step.status !== "done");
        throw new Error(
          `propagation (${label}): ${begun.length} of ${options.consumers} repoints began${other ? `; for example ${other.consumerId}: ${other.status} (${other.detail})` : ""}`,
        );
      }
      if (planMadeAt === undefined)
        throw new Error('propagation: no "plan made" log line to time the repoints from');
      const writes = exchanges.filter((exchange) => exchange.method === "PATCH");
      await untilNoUpdateInFlight(sandbox, 60_000);
      return {
        label,
        concurrency: runtime.settings.repointConcurrency,
        repointPhaseMs: end - planMadeAt,
        repointsBegun: begun.length,
        writes: writes.length,
        write429s: writes.filter((exchange) => exchange.status === 429).length,
        pacedWrites: runtime.factory.armWritePacer.waits.count,
        pacedMs: runtime.factory.armWritePacer.waits.totalMs,
      };
    };
    const atDefault = await round("default settings", undefined);
    const sequential = await round("sequential peer", 1);
    return [sequential, atDefault];
  } finally {
    await sandbox.close();
  }
}

export function propagationTable(rounds: readonly PropagationRound[]): string {
  const baseline = rounds[0];
  if (!baseline) return "(no rounds)";
  return formatTable(
    [
      "run",
      "concurrency",
      "repoints begun",
      "repoint phase",
      "speedup",
      "ARM writes",
      "write 429s",
      "paced writes",
    ],
    rounds.map((round) => [
      round.label,
      String(round.concurrency),
      String(round.repointsBegun),
      milliseconds(round.repointPhaseMs),
      ratio(baseline.repointPhaseMs, round.repointPhaseMs),
      String(round.writes),
      String(round.write429s),
      round.pacedWrites > 0 ? `${round.pacedWrites} (${milliseconds(round.pacedMs)})` : "0",
    ]),
  );
}
