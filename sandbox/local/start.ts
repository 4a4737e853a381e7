/**
 * `npm start`: the whole service on the sandbox, the way it runs in Azure.
 *
 *   Azurite (journal, leases)  ─┐
 *   sandbox (Azure on loopback) ├─> runtime (settings + sandbox transport) ─> local Functions host :7071
 *   webhook subscriptions      ─┘        every vault's system topic -> /runtime/webhooks/eventgrid
 *
 * Sandbox-sized settings (quiet period of minutes, timer every 30 s) apply unless a ROTATOR_*
 * variable in the environment says otherwise. Ctrl-C stops everything and leaves no process.
 */
import { allFunctions } from "../../functions/index.js";
import { installRuntime } from "../../src/runtime.js";
import type { AzuriteTables } from "../azurite.js";
import { sandboxControl } from "../controlClient.js";
import { sandboxReadyLine } from "../readyLine.js";
import type { RunningSandbox } from "../server.js";
import { type RunningFunctionsHost, startFunctionsHost } from "./functionsHost.js";
import { effectiveSettings, startSandboxEnvironment } from "./sandboxEnvironment.js";

export interface StartOptions {
  estateFile?: string;
  port: number;
  sandboxPort: number;
}

const USAGE = `usage: npm start [-- --estate FILE] [--port N] [--sandbox-port N]

Runs cmk-rotator locally on the sandbox (Azure on loopback):
  --estate FILE       seed the sandbox from another estate file (default: the built-in estate)
  --port N            port of the local Functions host (default 7071)
  --sandbox-port N    port of the sandbox (default: a free port)
Any ROTATOR_* environment variable overrides its sandbox default, e.g.
  ROTATOR_QUIET_PERIOD=PT30S npm start`;

export function parseStartArgs(argv: readonly string[]): StartOptions | "help" {
  const options: StartOptions = { port: 7071, sandboxPort: 0 };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const value = () => {
      const next = argv[++index];
      if (next === undefined || next.startsWith("--")) throw new Error(`${arg} needs a value\n\n${USAGE}`);
      return next;
    };
    const port = (raw: string) => {
      const parsed = Number(raw);
      if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
        throw new Error(`${arg} must be a port number; got "${raw}"`);
      return parsed;
    };
    if (arg === "--help" || arg === "-h") return "help";
    else if (arg === "--estate") options.estateFile = value();
    else if (arg === "--port") options.port = port(value());
    else if (arg === "--sandbox-port") options.sandboxPort = port(value());
    else throw new Error(`unknown argument "${arg}"\n\n${USAGE}`);
  }
  return options;
}

export interface LocalStack {
  sandbox: RunningSandbox;
  azurite: AzuriteTables;
  host: RunningFunctionsHost;
  settings: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts Azurite, the sandbox, the runtime and the local host, and wires Event Grid to the host. */
export async function startLocalStack(
  options: StartOptions,
  env: Record<string, string | undefined> = process.env,
): Promise<LocalStack> {
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    for (const part of started.reverse()) await part.stop().catch(() => undefined);
  };
  try {
    const environment = await startSandboxEnvironment({
      port: options.sandboxPort,
      ...(options.estateFile ? { estateFile: options.estateFile } : {}),
    });
    started.push({ stop: () => environment.close() });
    const { sandbox, azurite } = environment;
    const settings = effectiveSettings(environment.env, env);
    installRuntime({ transport: environment.transport, env: settings });
    const host = await startFunctionsHost({ functions: allFunctions, port: options.port, settings });
    started.push({ stop: () => host.close() });
    const endpoint = host.eventGridWebhook("keyVersionCreated");
    for (const vault of sandbox.store.vaults.values()) {
      if (vault.kind !== "vault") continue; // Managed HSMs emit no events: the timer sees their versions.
      const answer = await sandboxControl(sandbox, "POST", "/_sandbox/eventgrid/subscriptions", {
        vault: vault.name,
        endpoint,
        schema: "EventGridSchema",
      });
      if (answer.status >= 300)
        throw new Error(
          `Could not subscribe the local host to the events of vault "${vault.name}": the sandbox control API answered ${answer.status}: ${answer.text}`,
        );
    }
    return { sandbox, azurite, host, settings, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

function tryThis(stack: LocalStack): string {
  const { host, sandbox } = stack;
  const vault = [...sandbox.store.vaults.values()].find((candidate) => candidate.kind === "vault");
  const key = vault ? [...vault.keys.keys()][0] : undefined;
  const rotate =
    vault && key
      ? `${host.url}/api/keys/${vault.name}/${key}/rotate`
      : `${host.url}/api/keys/<vault>/<key>/rotate`;
  return [
    "",
    "cmk-rotator is running on the sandbox.",
    `  settings:   mode ${stack.settings.ROTATOR_MODE}, quiet period ${stack.settings.ROTATOR_QUIET_PERIOD}, timer "${stack.settings.ROTATOR_TIMER_SCHEDULE}"`,
    "  rotate a key now (emergency rotation):",
    `    curl -s -X POST -H "x-functions-key: ${host.functionKey}" -H "content-type: application/json" \\`,
    `      -d '{"reason":"trying cmk-rotator"}' ${rotate}`,
    `  the plan as JSON:   curl -s -H "x-functions-key: ${host.functionKey}" ${host.url}/api/keys`,
    `  the dashboard:      ${host.url}/api/dashboard?code=${encodeURIComponent(host.functionKey)}`,
    `  watch the consumers (sandbox state): curl -s --cacert ${sandbox.caFile} ${sandbox.stateUrl}`,
    `  run the reconcile timer now: curl -s -X POST -H "x-functions-key: ${host.masterKey}" -d '{}' ${host.url}/admin/functions/retireOldVersions`,
    "Ctrl-C stops everything.",
    "",
  ].join("\n");
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: StartOptions | "help";
  try {
    options = parseStartArgs(argv);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let stack: LocalStack;
  try {
    stack = await startLocalStack(options);
  } catch (error) {
    process.stderr.write(`npm start failed: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`${sandboxReadyLine(stack.sandbox)}\n`);
  process.stdout.write(`function key: ${stack.host.functionKey}\n`);
  process.stdout.write(`master key: ${stack.host.masterKey}\n`);
  process.stdout.write(tryThis(stack));
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`\n${signal}: stopping the local host, the sandbox and Azurite...\n`);
      stack.stop().finally(resolve);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  process.stdout.write("stopped.\n");
  return 0;
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`npm start failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
