/**
 * Benchmark 3, audit query cost: the service reads the audit evidence of all keys of a
 * workspace with ONE Log Analytics query per run. The naive alternative, written here and
 * only here, asks once per version: the service's own query narrowed to that version. Both
 * go through the same LogsQueryClient to the sandbox's Log Analytics API, over the same
 * audit records, and must count the same uses per version (or the bench fails).
 */

import { recordAudit } from "../sandbox/audit.js";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { startSandbox } from "../sandbox/server.js";
import type { SandboxStore } from "../sandbox/store.js";
import { auditQueryText, createAuditLogReader, type LogsQueryApi } from "../src/adapters/auditLogs.js";
import { kqlLiteral } from "../src/adapters/kqlLiteral.js";
import { type KeyRef, keyRefId } from "../src/model.js";
import { BENCH_KEY, BENCH_VAULT, benchEstate } from "./benchEstate.js";
import { benchRuntime } from "./benchStack.js";
import { formatTable, median, milliseconds, ratio, timed } from "./benchTable.js";

export interface AuditQueryCostOptions {
  versions: number;
  /** Audit records per version (unwraps by consumers), spread over the last day. */
  usesPerVersion: number;
  repetitions: number;
}

export interface AuditVariant {
  name: string;
  queries: number;
  medianMs: number;
  runsMs: number[];
}

/** Uses per version (by anyone but the service), as either variant counted them. */
type UsesPerVersion = Map<string, number>;

const HOUR_MS = 3600 * 1000;
const CONSUMER_CALLERS = [
  "66666666-0000-0000-0000-000000000001",
  "77777777-0000-0000-0000-000000000001",
  "77777777-0000-0000-0000-000000000002",
];

/** LogsQueryApi over the real client that counts the queries it sends. */
function countingLogs(client: LogsQueryApi): { api: LogsQueryApi; count(): number } {
  let queries = 0;
  return {
    api: {
      queryWorkspace(workspaceId, query, timespan) {
        queries++;
        return client.queryWorkspace(workspaceId, query, timespan);
      },
    },
    count: () => queries,
  };
}

/** Unwraps of every version by the consumers' identities, plus the service's own reads of the key. */
function seedAuditRecords(
  store: SandboxStore,
  options: AuditQueryCostOptions,
  servicePrincipalId: string,
): void {
  const vault = store.vaults.get(BENCH_VAULT);
  const key = vault?.keys.get(BENCH_KEY);
  if (!vault || !key) throw new Error(`the bench sandbox has no key ${BENCH_VAULT}/${BENCH_KEY}`);
  const now = store.now();
  const record = (version: string, callerObjectId: string, operationName: string, time: number) =>
    recordAudit(store, {
      time,
      vault: vault.name,
      vaultKind: vault.kind,
      operationName,
      id: `${vault.uri}keys/${key.name}/${version}`,
      callerObjectId,
      callerIpAddress: "10.0.0.4",
      httpStatusCode: 200,
      resultType: "Success",
      resultSignature: "OK",
      correlationId: `bench-${version}-${time}`,
      durationMs: 3,
    });
  for (const version of key.versions) {
    for (let use = 0; use < options.usesPerVersion; use++) {
      const caller = CONSUMER_CALLERS[use % CONSUMER_CALLERS.length] as string;
      record(
        version.version,
        caller,
        "KeyUnwrap",
        now - ((use * 20 * HOUR_MS) / options.usesPerVersion + 60_000),
      );
    }
  }
  const newest = key.versions.at(-1);
  if (newest) record(newest.version, servicePrincipalId, "KeyGet", now - 60_000);
}

/** The service's query narrowed to one version: what a per-version design would send. */
export function perVersionQueryText(serviceQuery: string, version: string): string {
  const lines = serviceQuery.split("\n");
  const summarize = lines.findIndex((line) => line.startsWith("| summarize"));
  if (summarize < 0) throw new Error("the service's audit query has no summarize line to narrow before");
  lines.splice(summarize, 0, `| where Version == ${kqlLiteral("version", version.toLowerCase())}`);
  return lines.join("\n");
}

function column(names: readonly (string | undefined)[], name: string): number {
  const index = names.indexOf(name);
  if (index < 0)
    throw new Error(
      `the per-version audit query answered without a ${name} column (got ${names.join(", ")})`,
    );
  return index;
}

export async function measureAuditQueryCost(
  azurite: AzuriteTables,
  options: AuditQueryCostOptions,
): Promise<{ variants: AuditVariant[]; records: number }> {
  const ages = Array.from({ length: options.versions }, (_, index) => (options.versions - index) * 24);
  const sandbox = await startSandbox({
    estate: benchEstate({ consumers: 0, versionAgesHours: ages, pinnedVersion: "newest" }),
  });
  try {
    const runtime = benchRuntime(sandbox, azurite);
    const { settings } = runtime;
    const key: KeyRef = runtime.service.managedKey(BENCH_VAULT, BENCH_KEY);
    const vault = settings.managedVaults.find((managed) => managed.vaultUrl === key.vaultUrl);
    if (!vault) throw new Error(`the bench settings do not manage ${key.vaultUrl}`);
    seedAuditRecords(sandbox.store, options, settings.servicePrincipalId);
    const versions = (sandbox.store.vaults.get(BENCH_VAULT)?.keys.get(BENCH_KEY)?.versions ?? []).map((v) =>
      v.version.toLowerCase(),
    );
    if (versions.length !== options.versions) {
      throw new Error(`the bench key has ${versions.length} versions, expected ${options.versions}`);
    }
    const to = new Date();
    const from = new Date(to.getTime() - settings.quietPeriodMs - settings.ingestionMarginMs);
    const client = runtime.factory.logs();

    const batched = async (): Promise<{ uses: UsesPerVersion; queries: number }> => {
      const counter = countingLogs(client);
      const evidence = await createAuditLogReader(counter.api).readEvidence({
        workspaceId: vault.workspaceId,
        table: vault.auditTable,
        keys: [key],
        servicePrincipalId: settings.servicePrincipalId,
        from,
        to,
      });
      const found = evidence[keyRefId(key)];
      if (!found?.complete)
        throw new Error(`the batched audit query was incomplete: ${found?.problem ?? "no evidence"}`);
      return { uses: new Map(found.uses.map((use) => [use.version, use.count])), queries: counter.count() };
    };

    const perVersion = async (): Promise<{ uses: UsesPerVersion; queries: number }> => {
      const counter = countingLogs(client);
      const serviceQuery = auditQueryText(vault.auditTable, [key], settings.servicePrincipalId);
      const uses: UsesPerVersion = new Map();
      for (const version of versions) {
        const result = await counter.api.queryWorkspace(
          vault.workspaceId,
          perVersionQueryText(serviceQuery, version),
          {
            startTime: from,
            endTime: to,
          },
        );
        const [table] = result.tables ?? [];
        if (result.status !== "Success" || !table) {
          throw new Error(`the per-version audit query for version ${version} answered ${result.status}`);
        }
        const names = table.columnDescriptors.map((descriptor) => descriptor.name);
        const own = column(names, "Own");
        const count = column(names, "Uses");
        for (const row of table.rows) {
          // The service's own operations are the canary, not use (a crypto call under its identity is use).
          if (row[own] === true) continue;
          uses.set(version, (uses.get(version) ?? 0) + Number(row[count]));
        }
      }
      return { uses, queries: counter.count() };
    };

    const measure = async (
      name: string,
      variant: () => Promise<{ uses: UsesPerVersion; queries: number }>,
    ): Promise<{ variant: AuditVariant; uses: UsesPerVersion }> => {
      const first = await variant(); // warm-up, and the answer both variants must agree on
      const runsMs: number[] = [];
      for (let run = 0; run < options.repetitions; run++) runsMs.push((await timed(variant)).ms);
      return {
        variant: { name, queries: first.queries, medianMs: median(runsMs), runsMs },
        uses: first.uses,
      };
    };

    const one = await measure(`batched (the service: one query per workspace)`, batched);
    const naive = await measure(`per version (naive: one query per version)`, perVersion);
    for (const version of versions) {
      const expected = options.usesPerVersion;
      const counts = [one.uses.get(version) ?? 0, naive.uses.get(version) ?? 0];
      if (counts.some((count) => count !== expected)) {
        throw new Error(
          `audit query cost: version ${version} has ${expected} recorded uses, but the batched query counted ${counts[0]} and the per-version queries ${counts[1]}`,
        );
      }
    }
    return { variants: [one.variant, naive.variant], records: sandbox.store.audit.length };
  } finally {
    await sandbox.close();
  }
}

export function auditTable(variants: readonly AuditVariant[]): string {
  const baseline = variants[0];
  if (!baseline) return "(no variants)";
  return formatTable(
    ["variant", "queries", "time (median)", "query ratio", "time ratio"],
    variants.map((variant) => [
      variant.name,
      String(variant.queries),
      milliseconds(variant.medianMs),
      ratio(variant.queries, baseline.queries),
      ratio(variant.medianMs, baseline.medianMs),
    ]),
  );
}
