/**
 * Benchmark 12, time to restore: a stale Kusto cluster in a subscription the service is not told
 * about (so only the audit logs can reveal it) unwraps a version the service disabled; the timer
 * reconciles every I; audit records arrive with a per-record latency drawn from [Lmin, L]. The
 * time measured runs from its first failed unwrap (the sandbox's record of the 403) to the
 * version's cmk-rotator-restored-at tag, for several trials, next to the README's bound L + I.
 * Scaled to seconds so the section runs in well under a minute: in Azure the same bound is
 * ROTATOR_MAX_INGESTION_LATENCY plus the timer interval (README, "The way back").
 */
import { updateIngestion } from "../sandbox/audit.js";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { requestUnwrapNow } from "../sandbox/consumers/consumerSimulation.js";
import { defaultEstate } from "../sandbox/seed.js";
import { startSandbox } from "../sandbox/server.js";
import { TAGS } from "../src/model.js";
import { benchRuntime } from "./benchStack.js";
import { formatTable, median, milliseconds } from "./benchTable.js";

export interface TimeToRestoreOptions {
  /** Per-record ingestion latency range, seconds. */
  latencySeconds: { min: number; max: number };
  /** The timer interval, seconds. */
  intervalSeconds: number;
  trials: number;
}

export interface TimeToRestoreResult {
  trialsMs: number[];
  boundMs: number;
  /** How many reconciles each trial took until the version was enabled. */
  reconciles: number[];
}

const HIDDEN = "00000000-0000-0000-0000-0000000000bb";
const STALE_OID = "66666666-0000-0000-0000-0000000000bb";
const STALE = `/subscriptions/${HIDDEN}/resourceGroups/rg-hidden/providers/Microsoft.Kusto/clusters/adx-stale`;
const VAULT = "kv-cmk-1";
const KEY = "adx-key";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureTimeToRestore(
  azurite: AzuriteTables,
  options: TimeToRestoreOptions,
): Promise<TimeToRestoreResult> {
  const estate = defaultEstate();
  estate.simulation = { ...estate.simulation, unwrapIntervalSeconds: 3600 };
  estate.subscriptions.push({ id: HIDDEN, resourceGroups: ["rg-hidden"], watched: false });
  estate.identities.push({
    name: "uai-adx-stale",
    objectId: STALE_OID,
    userAssigned: { subscriptionId: HIDDEN, resourceGroup: "rg-hidden" },
  });
  estate.roleAssignments.push({
    principal: "uai-adx-stale",
    role: "Key Vault Crypto Service Encryption User",
    scope: `key:${VAULT}/${KEY}`,
  });
  // It pins the key's older version, which no other consumer uses, and calls only when told to (a
  // rare caller): the bench makes it reappear as POST /_sandbox/consumers/unwrap does.
  estate.consumers.push({
    kind: "kusto",
    name: "adx-stale",
    subscriptionId: HIDDEN,
    resourceGroup: "rg-hidden",
    location: "westeurope",
    identity: "uai-adx-stale",
    key: { vault: VAULT, key: KEY, version: 0 },
    enableAutoStop: false,
    behaviour: { unwrapIntervalSeconds: 86_400 },
  });
  const sandbox = await startSandbox({ estate, log: () => undefined });
  try {
    updateIngestion(sandbox.store, { latencySeconds: options.latencySeconds });
    const latency = `PT${options.latencySeconds.max}S`;
    const runtime = benchRuntime(sandbox, azurite, {
      settings: {
        ROTATOR_QUIET_PERIOD: "PT1H",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "PT1H",
        ROTATOR_MAX_INGESTION_LATENCY: latency,
        ROTATOR_INGESTION_MARGIN: `PT${options.latencySeconds.max + options.intervalSeconds}S`,
        ROTATOR_RESTORE_WATCH: "PT1H",
      },
    });
    const key = runtime.service.managedKey(VAULT, KEY);
    const client = runtime.factory.keys(key.vaultUrl);
    const stale = sandbox.store.consumers.get(STALE.toLowerCase());
    if (!stale) throw new Error("time to restore: the stale consumer was not seeded");
    const version = stale.usage[0]?.version;
    if (!version) throw new Error("time to restore: the stale consumer uses no version");
    const result: TimeToRestoreResult = {
      trialsMs: [],
      boundMs: (options.latencySeconds.max + options.intervalSeconds) * 1000,
      reconciles: [],
    };
    const versionNow = () =>
      sandbox.store.vaults
        .get(VAULT)
        ?.keys.get(KEY)
        ?.versions.find((v) => v.version === version);
    // Its first call (at start, on the enabled version) is behind it before the first disable.
    const startDeadline = Date.now() + 20_000;
    while (!sandbox.store.audit.some((record) => record.callerObjectId === STALE_OID)) {
      if (Date.now() > startDeadline)
        throw new Error("time to restore: the stale consumer never made its first call");
      await sleep(20);
    }
    for (let trial = 0; trial < options.trials; trial++) {
      const disabledAt = Date.now();
      // The service's disable, as apply writes it (the evidence tags say it was the service's).
      await client.updateKeyProperties(KEY, version, {
        enabled: false,
        tags: {
          [TAGS.disabledBy]: `cmk-rotator bench run ${trial}`,
          [TAGS.disabledAt]: new Date().toISOString(),
        },
      });
      await runtime.service.unfreezeKey({ vault: VAULT, key: KEY, reason: "next trial" });
      const failuresBefore = stale.failures.length;
      // Mid-interval, so the trials do not all start on a timer tick.
      await sleep((trial * 1700) % (options.intervalSeconds * 1000));
      requestUnwrapNow(sandbox.store, { id: STALE });
      const deadline = Date.now() + 20_000;
      while (stale.failures.length === failuresBefore) {
        if (Date.now() > deadline) throw new Error("time to restore: the stale consumer never called");
        await sleep(20);
      }
      // The first failed use since the disable (a call of its own cadence would count too).
      const failedAt = Math.min(
        ...stale.failures.filter((failure) => failure.at >= disabledAt).map((failure) => failure.at),
      );
      let reconciles = 0;
      for (;;) {
        const tickStarted = Date.now();
        await runtime.service.reconcileAll("timer");
        reconciles++;
        if (versionNow()?.enabled) break;
        if (Date.now() - failedAt > 4 * result.boundMs)
          throw new Error(
            `time to restore: version ${version} still disabled after ${4 * result.boundMs} ms`,
          );
        await sleep(Math.max(0, options.intervalSeconds * 1000 - (Date.now() - tickStarted)));
      }
      const restoredAt = Date.parse(versionNow()?.tags[TAGS.restoredAt] ?? "");
      if (Number.isNaN(restoredAt))
        throw new Error("time to restore: the restored version has no restored-at tag");
      result.trialsMs.push(restoredAt - failedAt);
      result.reconciles.push(reconciles);
    }
    return result;
  } finally {
    await sandbox.close();
  }
}

export function timeToRestoreTable(result: TimeToRestoreResult): string {
  return formatTable(
    ["trial", "first failed use → enabled", "reconciles", "bound (L + I)", "within bound"],
    [
      ...result.trialsMs.map((ms, index) => [
        String(index + 1),
        milliseconds(ms),
        String(result.reconciles[index] ?? 0),
        milliseconds(result.boundMs),
        ms <= result.boundMs ? "yes" : "NO",
      ]),
      ["median", milliseconds(median(result.trialsMs)), "", milliseconds(result.boundMs), ""],
    ],
  );
}
