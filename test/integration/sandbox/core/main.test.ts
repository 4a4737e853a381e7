import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../../../../sandbox/projectPaths.js";

/**
 * The sandbox sources are transpiled without type-checking (fast; `npm test` type-checks
 * everything) into the ignored test-artifacts folder, so the test runs what `npm run
 * sandbox` runs from dist/ without a whole-project build.
 */
const buildRoot = join(packageRoot, "test-artifacts", "sandbox-main-build");
const mainJs = join(buildRoot, "sandbox", "main.js");

function typeScriptFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

function buildSandboxMain(): void {
  // The sandbox imports nothing from src/ at run time (only types from src/azure); the local
  // host in sandbox/local/ runs the service and is not part of `npm run sandbox`.
  for (const source of typeScriptFiles(join(packageRoot, "sandbox")).filter(
    (file) => !file.startsWith(join(packageRoot, "sandbox", "local")),
  )) {
    const output = ts.transpileModule(readFileSync(source, "utf8"), {
      fileName: source,
      compilerOptions: {
        module: ts.ModuleKind.ES2022,
        target: ts.ScriptTarget.ES2023,
        esModuleInterop: true,
      },
    });
    const target = join(buildRoot, relative(packageRoot, source)).replace(/\.ts$/, ".js");
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, output.outputText);
  }
}

interface Ready {
  port: number;
  caFile: string;
  stateUrl: string;
}

function startMain(args: string[]): { child: ChildProcessWithoutNullStreams; firstLine: Promise<string> } {
  const child = spawn(process.execPath, [mainJs, ...args], { cwd: packageRoot });
  const lines = createInterface({ input: child.stdout });
  const firstLine = new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", (code) =>
      reject(new Error(`sandbox exited with ${code}: ${child.stderr.read() ?? ""}`)),
    );
  });
  return { child, firstLine };
}

function getJson(url: string, caPem: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    request(url, { ca: caPem }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        }),
      );
    })
      .on("error", reject)
      .end();
  });
}

function exitCode(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once("exit", (code) => resolve(code));
  });
}

describe("npm run sandbox (dist main)", () => {
  let running: ReturnType<typeof startMain> | undefined;

  beforeAll(() => {
    buildSandboxMain();
  });
  afterAll(() => {
    if (running && running.child.exitCode === null) running.child.kill("SIGKILL");
  });

  it("prints one ready line with port, CA file and state URL, serves the state, and stops on SIGTERM", async () => {
    running = startMain(["--port", "0"]);
    const line = await running.firstLine;
    expect(line).toMatch(/^sandbox ready \{.*\}$/);
    const ready = JSON.parse(line.slice("sandbox ready ".length)) as Ready;
    expect(ready.port).toBeGreaterThan(0);
    expect(ready.stateUrl).toBe(`https://localhost:${ready.port}/_sandbox/state`);
    const state = await getJson(ready.stateUrl, readFileSync(ready.caFile, "utf8"));
    expect(state.status).toBe(200);
    expect(JSON.stringify(state.body)).toContain("kv-cmk-1");
    running.child.kill("SIGTERM");
    expect(await exitCode(running.child)).toBe(0);
  });

  it("refuses a bad port with a usage message", async () => {
    const child = spawn(process.execPath, [mainJs, "--port", "http"], { cwd: packageRoot });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    expect(await exitCode(child)).toBe(2);
    expect(stderr).toContain("--port must be 0-65535");
  });
});
