/**
 * Observation: everything the planner needs about a set of keys, gathered in one pass.
 *
 *   keys ──► versions + canary read (Key Vault / Managed HSM)
 *   subscriptions ──► Resource Graph discovery ──► each consumer's facts from its row
 *                     (an ARM GET only for a row that cannot tell them; fresh reads where they
 *                     decide something: `confirmConsumers`, asked by `plan/freshReads.ts`)
 *   workspaces ──► ONE audit query per workspace (and table) for all its keys
 *   callers in the evidence ──► named: consumers, the Cosmos DB first-party app, the service,
 *                               resources discovery saw, then ONE Resource Graph query for the rest
 *   ──► Snapshot
 *
 * A key or consumer that cannot be read is recorded and the rest carries on. Anything that
 * leaves the picture of who uses a key incomplete (an unreadable consumer, an incomplete
 * discovery) makes that key's audit evidence incomplete, so nothing is retired on it.
 * Discovery failing as a whole throws: without consumers nothing can be planned safely.
 */
import type { AuditLogReader } from "../adapters/auditLogs.js";
import { auditLogReaderFromFactory } from "../adapters/auditLogs.js";
import type { DiscoveredConsumer } from "../adapters/consumers/consumerAdapter.js";
import type { ConsumerAdapters } from "../adapters/consumers/registry.js";
import { sameKeyIdentity } from "../adapters/keyRef.js";
import type { KeyVaultAdapter } from "../adapters/keyVault.js";
import { type ConsumerDiscovery, consumerDiscoveryFromFactory } from "../adapters/resourceGraph.js";
import type { AzureClientFactory } from "../azure/clientFactory.js";
import { describeError } from "../errors.js";
import { mapLimited } from "../mapLimited.js";
import {
  type AuditEvidence,
  type CallerAttribution,
  COSMOS_FIRST_PARTY_APP_ID,
  type ConsumerSnapshot,
  type KeyRef,
  type KeySnapshot,
  keyRefId,
  type Snapshot,
} from "../model.js";
import { consumerAttributions } from "../plan/callers.js";
import type { RotatorLog } from "../rotation/log.js";
import type { AuditTable, ManagedVault } from "../settings.js";

export interface ObserveConfig {
  managedVaults: readonly ManagedVault[];
  subscriptions: readonly string[];
  servicePrincipalId: string;
  quietPeriodMs: number;
  ingestionMarginMs: number;
}

export interface ObserveDeps {
  keyVault: KeyVaultAdapter;
  discovery: ConsumerDiscovery;
  consumers: ConsumerAdapters;
  audit: AuditLogReader;
  config: ObserveConfig;
  log: RotatorLog;
  /** Parallel key and consumer reads (default 8). */
  concurrency?: number;
  /**
   * Read after the canary reads, so the audit query's window reaches past them: where logs
   * arrive at once (the sandbox), this run's own read proves the pipeline current. Without it
   * the window ends at `now`.
   */
  clock?: { now(): Date };
}

/** The keys to observe (the caller chose them: every managed key, or one). */
export interface ObserveScope {
  keys: readonly KeyRef[];
  /** Consumers may come from listings younger than this that an earlier run made (absent: list afresh). */
  listingMaxAgeMs?: number;
}

/** Each key list's first spelling of every key, by sameKey's identity (worked out once per list: lists are not changed). */
const keyIndexes = new WeakMap<readonly KeyRef[], Map<string, KeyRef>>();

function keyIndex(keys: readonly KeyRef[]): Map<string, KeyRef> {
  let index = keyIndexes.get(keys);
  if (!index) {
    index = new Map();
    for (const key of keys) {
      const identity = sameKeyIdentity(key);
      if (!index.has(identity)) index.set(identity, key);
    }
    keyIndexes.set(keys, index);
  }
  return index;
}

function uniqueKeys(keys: readonly KeyRef[]): KeyRef[] {
  return [...keyIndex(keys).values()];
}

/** The scope's own spelling of a key, so every pin and evidence entry uses one `keyRefId`. */
function canonical(keys: readonly KeyRef[], key: KeyRef): KeyRef {
  return keyIndex(keys).get(sameKeyIdentity(key)) ?? key;
}

/** How far back the audit query must look: the quiet period or the longest backup retention, plus the ingestion margin. */
export function evidenceWindowMs(config: ObserveConfig, consumers: readonly ConsumerSnapshot[]): number {
  const longestRetention = Math.max(
    0,
    ...consumers.map((consumer) => consumer.backupRetention?.retentionMs ?? 0),
  );
  return Math.max(config.quietPeriodMs, longestRetention) + config.ingestionMarginMs;
}

function markIncomplete(evidence: AuditEvidence, problem: string): AuditEvidence {
  return {
    ...evidence,
    complete: false,
    problem: evidence.problem ? `${evidence.problem}; ${problem}` : problem,
  };
}

/** A consumer's pins in the scope's spelling of each key, logged. */
function canonicalPins(
  keys: readonly KeyRef[],
  snapshot: ConsumerSnapshot,
  log: RotatorLog,
): ConsumerSnapshot {
  const pins = snapshot.pins.map((pin) => ({ ...pin, key: canonical(keys, pin.key) }));
  for (const pin of pins) {
    log.info("observed consumer pin", {
      consumer: snapshot.id,
      kind: snapshot.kind,
      pin: pin.pin,
      key: keyRefId(pin.key),
      version: pin.version ?? "latest",
      inUse: snapshot.inUse[pin.pin],
      provisioningState: snapshot.provisioningState,
      readFrom: snapshot.readFrom ?? "resource-manager",
    });
  }
  return { ...snapshot, pins };
}

/** An ARM GET of one consumer; a failure is noted against every key it was seen with. */
async function readConsumer(
  deps: Pick<ObserveDeps, "consumers" | "log">,
  candidate: Pick<DiscoveredConsumer, "id" | "kind" | "keys">,
  noteProblem: (key: KeyRef, problem: string) => void,
): Promise<ConsumerSnapshot | undefined> {
  try {
    return await deps.consumers[candidate.kind].read(candidate.id);
  } catch (error) {
    const problem = `consumer ${candidate.id} could not be read (${describeError(error)})`;
    deps.log.warn("consumer could not be read", {
      consumer: candidate.id,
      kind: candidate.kind,
      problem: describeError(error),
    });
    for (const seen of candidate.keys) noteProblem(seen.key, problem);
    return undefined;
  }
}

/**
 * Reads the given consumers of a snapshot afresh through Resource Manager and puts what they
 * answer in place of their Resource Graph facts. A consumer that cannot be read leaves the
 * snapshot, and the evidence of every key it pinned becomes incomplete (nothing retires on it),
 * as when observation itself cannot read a consumer.
 */
export async function confirmConsumers(
  deps: Pick<ObserveDeps, "consumers" | "log" | "concurrency" | "config">,
  snapshot: Snapshot,
  consumerIds: readonly string[],
): Promise<Snapshot> {
  const wanted = new Set(consumerIds.map((id) => id.toLowerCase()));
  const targets = snapshot.consumers.filter((consumer) => wanted.has(consumer.id.toLowerCase()));
  if (targets.length === 0) return snapshot;
  const keys = snapshot.keys.map((key) => key.key);
  const problems = new Map<string, string[]>();
  const noteProblem = (key: KeyRef, problem: string) => {
    const keyId = keyRefId(canonical(keys, key));
    problems.set(keyId, [...(problems.get(keyId) ?? []), problem]);
  };
  const fresh = new Map<string, ConsumerSnapshot | undefined>();
  await mapLimited(targets, deps.concurrency ?? 8, async (consumer) => {
    const read = await readConsumer(
      deps,
      {
        id: consumer.id,
        kind: consumer.kind,
        keys: consumer.pins.map((pin) => ({ key: pin.key, version: pin.version })),
      },
      noteProblem,
    );
    fresh.set(consumer.id.toLowerCase(), read && canonicalPins(keys, read, deps.log));
    // The audit window was sized by the row's backup retention: one read afresh may need longer.
    const retentionMs = read?.backupRetention?.retentionMs ?? 0;
    for (const pin of read?.pins ?? []) {
      const window = snapshot.evidence[keyRefId(canonical(keys, pin.key))];
      if (!window) continue;
      const covered = snapshot.observedAt.getTime() - window.from.getTime() - deps.config.ingestionMarginMs;
      if (retentionMs > covered)
        noteProblem(
          pin.key,
          `consumer ${consumer.id} keeps backups for ${Math.round(retentionMs / 3_600_000)} hours by a fresh read, longer than the audit window its Resource Graph row gave; the next observation looks back far enough`,
        );
    }
  });
  const consumers = snapshot.consumers.flatMap((consumer) => {
    const id = consumer.id.toLowerCase();
    if (!fresh.has(id)) return [consumer];
    const read = fresh.get(id);
    return read ? [read] : [];
  });
  const evidence = { ...snapshot.evidence };
  for (const [keyId, keyProblems] of problems) {
    let updated = evidence[keyId];
    if (!updated) continue;
    for (const problem of keyProblems) updated = markIncomplete(updated, problem);
    evidence[keyId] = updated;
  }
  return { ...snapshot, consumers, evidence };
}

export async function observe(deps: ObserveDeps, scope: ObserveScope, now: Date): Promise<Snapshot> {
  const { config, log } = deps;
  const concurrency = deps.concurrency ?? 8;
  const keys = uniqueKeys(scope.keys);
  const unreadableKeys: Record<string, string> = {};

  // Key versions, then the canary read: a KeyGet by the service that later runs must find in the
  // logs. Key Vault and Resource Manager budget apart, so the key reads go on while discovery
  // (Resource Graph, then Resource Manager lists) runs; the audit query waits for both.
  const keyReads = mapLimited(keys, concurrency, async (key): Promise<KeySnapshot | undefined> => {
    const keyId = keyRefId(key);
    try {
      const versions = await deps.keyVault.listVersions(key);
      // The canary read also names the key's current version, which orders versions created
      // in the same second.
      const current = await deps.keyVault.readKey(key);
      log.info("observed key versions", {
        key: keyId,
        versions: versions.length,
        current: current.version,
      });
      return { key, versions, currentVersion: current.version };
    } catch (error) {
      unreadableKeys[keyId] = describeError(error);
      log.warn("key could not be read", { key: keyId, problem: describeError(error) });
      return undefined;
    }
  });

  // Discovery over the subscriptions, then an ARM GET of each consumer of a key in scope.
  const [keySnapshots, discovered] = await Promise.all([
    keyReads,
    deps.discovery.discover(
      config.subscriptions,
      scope.listingMaxAgeMs ? { listingMaxAgeMs: scope.listingMaxAgeMs } : {},
    ),
  ]);
  for (const problem of discovered.problems) {
    log.warn("consumer discovery incomplete", { consumer: problem.id, problem: problem.message });
  }
  const relevant = new Map<string, DiscoveredConsumer>();
  for (const candidate of discovered.consumers) {
    if (candidate.keys.some((seen) => keyIndex(keys).has(sameKeyIdentity(seen.key))))
      relevant.set(candidate.id.toLowerCase(), candidate);
  }
  const consumerProblems = new Map<string, string[]>();
  const noteProblem = (key: KeyRef, problem: string) => {
    const keyId = keyRefId(canonical(keys, key));
    consumerProblems.set(keyId, [...(consumerProblems.get(keyId) ?? []), problem]);
  };
  const consumerReads = await mapLimited([...relevant.values()], concurrency, async (candidate) => {
    // The row's facts when it had them; the ARM GET only when it did not.
    const snapshot = candidate.facts ?? (await readConsumer(deps, candidate, noteProblem));
    return snapshot && canonicalPins(keys, snapshot, log);
  });
  const consumers = consumerReads
    .filter((consumer): consumer is ConsumerSnapshot => consumer !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));

  // Audit evidence: one query per workspace and table, over the window the longest need requires.
  const groups = new Map<string, { workspaceId: string; table: AuditTable; keys: KeyRef[] }>();
  const evidence: Record<string, AuditEvidence> = {};
  for (const key of keys) {
    const vault = config.managedVaults.find((managed) => managed.vaultUrl === key.vaultUrl);
    if (!vault) {
      evidence[keyRefId(key)] = {
        key,
        workspaceId: "",
        complete: false,
        problem: `vault ${key.vaultName} is not a managed vault, so no audit workspace is configured for it`,
        from: now,
        to: now,
        uses: [],
      };
      continue;
    }
    const groupId = `${vault.workspaceId}|${vault.auditTable}`;
    const group = groups.get(groupId) ?? {
      workspaceId: vault.workspaceId,
      table: vault.auditTable,
      keys: [],
    };
    group.keys.push(key);
    groups.set(groupId, group);
  }
  const afterReads = deps.clock?.now();
  const to = afterReads && afterReads.getTime() > now.getTime() ? afterReads : now;
  const from = new Date(now.getTime() - evidenceWindowMs(config, consumers));
  for (const group of groups.values()) {
    const found = await deps.audit.readEvidence({
      ...group,
      servicePrincipalId: config.servicePrincipalId,
      from,
      to,
    });
    for (const key of group.keys) {
      const keyId = keyRefId(key);
      const keyEvidence = found[keyId];
      evidence[keyId] = keyEvidence ?? {
        key,
        workspaceId: group.workspaceId,
        complete: false,
        problem: "the audit query returned nothing for this key",
        from,
        to,
        uses: [],
      };
      log.info("observed audit evidence", {
        key: keyId,
        workspace: group.workspaceId,
        complete: evidence[keyId]?.complete,
        canarySeenAt: evidence[keyId]?.canarySeenAt?.toISOString(),
        versionsUsed: evidence[keyId]?.uses.length,
      });
    }
  }

  const callers = await attributeCallers(deps, evidence, consumers, discovered.principals);

  // Who uses a key is only known if every consumer of it was read and discovery was complete.
  const discoveryProblem =
    discovered.problems.length > 0
      ? `consumer discovery was incomplete (${discovered.problems.map((problem) => `${problem.id}: ${problem.message}`).join("; ")})`
      : undefined;
  for (const [keyId, keyEvidence] of Object.entries(evidence)) {
    let updated = keyEvidence;
    for (const problem of consumerProblems.get(keyId) ?? []) updated = markIncomplete(updated, problem);
    if (discoveryProblem) updated = markIncomplete(updated, discoveryProblem);
    evidence[keyId] = updated;
  }

  if (discovered.reusedListings)
    log.info("consumers taken from earlier listings", {
      rows: discovered.reusedListings.rows,
      oldestListedAt: discovered.reusedListings.oldestListedAt.toISOString(),
    });
  return {
    observedAt: now,
    keys: keySnapshots.filter((snapshot): snapshot is KeySnapshot => snapshot !== undefined),
    consumers,
    evidence,
    unreadableKeys,
    callers,
    ...(discovered.reusedListings ? { reusedListings: discovered.reusedListings } : {}),
  };
}

/**
 * Names every caller in the evidence: a consumer's principal, the Azure Cosmos DB first-party
 * application (by the app id its records carry), the service, a principal a discovered resource
 * carries; the rest with one Resource Graph query for the run. Who stays unnamed is logged.
 */
async function attributeCallers(
  deps: ObserveDeps,
  evidence: Record<string, AuditEvidence>,
  consumers: readonly ConsumerSnapshot[],
  discovered: Record<string, CallerAttribution>,
): Promise<Record<string, CallerAttribution>> {
  const service = deps.config.servicePrincipalId.toLowerCase();
  const known: Record<string, CallerAttribution> = {
    ...discovered,
    ...consumerAttributions(consumers),
    [service]: { name: "the rotator itself", kind: "service" },
  };
  const callers = new Map<string, string | undefined>();
  for (const keyEvidence of Object.values(evidence)) {
    for (const use of keyEvidence.uses) {
      for (const caller of Object.keys(use.byCaller)) {
        callers.set(caller.toLowerCase(), keyEvidence.callerAppIds?.[caller]?.toLowerCase());
      }
    }
  }
  const named: Record<string, CallerAttribution> = {};
  const unknown: string[] = [];
  for (const [caller, appId] of callers) {
    const attribution = known[caller];
    if (attribution) named[caller] = attribution;
    else if (appId === COSMOS_FIRST_PARTY_APP_ID)
      named[caller] = {
        name: "the Azure Cosmos DB application (FirstPartyIdentity accounts)",
        kind: "first-party-app",
      };
    else if (caller !== "unknown") unknown.push(caller);
  }
  if (unknown.length > 0) {
    const resolved = await deps.discovery.resolvePrincipals(deps.config.subscriptions, unknown.sort());
    Object.assign(named, resolved.principals);
    const unnamed = unknown.filter((caller) => !resolved.principals[caller]);
    if (resolved.problem || unnamed.length > 0) {
      deps.log.warn("audit callers not attributed", {
        callers: unnamed.join(","),
        ...(resolved.problem ? { problem: resolved.problem } : {}),
      });
    }
  }
  return named;
}

/** How one observation may reuse earlier work (see `ObserveScope`). */
export type ObserveOptions = Pick<ObserveScope, "listingMaxAgeMs">;

export interface ObservationOptions {
  settings: ObserveConfig;
  factory: AzureClientFactory;
  keyVault: KeyVaultAdapter;
  consumers: ConsumerAdapters;
  log: RotatorLog;
  clock?: { now(): Date };
}

/**
 * Observation over the real SDK clients: `observe(keys, now)` for the rotation service, and
 * `confirm(snapshot, consumerIds)`, the fresh ARM reads a plan asks for.
 */
export function createObservation(options: ObservationOptions): {
  observe(keys: KeyRef[], now: Date, options?: ObserveOptions): Promise<Snapshot>;
  confirm(snapshot: Snapshot, consumerIds: readonly string[]): Promise<Snapshot>;
} {
  const deps: ObserveDeps = {
    keyVault: options.keyVault,
    discovery: consumerDiscoveryFromFactory(options.factory, options.consumers),
    consumers: options.consumers,
    audit: auditLogReaderFromFactory(options.factory),
    config: options.settings,
    log: options.log,
    ...(options.clock ? { clock: options.clock } : {}),
  };
  return {
    observe: (keys, now, options = {}) => observe(deps, { keys, ...options }, now),
    confirm: (snapshot, consumerIds) => confirmConsumers(deps, snapshot, consumerIds),
  };
}
