/**
 * Benchmark 10, outcome events at scale: a run that begins 5,000 repoints publishes 5,000
 * ConsumerRepointed events to the sandbox's custom topic (which answers as Event Grid does:
 * 413 over its request and per-event limits) through the real EventGridPublisherClient. The
 * repoints themselves are not what is measured, so the consumers' adapter begins every one at
 * once (no Resource Manager); the events are the apply path's own.
 *
 *   before   every event of the run in one request (what the service sent until now)
 *   now      OutcomeDelivery: batches under 1 MB, retries, an outbox for what still fails
 *
 * Delivered = events the topic accepted, counted from the sandbox's recording of every exchange.
 */
import { performance } from "node:perf_hooks";
import { startSandbox } from "../sandbox/server.js";
import { type ApplyConsumerAdapter, PlanApplier } from "../src/apply/applyPlan.js";
import { createAzureClientFactory } from "../src/azure/clientFactory.js";
import { MemoryJournal } from "../src/journal/journal.js";
import type { ConsumerSnapshot, KeyRef, Plan, RepointAction, Snapshot } from "../src/model.js";
import { MemoryOutbox, OutcomeDelivery } from "../src/outcomes/outcomeDelivery.js";
import {
  type EventGridSender,
  type OutcomeEvent,
  type OutcomePublisher,
  type PublishResult,
  toEventGridInput,
} from "../src/outcomes/outcomeEvents.js";
import { silentLog } from "../src/rotation/log.js";
import { formatTable, milliseconds } from "./benchTable.js";

export interface OutcomeEventsOptions {
  repoints: number;
}

export interface OutcomeEventsRound {
  label: string;
  published: number;
  delivered: number;
  requests: number;
  refused413: number;
  kept: number;
  ms: number;
}

const KEY: KeyRef = {
  vaultUrl: "https://kv-cmk-1.vault.azure.net/",
  vaultName: "kv-cmk-1",
  hostKind: "vault",
  keyName: "adx-key",
};
const FROM = `${"0".repeat(31)}1`;
const TO = `${"0".repeat(31)}2`;

/** What the service did until now: the whole run's events in one request. */
class OneRequestPublisher implements OutcomePublisher {
  constructor(private readonly sender: EventGridSender) {}
  async publish(events: OutcomeEvent[]): Promise<PublishResult> {
    await this.sender.send(events.map(toEventGridInput));
    return { published: events.length, delivered: events.length, kept: 0, lost: 0, failures: [] };
  }
}

export async function measureOutcomeEvents(options: OutcomeEventsOptions): Promise<OutcomeEventsRound[]> {
  const sandbox = await startSandbox({ backgroundLoops: false });
  try {
    const factory = createAzureClientFactory(sandbox.transport("rotator"));
    const topic = sandbox.store.customTopics[0];
    if (!topic) throw new Error("outcome events bench: the default estate has no custom topic");
    const sender = factory.eventGridPublisher(`https://${topic.host}/api/events`, topic.accessKey);
    const consumers: ConsumerSnapshot[] = Array.from({ length: options.repoints }, (_, index) => ({
      id: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adxbench${String(index).padStart(5, "0")}`,
      kind: "kusto",
      subscriptionId: "00000000-0000-0000-0000-000000000001",
      pins: [{ pin: "key", key: KEY, version: FROM }],
      inUse: {},
    }));
    const plan: Plan = {
      now: new Date(),
      actions: consumers.map(
        (consumer): RepointAction => ({
          type: "repoint",
          key: KEY,
          consumerId: consumer.id,
          consumerKind: "kusto",
          pin: "key",
          from: FROM,
          to: TO,
          reason: "consumer-lags",
          message: "pins an older version than the target",
        }),
      ),
      holds: [],
      blocks: [],
      targets: { "kv-cmk-1/adx-key": TO },
    };
    const snapshot: Snapshot = {
      observedAt: plan.now,
      keys: [],
      consumers,
      evidence: {},
      unreadableKeys: {},
    };
    const begins: ApplyConsumerAdapter = {
      read: async (id) => consumers.find((consumer) => consumer.id === id) as ConsumerSnapshot,
      beginRepoint: async () => ({ status: "done" }),
    };
    const round = async (label: string, publisher: OutcomePublisher): Promise<OutcomeEventsRound> => {
      const applier = new PlanApplier({
        keyVault: {
          listVersions: async () => [],
          readKey: async () => {
            throw new Error("no disable in this run");
          },
          disableVersion: async () => ({ status: "done" }),
          enableVersion: async () => ({ status: "done" }),
        },
        consumerAdapter: () => begins,
        journal: new MemoryJournal(),
        publisher,
        log: silentLog,
        repointConcurrency: 32,
      });
      sandbox.store.recording = [];
      const started = performance.now();
      const report = await applier.apply(plan, snapshot, {
        runId: label,
        trigger: "bench",
        mode: "enforce",
        now: plan.now,
      });
      const ms = performance.now() - started;
      const exchanges = (sandbox.store.recording ?? []).filter((exchange) => exchange.host === topic.host);
      sandbox.store.recording = undefined;
      const delivered = exchanges
        .filter((exchange) => exchange.status === 200)
        .reduce(
          (sum, exchange) => sum + (Array.isArray(exchange.requestBody) ? exchange.requestBody.length : 0),
          0,
        );
      return {
        label,
        published: consumers.length,
        delivered,
        requests: exchanges.length,
        refused413: exchanges.filter((exchange) => exchange.status === 413).length,
        kept: report.outcomeEvents?.kept ?? 0,
        ms,
      };
    };
    const before = await round("one request (before)", new OneRequestPublisher(sender));
    const now = await round(
      "batched, retried, outbox (now)",
      new OutcomeDelivery({ sender, outbox: new MemoryOutbox(), log: silentLog }),
    );
    if (now.delivered !== now.published) {
      throw new Error(`outcome events bench: ${now.delivered} of ${now.published} events delivered`);
    }
    return [before, now];
  } finally {
    await sandbox.close();
  }
}

export function outcomeEventsTable(rounds: readonly OutcomeEventsRound[]): string {
  return formatTable(
    ["publisher", "events published", "delivered", "requests", "413s", "kept for later", "time"],
    rounds.map((round) => [
      round.label,
      String(round.published),
      String(round.delivered),
      String(round.requests),
      String(round.refused413),
      String(round.kept),
      milliseconds(round.ms),
    ]),
  );
}
