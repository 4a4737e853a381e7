/**
 * `npm run soak -- --minutes N`: the local stack's memory over time. The stack `npm start`
 * runs (Azurite, the sandbox, the runtime, the local Functions host, its timer) in this
 * process and Azurite's, while a new version of one of the estate's keys is made every 30 s
 * (through Key Vault: the sandbox's Event Grid delivers KeyNewVersionCreated to the host, as
 * a vault's rotation policy would) and the dashboard is loaded every second. Every 30 s it
 * samples the resident memory of this process and its children (Azurite) and prints it; at
 * the end, the first, the largest and the last sample and the growth over the last half.
 * Exits non-zero when the stack passed 500 MB, or when a request failed.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startLocalStack } from "../sandbox/local/start.js";
import { createAzureClientFactory } from "../src/azure/clientFactory.js";
import { formatTable } from "./benchTable.js";

const LIMIT_MB = 500;
const ROTATE_EVERY_MS = 30_000;
const DASHBOARD_EVERY_MS = 1_000;
const SAMPLE_EVERY_MS = 30_000;

function parseMinutes(argv: readonly string[]): number {
  const at = argv.indexOf("--minutes");
  if (at < 0) return 30;
  const minutes = Number(argv[at + 1]);
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60)
    throw new Error(
      `--minutes takes a number of minutes from 0 to 1440, not ${JSON.stringify(argv[at + 1])}`,
    );
  return minutes;
}

/** Resident memory of a process in MB, from /proc (Linux); undefined where it cannot be read. */
function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** This process's children (Azurite), from /proc. */
function childPids(): number[] {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

interface Sample {
  minute: number;
  selfMb: number;
  heapMb: number;
  childrenMb: number;
  rotations: number;
  dashboards: number;
}

async function main(): Promise<void> {
  const minutes = parseMinutes(process.argv.slice(2));
  const stack = await startLocalStack({ port: 0, sandboxPort: 0 }, process.env);
  const failures: string[] = [];
  const samples: Sample[] = [];
  let rotations = 0;
  let dashboards = 0;
  try {
    const keys = [...stack.sandbox.store.vaults.values()]
      .filter((vault) => vault.kind === "vault")
      .flatMap((vault) => [...vault.keys.keys()].map((key) => ({ vault: vault.name, key })));
    if (keys.length === 0) throw new Error("the estate has no Key Vault keys to rotate");
    const factory = createAzureClientFactory(stack.sandbox.transport("rotator"));
    const started = Date.now();
    const end = started + minutes * 60_000;
    const sample = () => {
      const children = childPids().reduce((sum, pid) => sum + (rssMb(pid) ?? 0), 0);
      const memory = process.memoryUsage();
      const entry: Sample = {
        minute: (Date.now() - started) / 60_000,
        selfMb: memory.rss / 2 ** 20,
        heapMb: memory.heapUsed / 2 ** 20,
        childrenMb: children,
        rotations,
        dashboards,
      };
      samples.push(entry);
      process.stdout.write(
        `${entry.minute.toFixed(1)} min: ${(entry.selfMb + entry.childrenMb).toFixed(0)} MB (stack process ${entry.selfMb.toFixed(0)} MB, heap ${entry.heapMb.toFixed(0)} MB, Azurite ${entry.childrenMb.toFixed(0)} MB); ${rotations} rotations, ${dashboards} dashboards\n`,
      );
    };
    sample();
    const rotate = async () => {
      const next = keys[rotations % keys.length];
      if (!next) return;
      try {
        await factory.keys(`https://${next.vault}.vault.azure.net/`).rotateKey(next.key);
        rotations++;
      } catch (error) {
        failures.push(
          `rotation of ${next.vault}/${next.key}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    };
    const dashboard = async () => {
      try {
        const answer = await fetch(
          `${stack.host.url}/api/dashboard?code=${encodeURIComponent(stack.host.functionKey)}`,
        );
        await answer.text();
        if (answer.status !== 200) failures.push(`dashboard answered ${answer.status}`);
        dashboards++;
      } catch (error) {
        failures.push(`dashboard: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    let nextRotation = started;
    let nextSample = started + SAMPLE_EVERY_MS;
    // Ctrl-C or a kill ends the soak early: the stack (and Azurite) still stops, the figures print.
    let stopRequested = false;
    const requestStop = () => {
      stopRequested = true;
    };
    process.once("SIGINT", requestStop);
    process.once("SIGTERM", requestStop);
    while (Date.now() < end && failures.length < 20 && !stopRequested) {
      const now = Date.now();
      if (now >= nextRotation) {
        nextRotation += ROTATE_EVERY_MS;
        await rotate();
      }
      await dashboard();
      if (Date.now() >= nextSample) {
        nextSample += SAMPLE_EVERY_MS;
        sample();
      }
      await sleep(Math.max(0, DASHBOARD_EVERY_MS - (Date.now() - now)));
    }
    sample();
  } finally {
    await stack.stop();
  }
  const total = (entry: Sample) => entry.selfMb + entry.childrenMb;
  const first = samples[0];
  const last = samples.at(-1);
  const largest = samples.reduce<Sample | undefined>(
    (max, entry) => (max && total(max) >= total(entry) ? max : entry),
    undefined,
  );
  const middle = samples[Math.floor(samples.length / 2)];
  if (!first || !last || !largest || !middle) throw new Error("no samples");
  process.stdout.write(
    `\n${formatTable(
      ["", "minute", "stack MB", "process MB", "heap MB", "Azurite MB", "rotations", "dashboards"],
      [
        ["first", first],
        ["middle", middle],
        ["largest", largest],
        ["last", last],
      ].map(([name, entry]) => {
        const e = entry as Sample;
        return [
          name as string,
          e.minute.toFixed(1),
          total(e).toFixed(0),
          e.selfMb.toFixed(0),
          e.heapMb.toFixed(0),
          e.childrenMb.toFixed(0),
          String(e.rotations),
          String(e.dashboards),
        ];
      }),
    )}\ngrowth over the second half: ${(total(last) - total(middle)).toFixed(0)} MB; limit ${LIMIT_MB} MB\n`,
  );
  if (failures.length > 0) throw new Error(`${failures.length} request(s) failed, first: ${failures[0]}`);
  if (total(largest) > LIMIT_MB)
    throw new Error(`the stack reached ${total(largest).toFixed(0)} MB, above ${LIMIT_MB} MB`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `\nsoak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
