/**
 * The stack each benchmark runs on, assembled exactly like `npm start` does it: the
 * in-process sandbox (Azure on loopback), Azurite for the journal and key leases, and the
 * service's runtime built from sandbox-sized settings with the sandbox transport. Only
 * loopback is ever contacted.
 */
import { randomUUID } from "node:crypto";
import type { AzuriteTables } from "../sandbox/azurite.js";
import { sandboxSettings } from "../sandbox/local/sandboxEnvironment.js";
import type { RunningSandbox } from "../sandbox/server.js";
import type { AzureApi, AzureRequestInfo } from "../src/azure/pipelinePolicies.js";
import type { Clock } from "../src/lock/keyLease.js";
import type { RotatorLog } from "../src/rotation/log.js";
import { silentLog } from "../src/rotation/log.js";
import { buildRuntime, type Runtime } from "../src/runtime.js";
import { noMetrics, type RotatorMetrics } from "../src/telemetry/rotatorMetrics.js";

export interface BenchRuntimeOptions {
  /** ROTATOR_* settings that differ from the sandbox defaults. */
  settings?: Record<string, string>;
  log?: RotatorLog;
  /** The service's clock (default the system's): the views bench simulates minutes with it. */
  clock?: Clock;
  metrics?: RotatorMetrics;
}

/** Counts every request the service's clients send (every attempt), by API, through the metrics hook. */
export class RequestCounter {
  readonly byApi = new Map<AzureApi, number>();
  readonly byStatus = new Map<string, number>();
  readonly metrics: RotatorMetrics = {
    ...noMetrics,
    azureRequest: (info: AzureRequestInfo) => {
      this.byApi.set(info.api, (this.byApi.get(info.api) ?? 0) + 1);
      const status = `${info.api} ${info.method} ${info.status}`;
      this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    },
  };

  total(): number {
    return [...this.byApi.values()].reduce((sum, count) => sum + count, 0);
  }

  reset(): void {
    this.byApi.clear();
    this.byStatus.clear();
  }

  snapshot(): Map<AzureApi, number> {
    return new Map(this.byApi);
  }
}

/**
 * The service's runtime over `sandbox`, with the settings `npm start` uses plus `overrides`,
 * a fresh journal table, and a quiet period of a day so that nothing is retired during a
 * bench run.
 */
export function benchRuntime(
  sandbox: RunningSandbox,
  azurite: AzuriteTables,
  options: BenchRuntimeOptions = {},
): Runtime {
  const env = {
    ...sandboxSettings(sandbox, azurite.connectionString),
    ROTATOR_QUIET_PERIOD: "P1D",
    ROTATOR_JOURNAL_TABLE: `bench${randomUUID().replaceAll("-", "").slice(0, 16)}`,
    ...options.settings,
  };
  return buildRuntime({
    transport: sandbox.transport("rotator"),
    env,
    log: options.log ?? silentLog,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
}

/** Waits until no consumer has a long-running update in flight (polls the sandbox store). */
export async function untilNoUpdateInFlight(sandbox: RunningSandbox, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const busy = [...sandbox.store.armResources.values()].filter((resource) => resource.pendingUpdate);
    if (busy.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `${busy.length} consumer update(s) still in flight after ${timeoutMs} ms (first: ${busy[0]?.id}); the sandbox's long-running operations did not finish`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
