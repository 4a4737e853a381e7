/**
 * Builds the rotation service from settings and an AzureTransport, once per process. In
 * Azure the transport is the platform's HTTPS stack with DefaultAzureCredential (the
 * function app's managed identity); local runs and tests install a sandbox transport with
 * `installRuntime`. Nothing else differs: no sandbox special-casing beyond transport and
 * credential.
 */
import { DefaultAzureCredential } from "@azure/identity";
import { createConsumerAdapters } from "./adapters/consumers/registry.js";
import { keyVaultAdapterFromFactory } from "./adapters/keyVault.js";
import { consumerDiscoveryFromFactory, readVaultFacts } from "./adapters/resourceGraph.js";
import { PlanApplier } from "./apply/applyPlan.js";
import { type AzureClientFactory, createAzureClientFactory } from "./azure/clientFactory.js";
import type { AzureTransport } from "./azure/transport.js";
import { TableIdempotencyStore } from "./idempotency/idempotencyStore.js";
import { TableFreezeStore } from "./journal/freezeStore.js";
import { TableJournal } from "./journal/journal.js";
import { openRotatorTable } from "./journal/rotatorTable.js";
import { type Clock, systemClock, TableKeyLock } from "./lock/keyLease.js";
import { TableMigrationStore } from "./migration/migrationStore.js";
import { createObservation } from "./observe/observe.js";
import { OutcomeDelivery } from "./outcomes/outcomeDelivery.js";
import { TableOutbox } from "./outcomes/tableOutbox.js";
import { plan } from "./plan/plan.js";
import { buildKeyViews } from "./plan/view.js";
import { TableEmergencyLedger } from "./rotation/emergencyLedger.js";
import { consoleLog, type RotatorLog } from "./rotation/log.js";
import { TableReconcileCheckpoint } from "./rotation/reconcileCheckpoint.js";
import { type ManagedVaultRef, type RotationKeyVault, RotationService } from "./rotation/rotationService.js";
import { loadSettings, policyFromSettings, type Settings } from "./settings.js";
import { noMetrics, type RotatorMetrics } from "./telemetry/rotatorMetrics.js";
import { startTelemetry } from "./telemetry/telemetry.js";

export interface RuntimeOptions {
  transport?: AzureTransport;
  /** Settings source; default `process.env`. */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log?: RotatorLog;
  /** The operators' metrics (default none; `loadRuntime` starts Application Insights' when configured). */
  metrics?: RotatorMetrics;
}

export interface Runtime {
  settings: Settings;
  factory: AzureClientFactory;
  service: RotationService;
  metrics: RotatorMetrics;
}

let installed: Runtime | undefined;
let loading: Promise<Runtime> | undefined;

/** Lists key names of a vault through the same KeyClient the adapters use. */
async function listKeyNames(factory: AzureClientFactory, vault: ManagedVaultRef): Promise<string[]> {
  const names: string[] = [];
  for await (const properties of factory.keys(vault.vaultUrl).listPropertiesOfKeys()) {
    if (properties.name) names.push(properties.name);
  }
  return names;
}

export function buildRuntime(options: RuntimeOptions = {}): Runtime {
  const settings = loadSettings(options.env ?? process.env);
  const transport = options.transport ?? { credential: new DefaultAzureCredential() };
  const clock = options.clock ?? systemClock;
  const log = options.log ?? consoleLog;
  const metrics = options.metrics ?? noMetrics;
  const factory = createAzureClientFactory(transport, {
    onRequest: (request) => metrics.azureRequest(request),
  });
  const keyVault = keyVaultAdapterFromFactory(factory);
  const consumers = createConsumerAdapters(factory);
  const table = openRotatorTable(
    {
      tableName: settings.journalTable,
      ...(settings.journal.kind === "connectionString"
        ? { connectionString: settings.journal.connectionString }
        : { endpoint: settings.journal.endpoint }),
    },
    transport.credential,
    factory.policies,
  );
  const journal = new TableJournal(table);
  const freezes = new TableFreezeStore(table);
  const publisher = new OutcomeDelivery({
    sender: factory.eventGridPublisher(settings.eventsTopicEndpoint, settings.eventsTopicKey),
    outbox: new TableOutbox(table),
    log,
    clock,
  });
  const discovery = consumerDiscoveryFromFactory(factory, consumers);
  const applier = new PlanApplier({
    keyVault,
    consumerAdapter: (kind) => consumers[kind],
    discoverConsumers: async () => {
      const found = await discovery.discover(settings.subscriptions);
      if (found.problems.length > 0) {
        throw new Error(
          `consumer discovery was incomplete: ${found.problems.map((problem) => problem.message).join("; ")}`,
        );
      }
      return found.consumers.map((consumer) => ({
        ...consumer,
        keys: consumer.keys.map((seen) => seen.key),
      }));
    },
    journal,
    publisher,
    freezes,
    log,
    repointConcurrency: settings.repointConcurrency,
  });
  const observation = createObservation({ settings, factory, keyVault, consumers, log, clock });
  const rotationKeyVault: RotationKeyVault = {
    listKeyNames: (vault) => listKeyNames(factory, vault),
    listVersions: (key) => keyVault.listVersions(key),
    readCurrentVersion: async (key) => (await keyVault.readKey(key)).version,
    createVersion: (key) => keyVault.createVersion(key),
    tagVersion: (key, version, tags) => keyVault.tagVersion(key, version, tags),
    enableVersion: (key, version, tags) => keyVault.enableVersion(key, version, tags),
  };
  const service = new RotationService({
    managedVaults: settings.managedVaults,
    policy: policyFromSettings(settings),
    mode: settings.mode,
    keyVault: rotationKeyVault,
    observe: (keys, now, options) => observation.observe(keys, now, options),
    confirmConsumers: (snapshot, consumerIds) => observation.confirm(snapshot, consumerIds),
    plan,
    buildKeyViews,
    applier,
    lock: new TableKeyLock(table, clock),
    idempotency: new TableIdempotencyStore(table, clock),
    emergencyLedger: new TableEmergencyLedger(table),
    migrations: new TableMigrationStore(table),
    readVaults: async () => {
      const read = await readVaultFacts(factory.resourceGraph(), settings.subscriptions);
      if (read.problem) log.warn("vaults not read for the migration checks", { detail: read.problem });
      return read.vaults;
    },
    emergencyCooldownMs: settings.emergencyCooldownMs,
    viewMaxAgeMs: settings.viewMaxAgeMs,
    checkpoint: new TableReconcileCheckpoint(table),
    reconcileDeadlineMs: settings.reconcileDeadlineMs,
    dataCenterListingMaxAgeMs: settings.dataCenterListingMaxAgeMs,
    republishOutcomes: () => publisher.republishUndelivered(),
    journal,
    freezes,
    publisher,
    clock,
    log,
    metrics,
  });
  return { settings, factory, service, metrics };
}

/** Installs the runtime the functions use (local runs and tests: a sandbox transport). */
export function installRuntime(options: RuntimeOptions): Runtime {
  installed = buildRuntime(options);
  return installed;
}

/** The installed runtime, or the production one built on first use from `process.env`. */
export function getRuntime(): Runtime {
  installed ??= buildRuntime();
  return installed;
}

/**
 * What the functions call on first use (through `src/hosting/lazyRuntime.ts`): the installed
 * runtime, or the production one built from `process.env`.
 */
export async function loadRuntime(): Promise<Runtime> {
  if (installed) return installed;
  loading ??= (async () => {
    const credential = new DefaultAzureCredential();
    const metrics = await startTelemetry(process.env, credential, consoleLog);
    installed ??= buildRuntime({ transport: { credential }, metrics });
    return installed;
  })().finally(() => {
    loading = undefined;
  });
  return loading;
}

/** Forgets the installed runtime (tests). */
export function uninstallRuntime(): void {
  installed = undefined;
  loading = undefined;
}
