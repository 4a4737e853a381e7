import { describe, expect, it } from "vitest";
import { main } from "../../../src/cli/main.js";
import { hasRotatorSettings } from "../../../src/cli/planCommand.js";
import { aSettingsEnv } from "../../builders/index.js";

function sink() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (text: string) => out.push(text), err: (text: string) => err.push(text) } };
}

describe("cmk-rotator main", () => {
  it("prints the usage for --help and exits 0", async () => {
    const { out, io } = sink();
    expect(await main(["--help"], {}, io)).toBe(0);
    expect(out.join("\n")).toContain("Usage: cmk-rotator plan [--json]");
  });

  it("exits 2 with the usage for a usage error", async () => {
    const { err, io } = sink();
    expect(await main(["plan", "--bogus"], {}, io)).toBe(2);
    expect(err.join("\n")).toMatch(/unknown option "--bogus"[\s\S]*Usage:/);
  });

  it("exits 1 naming the bad setting when ROTATOR_* settings are configured but wrong", async () => {
    const { out, err, io } = sink();
    const env = aSettingsEnv({ ROTATOR_QUIET_PERIOD: "one day" });
    expect(await main(["plan"], env, io)).toBe(1);
    expect(out).toEqual([]);
    expect(err.join("\n")).toMatch(/bad settings \(ROTATOR_QUIET_PERIOD\).*ISO 8601 duration/);
  });

  it("treats only non-empty ROTATOR_* variables as configuration", () => {
    expect(hasRotatorSettings({ PATH: "/bin", ROTATOR_MODE: " " })).toBe(false);
    expect(hasRotatorSettings({ ROTATOR_MODE: "report" })).toBe(true);
  });
});
