/**
 * Benchmarks that measure in a fresh process (a cold pool, a heap limit, a script of its own):
 * `runJsonChild` runs it and reads the one JSON line it prints last; `printJsonResult` is that
 * child's side.
 */
import { spawn } from "node:child_process";

export interface ChildOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node ...args` and resolves with how it ended and what it printed. */
export function runChild(args: readonly string[], cwd?: string): Promise<ChildOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(cwd ? { cwd } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The last line a child printed, as JSON; `what` names the child in the error when it is not JSON. */
export function lastJsonLine<T>(outcome: ChildOutcome, what: string): T {
  try {
    return JSON.parse(outcome.stdout.trim().split("\n").at(-1) ?? "") as T;
  } catch {
    throw new Error(`${what} printed no result: ${outcome.stdout.slice(0, 300)}`);
  }
}

/** Runs `node ...args`, which must exit 0, and returns the JSON line it printed last. */
export async function runJsonChild<T>(args: readonly string[], what: string, cwd?: string): Promise<T> {
  const outcome = await runChild(args, cwd);
  if (outcome.code !== 0)
    throw new Error(`${what} exited ${outcome.code ?? outcome.signal}: ${outcome.stderr.trim()}`);
  return lastJsonLine<T>(outcome, what);
}

/** The child's side: prints the result as one JSON line and exits 0, or the error and exits 1. */
export function printJsonResult(result: Promise<unknown>): void {
  result.then(
    (value) => {
      process.stdout.write(`${JSON.stringify(value)}\n`);
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
