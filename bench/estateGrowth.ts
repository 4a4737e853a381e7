/**
 * Benchmark 11, costs that grow with the estate: the planner and the views over an observation
 * of 100 keys and 1,000 consumers against one ten times that size (in memory, no sandbox: this
 * is the service's own CPU), and the journal reads of a view.
 *
 *   plan + views          plan(snapshot) then buildKeyViews, what every view and run does
 *   per-key scan (before) the pass over every consumer per key that gathering a key's pins
 *                         made until now, written only here as the peer: it grows as keys x consumers
 *   journal reads         the recent entries of 100 keys from Azurite: one after another (before)
 *                         against the view's bounded concurrent reads (8 at a time, now)
 */
import type { AzuriteTables } from "../sandbox/azurite.js";
import { TableJournal } from "../src/journal/journal.js";
import { openRotatorTable } from "../src/journal/rotatorTable.js";
import { mapLimited } from "../src/mapLimited.js";
import type { AuditEvidence, ConsumerSnapshot, KeyRef, KeySnapshot, Policy, Snapshot } from "../src/model.js";
import { keyRefId } from "../src/model.js";
import { pinsKey } from "../src/plan/keyContext.js";
import { plan } from "../src/plan/plan.js";
import { buildKeyViews } from "../src/plan/view.js";
import { formatTable, median, milliseconds, timed } from "./benchTable.js";

export interface EstateGrowthOptions {
  sizes: readonly { keys: number; consumers: number }[];
  repetitions: number;
  journalKeys: number;
  journalEntries: number;
}

export interface GrowthRow {
  keys: number;
  consumers: number;
  planAndViewsMs: number;
  perKeyScanMs: number;
}

export interface JournalRow {
  label: string;
  ms: number;
}

const DAY = 24 * 3600 * 1000;
const POLICY: Policy = {
  quietPeriodMs: DAY,
  emergencyQuietPeriodMs: 3600 * 1000,
  ingestionMarginMs: 1800 * 1000,
  maxIngestionLatencyMs: 1200 * 1000,
  servicePrincipalId: "11111111-1111-1111-1111-111111111111",
  mode: "enforce",
  minRsaBits: { kusto: 2048, cosmos: 3072, cassandra: 2048 },
  acceptedRsaBits: { kusto: [2048] },
};

function version(index: number): string {
  return index.toString(16).padStart(32, "0");
}

/** An observation of `keys` keys (two versions each) and `consumers` Kusto clusters, round-robin, lagging one version. */
export function syntheticSnapshot(keys: number, consumers: number, now: Date): Snapshot {
  const refs: KeyRef[] = Array.from({ length: keys }, (_, index) => ({
    vaultUrl: "https://kv-bench.vault.azure.net/",
    vaultName: "kv-bench",
    hostKind: "vault",
    keyName: `bench-key-${index}`,
  }));
  const keySnapshots: KeySnapshot[] = refs.map((key) => ({
    key,
    currentVersion: version(2),
    versions: [1, 2].map((n) => ({
      version: version(n),
      kid: `${key.vaultUrl}keys/${key.keyName}/${version(n)}`,
      enabled: true,
      created: new Date(now.getTime() - (n === 1 ? 30 : 2) * DAY),
      keyType: "RSA",
      keySize: 2048,
      keyOps: ["wrapKey", "unwrapKey"],
      tags: {},
      recoveryLevel: "Recoverable",
    })),
  }));
  const consumerSnapshots: ConsumerSnapshot[] = Array.from({ length: consumers }, (_, index) => ({
    id: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx${index}`,
    kind: "kusto",
    subscriptionId: "00000000-0000-0000-0000-000000000001",
    pins: [{ pin: "key", key: refs[index % keys] as KeyRef, version: version(1) }],
    inUse: {},
    provisioningState: "Succeeded",
  }));
  const evidence: Record<string, AuditEvidence> = Object.fromEntries(
    refs.map((key) => [
      keyRefId(key),
      {
        key,
        workspaceId: "22222222-2222-2222-2222-222222222222",
        complete: true,
        from: new Date(now.getTime() - 2 * DAY),
        to: now,
        canarySeenAt: now,
        canaryFirstSeenAt: new Date(now.getTime() - 2 * DAY),
        uses: [],
      },
    ]),
  );
  return { observedAt: now, keys: keySnapshots, consumers: consumerSnapshots, evidence, unreadableKeys: {} };
}

export async function measureEstateGrowth(
  azurite: AzuriteTables,
  options: EstateGrowthOptions,
): Promise<{ growth: GrowthRow[]; journal: JournalRow[] }> {
  const now = new Date();
  const growth: GrowthRow[] = [];
  for (const size of options.sizes) {
    const planRuns: number[] = [];
    const scanRuns: number[] = [];
    for (let run = 0; run <= options.repetitions; run++) {
      // A new snapshot each time: the pin index is built once per observation, as in the service.
      const snapshot = syntheticSnapshot(size.keys, size.consumers, now);
      const planned = await timed(async () => {
        const made = plan(snapshot, POLICY, now);
        const views = buildKeyViews(snapshot, made, now);
        if (views.length !== size.keys)
          throw new Error(`estate growth: ${views.length} views for ${size.keys} keys`);
        return made;
      });
      const repoints = planned.result.actions.filter((action) => action.type === "repoint").length;
      if (repoints !== size.consumers)
        throw new Error(
          `estate growth: ${repoints} repoints planned for ${size.consumers} lagging consumers`,
        );
      const scanned = await timed(async () => {
        let pins = 0;
        for (const keySnapshot of snapshot.keys)
          for (const consumer of snapshot.consumers)
            pins += consumer.pins.filter((pin) => pinsKey(pin, keySnapshot.key)).length;
        return pins;
      });
      if (run === 0) continue; // warm-up
      planRuns.push(planned.ms);
      scanRuns.push(scanned.ms);
    }
    growth.push({
      keys: size.keys,
      consumers: size.consumers,
      planAndViewsMs: median(planRuns),
      perKeyScanMs: median(scanRuns),
    });
  }

  const table = openRotatorTable({
    connectionString: azurite.connectionString,
    tableName: `benchjournal${Date.now().toString(36)}`,
  });
  const journal = new TableJournal(table);
  const keyIds = Array.from({ length: options.journalKeys }, (_, index) => `kv-bench/bench-key-${index}`);
  await mapLimited(keyIds, 8, async (keyId) => {
    for (let entry = 0; entry < options.journalEntries; entry++) {
      await journal.record({
        at: new Date(now.getTime() - entry * 1000),
        keyId,
        action: "hold",
        outcome: "held",
        reason: "quiet-period-not-elapsed",
        message: "superseded less than the quiet period ago",
        runId: "bench",
        trigger: "bench",
        mode: "enforce",
        version: version(1),
      });
    }
  });
  await journal.recent(keyIds[0] as string, 20);
  const sequential = await timed(async () => {
    for (const keyId of keyIds) await journal.recent(keyId, 20);
  });
  const concurrent = await timed(() => mapLimited(keyIds, 8, (keyId) => journal.recent(keyId, 20)));
  return {
    growth,
    journal: [
      { label: `one after another (before), ${options.journalKeys} keys`, ms: sequential.ms },
      { label: `8 at a time (now), ${options.journalKeys} keys`, ms: concurrent.ms },
    ],
  };
}

export function growthTable(rows: readonly GrowthRow[]): string {
  const base = rows[0];
  if (!base) return "(no rows)";
  return formatTable(
    ["keys", "consumers", "plan + views", "growth", "per-key scan (before)", "growth (before)"],
    rows.map((row) => [
      String(row.keys),
      String(row.consumers),
      milliseconds(row.planAndViewsMs),
      `${(row.planAndViewsMs / base.planAndViewsMs).toFixed(1)}x`,
      milliseconds(row.perKeyScanMs),
      `${(row.perKeyScanMs / base.perKeyScanMs).toFixed(1)}x`,
    ]),
  );
}

export function journalTable(rows: readonly JournalRow[]): string {
  const base = rows[0];
  return formatTable(
    ["journal reads of a view", "time", "speedup"],
    rows.map((row) => [row.label, milliseconds(row.ms), base ? `${(base.ms / row.ms).toFixed(2)}x` : ""]),
  );
}
