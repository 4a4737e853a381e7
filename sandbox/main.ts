/**
 * `npm run sandbox [-- --estate FILE --port N]`: run the sandbox alone. Prints exactly one
 * line `sandbox ready {"port":…,"caFile":"…","stateUrl":"…"}` when it accepts requests,
 * then structured JSON log lines; Ctrl-C or SIGTERM stops it cleanly.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { sandboxReadyLine } from "./readyLine.js";
import { type SandboxLogEntry, startSandbox } from "./server.js";

function logLine(entry: SandboxLogEntry): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

function usageError(message: string): never {
  process.stderr.write(`${message}\nUsage: npm run sandbox [-- --estate FILE] [--port N]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  let values: { estate?: string; port?: string };
  try {
    ({ values } = parseArgs({
      options: { estate: { type: "string" }, port: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    usageError(`--port must be 0-65535, not "${values.port}".`);

  const sandbox = await startSandbox({
    port,
    ...(values.estate ? { estateFile: resolve(values.estate) } : {}),
    log: logLine,
  });
  process.stdout.write(`${sandboxReadyLine(sandbox)}\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logLine({ level: "info", msg: "stopping sandbox", signal });
    sandbox.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logLine({ level: "error", msg: "sandbox did not stop cleanly", error: String(error) });
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  logLine({
    level: "error",
    msg: "sandbox failed to start",
    error: error instanceof Error ? error.message : String(error),
  });
  process.exit(1);
});
