/**
 * Simulated consumers: one per Kusto cluster, Cosmos DB account and Cassandra data center of
 * the estate. Each really uses its key, as quietly as real services do:
 *
 * - It unwraps on its own cadence, with jitter: every `unwrapIntervalSeconds` ± `jitterSeconds`
 *   (per consumer in the estate's `behaviour`; default the estate's
 *   `simulation.unwrapIntervalSeconds`), under its own identity (a Cosmos FirstPartyIdentity
 *   account as the Azure Cosmos DB first-party principal), so the audit logs show it.
 * - It follows repoints (or, when versionless, new versions) after `lagSeconds` (for Cosmos
 *   the estate's `pickUpDelaySeconds`), by re-wrapping: it unwraps with the version in use and
 *   wraps with the new one (see followKeyReferences).
 * - A stopped Kusto cluster or a deallocated Cassandra cluster makes no calls at all; a Kusto
 *   cluster with `enableAutoStop` stops itself after `autoStopAfterIdleSeconds`. When a
 *   consumer starts again its first call is an unwrap of the version its data was last
 *   wrapped with, before it moves on.
 * - Every unwrap it cannot do is kept in `failures` (version and time), and its resource
 *   shows the error state its service shows (consumerLifecycle.reflectKeyHealth); the audit
 *   log has Key Vault's 403.
 *
 * Control: `POST /_sandbox/consumers/behaviour {"id", "lagSeconds"?, "stuckOnVersion"?,
 * "unwrapIntervalSeconds"?, "jitterSeconds"?, "unwrapVersion"?}` and
 * `POST /_sandbox/consumers/state` (consumerLifecycle.ts).
 */
import { cosmosFirstPartyPrincipal, cosmosUnwrappingPrincipal } from "../arm/cosmosAccounts.js";
import { kustoAutoStopEnabled } from "../arm/kustoClusters.js";
import type { Estate, EstateConsumer, EstateConsumerBehaviour, EstateKeyRef } from "../estate.js";
import { SandboxHttpError } from "../http.js";
import type { ConsumerKeyCall } from "../keyvault/operations.js";
import { findVault } from "../keyvault/operations.js";
import type { ConsumerBehaviour, ConsumerFailure, ConsumerUsage, SandboxConsumer } from "../model.js";
import type { SandboxBackgroundLoop } from "../registry.js";
import type { SandboxStore } from "../store.js";
import { lifecycleOf, reflectKeyHealth, stopKustoCluster } from "./consumerLifecycle.js";
import { followKeyReferences, type UsageTarget } from "./followKeyReferences.js";
import { lookUpKey, resolveEstateVersion } from "./pinnedKeys.js";

export const DEFAULT_UNWRAP_INTERVAL_SECONDS = 10;
export const DEFAULT_LAG_SECONDS = 5;
/** Five days: how long Azure Data Explorer waits before it stops an inactive cluster with little or no data. */
export const DEFAULT_AUTO_STOP_AFTER_IDLE_SECONDS = 5 * 24 * 3600;
/** How many failures each consumer keeps (the newest). */
export const CONSUMER_FAILURES_KEPT = 100;

/** What a consumer's key calls go through (keyvault/operations.ts consumerKeyOperation in the sandbox). */
export type ConsumerUnwrap = (
  store: SandboxStore,
  call: ConsumerKeyCall,
) => { status: number; errorCode?: string };

interface ConsumerRuntime {
  /** When the next periodic unwrap is due. */
  nextUnwrapAt: number;
  lastUnwrapAt?: number;
  /** Earliest retry of a switch whose re-wrap failed. */
  nextSwitchAttemptAt: number;
  /** Since when it runs (idle time for auto-stop counts from here). */
  runningSince: number;
  running: boolean;
}

interface ConsumerSimulation {
  defaultIntervalSeconds: number;
  runtimes: Map<string, ConsumerRuntime>;
  /** Kusto auto-stop after this much idleness, per consumer id (lower case). */
  autoStopAfterIdleMs: Map<string, number>;
}

const simulations = new WeakMap<SandboxStore, ConsumerSimulation>();

function simulationOf(store: SandboxStore): ConsumerSimulation {
  let simulation = simulations.get(store);
  if (!simulation) {
    simulation = {
      defaultIntervalSeconds: DEFAULT_UNWRAP_INTERVAL_SECONDS,
      runtimes: new Map(),
      autoStopAfterIdleMs: new Map(),
    };
    simulations.set(store, simulation);
  }
  return simulation;
}

function runtimeOf(store: SandboxStore, consumer: SandboxConsumer): ConsumerRuntime {
  const simulation = simulationOf(store);
  const key = consumer.id.toLowerCase();
  let runtime = simulation.runtimes.get(key);
  if (!runtime) {
    const now = store.now();
    runtime = { nextUnwrapAt: now, nextSwitchAttemptAt: now, runningSince: now, running: true };
    simulation.runtimes.set(key, runtime);
  }
  return runtime;
}

/** When a consumer unwraps next, and when it last did (for the state view). */
export function unwrapSchedule(
  store: SandboxStore,
  consumer: SandboxConsumer,
): { nextUnwrapAt: number; lastUnwrapAt?: number } {
  const runtime = runtimeOf(store, consumer);
  return runtime.lastUnwrapAt === undefined
    ? { nextUnwrapAt: runtime.nextUnwrapAt }
    : { nextUnwrapAt: runtime.nextUnwrapAt, lastUnwrapAt: runtime.lastUnwrapAt };
}

/** One interval of a consumer's cadence, in ms: unwrapIntervalSeconds ± jitterSeconds, uniformly. */
export function drawIntervalMs(store: SandboxStore, behaviour: ConsumerBehaviour): number {
  const jitter = Math.min(behaviour.jitterSeconds, behaviour.unwrapIntervalSeconds);
  const seconds = behaviour.unwrapIntervalSeconds + (store.random() * 2 - 1) * jitter;
  return Math.max(0, seconds) * 1000;
}

function consumerResourceId(consumer: EstateConsumer): string {
  const group = `/subscriptions/${consumer.subscriptionId}/resourceGroups/${consumer.resourceGroup}/providers`;
  switch (consumer.kind) {
    case "kusto":
      return `${group}/Microsoft.Kusto/clusters/${consumer.name}`;
    case "cosmos":
      return `${group}/Microsoft.DocumentDB/databaseAccounts/${consumer.name}`;
    case "cassandra":
      return `${group}/Microsoft.DocumentDB/cassandraClusters/${consumer.name}`;
  }
}

function behaviourFrom(
  estate: Estate,
  overrides: { lagSeconds?: number },
  ...sources: (EstateConsumerBehaviour | undefined)[]
): ConsumerBehaviour {
  const pick = <K extends keyof EstateConsumerBehaviour>(name: K) =>
    sources.find((source) => source?.[name] !== undefined)?.[name];
  return {
    lagSeconds:
      overrides.lagSeconds ??
      pick("lagSeconds") ??
      estate.simulation?.defaultLagSeconds ??
      DEFAULT_LAG_SECONDS,
    stuckOnVersion: pick("stuckOnVersion") ?? null,
    unwrapIntervalSeconds:
      pick("unwrapIntervalSeconds") ??
      estate.simulation?.unwrapIntervalSeconds ??
      DEFAULT_UNWRAP_INTERVAL_SECONDS,
    jitterSeconds: pick("jitterSeconds") ?? 0,
    unwrapVersion: null,
  };
}

/** Who unwraps for an estate consumer: its identity, or for a FirstPartyIdentity account the Cosmos first-party principal. */
function unwrappingIdentity(store: SandboxStore, consumer: EstateConsumer, where: string): string {
  if (consumer.kind === "cosmos" && consumer.defaultIdentity === "FirstPartyIdentity") {
    const firstParty = cosmosFirstPartyPrincipal(store);
    if (!firstParty)
      throw new Error(
        `${where}: FirstPartyIdentity needs the Azure Cosmos DB principal in estate.identities.`,
      );
    return firstParty.objectId;
  }
  const identity = store.identityByName(consumer.identity);
  if (!identity) throw new Error(`${where}: identity "${consumer.identity}" is not in estate.identities.`);
  return identity.objectId;
}

/** Build `store.consumers` from `estate.consumers`; runs after vaults, keys and identities exist. */
export function seedConsumers(store: SandboxStore, estate: Estate): void {
  const simulation = simulationOf(store);
  simulation.defaultIntervalSeconds =
    estate.simulation?.unwrapIntervalSeconds ?? DEFAULT_UNWRAP_INTERVAL_SECONDS;
  const now = store.now();
  for (const [index, consumer] of estate.consumers.entries()) {
    const where = `estate.consumers[${index}] (${consumer.name})`;
    const identityObjectId = unwrappingIdentity(store, consumer, where);
    const usage = (pin: string, reference: EstateKeyRef, at: string): ConsumerUsage => {
      const version = resolveEstateVersion(store, reference, at);
      return {
        pin,
        vault: findVault(store, reference.vault)?.name ?? reference.vault,
        key: lookUpKey(store, reference.vault, reference.key)?.name ?? reference.key,
        version,
        since: now,
      };
    };
    const add = (id: string, behaviour: ConsumerBehaviour, pins: ConsumerUsage[]) => {
      store.consumers.set(id.toLowerCase(), {
        id,
        kind: consumer.kind,
        identityObjectId,
        behaviour,
        usage: pins,
        failures: [],
      });
    };
    if (consumer.kind === "cassandra") {
      for (const [dcIndex, dataCenter] of consumer.dataCenters.entries()) {
        const at = `${where}.dataCenters[${dcIndex}] (${dataCenter.name})`;
        add(
          `${consumerResourceId(consumer)}/dataCenters/${dataCenter.name}`,
          behaviourFrom(estate, {}, dataCenter.behaviour, consumer.behaviour),
          [
            usage("managedDisk", dataCenter.managedDiskKey, `${at}.managedDiskKey`),
            usage("backupStorage", dataCenter.backupStorageKey, `${at}.backupStorageKey`),
          ],
        );
      }
    } else {
      const overrides =
        consumer.kind === "cosmos" && consumer.pickUpDelaySeconds !== undefined
          ? { lagSeconds: consumer.pickUpDelaySeconds }
          : {};
      const id = consumerResourceId(consumer);
      add(id, behaviourFrom(estate, overrides, consumer.behaviour), [
        usage("key", consumer.key, `${where}.key`),
      ]);
      if (consumer.kind === "kusto") {
        simulation.autoStopAfterIdleMs.set(
          id.toLowerCase(),
          (consumer.autoStopAfterIdleSeconds ?? DEFAULT_AUTO_STOP_AFTER_IDLE_SECONDS) * 1000,
        );
      }
    }
  }
}

/** Who unwraps now: what the resource's body says (a PATCH may change a Cosmos account's defaultIdentity), else the seeded identity. */
function callerOf(store: SandboxStore, consumer: SandboxConsumer): string {
  if (consumer.kind === "cosmos") {
    const resource = store.armResource(consumer.id);
    const principal = resource ? cosmosUnwrappingPrincipal(store, resource.body) : undefined;
    if (principal) return principal;
  }
  return consumer.identityObjectId;
}

function recordFailure(consumer: SandboxConsumer, failure: ConsumerFailure): void {
  consumer.failures.push(failure);
  if (consumer.failures.length > CONSUMER_FAILURES_KEPT)
    consumer.failures.splice(0, consumer.failures.length - CONSUMER_FAILURES_KEPT);
}

/** The version a pin's periodic unwrap tries: the staged stale version when it belongs to this pin's key. */
function versionToUnwrap(store: SandboxStore, consumer: SandboxConsumer, usage: ConsumerUsage): string {
  const staged = consumer.behaviour.unwrapVersion;
  if (staged === null) return usage.version;
  const key = lookUpKey(store, usage.vault, usage.key);
  return key?.versions.some((version) => version.version.toLowerCase() === staged.toLowerCase())
    ? staged.toLowerCase()
    : usage.version;
}

interface KeyCallResult {
  failure: ConsumerFailure | undefined;
}

function callKey(
  store: SandboxStore,
  consumer: SandboxConsumer,
  call: ConsumerUnwrap,
  usage: { pin: string; vault: string; key: string },
  version: string,
  operation: "unwrap" | "wrap",
): KeyCallResult {
  const result = call(store, {
    callerObjectId: callerOf(store, consumer),
    vault: usage.vault,
    key: usage.key,
    version,
    operation,
  });
  if (result.status < 400) return { failure: undefined };
  const failure: ConsumerFailure = {
    pin: usage.pin,
    vault: usage.vault,
    key: usage.key,
    version,
    operationName: operation === "unwrap" ? "KeyUnwrap" : "KeyWrap",
    at: store.now(),
    status: result.status,
    ...(result.errorCode ? { errorCode: result.errorCode } : {}),
  };
  recordFailure(consumer, failure);
  return { failure };
}

/** Unwrap every pin once (the periodic use); the resource shows the outcome. */
function unwrapAll(store: SandboxStore, consumer: SandboxConsumer, call: ConsumerUnwrap): void {
  let firstFailure: ConsumerFailure | undefined;
  for (const usage of consumer.usage) {
    const { failure } = callKey(
      store,
      consumer,
      call,
      usage,
      versionToUnwrap(store, consumer, usage),
      "unwrap",
    );
    firstFailure ??= failure;
  }
  reflectKeyHealth(store, consumer, firstFailure);
}

/** The background loop: lifecycle, following repoints, and unwraps on each consumer's cadence. */
export function consumerLoop(call: ConsumerUnwrap): SandboxBackgroundLoop {
  return {
    name: "simulated-consumers",
    tick(store) {
      const simulation = simulationOf(store);
      const now = store.now();
      for (const consumer of store.consumers.values()) {
        const runtime = runtimeOf(store, consumer);
        if (lifecycleOf(store, consumer) !== "Running") {
          runtime.running = false;
          continue;
        }
        if (!runtime.running) {
          // Started again: first unwrap what its data was last wrapped with, then move on.
          runtime.running = true;
          runtime.runningSince = now;
          runtime.nextUnwrapAt = now;
          runtime.nextSwitchAttemptAt = now;
        }
        const autoStopAfter = simulation.autoStopAfterIdleMs.get(consumer.id.toLowerCase());
        const resource = store.armResource(consumer.id);
        if (
          consumer.kind === "kusto" &&
          autoStopAfter !== undefined &&
          resource &&
          kustoAutoStopEnabled(resource.body) &&
          now - runtime.runningSince >= autoStopAfter
        ) {
          stopKustoCluster(store, consumer);
          runtime.running = false;
          continue;
        }
        const due = now >= runtime.nextUnwrapAt;
        if (due) {
          unwrapAll(store, consumer, call);
          runtime.lastUnwrapAt = now;
          runtime.nextUnwrapAt = now + drawIntervalMs(store, consumer.behaviour);
        }
        if (now < runtime.nextSwitchAttemptAt) continue;
        followKeyReferences(store, consumer, now, (usage, target: UsageTarget) => {
          const unwrapped = callKey(store, consumer, call, usage, usage.version, "unwrap");
          const wrapped = unwrapped.failure
            ? unwrapped
            : callKey(store, consumer, call, { ...usage, ...target }, target.version, "wrap");
          if (!wrapped.failure) return true;
          reflectKeyHealth(store, consumer, wrapped.failure);
          runtime.nextSwitchAttemptAt = now + drawIntervalMs(store, consumer.behaviour);
          return false;
        });
      }
    },
  };
}

function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new SandboxHttpError(400, "BadRequest", "A consumer behaviour must be a JSON object.");
  }
  return body as Record<string, unknown>;
}

function badRequest(message: string): SandboxHttpError {
  return new SandboxHttpError(400, "BadRequest", message);
}

function seconds(value: unknown, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > 10 * 366 * 24 * 3600) {
    throw badRequest(`"${name}" must be a number of seconds >= ${min}, not ${JSON.stringify(value)}.`);
  }
  return value;
}

function versionOfConsumer(
  store: SandboxStore,
  consumer: SandboxConsumer,
  value: unknown,
  name: string,
): string | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== "string") {
    throw badRequest(`"${name}" must be a key version or null, not ${JSON.stringify(value)}.`);
  }
  const known = consumer.usage.some((usage) =>
    lookUpKey(store, usage.vault, usage.key)?.versions.some(
      (version) => version.version.toLowerCase() === value.toLowerCase(),
    ),
  );
  if (!known) {
    throw badRequest(
      `"${name}" ${value} is not a version of a key that ${consumer.id} uses (${consumer.usage.map((usage) => `${usage.vault}/${usage.key}`).join(", ")}).`,
    );
  }
  return value;
}

const BEHAVIOUR_FIELDS = [
  "id",
  "lagSeconds",
  "stuckOnVersion",
  "unwrapIntervalSeconds",
  "jitterSeconds",
  "unwrapVersion",
];

/**
 * Validate and apply `{"id", "lagSeconds"?, "stuckOnVersion"?: "<version>" | null,
 * "unwrapIntervalSeconds"?, "jitterSeconds"?, "unwrapVersion"?: "<version>" | null}`: 404 for
 * an unknown consumer, 400 for anything malformed; nothing changes unless everything is valid.
 */
export function updateConsumerBehaviour(store: SandboxStore, body: unknown): SandboxConsumer {
  const fields = requireObject(body);
  const unknown = Object.keys(fields).filter((name) => !BEHAVIOUR_FIELDS.includes(name));
  if (unknown.length > 0) {
    throw badRequest(`Unknown field(s) ${unknown.join(", ")}; allowed: ${BEHAVIOUR_FIELDS.join(", ")}.`);
  }
  const { id } = fields;
  if (typeof id !== "string" || id === "") {
    throw badRequest(`"id" must be the resource id of a consumer.`);
  }
  const consumer = store.consumers.get(id.toLowerCase());
  if (!consumer) {
    throw new SandboxHttpError(
      404,
      "NotFound",
      `No simulated consumer has the id ${id}; see GET /_sandbox/state for the ids.`,
    );
  }
  const lagSeconds = seconds(fields.lagSeconds, "lagSeconds", 0);
  const unwrapIntervalSeconds = seconds(fields.unwrapIntervalSeconds, "unwrapIntervalSeconds", 1);
  const jitterSeconds = seconds(fields.jitterSeconds, "jitterSeconds", 0);
  const stuckOnVersion = versionOfConsumer(store, consumer, fields.stuckOnVersion, "stuckOnVersion");
  const unwrapVersion = versionOfConsumer(store, consumer, fields.unwrapVersion, "unwrapVersion");
  const interval = unwrapIntervalSeconds ?? consumer.behaviour.unwrapIntervalSeconds;
  const jitter = jitterSeconds ?? consumer.behaviour.jitterSeconds;
  if (jitter > interval) {
    throw badRequest(`"jitterSeconds" (${jitter}) must be at most "unwrapIntervalSeconds" (${interval}).`);
  }
  if (Object.keys(fields).length === 1) {
    throw badRequest(
      `Give at least one of ${BEHAVIOUR_FIELDS.slice(1)
        .map((name) => `"${name}"`)
        .join(", ")} to change.`,
    );
  }
  if (lagSeconds !== undefined) consumer.behaviour.lagSeconds = lagSeconds;
  if (stuckOnVersion !== undefined) consumer.behaviour.stuckOnVersion = stuckOnVersion;
  if (unwrapVersion !== undefined) consumer.behaviour.unwrapVersion = unwrapVersion?.toLowerCase() ?? null;
  consumer.behaviour.unwrapIntervalSeconds = interval;
  consumer.behaviour.jitterSeconds = jitter;
  if (unwrapIntervalSeconds !== undefined || jitterSeconds !== undefined) {
    // The next unwrap follows the new cadence from the last one.
    const runtime = runtimeOf(store, consumer);
    runtime.nextUnwrapAt = (runtime.lastUnwrapAt ?? store.now()) + drawIntervalMs(store, consumer.behaviour);
  }
  return consumer;
}

/**
 * `POST /_sandbox/consumers/unwrap {"id"}`: the consumer makes its next call now instead of on
 * its cadence (its loop runs it at the next tick): a rare caller, silent for longer than any
 * window, reappears on demand. It unwraps what it would on its cadence (its `unwrapVersion`, else
 * the version it uses), and the outcome shows as always (audit record, `failures`, the
 * resource's key status). 404 for an unknown consumer, 409 for one that is stopped or
 * deallocated (it makes no calls: start it with `/_sandbox/consumers/state`), 400 for anything else.
 */
export function requestUnwrapNow(store: SandboxStore, body: unknown): SandboxConsumer {
  const fields = requireObject(body);
  const unknown = Object.keys(fields).filter((name) => name !== "id");
  if (unknown.length > 0) throw badRequest(`Unknown field(s) ${unknown.join(", ")}; allowed: id.`);
  const { id } = fields;
  if (typeof id !== "string" || id === "") throw badRequest(`"id" must be the resource id of a consumer.`);
  const consumer = store.consumers.get(id.toLowerCase());
  if (!consumer) {
    throw new SandboxHttpError(
      404,
      "NotFound",
      `No simulated consumer has the id ${id}; see GET /_sandbox/state for the ids.`,
    );
  }
  const state = lifecycleOf(store, consumer);
  if (state !== "Running") {
    throw new SandboxHttpError(
      409,
      "Conflict",
      `${consumer.id} is ${state} and makes no calls; start it with POST /_sandbox/consumers/state first.`,
    );
  }
  runtimeOf(store, consumer).nextUnwrapAt = store.now();
  return consumer;
}
