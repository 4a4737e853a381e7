/**
 * Run in a fresh process by sandboxStart.ts (so the prime pool starts empty): seeds a sandbox
 * with a large estate, then prints one JSON line with what it cost.
 *
 *   readyMs          startSandbox until it answers (key material not derived yet)
 *   materialMs       then deriving every version's key pair (first use of every version)
 *   freshPairMs      generating one RSA pair per size, as every version cost before (sampled)
 */
import { generateKeyPairSync } from "node:crypto";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { primePoolSizes } from "../sandbox/keyvault/keyMaterial.js";
import { startSandbox } from "../sandbox/server.js";
import { benchEstate } from "./benchEstate.js";
import { printJsonResult } from "./childProcess.js";

export interface SandboxStartProbe {
  keys: number;
  consumers: number;
  versionsBySize: Record<number, number>;
  readyMs: number;
  materialMs: number;
  freshPairMs: Record<number, number>;
  primes: Record<number, number>;
}

async function probe(keys: number, consumers: number, samples: number): Promise<SandboxStartProbe> {
  const estate = benchEstate({ consumers, keys, versionAgesHours: [720, 48], pinnedVersion: 0 });
  const started = performance.now();
  const sandbox = await startSandbox({ estate, backgroundLoops: false });
  const readyMs = performance.now() - started;
  try {
    const versionsBySize: Record<number, number> = {};
    const deriving = performance.now();
    for (const vault of sandbox.store.vaults.values()) {
      for (const key of vault.keys.values()) {
        for (const version of key.versions) {
          version.material.pair();
          versionsBySize[key.size] = (versionsBySize[key.size] ?? 0) + 1;
        }
      }
    }
    const materialMs = performance.now() - deriving;
    const freshPairMs: Record<number, number> = {};
    for (const size of Object.keys(versionsBySize).map(Number)) {
      const sampling = performance.now();
      for (let i = 0; i < samples; i++)
        generateKeyPairSync("rsa", { modulusLength: size, publicExponent: 65537 });
      freshPairMs[size] = (performance.now() - sampling) / samples;
    }
    const keyCount = [...sandbox.store.vaults.values()].reduce((sum, vault) => sum + vault.keys.size, 0);
    return {
      keys: keyCount,
      consumers: sandbox.store.consumers.size,
      versionsBySize,
      readyMs,
      materialMs,
      freshPairMs,
      primes: primePoolSizes(),
    };
  } finally {
    await sandbox.close();
  }
}

const { values } = parseArgs({
  options: { keys: { type: "string" }, consumers: { type: "string" }, samples: { type: "string" } },
});
printJsonResult(
  probe(Number(values.keys ?? 1000), Number(values.consumers ?? 1000), Number(values.samples ?? 4)),
);
