/**
 * cmk-rotator restore, freeze and unfreeze against the built-in sandbox, in process through
 * `main`: the same service calls and answers as the HTTP routes.
 */
import { describe, expect, it } from "vitest";
import { startSandboxEnvironment } from "../../../sandbox/local/sandboxEnvironment.js";
import { main } from "../../../src/cli/main.js";

const sandbox = () => startSandboxEnvironment({ log: () => undefined });

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {}, { out: (t) => out.push(t), err: (t) => err.push(t) }, { sandbox });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("cmk-rotator restore, freeze, unfreeze on the built-in sandbox", () => {
  it("freezes a key and prints the freeze as JSON; refuses an unknown version with exit 1", async () => {
    const frozen = await run(["freeze", "kv-cmk-1", "adx-key", "--reason", "audit in progress"]);
    expect(frozen.code, frozen.err).toBe(0);
    expect(JSON.parse(frozen.out)).toMatchObject({
      key: "kv-cmk-1/adx-key",
      changed: true,
      frozen: { reason: "audit in progress", by: "operator" },
    });
    const unknown = await run(["restore", "kv-cmk-1", "adx-key", "0".repeat(32), "--reason", "x"]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/has no version 0{32}/);
    const usage = await run(["unfreeze", "kv-cmk-1"]);
    expect(usage.code).toBe(2);
  }, 120_000);
});
