/**
 * Run in a fresh process by auditLogScale.ts, with the heap limit `npm start` uses: fills the
 * sandbox's audit log with `--records` records over the last hour (calls of the estate's
 * keys by five callers), then runs the service's two audit queries (AzureDiagnostics and
 * AZKVAuditLogs) over it as the Log Analytics handler does, and prints one JSON line.
 * Running out of heap ends the process, which the parent reports.
 *
 *   queryMs        median of the queries (after one warm-up pair)
 *   liveHeapMb     the heap after a full collection, once the queries ran (the log included)
 *   logHeapMb      what the records themselves take (heap after filling, minus before)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { recordAudit } from "../sandbox/audit.js";
import { runKql } from "../sandbox/kql/index.js";
import { AUDIT_TABLE_NAMES, workspaceAuditTables } from "../sandbox/loganalytics/auditTables.js";
import { startSandbox } from "../sandbox/server.js";
import { auditQueryText } from "../src/adapters/auditLogs.js";
import type { KeyRef } from "../src/model.js";
import { median } from "./benchTable.js";
import { printJsonResult } from "./childProcess.js";

export interface AuditLogScaleProbe {
  records: number;
  resultRows: number;
  queryMs: number;
  liveHeapMb: number;
  logHeapMb: number;
}

const HOUR_MS = 3_600_000;

function collect(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function probe(records: number, repetitions: number): Promise<AuditLogScaleProbe> {
  const stateDir = mkdtempSync(join(tmpdir(), "bench-audit-"));
  const sandbox = await startSandbox({ backgroundLoops: false, stateDir });
  try {
    const store = sandbox.store;
    store.auditMaxRecords = Math.max(store.auditMaxRecords, records);
    const keys = [...store.vaults.values()].flatMap((vault) =>
      [...vault.keys.values()].map((key) => ({ vault, key })),
    );
    const workspace = [...store.workspaces.values()][0];
    if (keys.length === 0 || !workspace) throw new Error("the default estate has no keys or no workspace");
    const before = collect();
    const now = store.now();
    for (let index = 0; index < records; index++) {
      const { vault, key } = keys[index % keys.length] as (typeof keys)[number];
      const version = key.versions[index % key.versions.length]?.version ?? "";
      recordAudit(store, {
        time: now - HOUR_MS + (index * HOUR_MS) / records,
        vault: vault.name,
        vaultKind: vault.kind,
        operationName: index % 3 === 0 ? "KeyGet" : "KeyUnwrap",
        id: `${vault.uri.replace(/\/$/, "")}/keys/${key.name}/${version}`,
        callerObjectId: `00000000-0000-0000-0000-00000000000${index % 5}`,
        callerIpAddress: "10.0.0.4",
        httpStatusCode: 200,
        resultType: "Success",
        resultSignature: "OK",
        correlationId: `bench-${index}`,
        durationMs: 4,
      });
    }
    for (const record of store.audit) record.visibleAt = 0;
    const logHeapMb = collect() - before;
    const keyRefs: KeyRef[] = keys.map(({ vault, key }) => ({
      vaultName: vault.name,
      keyName: key.name,
      vaultUrl: vault.uri,
      hostKind: vault.kind,
    }));
    let resultRows = 0;
    const times: number[] = [];
    for (let pass = 0; pass <= repetitions; pass++) {
      for (const table of AUDIT_TABLE_NAMES) {
        const started = performance.now();
        const query = auditQueryText(table, keyRefs, "11111111-2222-3333-4444-555555555555");
        resultRows = runKql(query, workspaceAuditTables(store, workspace, undefined, [table])).rows.length;
        if (pass > 0) times.push(performance.now() - started);
      }
    }
    return { records, resultRows, queryMs: median(times), liveHeapMb: collect(), logHeapMb };
  } finally {
    await sandbox.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const { values } = parseArgs({
  options: { records: { type: "string" }, repetitions: { type: "string", default: "2" } },
});
printJsonResult(probe(Number(values.records), Number(values.repetitions)));
