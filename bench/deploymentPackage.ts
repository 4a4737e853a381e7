/**
 * Benchmark 6, the deployment zip: `scripts/package.js` (what `npm run package` runs) on
 * this run's build, into a temporary folder; its size, what is in it, and what dominates it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PackageSummary } from "../scripts/package.js";
import { formatTable } from "./benchTable.js";
import { runJsonChild } from "./childProcess.js";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

export async function measureDeploymentPackage(): Promise<PackageSummary> {
  const out = mkdtempSync(join(tmpdir(), "cmk-bench-package-"));
  try {
    const script = join(projectRoot, "scripts", "package.js");
    return await runJsonChild<PackageSummary>(
      [script, "--no-build", "--json", "--out", out],
      "scripts/package.js",
      projectRoot,
    );
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function mebibytes(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(2)} MiB`;
}

export function deploymentPackageTable(summary: PackageSummary): string {
  const share = (bytes: number) => `${((100 * bytes) / summary.zipBytes).toFixed(0)}%`;
  const totals = formatTable(
    ["deployment zip", "files", "unpacked", "production node_modules", "production packages"],
    [
      [
        mebibytes(summary.zipBytes),
        String(summary.files),
        mebibytes(summary.stagedBytes),
        mebibytes(summary.nodeModulesBytes),
        String(summary.productionPackages),
      ],
    ],
  );
  const largest = formatTable(
    ["largest in the zip", "zipped", "share of the zip"],
    summary.largest.map((item) => [item.owner, mebibytes(item.zippedBytes), share(item.zippedBytes)]),
  );
  return `${totals}\n\n${largest}`;
}
