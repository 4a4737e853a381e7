/**
 * `cmk-rotator migrate` and `migrate-cancel` in process through `main`, against the built-in
 * sandbox: a dry run answers the plan with the migration and stores nothing; a migration is
 * stored and cancelled; refusals print `{"error": {"code", "message"}}` and exit 1.
 */
import { describe, expect, it } from "vitest";
import { startSandboxEnvironment } from "../../../sandbox/local/sandboxEnvironment.js";
import { main } from "../../../src/cli/main.js";

const sandbox = () => startSandboxEnvironment({ log: () => undefined });

async function run(argv: string[]): Promise<{ code: number; out: unknown; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {}, { out: (t) => out.push(t), err: (t) => err.push(t) }, { sandbox });
  return {
    code,
    out: out.length > 0 ? (JSON.parse(out.join("\n")) as unknown) : undefined,
    err: err.join("\n"),
  };
}

describe("cmk-rotator migrate against the built-in sandbox", () => {
  it("a dry run answers with the plan and changes nothing", async () => {
    const answer = await run([
      "migrate",
      "kv-cmk-1",
      "cassandra-disk-key",
      "--to-vault",
      "kv-cmk-1",
      "--to-key",
      "cassandra-backup-key",
      "--reason",
      "try it",
      "--dry-run",
    ]);
    expect(answer.code, answer.err).toBe(0);
    expect(answer.out).toMatchObject({
      key: "kv-cmk-1/cassandra-disk-key",
      destination: "kv-cmk-1/cassandra-backup-key",
      dryRun: true,
    });
    const plan = (answer.out as { plan: { actions: { type: string }[] } }).plan;
    expect(plan.actions.some((action) => action.type === "migrate")).toBe(true);
  });

  it("refuses an unmanaged destination and a cancel without a migration, as JSON errors", async () => {
    const unmanaged = await run([
      "migrate",
      "kv-cmk-1",
      "adx-key",
      "--to-vault=kv-nowhere",
      "--to-key=k",
      "--reason=x",
    ]);
    expect(unmanaged.code).toBe(1);
    expect(unmanaged.out).toMatchObject({ error: { code: "NotFound" } });
    const cancel = await run(["migrate-cancel", "kv-cmk-1", "adx-key", "--reason", "x"]);
    expect(cancel.code).toBe(1);
    expect(cancel.out).toMatchObject({ error: { code: "NotFound" } });
  });
});
