/**
 * The built-in sandbox as an environment the service runs against: the in-process sandbox,
 * Azurite for the service's table, and the ROTATOR_* settings that point the service at them,
 * derived from what the sandbox was seeded with. `npm start`, the plan command, the benchmarks
 * and the end-to-end tests all start it here.
 */
import type { AzureTransport } from "../../src/azure/transport.js";
import { type AzuriteTables, startAzuriteTables } from "../azurite.js";
import { type RunningSandbox, type SandboxLogger, startSandbox } from "../server.js";

export interface SandboxEnvironment {
  /** Sandbox-sized ROTATOR_* settings for this sandbox and Azurite. */
  env: Record<string, string>;
  /** The service's own transport (identity "rotator"). */
  transport: AzureTransport;
  sandbox: RunningSandbox;
  azurite: AzuriteTables;
  close(): Promise<void>;
}

export interface SandboxEnvironmentOptions {
  estateFile?: string;
  /** Sandbox port; 0 (default) picks a free one. */
  port?: number;
  log?: SandboxLogger;
}

/** Settings that make a sandbox estate a complete, sandbox-sized configuration (quiet period of minutes). */
export function sandboxSettings(
  sandbox: RunningSandbox,
  journalConnectionString: string,
): Record<string, string> {
  const store = sandbox.store;
  const vaults = [...store.vaults.values()];
  const rotator = store.identityByName("rotator");
  if (!rotator) throw new Error('The estate has no identity named "rotator" (the service\'s own identity)');
  const topic = store.customTopics[0];
  if (!topic) throw new Error("The estate has no Event Grid custom topic for the outcome events");
  return {
    ROTATOR_MODE: "enforce",
    ROTATOR_QUIET_PERIOD: "PT5M",
    ROTATOR_EMERGENCY_QUIET_PERIOD: "PT2M",
    // Records arrive 1 to 4 s late in the default estate (simulation.ingestionLatencySeconds):
    // ROTATOR_MAX_INGESTION_LATENCY covers that, and the margin covers one timer interval (10 s)
    // plus that latency, so the previous run's own read proves the pipeline current.
    ROTATOR_INGESTION_MARGIN: "PT20S",
    ROTATOR_MAX_INGESTION_LATENCY: "PT5S",
    // Quiet periods of minutes (and, in the engine tests, seconds) are below the floor a real
    // estate must keep: the sandbox opts in explicitly, as any test estate has to.
    ROTATOR_ALLOW_SHORT_QUIET_PERIOD: "true",
    ROTATOR_TIMER_SCHEDULE: "*/10 * * * * *",
    ROTATOR_MANAGED_VAULTS: vaults.map((vault) => vault.uri.replace(/\/$/, "")).join(","),
    // An estate subscription marked `watched: false` is one the service is not told about.
    ROTATOR_SUBSCRIPTIONS: store.subscriptions
      .filter((subscription) => subscription.watched !== false)
      .map((subscription) => subscription.id)
      .join(","),
    ROTATOR_AUDIT_WORKSPACES: vaults.map((vault) => `${vault.name}=${vault.workspaceId}`).join(","),
    ROTATOR_AUDIT_TABLE: "AzureDiagnostics",
    ROTATOR_SERVICE_PRINCIPAL_ID: rotator.objectId,
    // Views (and the dashboard's reload) a few seconds old at most: a sandbox's consumers move in seconds.
    ROTATOR_VIEW_MAX_AGE: "PT5S",
    ROTATOR_JOURNAL_CONNECTION_STRING: journalConnectionString,
    ROTATOR_JOURNAL_TABLE: "rotatorjournal",
    ROTATOR_EVENTS_TOPIC_ENDPOINT: `https://${topic.host}/api/events`,
    ROTATOR_EVENTS_TOPIC_KEY: topic.accessKey,
  };
}

/** The sandbox defaults, overridden by any ROTATOR_* variable of `env`. */
export function effectiveSettings(
  defaults: Record<string, string>,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const settings = { ...defaults };
  for (const [name, value] of Object.entries(env)) {
    if (name.startsWith("ROTATOR_") && value !== undefined) settings[name] = value;
  }
  // The journal is configured by exactly one of these: an override of one replaces the other.
  if (
    env.ROTATOR_JOURNAL_TABLE_ENDPOINT !== undefined &&
    env.ROTATOR_JOURNAL_CONNECTION_STRING === undefined
  ) {
    delete settings.ROTATOR_JOURNAL_CONNECTION_STRING;
  }
  return settings;
}

/** Starts Azurite and the sandbox; `close` stops both. */
export async function startSandboxEnvironment(
  options: SandboxEnvironmentOptions = {},
): Promise<SandboxEnvironment> {
  const azurite = await startAzuriteTables();
  let sandbox: RunningSandbox;
  try {
    sandbox = await startSandbox({
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.estateFile ? { estateFile: options.estateFile } : {}),
      ...(options.log ? { log: options.log } : {}),
    });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  return {
    env: sandboxSettings(sandbox, azurite.connectionString),
    transport: sandbox.transport("rotator"),
    sandbox,
    azurite,
    close: async () => {
      await Promise.allSettled([sandbox.close(), azurite.stop()]);
    },
  };
}
