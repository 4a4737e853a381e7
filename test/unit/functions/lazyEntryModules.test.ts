/**
 * Cold start: what the Functions worker loads at start (the entry modules, functions/*.ts, and
 * what they import at module level) reaches no Azure SDK client, no table client, no
 * telemetry and not the runtime: those are imported on the first invocation. Only
 * `@azure/functions` and the service's own small modules load with the entry modules. (The
 * time it takes is measured in `npm run bench`, bench 7, never here.)
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Module-level imports that load code (`import type` and dynamic `import()` do not). */
const STATIC_IMPORT = /^(?:import|export)\s+(?!type\b)(?:[^;]*?\sfrom\s+)?["']([^"']+)["'];?/gm;

/** A package loaded with `createRequire(import.meta.url)("…")` (how @azure/functions is loaded). */
const REQUIRE_CALL = /createRequire\([^)]*\)\(\s*["']([^"']+)["']\s*,?\s*\)/g;

function staticImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(STATIC_IMPORT), ...text.matchAll(REQUIRE_CALL)].map((match) => match[1] ?? "");
}

function loadedAtStart(): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = readdirSync(join(root, "functions"))
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(root, "functions", name));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of staticImports(file)) {
      if (specifier.startsWith(".")) {
        const target = resolve(dirname(file), specifier.replace(/\.js$/, ".ts"));
        if (existsSync(target)) queue.push(target);
      } else if (!specifier.startsWith("node:") && !packages.has(specifier)) {
        packages.set(specifier, relative(root, file));
      }
    }
  }
  return { files, packages };
}

describe("the entry modules load lazily", () => {
  const { files, packages } = loadedAtStart();

  it("reach no package but @azure/functions at load", () => {
    expect([...packages.keys()]).toEqual(["@azure/functions"]);
  });

  it("do not load the runtime, the client factory or telemetry until the first invocation", () => {
    const loaded = [...files].map((file) => relative(root, file));
    for (const heavy of [
      "src/runtime.ts",
      "src/azure/clientFactory.ts",
      "src/telemetry/telemetry.ts",
      "src/journal/rotatorTable.ts",
    ]) {
      expect(loaded).not.toContain(heavy);
    }
    expect(loaded).toContain("src/hosting/lazyRuntime.ts");
  });
});
