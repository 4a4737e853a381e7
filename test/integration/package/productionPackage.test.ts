/**
 * `npm run package`: the zip a deployment ships holds host.json, a package.json with the
 * production dependencies only, the built service and functions, and exactly the production
 * packages of package-lock.json; nothing of the sandbox, the tests, the benchmarks or the
 * devDependencies; and the functions load from the unpacked zip alone.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readZip, type ZipEntry } from "../../support/zipArchive.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean }>;
};
/** What only local runs and tests need; none of it may reach Azure. */
const NEVER_SHIPPED = [
  "azurite",
  "node",
  "@kusto/language-service-next",
  "node-forge",
  "vitest",
  "typescript",
  "playwright-core",
  "@sparticuz/chromium",
];

let out: string;
let entries: ZipEntry[];
let names: string[];

function sourcesUnder(folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
    .map((file) => join(folder, file));
}

/** The package folders in the zip: each `…node_modules/<name>` (or `<@scope>/<name>`) with a package.json. */
function packageFolders(): Set<string> {
  return new Set(
    names
      .filter((name) => /(^|\/)node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(name))
      .map((name) => name.slice(0, -"/package.json".length)),
  );
}

beforeAll(() => {
  out = mkdtempSync(join(tmpdir(), "cmk-package-"));
  // The suite runs after tsc (npm test builds first), so the package is assembled from that build.
  const result = spawnSync(process.execPath, ["scripts/package.js", "--no-build", "--out", out], {
    cwd: root,
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  entries = readZip(join(out, "cmk-rotator.zip"));
  names = entries.map((entry) => entry.name);
}, 300_000);

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

describe("the production package", () => {
  it("has host.json and a package.json with the production dependencies only at its root", () => {
    const read = (name: string) =>
      entries
        .find((entry) => entry.name === name)
        ?.read()
        .toString("utf8");
    expect(read("host.json")).toBe(readFileSync(join(root, "host.json"), "utf8"));
    const shipped = JSON.parse(read("package.json") ?? "{}");
    expect(shipped).toMatchObject({ type: "module", main: "dist/functions/*.js" });
    expect(shipped.dependencies).toEqual(manifest.dependencies);
    expect(shipped.devDependencies).toBeUndefined();
    expect(shipped.scripts).toBeUndefined();
  });

  it("ships the built service and functions, and nothing of the sandbox, the tests or the benchmarks", () => {
    const built = names.filter((name) => name.startsWith("dist/"));
    expect(built.every((name) => name.startsWith("dist/src/") || name.startsWith("dist/functions/"))).toBe(
      true,
    );
    expect(built.every((name) => name.endsWith(".js"))).toBe(true);
    const expected = [...sourcesUnder("src"), ...sourcesUnder("functions")].map(
      (source) => `dist/${source.replace(/\.ts$/, ".js")}`,
    );
    expect([...built].sort()).toEqual(expected.sort());
    const outside = names.filter(
      (name) => !name.startsWith("dist/") && !name.startsWith("node_modules/") && !name.includes("/"),
    );
    expect(outside.sort()).toEqual(["host.json", "package.json"]);
    expect(names.some((name) => /(^|\/)(sandbox|test|bench)\//.test(name) && name.startsWith("dist/"))).toBe(
      false,
    );
  });

  it("ships exactly the production packages of package-lock.json, and none of the devDependencies", () => {
    const production = Object.entries(lock.packages)
      .filter(([path, entry]) => path.startsWith("node_modules/") && !entry.dev)
      .map(([path]) => path)
      .filter((path) => existsSync(join(root, path)));
    expect([...packageFolders()].sort()).toEqual(production.sort());
    // What Node never loads stays behind: source maps, type declarations, Markdown.
    expect(names.filter((name) => /\.(map|d\.[cm]?ts|md)$/.test(name))).toEqual([]);
    // A devDependency that a production package needs too (the tests' @opentelemetry/sdk-metrics,
    // which @azure/monitor-opentelemetry depends on) is a production package in the lock: it ships.
    const devOnly = Object.keys(manifest.devDependencies).filter((name) => {
      const entry = lock.packages[`node_modules/${name}`];
      return entry === undefined || entry.dev === true;
    });
    expect(devOnly.length).toBeGreaterThan(5);
    for (const name of [...NEVER_SHIPPED, ...devOnly]) {
      expect(
        names.some(
          (entry) => entry.startsWith(`node_modules/${name}/`) || entry.includes(`/node_modules/${name}/`),
        ),
        name,
      ).toBe(false);
    }
  });

  it("loads every function from the unpacked zip alone", () => {
    const unpacked = mkdtempSync(join(tmpdir(), "cmk-unpacked-"));
    try {
      for (const entry of entries) {
        const target = join(unpacked, entry.name);
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, entry.read(), { mode: entry.mode || 0o644 });
      }
      expect(relative(unpacked, root).startsWith("..")).toBe(true);
      // What the Functions host does with package.json's main glob: import every dist/functions/*.js.
      const load = `for (const file of (await import("node:fs")).readdirSync("dist/functions").filter((f) => f.endsWith(".js"))) await import("./dist/functions/" + file);`;
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== "NODE_PATH"));
      const result = spawnSync(process.execPath, ["--input-type=module", "-e", load], {
        cwd: unpacked,
        env,
        encoding: "utf8",
      });
      expect(result.status, result.stderr).toBe(0);
    } finally {
      rmSync(unpacked, { recursive: true, force: true });
    }
  });
});
