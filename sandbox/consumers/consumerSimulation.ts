/**
 * Simulated consumers: one per Kusto cluster, Cosmos DB account and Cassandra data center of
 * the estate. Each really uses its key: every `unwrapIntervalSeconds` it unwraps with the
 * version it currently uses, under its own identity, so the audit logs show it; and it
 * follows repoints with a lag (see followKeyReferences). Control:
 * `POST /_sandbox/consumers/behaviour {"id", "lagSeconds"?, "stuckOnVersion"?}`.
 */
import type { Estate, EstateConsumer, EstateConsumerBehaviour, EstateKeyRef } from "../estate.js";
import { SandboxHttpError } from "../http.js";
import { findVault } from "../keyvault/operations.js";
import type { ConsumerBehaviour, ConsumerUsage, SandboxConsumer } from "../model.js";
import type { SandboxBackgroundLoop } from "../registry.js";
import type { SandboxStore } from "../store.js";
import { followKeyReferences } from "./followKeyReferences.js";
import { lookUpKey, resolveEstateVersion } from "./pinnedKeys.js";

export const DEFAULT_UNWRAP_INTERVAL_SECONDS = 10;
export const DEFAULT_LAG_SECONDS = 5;

/** What a consumer's periodic unwrap calls (keyvault/operations.ts consumerUnwrap in the sandbox). */
export type ConsumerUnwrap = (
  store: SandboxStore,
  call: { callerObjectId: string; vault: string; key: string; version: string },
) => { status: number; errorCode?: string };

interface ConsumerSimulation {
  unwrapIntervalMs: number;
  /** Last unwrap per consumer id. */
  lastUnwrapAt: Map<string, number>;
}

const simulations = new WeakMap<SandboxStore, ConsumerSimulation>();

function simulationOf(store: SandboxStore): ConsumerSimulation {
  let simulation = simulations.get(store);
  if (!simulation) {
    simulation = { unwrapIntervalMs: DEFAULT_UNWRAP_INTERVAL_SECONDS * 1000, lastUnwrapAt: new Map() };
    simulations.set(store, simulation);
  }
  return simulation;
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
  ...sources: (EstateConsumerBehaviour | undefined)[]
): ConsumerBehaviour {
  const defaultLag = estate.simulation?.defaultLagSeconds ?? DEFAULT_LAG_SECONDS;
  const lagSeconds = sources.find((source) => source?.lagSeconds !== undefined)?.lagSeconds ?? defaultLag;
  const stuckOnVersion =
    sources.find((source) => source?.stuckOnVersion !== undefined)?.stuckOnVersion ?? null;
  return { lagSeconds, stuckOnVersion };
}

/** Build `store.consumers` from `estate.consumers`; runs after vaults, keys and identities exist. */
export function seedConsumers(store: SandboxStore, estate: Estate): void {
  const simulation = simulationOf(store);
  simulation.unwrapIntervalMs =
    (estate.simulation?.unwrapIntervalSeconds ?? DEFAULT_UNWRAP_INTERVAL_SECONDS) * 1000;
  const now = store.now();
  for (const [index, consumer] of estate.consumers.entries()) {
    const where = `estate.consumers[${index}] (${consumer.name})`;
    const identity = store.identityByName(consumer.identity);
    if (!identity) throw new Error(`${where}: identity "${consumer.identity}" is not in estate.identities.`);
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
        identityObjectId: identity.objectId,
        behaviour,
        usage: pins,
      });
    };
    if (consumer.kind === "cassandra") {
      for (const [dcIndex, dataCenter] of consumer.dataCenters.entries()) {
        const at = `${where}.dataCenters[${dcIndex}] (${dataCenter.name})`;
        add(
          `${consumerResourceId(consumer)}/dataCenters/${dataCenter.name}`,
          behaviourFrom(estate, dataCenter.behaviour, consumer.behaviour),
          [
            usage("managedDisk", dataCenter.managedDiskKey, `${at}.managedDiskKey`),
            usage("backupStorage", dataCenter.backupStorageKey, `${at}.backupStorageKey`),
          ],
        );
      }
    } else {
      add(consumerResourceId(consumer), behaviourFrom(estate, consumer.behaviour), [
        usage("key", consumer.key, `${where}.key`),
      ]);
    }
  }
}

/** The background loop: follow repoints on every tick, unwrap every `unwrapIntervalSeconds`. */
export function consumerLoop(unwrap: ConsumerUnwrap): SandboxBackgroundLoop {
  return {
    name: "simulated-consumers",
    tick(store) {
      const simulation = simulationOf(store);
      const now = store.now();
      for (const consumer of store.consumers.values()) {
        followKeyReferences(store, consumer, now);
        const last = simulation.lastUnwrapAt.get(consumer.id);
        if (last !== undefined && now - last < simulation.unwrapIntervalMs) continue;
        simulation.lastUnwrapAt.set(consumer.id, now);
        for (const usage of consumer.usage) {
          unwrap(store, {
            callerObjectId: consumer.identityObjectId,
            vault: usage.vault,
            key: usage.key,
            version: usage.version,
          });
        }
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

/**
 * Validate and apply `{"id", "lagSeconds"?, "stuckOnVersion"?: "<version>" | null}`: 404 for an
 * unknown consumer, 400 for anything malformed; nothing changes unless everything is valid.
 */
export function updateConsumerBehaviour(store: SandboxStore, body: unknown): SandboxConsumer {
  const fields = requireObject(body);
  const allowed = ["id", "lagSeconds", "stuckOnVersion"];
  const unknown = Object.keys(fields).filter((name) => !allowed.includes(name));
  if (unknown.length > 0) {
    throw new SandboxHttpError(
      400,
      "BadRequest",
      `Unknown field(s) ${unknown.join(", ")}; allowed: ${allowed.join(", ")}.`,
    );
  }
  const { id, lagSeconds, stuckOnVersion } = fields;
  if (typeof id !== "string" || id === "") {
    throw new SandboxHttpError(400, "BadRequest", `"id" must be the resource id of a consumer.`);
  }
  const consumer = store.consumers.get(id.toLowerCase());
  if (!consumer) {
    throw new SandboxHttpError(
      404,
      "NotFound",
      `No simulated consumer has the id ${id}; see GET /_sandbox/state for the ids.`,
    );
  }
  if (
    lagSeconds !== undefined &&
    (typeof lagSeconds !== "number" || !Number.isFinite(lagSeconds) || lagSeconds < 0)
  ) {
    throw new SandboxHttpError(
      400,
      "BadRequest",
      `"lagSeconds" must be a number of seconds >= 0, not ${JSON.stringify(lagSeconds)}.`,
    );
  }
  if (stuckOnVersion !== undefined && stuckOnVersion !== null) {
    if (typeof stuckOnVersion !== "string") {
      throw new SandboxHttpError(
        400,
        "BadRequest",
        `"stuckOnVersion" must be a key version or null, not ${JSON.stringify(stuckOnVersion)}.`,
      );
    }
    const known = consumer.usage.some((usage) =>
      lookUpKey(store, usage.vault, usage.key)?.versions.some(
        (version) => version.version.toLowerCase() === stuckOnVersion.toLowerCase(),
      ),
    );
    if (!known) {
      throw new SandboxHttpError(
        400,
        "BadRequest",
        `"stuckOnVersion" ${stuckOnVersion} is not a version of a key that ${consumer.id} uses (${consumer.usage.map((usage) => `${usage.vault}/${usage.key}`).join(", ")}).`,
      );
    }
  }
  if (lagSeconds === undefined && stuckOnVersion === undefined) {
    throw new SandboxHttpError(400, "BadRequest", `Give "lagSeconds" and/or "stuckOnVersion" to change.`);
  }
  if (typeof lagSeconds === "number") consumer.behaviour.lagSeconds = lagSeconds;
  if (stuckOnVersion !== undefined) consumer.behaviour.stuckOnVersion = stuckOnVersion as string | null;
  return consumer;
}
