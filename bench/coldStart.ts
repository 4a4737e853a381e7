/**
 * Benchmark 7, cold start: what the Functions worker loads when the app starts (the entry
 * modules, package.json `main` = dist/functions/*.js, each imported), against a bare
 * `node -e 0`, each a whole fresh process, interleaved, several runs each, medians. Also
 * `@azure/functions` alone (the floor the entry modules cannot go below), and what the first
 * invocation adds by loading the runtime (every SDK client, the table client) and, where
 * Application Insights is configured, the telemetry distro.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { formatTable, median, milliseconds } from "./benchTable.js";

export interface ColdStartOptions {
  runs: number;
}

export interface ColdStartRow {
  label: string;
  medianMs: number;
  runsMs: number[];
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function entryModules(): string[] {
  const folder = join(root, "dist", "functions");
  return readdirSync(folder)
    .filter((name) => name.endsWith(".js"))
    .sort()
    .map((name) => pathToFileURL(join(folder, name)).href);
}

/** One fresh process running `args`, timed from spawn to exit. */
function timedProcess(args: string[]): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) {
    throw new Error(
      `cold start: ${args.join(" ").slice(0, 120)} exited ${result.status}: ${result.stderr.toString().slice(0, 500)}`,
    );
  }
  return ms;
}

export function measureColdStart(options: ColdStartOptions): ColdStartRow[] {
  const entries = entryModules();
  const importAll = (urls: string[]) => urls.map((url) => `await import(${JSON.stringify(url)});`).join("");
  const runtimeUrl = pathToFileURL(join(root, "dist", "src", "runtime.js")).href;
  const cases: { label: string; args: string[] }[] = [
    { label: "node -e 0", args: ["-e", "0"] },
    { label: "@azure/functions alone", args: ["-e", "require('@azure/functions')"] },
    {
      label: `entry modules (${entries.length} files of dist/functions)`,
      args: ["--input-type=module", "-e", importAll(entries)],
    },
    {
      label: "entry modules + the runtime (first invocation)",
      args: ["--input-type=module", "-e", importAll([...entries, runtimeUrl])],
    },
    {
      label: "... + telemetry (@azure/monitor-opentelemetry, when configured)",
      args: [
        "--input-type=module",
        "-e",
        `${importAll([...entries, runtimeUrl])}await import("@azure/monitor-opentelemetry");`,
      ],
    },
  ];
  const runs = new Map(cases.map((each) => [each.label, [] as number[]]));
  for (const each of cases) timedProcess(each.args); // warm the file cache
  for (let run = 0; run < options.runs; run++) {
    for (const each of cases) runs.get(each.label)?.push(timedProcess(each.args));
  }
  return cases.map((each) => {
    const runsMs = runs.get(each.label) ?? [];
    return { label: each.label, medianMs: median(runsMs), runsMs };
  });
}

export function coldStartTable(rows: readonly ColdStartRow[]): string {
  const bare = rows[0];
  if (!bare) return "(no rows)";
  return formatTable(
    ["process", "median", "x node -e 0"],
    rows.map((row) => [
      row.label,
      milliseconds(row.medianMs),
      `${(row.medianMs / bare.medianMs).toFixed(2)}x`,
    ]),
  );
}
