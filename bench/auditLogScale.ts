/**
 * Benchmark 14, the sandbox's Log Analytics over a large audit log: the service's two audit
 * queries over 10,000, 50,000 and 200,000 records (200,000 is the log's bound), each size in
 * a fresh process with the heap limit `npm start` runs under (--max-old-space-size=192). A
 * query copies no rows (lazy rows, a streamed where/extend run, summarize by accumulators),
 * so the time grows with the records and the memory does not: the live heap after the
 * queries is the log itself plus the process's fixed part (the KQL language service most).
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { AuditLogScaleProbe } from "./auditLogScaleProbe.js";
import { formatTable, milliseconds, ratio } from "./benchTable.js";

export const AUDIT_LOG_HEAP_LIMIT_MB = 192;

export interface AuditLogScaleRound {
  records: number;
  probe?: AuditLogScaleProbe;
  /** Why the probe did not finish (out of heap, for example). */
  failure?: string;
}

function runProbe(records: number): Promise<AuditLogScaleRound> {
  const probe = fileURLToPath(new URL("./auditLogScaleProbe.js", import.meta.url));
  const args = [
    `--max-old-space-size=${AUDIT_LOG_HEAP_LIMIT_MB}`,
    "--expose-gc",
    probe,
    "--records",
    String(records),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code !== 0) {
        const outOfHeap = /heap out of memory/i.test(stderr);
        return resolve({
          records,
          failure: outOfHeap ? "out of heap" : `exited ${code ?? signal}: ${stderr.trim().slice(0, 200)}`,
        });
      }
      try {
        resolve({ records, probe: JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as AuditLogScaleProbe });
      } catch {
        reject(new Error(`the audit log probe printed no result: ${stdout.slice(0, 300)}`));
      }
    });
  });
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
