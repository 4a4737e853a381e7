/**
 * One world for the engine scenarios: the in-process sandbox (default estate, consumers
 * that follow repoints within a second), Azurite for the journal, and the rotator's
 * runtime installed with the sandbox transport. Scenarios drive it only through the
 * function handlers, as Azure would, and look at the sandbox and the journal.
 */
import { randomUUID } from "node:crypto";
import {
  type EventGridEvent,
  HttpRequest,
  type HttpResponseInit,
  InvocationContext,
  type Timer,
} from "@azure/functions";
import { cancelMigration } from "../../../functions/cancelMigration.js";
import { dashboard } from "../../../functions/dashboard.js";
import { freezeKey } from "../../../functions/freezeKey.js";
import { keys } from "../../../functions/keys.js";
import { keyVersionCreated } from "../../../functions/keyVersionCreated.js";
import { migrateKey } from "../../../functions/migrateKey.js";
import { restoreVersion } from "../../../functions/restoreVersion.js";
import { retireOldVersions } from "../../../functions/retireOldVersions.js";
import { rotateKey } from "../../../functions/rotateKey.js";
import { unfreezeKey } from "../../../functions/unfreezeKey.js";
import { type AzuriteTables, startAzuriteTables } from "../../../sandbox/azurite.js";
import {
  applyStateChange,
  lifecycleOf,
  parseStateChange,
} from "../../../sandbox/consumers/consumerLifecycle.js";
import type { Estate } from "../../../sandbox/estate.js";
import { parseFaultRules } from "../../../sandbox/faults.js";
import { sandboxSettings } from "../../../sandbox/local/sandboxEnvironment.js";
import type { SandboxKeyVersion } from "../../../sandbox/model.js";
import { defaultEstate } from "../../../sandbox/seed.js";
import { type RunningSandbox, startSandbox } from "../../../sandbox/server.js";
import { createAzureClientFactory } from "../../../src/azure/clientFactory.js";
import { type JournalEntry, TableJournal } from "../../../src/journal/journal.js";
import type { KeyView } from "../../../src/plan/view.js";
import { type RotatorLog, silentLog } from "../../../src/rotation/log.js";
import { installRuntime, type Runtime, type RuntimeOptions, uninstallRuntime } from "../../../src/runtime.js";
import { tableOfSettings } from "../../support/leases.js";

export const SUBSCRIPTION = "00000000-0000-0000-0000-000000000001";
export const WORKSPACE = "a1b2c3d4-0000-4000-8000-000000000001";
export const ROTATOR_OID = "11111111-1111-1111-1111-111111111111";
const DATA = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers`;

export const CONSUMERS = {
  adxPinned: `${DATA}/Microsoft.Kusto/clusters/adx-pinned`,
  adxLatest: `${DATA}/Microsoft.Kusto/clusters/adx-latest`,
  cosmosPeriodic: `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-periodic`,
  cosmosLatest: `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-latest`,
  cosmosFirstParty: `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-firstparty`,
  cosmosHsm: `${DATA}/Microsoft.DocumentDB/databaseAccounts/cosmos-hsm`,
  dcEast: `${DATA}/Microsoft.DocumentDB/cassandraClusters/cassandra-1/dataCenters/dc-east`,
  dcWest: `${DATA}/Microsoft.DocumentDB/cassandraClusters/cassandra-1/dataCenters/dc-west`,
} as const;

export interface WorldOptions {
  mode?: "enforce" | "report";
  quietPeriod?: string;
  emergencyQuietPeriod?: string;
  ingestionMargin?: string;
  /** Changes the default estate before the sandbox starts. */
  estate?: (estate: Estate) => void;
  /** The service's own log (default: silent). */
  log?: RotatorLog;
  /** More ROTATOR_* settings over the test-sized ones. */
  settings?: Record<string, string>;
}

export interface HttpAnswer {
  status: number;
  body: unknown;
}

function runtimeOptions(
  sandbox: RunningSandbox,
  azurite: AzuriteTables,
  options: WorldOptions,
): RuntimeOptions {
  return {
    transport: sandbox.transport("rotator"),
    log: options.log ?? silentLog,
    // The same sandbox-derived settings as npm start, with test-sized timings and a fresh table.
    env: {
      ...sandboxSettings(sandbox, azurite.connectionString),
      ROTATOR_QUIET_PERIOD: options.quietPeriod ?? "PT6S",
      ROTATOR_EMERGENCY_QUIET_PERIOD: options.emergencyQuietPeriod ?? "PT6S",
      ROTATOR_INGESTION_MARGIN: options.ingestionMargin ?? "PT5S",
      ROTATOR_MODE: options.mode ?? "enforce",
      ROTATOR_TIMER_SCHEDULE: "*/5 * * * * *",
      ROTATOR_JOURNAL_TABLE: `journal${randomUUID().replaceAll("-", "").slice(0, 12)}`,
      ...options.settings,
    },
  };
}

export class EngineWorld {
  readonly logs: string[] = [];

  private constructor(
    readonly sandbox: RunningSandbox,
    readonly azurite: AzuriteTables,
    public runtime: Runtime,
  ) {}

  static async start(options: WorldOptions = {}): Promise<EngineWorld> {
    const estate = defaultEstate();
    estate.simulation = { unwrapIntervalSeconds: 1, defaultLagSeconds: 1 };
    options.estate?.(estate);
    const sandbox = await startSandbox({ estate, log: () => undefined });
    sandbox.store.latency.lroDurationMs = 300;
    let azurite: AzuriteTables;
    try {
      azurite = await startAzuriteTables();
    } catch (error) {
      await sandbox.close();
      throw error;
    }
    return new EngineWorld(sandbox, azurite, installRuntime(runtimeOptions(sandbox, azurite, options)));
  }

  /** Installs a runtime with other settings (and a fresh journal) over the same sandbox and Azurite. */
  reconfigure(options: WorldOptions): void {
    this.runtime = installRuntime(runtimeOptions(this.sandbox, this.azurite, options));
  }

  async close(): Promise<void> {
    uninstallRuntime();
    await Promise.allSettled([this.sandbox.close(), this.azurite.stop()]);
  }

  private context(functionName: string): InvocationContext {
    const logs = this.logs;
    return new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      logHandler: (level, ...args) => logs.push(`${level} ${args.map(String).join(" ")}`),
    });
  }

  // ---- the functions, called in process as the Functions host would ----

  async deliver(event: unknown): Promise<void> {
    await keyVersionCreated(event as EventGridEvent, this.context("keyVersionCreated"));
  }

  async timer(): Promise<void> {
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: { last: "", next: "", lastUpdated: "" },
    };
    await retireOldVersions(timer, this.context("retireOldVersions"));
  }

  /** A POST with a JSON body to `/api/keys/{vault}/{key}/{path}`, through `handler`, as the host would call it. */
  private async post(
    handler: (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>,
    functionName: string,
    path: string,
    params: Record<string, string>,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    const request = new HttpRequest({
      method: "POST",
      url: `http://localhost:7071/api/keys/${params.vault}/${params.key}/${path}`,
      params,
      headers: { "content-type": "application/json", ...headers },
      body: { string: typeof body === "string" ? body : JSON.stringify(body) },
    });
    const answer = await handler(request, this.context(functionName));
    return { status: answer.status ?? 200, body: answer.jsonBody };
  }

  async rotate(
    vault: string,
    key: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    return this.post(rotateKey, "rotateKey", "rotate", { vault, key }, body, headers);
  }

  /** An operator's POST .../versions/{version}/restore, .../freeze or .../unfreeze, through its handler. */
  async operator(
    act: "restore" | "freeze" | "unfreeze",
    vault: string,
    key: string,
    body: unknown,
    version?: string,
  ): Promise<HttpAnswer> {
    const path = act === "restore" ? `versions/${version}/restore` : act;
    const handler = act === "restore" ? restoreVersion : act === "freeze" ? freezeKey : unfreezeKey;
    const params = { vault, key, ...(version !== undefined ? { version } : {}) };
    return this.post(handler, `${act}Key`, path, params, body);
  }

  /** POST /api/keys/{vault}/{key}/migrate, as the host would call it. */
  async migrate(
    vault: string,
    key: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    return this.post(migrateKey, "migrateKey", "migrate", { vault, key }, body, headers);
  }

  /** POST /api/keys/{vault}/{key}/migrate/cancel. */
  async cancelMigration(vault: string, key: string, body: unknown): Promise<HttpAnswer> {
    return this.post(cancelMigration, "cancelMigration", "migrate/cancel", { vault, key }, body);
  }

  async keysView(vault?: string, key?: string): Promise<HttpAnswer> {
    const params: Record<string, string> = {};
    if (vault) params.vault = vault;
    if (key) params.key = key;
    const request = new HttpRequest({ method: "GET", url: "http://localhost:7071/api/keys", params });
    const answer = await keys(request, this.context("keys"));
    return { status: answer.status ?? 200, body: answer.jsonBody };
  }

  /** The single-key view's entry for `vault/key` (throws when the view has none). */
  async keyView(vault: string, key: string): Promise<KeyView> {
    const answer = await this.keysView(vault, key);
    const [view] = (answer.body as { keys: KeyView[] }).keys;
    if (!view) throw new Error(`no view of ${vault}/${key}: ${JSON.stringify(answer.body)}`);
    return view;
  }

  // ---- Key Vault, as an operator or Key Vault's own auto-rotation would change it ----

  /** A new version of a vault key, delivered as Key Vault's event: [previous newest, new]. */
  async rotateByEvent(vault: string, key: string): Promise<[string, string]> {
    const old = this.newestVersion(vault, key);
    const next = await this.newVersion(vault, key);
    await this.deliver(this.newVersionEvent(vault, key, next));
    return [old, next];
  }

  /** Creates a new version outside the rotator's reconcile path (like Key Vault auto-rotation). */
  /**
   * A new version of a vault key, delivered as its event and taken up by `consumers` (ids):
   * returns [previous newest, new version].
   */
  async supersede(vault: string, key: string, consumers: readonly string[]): Promise<[string, string]> {
    const [old, next] = await this.rotateByEvent(vault, key);
    await waitUntil(
      () => consumers.every((consumer) => versionInUse(this, consumer) === next),
      60_000,
      `${consumers.join(", ")} using the new version of ${vault}/${key}`,
    );
    return [old, next];
  }

  async newVersion(vault: string, key: string, host = "vault.azure.net"): Promise<string> {
    const client = createAzureClientFactory(this.sandbox.transport("rotator")).keys(
      `https://${vault}.${host}/`,
    );
    const created = await client.rotateKey(key);
    const version = created.properties.version;
    if (!version) throw new Error(`rotating ${vault}/${key} returned no version`);
    return version;
  }

  /** A KeyNewVersionCreated event in the Event Grid schema, as a vault's system topic sends it. */
  newVersionEvent(vault: string, key: string, version: string): Record<string, unknown> {
    return {
      id: randomUUID(),
      topic: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/${vault}`,
      subject: key,
      eventType: "Microsoft.KeyVault.KeyNewVersionCreated",
      eventTime: new Date().toISOString(),
      dataVersion: "1",
      metadataVersion: "1",
      data: {
        Id: `https://${vault}.vault.azure.net/keys/${key}/${version}`,
        VaultName: vault,
        ObjectType: "Key",
        ObjectName: key,
        Version: version,
        NBF: null,
        EXP: null,
      },
    };
  }

  // ---- what the sandbox says ----

  versions(vault: string, key: string): SandboxKeyVersion[] {
    const found = this.sandbox.store.vaults.get(vault)?.keys.get(key);
    if (!found) throw new Error(`sandbox has no key ${vault}/${key}`);
    return found.versions;
  }

  newestVersion(vault: string, key: string): string {
    const newest = this.versions(vault, key).at(-1);
    if (!newest) throw new Error(`sandbox key ${vault}/${key} has no versions`);
    return newest.version;
  }

  version(vault: string, key: string, version: string): SandboxKeyVersion {
    const found = this.versions(vault, key).find((v) => v.version === version);
    if (!found) throw new Error(`sandbox key ${vault}/${key} has no version ${version}`);
    return found;
  }

  /** The ARM resource body's key reference(s), as `GET` returns them. */
  armProperties(id: string): Record<string, unknown> {
    const resource = this.sandbox.store.armResource(id);
    if (!resource) throw new Error(`sandbox has no ARM resource ${id}`);
    return (resource.body.properties ?? {}) as Record<string, unknown>;
  }

  /** Versions a consumer's key references name, per property. */
  pinnedVersions(id: string): string[] {
    const properties = this.armProperties(id);
    const references: unknown[] = [
      (properties.keyVaultProperties as Record<string, unknown> | undefined)?.keyVersion,
      properties.keyVaultKeyUri,
      properties.managedDiskCustomerKeyUri,
      properties.backupStorageCustomerKeyUri,
    ];
    return references
      .filter((value): value is string => typeof value === "string" && value !== "")
      .map((value) => value.split("/").at(-1) ?? value);
  }

  provisioningState(id: string): unknown {
    return this.armProperties(id).provisioningState;
  }

  publishedEventTypes(): string[] {
    return this.sandbox.store.publishedEvents.map((e) => String(e.event.eventType ?? e.event.type));
  }

  addFaults(rules: unknown): void {
    this.sandbox.store.faults.push(...parseFaultRules(rules));
  }

  async journal(keyId: string): Promise<JournalEntry[]> {
    const answer = await this.keysView();
    const body = answer.body as { journal?: Record<string, JournalEntry[]> };
    return body.journal?.[keyId] ?? [];
  }

  /** The dashboard page as the dashboard function answers it (function key checks are the host's). */
  async dashboardPage(): Promise<string> {
    const request = new HttpRequest({ method: "GET", url: "http://localhost:7071/api/dashboard" });
    const answer = await dashboard(request, this.context("dashboard"));
    return String(answer.body ?? "");
  }

  /** The key's journal read straight from the table, newest first (not through a view). */
  async journalEntries(keyId: string, limit = 200): Promise<JournalEntry[]> {
    return new TableJournal(tableOfSettings(this.runtime.settings)).recent(keyId, limit);
  }

  /** The holds journaled for a version, newest first. */
  async holdsOf(keyId: string, version: string): Promise<JournalEntry[]> {
    return (await this.journalEntries(keyId)).filter(
      (entry) => entry.action === "hold" && entry.version === version,
    );
  }

  /**
   * Runs the timer until `version` of `vault/key` is disabled. On timeout the error names the
   * newest holds journaled for the version, so a failure says why the service kept it.
   */
  async timerUntilDisabled(vault: string, key: string, version: string, timeoutMs = 150_000): Promise<void> {
    try {
      await this.timerUntil(() => !this.version(vault, key, version).enabled, timeoutMs);
    } catch (error) {
      const holds = (await this.holdsOf(`${vault}/${key}`, version)).slice(0, 5);
      const why = holds
        .map((hold) => `${hold.at.toISOString()} ${hold.reason}: ${hold.message}`)
        .join("\n  ");
      throw new Error(
        `${vault}/${key}/${version} not disabled: ${String(error)}; newest holds:\n  ${why || "(none)"}`,
      );
    }
  }

  /** Stops or starts a Kusto cluster, deallocates or starts a Cassandra cluster (POST /_sandbox/consumers/state). */
  setConsumerState(id: string, state: "Stopped" | "Running" | "Deallocated"): void {
    applyStateChange(this.sandbox.store, parseStateChange(this.sandbox.store, { id, state }));
  }

  /** "Running", "Stopped" or "Deallocated", as the sandbox runs the consumer. */
  consumerState(id: string): string {
    const consumer = this.sandbox.store.consumers.get(id.toLowerCase());
    if (!consumer) throw new Error(`sandbox has no consumer ${id}`);
    return lifecycleOf(this.sandbox.store, consumer);
  }

  /** The unwraps a simulated consumer could not do (a disabled version, say). */
  failures(id: string): unknown[] {
    return this.sandbox.store.consumers.get(id.toLowerCase())?.failures ?? [];
  }

  /** Runs the timer until `done` holds (each run is one reconcile), or fails after `timeoutMs`. */
  async timerUntil(
    done: () => boolean | Promise<boolean>,
    timeoutMs = 150_000,
    pauseMs = 500,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.timer();
      if (await done()) return;
      if (Date.now() > deadline) throw new Error(`condition not reached after ${timeoutMs} ms of timer runs`);
      await sleep(pauseMs);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** The safety invariant every scenario checks: no version that a consumer pins or uses is ever disabled. */
export function expectNoPinnedVersionDisabled(world: EngineWorld): void {
  const store = world.sandbox.store;
  for (const consumer of store.consumers.values()) {
    const inUse = consumer.usage.map((usage) => ({
      vault: usage.vault,
      key: usage.key,
      version: usage.version,
    }));
    for (const use of inUse) {
      const version = store.vaults
        .get(use.vault)
        ?.keys.get(use.key)
        ?.versions.find((v) => v.version === use.version);
      if (version && !version.enabled) {
        throw new Error(
          `version ${use.vault}/${use.key}/${use.version} is disabled but ${consumer.id} uses it`,
        );
      }
    }
  }
  for (const id of Object.values(CONSUMERS)) {
    for (const pinned of world.pinnedVersions(id)) {
      for (const vault of store.vaults.values()) {
        for (const key of vault.keys.values()) {
          const version = key.versions.find((v) => v.version === pinned);
          if (version && !version.enabled) throw new Error(`version ${pinned} is disabled but ${id} pins it`);
        }
      }
    }
  }
}

/** The version a simulated consumer really unwraps with now (first usage of the consumer). */
export function versionInUse(world: EngineWorld, consumerId: string, pin?: string): string | undefined {
  const consumer = world.sandbox.store.consumers.get(consumerId.toLowerCase());
  const usage = pin ? consumer?.usage.find((u) => u.pin === pin) : consumer?.usage[0];
  return usage?.version;
}

/** ARM ids compare case-insensitively (the service answers `Clusters` where the estate says `clusters`). */
export function sameId(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}
