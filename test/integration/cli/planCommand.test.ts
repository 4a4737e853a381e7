/**
 * The plan command against the built-in sandbox: in process through `main` with an output
 * sink, and once as a real process through the package bin (needs `npm run build`, which
 * `npm test` runs first).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { startSandboxEnvironment } from "../../../sandbox/local/sandboxEnvironment.js";
import { main } from "../../../src/cli/main.js";
import { NO_SANDBOX_MESSAGE, type PlanDocument, SANDBOX_NOTICE } from "../../../src/cli/planCommand.js";

const sandbox = () => startSandboxEnvironment({ log: () => undefined });

const root = fileURLToPath(new URL("../../../", import.meta.url));
const bin = `${root}bin/cmk-rotator.js`;
const builtCli = `${root}dist/src/cli/main.js`;

function withoutRotatorSettings(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("ROTATOR_")));
}

describe("cmk-rotator plan against the built-in sandbox", () => {
  it("says first that it uses the sandbox, then prints every seeded key as a table", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["plan"], {}, { out: (t) => out.push(t), err: (t) => err.push(t) }, { sandbox });
    expect(code, err.join("\n")).toBe(0);
    expect(out[0]).toBe(SANDBOX_NOTICE);
    const table = out.slice(1).join("\n");
    expect(table).toMatch(/^5 keys, \d+ pending action/);
    for (const key of [
      "kv-cmk-1/adx-key",
      "kv-cmk-1/cosmos-key",
      "kv-cmk-1/cassandra-disk-key",
      "kv-cmk-1/cassandra-backup-key",
      "hsm-cmk-1/cosmos-hsm-key",
    ]) {
      expect(table).toContain(`${key}  (`);
    }
    expect(table).toMatch(/adx-pinned\s+kusto\s+key\s+[0-9a-f]{8}/);
    expect(table).toMatch(/adx-latest\s+kusto\s+key\s+latest\s+.*follows-latest/);
    // Cosmos DB accounts are followers: never pinned.
    expect(table).toMatch(/cosmos-periodic\s+cosmos\s+key\s+latest\s+.*follows-latest/);
  });

  it("prints the same plan as JSON from the package bin, changing nothing", async () => {
    expect(existsSync(builtCli), `${builtCli} is missing: run npm run build first`).toBe(true);
    const child = spawn(process.execPath, [bin, "plan", "--json"], {
      cwd: root,
      env: withoutRotatorSettings(process.env),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
    expect(stderr.split("\n")[0]).toBe(SANDBOX_NOTICE);
    const document = JSON.parse(stdout) as PlanDocument;
    expect(document.environment).toBe("sandbox");
    expect(document.keys.map((key) => key.id)).toEqual([
      "hsm-cmk-1/cosmos-hsm-key",
      "kv-cmk-1/adx-key",
      "kv-cmk-1/cassandra-backup-key",
      "kv-cmk-1/cassandra-disk-key",
      "kv-cmk-1/cosmos-key",
    ]);
    const adx = document.keys.find((key) => key.id === "kv-cmk-1/adx-key");
    expect(adx?.versions).toHaveLength(2);
    expect(adx?.versions.every((version) => version.state === "enabled")).toBe(true);
  });
});

describe("cmk-rotator plan in a production install", () => {
  it("without ROTATOR_* settings and without the sandbox, says what to set and plans nothing", async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["plan"], {}, { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(code).toBe(1);
    expect(out).toEqual([]);
    expect(err).toEqual([NO_SANDBOX_MESSAGE]);
  });
});
