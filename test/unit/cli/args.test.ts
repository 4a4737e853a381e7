import { describe, expect, it } from "vitest";
import { parseCliArgs, UsageError } from "../../../src/cli/args.js";

describe("parseCliArgs", () => {
  it("reads plan and plan --json", () => {
    expect(parseCliArgs(["plan"])).toEqual({ command: "plan", json: false });
    expect(parseCliArgs(["plan", "--json"])).toEqual({ command: "plan", json: true });
  });

  it("answers help for --help, -h and help, wherever they stand", () => {
    for (const argv of [["--help"], ["-h"], ["help"], ["plan", "--help"]]) {
      expect(parseCliArgs(argv)).toEqual({ command: "help" });
    }
  });

  it("refuses a missing command, an unknown command and an unknown option, naming it", () => {
    expect(() => parseCliArgs([])).toThrow(/no command given/);
    expect(() => parseCliArgs(["apply"])).toThrow(UsageError);
    expect(() => parseCliArgs(["apply"])).toThrow(/"apply"/);
    expect(() => parseCliArgs(["plan", "--yaml"])).toThrow(/"--yaml"/);
  });

  it("reads restore, freeze and unfreeze with their arguments and --reason", () => {
    const version = "0123456789abcdef0123456789abcdef";
    expect(parseCliArgs(["restore", "kv1", "cmk", version, "--reason", "still needed"])).toEqual({
      command: "restore",
      vault: "kv1",
      key: "cmk",
      version,
      reason: "still needed",
    });
    expect(parseCliArgs(["freeze", "kv1", "cmk", "--reason=audit"])).toEqual({
      command: "freeze",
      vault: "kv1",
      key: "cmk",
      reason: "audit",
    });
    expect(parseCliArgs(["unfreeze", "--reason", "done", "kv1", "cmk"])).toMatchObject({
      command: "unfreeze",
    });
  });

  it("refuses an operator command without --reason, with missing or extra arguments, or unknown options", () => {
    expect(() => parseCliArgs(["freeze", "kv1", "cmk"])).toThrow(/needs --reason/);
    expect(() => parseCliArgs(["freeze", "kv1", "cmk", "--reason"])).toThrow(/needs a value/);
    expect(() => parseCliArgs(["freeze", "kv1", "cmk", "--reason", " "])).toThrow(/needs --reason/);
    expect(() => parseCliArgs(["restore", "kv1", "cmk", "--reason", "x"])).toThrow(/<version>/);
    expect(() => parseCliArgs(["unfreeze", "kv1", "cmk", "extra", "--reason", "x"])).toThrow(/got 3/);
    expect(() => parseCliArgs(["freeze", "kv1", "cmk", "--force", "--reason", "x"])).toThrow(/"--force"/);
  });

  it("reads migrate and migrate-cancel with their options, in any order, with = or a separate value", () => {
    expect(
      parseCliArgs([
        "migrate",
        "kv1",
        "k1",
        "--to-vault",
        "kv2",
        "--to-key=k2",
        "--reason",
        "help",
        "--retire-source",
      ]),
    ).toEqual({
      command: "migrate",
      vault: "kv1",
      key: "k1",
      toVault: "kv2",
      toKey: "k2",
      reason: "help",
      retireSource: true,
      dryRun: false,
    });
    expect(parseCliArgs(["migrate-cancel", "kv1", "k1", "--reason", "stop"])).toEqual({
      command: "migrate-cancel",
      vault: "kv1",
      key: "k1",
      reason: "stop",
    });
  });

  it("refuses a migrate without its options or key, or with an unknown option", () => {
    expect(() => parseCliArgs(["migrate", "kv1", "k1", "--to-vault", "kv2", "--reason", "x"])).toThrow(
      /--to-key/,
    );
    expect(() =>
      parseCliArgs(["migrate", "kv1", "--to-vault", "kv2", "--to-key", "k", "--reason", "x"]),
    ).toThrow(/<vault> <key>/);
    expect(() => parseCliArgs(["migrate-cancel", "kv1", "k1", "--reason", "x", "--dry-run"])).toThrow(
      /--dry-run/,
    );
    expect(() => parseCliArgs(["migrate", "kv1", "k1", "--to-vault"])).toThrow(/needs a value/);
  });
});
