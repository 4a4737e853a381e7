import { describe, expect, it } from "vitest";
import { effectiveSettings, startSandboxEnvironment } from "../../../sandbox/local/sandboxEnvironment.js";
import { parseStartArgs, startLocalStack } from "../../../sandbox/local/start.js";
import { loadSettings } from "../../../src/settings.js";

describe("npm start's stack", () => {
  it("refuses bad settings with a message naming the setting", async () => {
    await expect(
      startLocalStack({ port: 0, sandboxPort: 0 }, { ROTATOR_QUIET_PERIOD: "1 day" }),
    ).rejects.toThrow(/ROTATOR_QUIET_PERIOD must be an ISO 8601 duration/);
  });

  it("lets ROTATOR_* variables override the sandbox defaults, one journal location at a time", () => {
    const defaults = { ROTATOR_QUIET_PERIOD: "PT5M", ROTATOR_JOURNAL_CONNECTION_STRING: "x", OTHER: "y" };
    expect(effectiveSettings(defaults, { ROTATOR_QUIET_PERIOD: "PT30S", PATH: "/bin" })).toEqual({
      ROTATOR_QUIET_PERIOD: "PT30S",
      ROTATOR_JOURNAL_CONNECTION_STRING: "x",
      OTHER: "y",
    });
    expect(
      effectiveSettings(defaults, { ROTATOR_JOURNAL_TABLE_ENDPOINT: "https://a.table.core.windows.net" }),
    ).not.toHaveProperty("ROTATOR_JOURNAL_CONNECTION_STRING");
  });

  it("accepts the README's short cycle, ROTATOR_QUIET_PERIOD=PT30S, on top of the sandbox defaults", async () => {
    const environment = await startSandboxEnvironment({ log: () => undefined });
    try {
      const settings = loadSettings(effectiveSettings(environment.env, { ROTATOR_QUIET_PERIOD: "PT30S" }));
      expect(settings.quietPeriodMs).toBe(30_000);
      expect(settings.ingestionMarginMs).toBeLessThan(30_000);
      expect(loadSettings(environment.env).mode).toBe("enforce");
    } finally {
      await environment.close();
    }
  });

  it("parses its command line", () => {
    expect(parseStartArgs([])).toEqual({ port: 7071, sandboxPort: 0 });
    expect(parseStartArgs(["--estate", "e.json", "--port", "8080", "--sandbox-port", "9443"])).toEqual({
      estateFile: "e.json",
      port: 8080,
      sandboxPort: 9443,
    });
    expect(parseStartArgs(["--help"])).toBe("help");
    expect(() => parseStartArgs(["--port", "x"])).toThrow(/port number/);
    expect(() => parseStartArgs(["--nope"])).toThrow(/unknown argument/);
    expect(() => parseStartArgs(["--estate"])).toThrow(/needs a value/);
  });
});
