/**
 * The simulated consumers of the default estate, ticked by hand on a manual clock with the
 * real Key Vault operations: their own cadence with jitter, silence while stopped or
 * deallocated, the first unwrap after a start, the error state a failed unwrap leaves on the
 * resource, re-wrapping on a switch, a staged stale version, auto-stop, and the Cosmos
 * first-party caller.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { isJsonObject } from "../../../../sandbox/arm/patchBody.js";
import {
  applyStateChange,
  lifecycleOf,
  parseStateChange,
} from "../../../../sandbox/consumers/consumerLifecycle.js";
import {
  type ConsumerUnwrap,
  consumerLoop,
  drawIntervalMs,
  updateConsumerBehaviour,
} from "../../../../sandbox/consumers/consumerSimulation.js";
import type { Estate } from "../../../../sandbox/estate.js";
import { SandboxHttpError } from "../../../../sandbox/http.js";
import { consumerKeyOperation } from "../../../../sandbox/keyvault/operations.js";
import type { SandboxConsumer, SandboxKeyVersion } from "../../../../sandbox/model.js";
import { defaultEstate, seedStore } from "../../../../sandbox/seed.js";
import { SandboxStore } from "../../../../sandbox/store.js";
import { ManualClock } from "../eventgrid/sandboxBuilders.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const DATA = `/subscriptions/${SUB}/resourceGroups/rg-data/providers`;
const ADX_PINNED = `${DATA}/Microsoft.Kusto/clusters/adx-pinned`;
const ADX_LATEST = `${DATA}/Microsoft.Kusto/clusters/adx-latest`;
const COSMOS_LATEST = `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-latest`;
const COSMOS_FIRST_PARTY = `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-firstparty`;
const CASSANDRA = `${DATA}/Microsoft.DocumentDB/cassandraClusters/cassandra-1`;
const DC_EAST = `${CASSANDRA}/dataCenters/dc-east`;
const FIRST_PARTY_OID = "77c0e3a1-6d2b-4f58-9e41-3a5b2c1d0e9f";

/** A deterministic random source: the same sequence every run. */
function sequence(values: number[]): () => number {
  let index = 0;
  return () => {
    const value = values[index % values.length] ?? 0.5;
    index++;
    return value;
  };
}

interface World {
  store: SandboxStore;
  clock: ManualClock;
  calls: Parameters<ConsumerUnwrap>[1][];
  tick(): void;
  /** Advance the clock in steps of 250 ms (the sandbox's tick), ticking each time. */
  run(ms: number): void;
  consumer(id: string): SandboxConsumer;
  properties(id: string): Record<string, unknown>;
  versions(vault: string, key: string): SandboxKeyVersion[];
}

function world(change: (estate: Estate) => void = () => undefined): World {
  const clock = new ManualClock(Date.UTC(2026, 0, 15));
  const store = new SandboxStore(clock, sequence([0.5]));
  const estate = defaultEstate();
  // Records visible at once: the default estate's per-record latency would draw from the same
  // random source as the cadence these tests pin down.
  estate.simulation = { ...estate.simulation, ingestionLatencySeconds: { min: 0, max: 0 } };
  change(estate);
  seedStore(store, estate);
  const calls: Parameters<ConsumerUnwrap>[1][] = [];
  const loop = consumerLoop((target, call) => {
    calls.push(call);
    return consumerKeyOperation(target, call);
  });
  const tick = () => {
    loop.tick(store);
  };
  return {
    store,
    clock,
    calls,
    tick,
    run(ms) {
      for (let elapsed = 0; elapsed < ms; elapsed += 250) {
        clock.advance(250);
        tick();
      }
    },
    consumer(id) {
      const found = store.consumers.get(id.toLowerCase());
      if (!found) throw new Error(`no consumer ${id}`);
      return found;
    },
    properties(id) {
      const body = store.armResource(id)?.body;
      return body && isJsonObject(body.properties) ? body.properties : {};
    },
    versions(vault, key) {
      return store.vaults.get(vault)?.keys.get(key)?.versions ?? [];
    },
  };
}

const callsOf = (w: World, objectId: string) => w.calls.filter((call) => call.callerObjectId === objectId);

describe("simulated consumers: cadence", () => {
  it("each consumer unwraps on its own interval, with jitter drawn per interval", () => {
    const w = world((estate) => {
      const adx = estate.consumers.find((consumer) => consumer.name === "adx-pinned");
      if (adx) adx.behaviour = { unwrapIntervalSeconds: 60, jitterSeconds: 30 };
    });
    w.store.random = sequence([0, 1]);
    const oid = w.consumer(ADX_PINNED).identityObjectId;
    w.tick();
    expect(callsOf(w, oid)).toHaveLength(1);
    // The first interval draws 0: 60 - 30 = 30 s.
    w.run(29_750);
    expect(callsOf(w, oid)).toHaveLength(1);
    w.run(250);
    expect(callsOf(w, oid)).toHaveLength(2);
    // The next draws 1: 60 + 30 = 90 s.
    w.run(89_750);
    expect(callsOf(w, oid)).toHaveLength(2);
    w.run(250);
    expect(callsOf(w, oid)).toHaveLength(3);
  });

  it("draws uniformly from unwrapIntervalSeconds ± jitterSeconds", () => {
    const store = new SandboxStore(new ManualClock(), sequence([0, 0.25, 0.5, 1]));
    const behaviour = {
      lagSeconds: 0,
      stuckOnVersion: null,
      unwrapIntervalSeconds: 3600,
      jitterSeconds: 600,
      unwrapVersion: null,
    };
    expect([0, 1, 2, 3].map(() => drawIntervalMs(store, behaviour) / 1000)).toEqual([3000, 3300, 3600, 4200]);
  });

  it("the control API changes the cadence from the last unwrap on", () => {
    const w = world();
    const oid = w.consumer(ADX_PINNED).identityObjectId;
    w.tick();
    updateConsumerBehaviour(w.store, { id: ADX_PINNED, unwrapIntervalSeconds: 3600, jitterSeconds: 0 });
    w.run(60_000);
    expect(callsOf(w, oid)).toHaveLength(1);
    expect(() =>
      updateConsumerBehaviour(w.store, { id: ADX_PINNED, unwrapIntervalSeconds: 10, jitterSeconds: 11 }),
    ).toThrow(SandboxHttpError);
    expect(w.consumer(ADX_PINNED).behaviour).toMatchObject({ unwrapIntervalSeconds: 3600, jitterSeconds: 0 });
  });
});

describe("simulated consumers: stopped, deallocated and started again", () => {
  it("a stopped Kusto cluster makes no calls and shows state Stopped; started, it first unwraps the version it stopped with", () => {
    const w = world();
    const adx = w.consumer(ADX_PINNED);
    const stoppedWith = adx.usage[0]?.version;
    w.tick();
    applyStateChange(w.store, parseStateChange(w.store, { id: ADX_PINNED, state: "Stopped" }));
    expect(w.properties(ADX_PINNED)).toMatchObject({ state: "Stopped", provisioningState: "Succeeded" });
    expect(lifecycleOf(w.store, adx)).toBe("Stopped");
    const before = callsOf(w, adx.identityObjectId).length;
    w.run(120_000);
    expect(callsOf(w, adx.identityObjectId)).toHaveLength(before);

    applyStateChange(w.store, parseStateChange(w.store, { id: ADX_PINNED, state: "Running" }));
    w.run(250);
    expect(w.properties(ADX_PINNED).state).toBe("Running");
    expect(callsOf(w, adx.identityObjectId).at(-1)).toMatchObject({
      operation: "unwrap",
      version: stoppedWith,
    });
  });

  it("a deallocated Cassandra cluster silences both data centers; the data centers show deallocated", () => {
    const w = world();
    const dc = w.consumer(DC_EAST);
    w.tick();
    const consumers = applyStateChange(
      w.store,
      parseStateChange(w.store, { id: CASSANDRA, state: "Deallocated" }),
    );
    expect(consumers.map((consumer) => consumer.id.split("/").at(-1))).toEqual(["dc-east", "dc-west"]);
    expect(w.store.armResource(CASSANDRA)?.body.properties).toMatchObject({ deallocated: true });
    expect(w.properties(DC_EAST)).toMatchObject({ deallocated: true });
    const before = callsOf(w, dc.identityObjectId).length;
    w.run(120_000);
    expect(callsOf(w, dc.identityObjectId)).toHaveLength(before);
    applyStateChange(w.store, parseStateChange(w.store, { id: CASSANDRA, state: "Running" }));
    w.run(250);
    expect(callsOf(w, dc.identityObjectId).length).toBeGreaterThan(before);
    expect(lifecycleOf(w.store, dc)).toBe("Running");
  });

  it("refuses a state a kind cannot take with 400, and an unknown resource with 404", () => {
    const w = world();
    const status = (body: unknown) => {
      try {
        parseStateChange(w.store, body);
        return 200;
      } catch (error) {
        if (error instanceof SandboxHttpError) return error.status;
        throw error;
      }
    };
    expect(status({ id: ADX_PINNED, state: "Deallocated" })).toBe(400);
    expect(status({ id: CASSANDRA, state: "Stopped" })).toBe(400);
    expect(status({ id: DC_EAST, state: "Deallocated" })).toBe(400);
    expect(status({ id: COSMOS_LATEST, state: "Stopped" })).toBe(400);
    expect(status({ id: ADX_PINNED, state: "Paused" })).toBe(400);
    expect(status({ id: ADX_PINNED, state: "Stopped", extra: 1 })).toBe(400);
    expect(status({ id: `${ADX_PINNED}-nope`, state: "Stopped" })).toBe(404);
    expect(status({ id: ADX_PINNED.toUpperCase(), state: "Stopped" })).toBe(200);
  });

  it("a Kusto cluster with auto-stop stops itself after its idle time, one without does not", () => {
    const w = world((estate) => {
      for (const consumer of estate.consumers) {
        if (consumer.kind !== "kusto") continue;
        consumer.autoStopAfterIdleSeconds = 600;
        consumer.enableAutoStop = consumer.name === "adx-latest";
      }
    });
    w.tick();
    w.run(599_000);
    expect(w.properties(ADX_LATEST).state).toBe("Running");
    w.run(1_000);
    expect(w.properties(ADX_LATEST).state).toBe("Stopped");
    expect(w.properties(ADX_PINNED).state).toBe("Running");
  });
});

describe("simulated consumers: failures and the error state", () => {
  it("a cluster started after its version was disabled fails: Key Vault's 403, the failure kept, the cluster Unavailable", () => {
    const w = world();
    const adx = w.consumer(ADX_PINNED);
    w.tick();
    applyStateChange(w.store, { id: ADX_PINNED, state: "Stopped" });
    w.run(60_000);
    const version = w.versions("kv-cmk-1", "adx-key").find((each) => each.version === adx.usage[0]?.version);
    if (version) version.enabled = false;
    applyStateChange(w.store, { id: ADX_PINNED, state: "Running" });
    w.run(250);
    expect(adx.failures.at(-1)).toMatchObject({
      version: version?.version,
      operationName: "KeyUnwrap",
      status: 403,
      errorCode: "KeyDisabled",
      at: w.clock.now(),
    });
    expect(w.properties(ADX_PINNED)).toMatchObject({ state: "Unavailable" });
    expect(String(w.properties(ADX_PINNED).stateReason)).toContain("KeyDisabled");
    expect(w.store.audit.at(-1)).toMatchObject({ httpStatusCode: 403, resultType: "Failure" });

    // Access back: the cluster resumes by itself.
    if (version) version.enabled = true;
    w.run(15_000);
    expect(w.properties(ADX_PINNED).state).toBe("Running");
    expect(w.properties(ADX_PINNED).stateReason).toBeUndefined();
  });

  it("Cosmos DB reports the revoke state in customerManagedKeyStatus; Cassandra fails its provisioning with Key Vault's code", () => {
    const w = world();
    w.tick();
    for (const [vault, key] of [
      ["kv-cmk-1", "cosmos-key"],
      ["kv-cmk-1", "cassandra-disk-key"],
    ] as const) {
      for (const version of w.versions(vault, key)) version.enabled = false;
    }
    w.run(20_000);
    expect(String(w.properties(COSMOS_LATEST).customerManagedKeyStatus)).toMatch(
      /^Access to your account is currently revoked because the current default identity no longer has permission .*\(4002\)\.$/,
    );
    expect(w.properties(DC_EAST)).toMatchObject({
      provisioningState: "Failed",
      provisionError: { code: "KeyDisabled", target: expect.stringContaining("/keys/cassandra-disk-key/") },
    });
  });

  it("a consumer does not move on while it cannot unwrap the version in use; it re-wraps once it can", () => {
    const w = world();
    const adx = w.consumer(ADX_LATEST);
    const old = adx.usage[0]?.version;
    w.tick();
    const oldVersion = w.versions("kv-cmk-1", "adx-key").find((each) => each.version === old);
    if (oldVersion) oldVersion.enabled = false;
    const next = rotate(w, "adx-key");
    w.run(30_000);
    expect(adx.usage[0]?.version).toBe(old);
    expect(adx.failures.some((failure) => failure.version === old)).toBe(true);
    if (oldVersion) oldVersion.enabled = true;
    w.run(60_000);
    expect(adx.usage[0]?.version).toBe(next);
    const switchCalls = callsOf(w, adx.identityObjectId).filter((call) => call.operation === "wrap");
    expect(switchCalls.at(-1)).toMatchObject({ version: next });
  });

  it("a staged stale version is tried on every unwrap until cleared", () => {
    const w = world();
    const cosmos = w.consumer(COSMOS_LATEST);
    const stale = w.versions("kv-cmk-1", "cosmos-key")[0];
    if (!stale) throw new Error("cosmos-key has no versions");
    stale.enabled = false;
    updateConsumerBehaviour(w.store, { id: COSMOS_LATEST, unwrapVersion: stale.version });
    w.tick();
    expect(callsOf(w, cosmos.identityObjectId).at(-1)).toMatchObject({ version: stale.version });
    expect(cosmos.failures.at(-1)).toMatchObject({ version: stale.version, status: 403 });
    updateConsumerBehaviour(w.store, { id: COSMOS_LATEST, unwrapVersion: null });
    w.run(20_000);
    expect(callsOf(w, cosmos.identityObjectId).at(-1)?.version).toBe(cosmos.usage[0]?.version);
    expect(String(w.properties(COSMOS_LATEST).customerManagedKeyStatus)).toContain("confirmed");
  });
});

describe("simulated consumers: Cosmos DB", () => {
  it("a FirstPartyIdentity account unwraps as the Azure Cosmos DB principal, never its own identity", () => {
    const w = world();
    const account = w.consumer(COSMOS_FIRST_PARTY);
    expect(account.identityObjectId).toBe(FIRST_PARTY_OID);
    w.tick();
    const record = w.store.audit.find((each) => each.callerObjectId === FIRST_PARTY_OID);
    expect(record).toMatchObject({
      operationName: "KeyUnwrap",
      callerAppId: "a232010e-820c-4083-83bb-3ace5fc29d0b",
      httpStatusCode: 200,
    });
    const own = w.store.identityByName("cosmos-firstparty")?.objectId;
    expect(w.store.audit.some((each) => each.callerObjectId === own)).toBe(false);
  });

  it("an account picks a new version up by itself after its pick-up delay", () => {
    const w = world((estate) => {
      const account = estate.consumers.find((consumer) => consumer.name === "cosmos-latest");
      if (account?.kind === "cosmos") account.pickUpDelaySeconds = 3600;
    });
    const account = w.consumer(COSMOS_LATEST);
    expect(account.behaviour.lagSeconds).toBe(3600);
    w.tick();
    const next = rotate(w, "cosmos-key");
    w.run(3_599_000);
    expect(account.usage[0]?.version).not.toBe(next);
    w.run(2_000);
    expect(account.usage[0]?.version).toBe(next);
  });
});

/** A new version of a vault key, as Key Vault's rotate adds it (without the HTTP call). */
function rotate(w: World, key: string): string {
  const versions = w.versions("kv-cmk-1", key);
  const newest = versions.at(-1);
  if (!newest) throw new Error(`no versions of ${key}`);
  const version = {
    ...newest,
    version: randomBytes(16).toString("hex"),
    created: w.clock.now(),
    enabled: true,
    tags: {},
  };
  versions.push(version);
  return version.version;
}
