/**
 * No downgrade under any interleaving: two runs repoint one consumer to different targets
 * (the second knows a newer version than the first), their reads and writes delayed and
 * reordered by a generated schedule, the key spelled in different casings, on a resource
 * provider with and without etags. Each run does what the service does for one key: take the
 * key's lease (`keyRefId`), observe the consumer, plan a repoint when it pins an older version,
 * and begin it through the real adapter, which re-reads the consumer right before the write,
 * writes only over a version known to be older than its target, and sends `If-Match` where the
 * provider honours it.
 *
 * Property: every write that lands moves the consumer forward, never to an older version than
 * it has at that moment. With etags this holds even when a run's lease lapses mid-run (a
 * frozen instance); without them the key's one lease is what keeps two runs apart.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createCassandraAdapter } from "../../../src/adapters/consumers/cassandra.js";
import type { ConsumerAdapter } from "../../../src/adapters/consumers/consumerAdapter.js";
import { createKustoAdapter } from "../../../src/adapters/consumers/kusto.js";
import { MemoryKeyLock } from "../../../src/lock/keyLease.js";
import { keyRefId } from "../../../src/model.js";
import { versionsOlderThan } from "../../../src/plan/versionOrder.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const KUSTO_ID = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.Kusto/clusters/adx1`;
const DATA_CENTER_ID = `/subscriptions/${SUB}/resourceGroups/rg1/providers/Microsoft.DocumentDB/cassandraClusters/cass1/dataCenters/dc1`;
const VAULT = "https://kv1.vault.azure.net/";
const LEASE_MS = 60_000;
/** Oldest first, a second apart: their order is known. */
const VERSIONS = ["1", "2", "3", "4"].map((digit, index) => ({
  version: digit.repeat(32),
  created: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
}));
const CASINGS = ["cmk", "CMK", "Cmk"] as const;

/** Cosmos DB accounts are never written (they follow the newest version): the provider without etags is a Cassandra data center. */
type Provider = "kusto-with-etag" | "kusto-without-etag" | "cassandra";

interface Resource {
  version: string;
  etag: number;
  /** Every version the consumer was moved to, in landing order. */
  history: string[];
}

function position(version: string): number {
  return VERSIONS.findIndex((candidate) => candidate.version === version);
}

function preconditionFailed(): Error {
  return Object.assign(new Error("PreconditionFailed"), {
    statusCode: 412,
    code: "PreconditionFailed",
    response: { headers: { get: () => undefined } },
  });
}

/** A resource provider over one consumer, every read and write landing when the scheduler says. */
function providerOver(
  resource: Resource,
  provider: Provider,
  s: fc.Scheduler,
): { adapter: ConsumerAdapter; id: string } {
  const land = (what: string) => s.schedule(Promise.resolve(what), what);
  const write = (version: string, ifMatch: string | undefined) => {
    if (provider === "kusto-with-etag" && ifMatch !== undefined && ifMatch !== `"${resource.etag}"`)
      throw preconditionFailed();
    resource.version = version;
    resource.etag++;
    resource.history.push(version);
  };
  if (provider === "cassandra") {
    const dataCenter = () => ({
      id: DATA_CENTER_ID,
      properties: {
        provisioningState: "Succeeded",
        managedDiskCustomerKeyUri: `${VAULT}keys/cmk/${resource.version}`,
      },
    });
    return {
      id: DATA_CENTER_ID,
      adapter: createCassandraAdapter(() => ({
        async getCluster() {
          return {
            identity: { type: "SystemAssigned", principalId: "44444444-4444-4444-4444-444444444444" },
          };
        },
        async *listDataCenters() {
          yield dataCenter();
        },
        async getDataCenter() {
          await land("GET lands");
          return dataCenter();
        },
        async beginUpdateDataCenter(_rg, _cluster, _dc, body) {
          await land("PATCH lands");
          write(
            String(body.properties?.managedDiskCustomerKeyUri ?? "")
              .split("/")
              .at(-1) ?? "",
            undefined,
          );
          await land("PATCH answered");
        },
      })),
    };
  }
  return {
    id: KUSTO_ID,
    adapter: createKustoAdapter(() => ({
      async get() {
        await land("GET lands");
        return {
          ...(provider === "kusto-with-etag" ? { etag: `"${resource.etag}"` } : {}),
          provisioningState: "Succeeded",
          identity: { type: "SystemAssigned", principalId: "44444444-4444-4444-4444-444444444444" },
          keyVaultProperties: { keyVaultUri: VAULT, keyName: "cmk", keyVersion: resource.version },
        };
      },
      async beginUpdate(_rg, _name, parameters, options) {
        await land("PATCH lands");
        write(parameters.keyVaultProperties?.keyVersion ?? "", options?.ifMatch);
        options?.onResponse?.({ status: 202 });
        await land("PATCH answered");
      },
    })),
  };
}

interface RunSpec {
  casing: (typeof CASINGS)[number];
  /** Index of the run's target in VERSIONS; the run knows the versions up to it. */
  target: number;
}

const scenarioArb = fc
  .record({
    provider: fc.constantFrom<Provider>("kusto-with-etag", "kusto-without-etag", "cassandra"),
    initial: fc.integer({ min: 0, max: 1 }),
    first: fc.record({ casing: fc.constantFrom(...CASINGS), target: fc.integer({ min: 1, max: 3 }) }),
    second: fc.record({ casing: fc.constantFrom(...CASINGS), target: fc.integer({ min: 1, max: 3 }) }),
    /** A run's lease lapses mid-run (its instance froze): only etags still protect then. */
    leaseLapses: fc.boolean(),
  })
  .filter((scenario) => scenario.first.target !== scenario.second.target)
  .filter((scenario) => !scenario.leaseLapses || scenario.provider === "kusto-with-etag");

describe("repoint writes under generated interleavings", () => {
  it("never leave a consumer on an older version than it had", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, fc.scheduler(), async (scenario, s) => {
        const resource: Resource = { version: VERSIONS[scenario.initial]!.version, etag: 1, history: [] };
        const { adapter, id } = providerOver(resource, scenario.provider, s);
        let now = Date.UTC(2026, 0, 1, 1);
        const lock = new MemoryKeyLock({ now: () => new Date(now) }, LEASE_MS);

        const run = async (name: string, spec: RunSpec): Promise<string> => {
          await s.schedule(Promise.resolve(`${name} starts`), `${name} starts`);
          const key = { vaultUrl: VAULT, vaultName: "kv1", hostKind: "vault" as const, keyName: spec.casing };
          const lease = await lock.tryAcquire(keyRefId(key), name);
          if (!lease) return "busy";
          if (scenario.leaseLapses) now += LEASE_MS + 1;
          try {
            const observed = await adapter.read(id);
            const pinned = observed.pins[0]?.version ?? "";
            const target = VERSIONS[spec.target]!;
            // The planner never plans a repoint for a pin on or ahead of its target.
            if (position(pinned) >= spec.target) return "nothing to do";
            const known = VERSIONS.slice(0, spec.target + 1);
            const outcome = await adapter.beginRepoint(
              observed,
              observed.pins[0]?.pin ?? "key",
              target.version,
              {
                replaceable: versionsOlderThan(known, target.version),
              },
            );
            return outcome.status;
          } finally {
            await lease.release();
          }
        };

        const before = position(resource.version);
        const outcomes = await s.waitFor(Promise.all([run("A", scenario.first), run("B", scenario.second)]));

        let had = before;
        for (const landed of resource.history) {
          const now = position(landed);
          if (now < had) {
            throw new Error(
              `downgrade from version ${had + 1} to ${now + 1} (history ${resource.history.map((v) => position(v) + 1).join(" -> ")}; outcomes ${outcomes.join(", ")}; ${s
                .report()
                .map((task) => task.label)
                .join(" | ")})`,
            );
          }
          had = now;
        }
        expect(position(resource.version)).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 400 },
    );
  });
});
