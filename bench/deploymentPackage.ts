/**
 * Benchmark 6, the deployment zip: `scripts/package.js` (what `npm run package` runs) on
 * this run's build, into a temporary folder; its size, what is in it, and what dominates it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PackageSummary } from "../scripts/package.js";
import { formatTable } from "./benchTable.js";

const projectRoot = fileURLToPath(new URL("../..", import.meta.url));

export async function measureDeploymentPackage(): Promise<PackageSummary> {
  const out = mkdtempSync(join(tmpdir(), "cmk-bench-package-"));
  try {
    const script = join(projectRoot, "scripts", "package.js");
    return await new Promise<PackageSummary>((resolve, reject) => {
      const child = spawn(process.execPath, [script, "--no-build", "--json", "--out", out], {
        cwd: projectRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      child.on("error", reject);
      child.on("close", (code) => {
        if (code !== 0) return reject(new Error(`scripts/package.js exited ${code}: ${stderr.trim()}`));
        try {
          resolve(JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as PackageSummary);
        } catch {
          reject(new Error(`scripts/package.js printed no summary: ${stdout.slice(0, 300)}`));
        }
      });
    });
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
