/**
 * The stack as a user starts it: `npm start` as a child process, in its own process group
 * (as a terminal runs it), with a shortened quiet period. Rotate a key over HTTP with the
 * printed function key, watch the consumers move in the sandbox state, watch the old version
 * get disabled with evidence tags, then Ctrl-C and check that no process is left.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

interface SandboxVersionState {
  version: string;
  enabled: boolean;
  tags: Record<string, string>;
}
interface SandboxState {
  vaults: { name: string; keys: { name: string; versions: SandboxVersionState[] }[] }[];
  consumers: {
    id: string;
    kind: string;
    pins: Record<string, { vault: string; key: string; version?: string }>;
    inUse: { pin: string; key: string; version: string }[];
  }[];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

function getJson<T>(url: string, ca: string): Promise<T> {
  return new Promise((resolve, reject) => {
    httpsRequest(url, { ca }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")) as T);
        } catch (error) {
          reject(error);
        }
      });
    })
      .on("error", reject)
      .end();
  });
}

/** The stack's own exit is fatal to every wait: set once the child exits. */
let fatal: string | undefined;

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (fatal) throw new Error(`${fatal} while waiting for ${what}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}`);
}

function processGroupMembers(pgid: number): number[] {
  try {
    const out = execFileSync("ps", ["-o", "pid=", "-g", String(pgid)], { encoding: "utf8" });
    return out
      .split("\n")
      .map((line) => Number(line.trim()))
      .filter((pid) => pid > 0);
  } catch {
    return []; // ps exits 1 when no process matches
  }
}

let child: ChildProcess | undefined;
afterAll(() => {
  if (child?.pid && processGroupMembers(child.pid).length > 0) process.kill(-child.pid, "SIGKILL");
});

describe("npm start, end to end", () => {
  it("rotates over HTTP, repoints every pinned consumer, retires the old version on evidence, and stops cleanly", async () => {
    const port = await freePort();
    let output = "";
    child = spawn("npm", ["start", "--", "--port", String(port)], {
      cwd: root,
      detached: true, // its own process group, like a terminal's foreground job
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        ROTATOR_QUIET_PERIOD: "PT20S",
        ROTATOR_EMERGENCY_QUIET_PERIOD: "PT15S",
        // The timer every 5 s, records up to 4 s late: the previous run's read is at most 9 s old.
        ROTATOR_INGESTION_MARGIN: "PT12S",
        ROTATOR_TIMER_SCHEDULE: "*/5 * * * * *",
      },
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    let stopping = false;
    const exited = new Promise<number | string | null>((resolve) =>
      child?.once("exit", (code, signal) => {
        if (!stopping) fatal = `npm start exited with ${code ?? signal}:\n${output.slice(-3000)}`;
        resolve(code ?? signal);
      }),
    );

    const ready = await until("the ready lines of npm start", 240_000, async () => {
      const sandboxLine = /^sandbox ready (\{.*\})$/m.exec(output);
      const keyLine = /^function key: (\S+)$/m.exec(output);
      return sandboxLine && keyLine
        ? {
            sandbox: JSON.parse(sandboxLine[1]!) as { port: number; caFile: string; stateUrl: string },
            functionKey: keyLine[1]!,
          }
        : undefined;
    });
    const ca = readFileSync(ready.sandbox.caFile, "utf8");
    const state = () => getJson<SandboxState>(ready.sandbox.stateUrl, ca);
    const hostUrl = `http://localhost:${port}`;

    const before = await state();
    const adxKey = before.vaults
      .find((vault) => vault.name === "kv-cmk-1")
      ?.keys.find((key) => key.name === "adx-key");
    const oldNewest = adxKey?.versions.at(-1)?.version;
    expect(oldNewest).toMatch(/^[0-9a-f]{32}$/);

    // 1. Rotate over HTTP with the function key.
    const unauthorized = await fetch(`${hostUrl}/api/keys/kv-cmk-1/adx-key/rotate`, {
      method: "POST",
      body: "{}",
    });
    expect(unauthorized.status).toBe(401);
    const rotatedAt = Date.now();
    const rotated = await fetch(`${hostUrl}/api/keys/kv-cmk-1/adx-key/rotate`, {
      method: "POST",
      headers: { "x-functions-key": ready.functionKey, "content-type": "application/json" },
      body: JSON.stringify({ reason: "end-to-end test" }),
    });
    expect(rotated.status).toBe(202);
    const answer = (await rotated.json()) as { newVersion: string };
    expect(answer.newVersion).toMatch(/^[0-9a-f]{32}$/);
    expect(answer.newVersion).not.toBe(oldNewest);

    // 2. The pinned Kusto cluster is repointed, and really uses the new version; the versionless one follows.
    await until("adx-pinned repointed and using the new version", 90_000, async () => {
      const current = await state();
      const pinned = current.consumers.find((consumer) => consumer.id.endsWith("/adx-pinned"));
      const latest = current.consumers.find((consumer) => consumer.id.endsWith("/adx-latest"));
      const repointed =
        pinned?.pins.key?.version === answer.newVersion &&
        pinned.inUse.some((usage) => usage.version === answer.newVersion) &&
        latest !== undefined &&
        latest.pins.key?.version === undefined &&
        latest.inUse.some((usage) => usage.version === answer.newVersion);
      return repointed ? true : undefined;
    });
    const adxVersions = async () =>
      (await state()).vaults
        .find((vault) => vault.name === "kv-cmk-1")
        ?.keys.find((key) => key.name === "adx-key")?.versions ?? [];
    // The old version is still enabled when its consumers have just moved: nothing is retired early.
    const emergencyQuietMs = 15_000;
    if (Date.now() - rotatedAt < emergencyQuietMs) {
      expect((await adxVersions()).find((version) => version.version === oldNewest)?.enabled).toBe(true);
    }

    // 3. The old version is disabled after the shortened quiet period, with evidence tags.
    const disabled = await until("the compromised version disabled with evidence tags", 150_000, async () => {
      const old = (await adxVersions()).find((version) => version.version === oldNewest);
      return old && !old.enabled ? old : undefined;
    });
    // Not before the emergency quiet period had passed since the rotation.
    const disabledAt = Date.parse(disabled.tags["cmk-rotator-disabled-at"] ?? "");
    expect(disabledAt - rotatedAt).toBeGreaterThanOrEqual(emergencyQuietMs - 1_000);
    // The new version stays enabled and untouched by retirement.
    const newest = (await adxVersions()).find((version) => version.version === answer.newVersion);
    expect(newest?.enabled).toBe(true);
    expect(newest?.tags["cmk-rotator-disabled-at"]).toBeUndefined();
    expect(Object.keys(disabled.tags)).toEqual(
      expect.arrayContaining(["cmk-rotator-disabled-at", "cmk-rotator-evidence"]),
    );
    expect(disabled.tags["cmk-rotator-compromised"]).toBeDefined();

    // 4. Ctrl-C (SIGINT to the whole process group) stops everything, and nothing is left behind.
    const pgid = child.pid!;
    stopping = true;
    process.kill(-pgid, "SIGINT");
    const code = await Promise.race([
      exited,
      new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 90_000)),
    ]);
    // npm itself ends on the SIGINT, as in a terminal; the stack below it must stop cleanly.
    expect([0, "SIGINT"], output.slice(-2000)).toContain(code);
    expect(output).toMatch(/^stopped\.$/m);
    expect(output).not.toMatch(/npm start failed/);
    await until("every process of the stack to exit", 60_000, async () =>
      processGroupMembers(pgid).length === 0 ? true : undefined,
    );
    await expect(fetch(`${hostUrl}/api/keys`)).rejects.toThrow();
    expect(output).toContain("stopped.");
  }, 420_000);
});
