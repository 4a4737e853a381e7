/**
 * Benchmark 14, the sandbox's Log Analytics over a large audit log: the service's two audit
 * queries over 10,000, 50,000 and 200,000 records (200,000 is the log's bound), each size in
 * a fresh process with the heap limit `npm start` runs under (--max-old-space-size=192). A
 * query copies no rows (lazy rows, a streamed where/extend run, summarize by accumulators),
 * so the time grows with the records and the memory does not: the live heap after the
 * queries is the log itself plus the process's fixed part (the KQL language service most).
 */
import { fileURLToPath } from "node:url";
import type { AuditLogScaleProbe } from "./auditLogScaleProbe.js";
import { formatTable, milliseconds, ratio } from "./benchTable.js";
import { lastJsonLine, runChild } from "./childProcess.js";

export const AUDIT_LOG_HEAP_LIMIT_MB = 192;

export interface AuditLogScaleRound {
  records: number;
  probe?: AuditLogScaleProbe;
  /** Why the probe did not finish (out of heap, for example). */
  failure?: string;
}

async function runProbe(records: number): Promise<AuditLogScaleRound> {
  const probe = fileURLToPath(new URL("./auditLogScaleProbe.js", import.meta.url));
  const args = [
    `--max-old-space-size=${AUDIT_LOG_HEAP_LIMIT_MB}`,
    "--expose-gc",
    probe,
    "--records",
    String(records),
  ];
  const outcome = await runChild(args);
  if (outcome.code !== 0) {
    const outOfHeap = /heap out of memory/i.test(outcome.stderr);
    return {
      records,
      failure: outOfHeap
        ? "out of heap"
        : `exited ${outcome.code ?? outcome.signal}: ${outcome.stderr.trim().slice(0, 200)}`,
    };
  }
  return { records, probe: lastJsonLine<AuditLogScaleProbe>(outcome, "the audit log probe") };
}

export async function measureAuditLogScale(sizes: readonly number[]): Promise<AuditLogScaleRound[]> {
  const rounds: AuditLogScaleRound[] = [];
  for (const records of sizes) rounds.push(await runProbe(records));
  const results = rounds.map((round) => round.probe?.resultRows).filter((rows) => rows !== undefined);
  if (new Set(results).size > 1)
    throw new Error(
      `the audit queries answered ${[...new Set(results)].join(" / ")} rows at different sizes`,
    );
  return rounds;
}

export function auditLogScaleTable(rounds: readonly AuditLogScaleRound[]): string {
  const first = rounds.find((round) => round.probe)?.probe;
  return formatTable(
    ["records", "query (median)", "time ratio", "size ratio", "log MB", "live heap MB", "result rows"],
    rounds.map((round) => {
      const probe = round.probe;
      if (!probe) return [String(round.records), round.failure ?? "failed", "-", "-", "-", "-", "-"];
      return [
        String(round.records),
        milliseconds(probe.queryMs),
        first ? ratio(probe.queryMs, first.queryMs) : "-",
        first ? ratio(probe.records, first.records) : "-",
        probe.logHeapMb.toFixed(1),
        probe.liveHeapMb.toFixed(1),
        String(probe.resultRows),
      ];
    }),
  );
}
