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
});
