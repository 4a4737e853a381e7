/**
 * The tree says what is product and what is stand-in: src/ and functions/ are the service
 * that ships to Azure, and import nothing from the sandbox, the local host, the tests or the
 * benchmarks (not even types), so the deployment can hold them alone.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function sources(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const IMPORT = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(IMPORT)].map((match) => relative(root, resolve(dirname(file), match[1] ?? "")));
}

describe("the product tree", () => {
  it("src/ and functions/ import only from src/ and functions/", () => {
    const outside = [...sources(join(root, "src")), ...sources(join(root, "functions"))].flatMap((file) =>
      relativeImports(file)
        .filter((target) => !target.startsWith("src/") && !target.startsWith("functions/"))
        .map((target) => `${relative(root, file)} imports ${target}`),
    );
    expect(outside).toEqual([]);
  });
});
