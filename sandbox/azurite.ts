/**
 * Starts Azurite's Table service for tests and local runs: in memory, on loopback, on a free
 * port, as a child process running the project's own Node 22 (Azurite needs it). The journal,
 * the key leases and the idempotency records all live in one table there.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Azurite's well-known development account (public, documented; not a secret). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteTables {
  port: number;
  /** Connection string for `ROTATOR_JOURNAL_CONNECTION_STRING`. */
  connectionString: string;
  stop(): Promise<void>;
}

export interface StartAzuriteOptions {
  /** Port to listen on; a free one is picked when absent. */
  port?: number;
  /** How long to wait for Azurite to say it started. Default 30 s. */
  startTimeoutMs?: number;
}

export function azuriteConnectionString(port: number): string {
  return [
    "DefaultEndpointsProtocol=http",
    `AccountName=${AZURITE_ACCOUNT}`,
    `AccountKey=${AZURITE_ACCOUNT_KEY}`,
    `TableEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`,
  ].join(";");
}

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the project root (package.json) above sandbox/azurite");
    dir = parent;
  }
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function waitForStart(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolveStart, reject) => {
    let output = "";
    const timer = setTimeout(
      () => fail(new Error(`Azurite did not start within ${timeoutMs} ms: ${output}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.includes("successfully started")) {
        cleanup();
        resolveStart();
      }
    };
    const onExit = (code: number | null) =>
      fail(new Error(`Azurite exited with code ${code} before it started: ${output.trim()}`));
    function cleanup() {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
    }
    function fail(error: Error) {
      cleanup();
      reject(error);
    }
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

async function startOnce(port: number, timeoutMs: number): Promise<AzuriteTables> {
  const root = projectRoot();
  const node = join(root, "node_modules", ".bin", "node");
  const main = resolve(root, "node_modules", "azurite", "dist", "src", "table", "main.js");
  const child = spawn(
    existsSync(node) ? node : process.execPath,
    [
      main,
      "--inMemoryPersistence",
      "--tableHost",
      "127.0.0.1",
      "--tablePort",
      String(port),
      "--skipApiVersionCheck",
      "--loose",
      "--disableTelemetry",
    ],
    { stdio: ["ignore", "pipe", "pipe"], cwd: root },
  );
  try {
    await waitForStart(child, timeoutMs);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  // Keep draining output so a chatty Azurite never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    port,
    connectionString: azuriteConnectionString(port),
    stop: () =>
      new Promise<void>((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolveStop();
        child.once("exit", () => resolveStop());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}

/** Starts Azurite's Table service; retries on another free port if the picked one was taken meanwhile. */
export async function startAzuriteTables(options: StartAzuriteOptions = {}): Promise<AzuriteTables> {
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  if (options.port !== undefined) return startOnce(options.port, timeoutMs);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(await freePort(), timeoutMs);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}
