/**
 * Benchmark 4, sandbox start at scale: a sandbox of 1,000 keys (two versions each) starts
 * before any key pair exists; each version's pair is derived on first use from a pool of
 * primes. Measured in a fresh process, so the pool starts empty. "Before" is what the same
 * versions cost when each got a generated pair of its own: the generation time of a few
 * sampled pairs per size, times the versions of that size.
 */
import { fileURLToPath } from "node:url";
import { formatTable, milliseconds, ratio } from "./benchTable.js";
import { runJsonChild } from "./childProcess.js";
import type { SandboxStartProbe } from "./sandboxStartProbe.js";

export interface SandboxStartOptions {
  keys: number;
  consumers: number;
  /** Fresh pairs generated per size to estimate the old cost. */
  samples: number;
}

export function measureSandboxStart(options: SandboxStartOptions): Promise<SandboxStartProbe> {
  const probe = fileURLToPath(new URL("./sandboxStartProbe.js", import.meta.url));
  const args = [probe, "--keys", String(options.keys), "--consumers", String(options.consumers)];
  args.push("--samples", String(options.samples));
  return runJsonChild<SandboxStartProbe>(args, "the sandbox start probe");
}

/** What the versions of this estate would cost with one generated pair each (the old start). */
export function freshPairsMs(result: SandboxStartProbe): number {
  return Object.entries(result.versionsBySize).reduce(
    (sum, [size, versions]) => sum + versions * (result.freshPairMs[Number(size)] ?? 0),
    0,
  );
}

export function sandboxStartTable(result: SandboxStartProbe): string {
  const before = freshPairsMs(result);
  const versions = Object.values(result.versionsBySize).reduce((sum, count) => sum + count, 0);
  const lazyTotal = result.readyMs + result.materialMs;
  return formatTable(
    [
      "key material",
      "ready",
      "every version's pair",
      "ready + every pair",
      "vs one generated pair per version",
    ],
    [
      [
        "lazy, from the prime pool (now)",
        milliseconds(result.readyMs),
        milliseconds(result.materialMs),
        milliseconds(lazyTotal),
        ratio(before, result.readyMs),
      ],
      [
        "one generated pair per version (before, estimated)",
        milliseconds(before),
        "-",
        milliseconds(before),
        "1.00x",
      ],
    ],
  ).concat(
    `\n${result.keys} keys, ${versions} versions (${Object.entries(result.versionsBySize)
      .map(([size, count]) => `${count} of ${size} bits`)
      .join(", ")}), ${result.consumers} consumers; primes in the pool: ${Object.entries(result.primes)
      .map(([size, count]) => `${count} for ${size} bits`)
      .join(", ")}; a generated pair took ${Object.entries(result.freshPairMs)
      .map(([size, ms]) => `${milliseconds(ms)} (${size} bits)`)
      .join(", ")}`,
  );
}
