import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadSettings, SETTINGS_SCHEMA } from "../../../src/settings.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

describe("local.settings.example.json", () => {
  const example = JSON.parse(readFileSync(join(root, "local.settings.example.json"), "utf8")) as {
    Values: Record<string, string>;
  };

  it("is a valid configuration of the service", () => {
    const settings = loadSettings(example.Values);
    expect(settings.mode).toBe("report");
  });

  it("sets only settings the schema knows, and every required one", () => {
    const known = new Set(SETTINGS_SCHEMA.map((setting) => setting.name));
    const rotator = Object.keys(example.Values).filter((name) => name.startsWith("ROTATOR_"));
    for (const name of rotator) expect(known.has(name), name).toBe(true);
    for (const setting of SETTINGS_SCHEMA.filter((spec) => spec.required))
      expect(rotator).toContain(setting.name);
  });
});
