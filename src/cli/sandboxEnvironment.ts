/**
 * The built-in sandbox as an environment the service can run against: the in-process
 * sandbox (default estate), Azurite for the service's table, and the ROTATOR_* settings
 * that point the service at them, derived from what the sandbox was seeded with.
 */
import type { AzureTransport } from "../azure/transport.js";
import type { RunningSandbox, SandboxLogger } from "../sandbox/server.js";
import { startSandbox } from "../sandbox/server.js";
import { startAzuriteTables } from "../testing/azurite.js";

export interface SandboxEnvironment {
  env: Record<string, string>;
  transport: AzureTransport;
  sandbox: RunningSandbox;
  close(): Promise<void>;
}

/** Sandbox-sized timings: a quiet period of minutes instead of a day. */
const SANDBOX_TIMINGS = {
  ROTATOR_QUIET_PERIOD: "PT5M",
  ROTATOR_EMERGENCY_QUIET_PERIOD: "PT2M",
  ROTATOR_INGESTION_MARGIN: "PT5M",
  ROTATOR_TIMER_SCHEDULE: "*/30 * * * * *",
};

/** ROTATOR_* settings for the service against a running sandbox, using its seeded vaults, workspaces and topic. */
export function sandboxRotatorEnv(
  sandbox: RunningSandbox,
  journalConnectionString: string,
): Record<string, string> {
  const store = sandbox.store;
  const vaults = [...store.vaults.values()];
  const rotator = store.identityByName("rotator");
  const topic = store.customTopics[0];
  if (!rotator)
    throw new Error("the sandbox estate has no identity named rotator: add it to the estate file");
  if (!topic)
    throw new Error("the sandbox estate has no Event Grid custom topic for the service's outcome events");
  return {
    ...SANDBOX_TIMINGS,
    ROTATOR_MODE: "enforce",
    ROTATOR_MANAGED_VAULTS: vaults.map((vault) => vault.uri.replace(/\/$/, "")).join(","),
    ROTATOR_SUBSCRIPTIONS: store.subscriptions.map((subscription) => subscription.id).join(","),
    ROTATOR_AUDIT_WORKSPACES: vaults.map((vault) => `${vault.name}=${vault.workspaceId}`).join(","),
    ROTATOR_SERVICE_PRINCIPAL_ID: rotator.objectId,
    ROTATOR_JOURNAL_CONNECTION_STRING: journalConnectionString,
    ROTATOR_JOURNAL_TABLE: "rotator",
    ROTATOR_EVENTS_TOPIC_ENDPOINT: `https://${topic.host}/api/events`,
    ROTATOR_EVENTS_TOPIC_KEY: topic.accessKey,
  };
}

/** Starts the sandbox and Azurite; `close` stops both. */
export async function startSandboxEnvironment(log?: SandboxLogger): Promise<SandboxEnvironment> {
  const sandbox = await startSandbox(log ? { log } : {});
  let azurite: Awaited<ReturnType<typeof startAzuriteTables>>;
  try {
    azurite = await startAzuriteTables();
  } catch (error) {
    await sandbox.close();
    throw error;
  }
  return {
    env: sandboxRotatorEnv(sandbox, azurite.connectionString),
    transport: sandbox.transport("rotator"),
    sandbox,
    close: async () => {
      await Promise.allSettled([sandbox.close(), azurite.stop()]);
    },
  };
}
