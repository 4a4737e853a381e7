/**
 * Outcome events of a run larger than one Event Grid request, through the real
 * EventGridPublisherClient against the sandbox's custom topic (which refuses what Event Grid
 * refuses: 413 over its request and per-event limits): every event arrives, once, with its id.
 */
import type { SendEventGridEventInput } from "@azure/eventgrid";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sandboxControl } from "../../../sandbox/controlClient.js";
import type { RunningSandbox } from "../../../sandbox/server.js";
import { type ApplyConsumerAdapter, type ApplyKeyVault, PlanApplier } from "../../../src/apply/applyPlan.js";
import { createAzureClientFactory } from "../../../src/azure/clientFactory.js";
import { MemoryJournal } from "../../../src/journal/journal.js";
import type { ConsumerSnapshot, Plan, RepointAction, StepOutcome } from "../../../src/model.js";
import { MemoryOutbox, OutcomeDelivery } from "../../../src/outcomes/outcomeDelivery.js";
import { toEventGridInput } from "../../../src/outcomes/outcomeEvents.js";
import { silentLog } from "../../../src/rotation/log.js";
import { aConsumer, aKeyRef, aKeySnapshot, aPin, aSnapshot, NOW, versionId } from "../../builders/index.js";
import { startFastSandbox, TOPIC_ENDPOINT } from "../sandbox/eventgrid/sandboxHarness.js";

const REPOINTS = 3000;
const key = aKeyRef();

const consumers: ConsumerSnapshot[] = Array.from({ length: REPOINTS }, (_, index) =>
  aConsumer({
    id: `/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data/providers/Microsoft.Kusto/clusters/adx${String(index).padStart(5, "0")}`,
    pins: [aPin(key, versionId(1))],
  }),
);

const plan: Plan = {
  now: NOW,
  actions: consumers.map(
    (consumer): RepointAction => ({
      type: "repoint",
      key,
      consumerId: consumer.id,
      consumerKind: "kusto",
      pin: "key",
      from: versionId(1),
      to: versionId(2),
      reason: "consumer-lags",
      message: "pins an older version than the target",
    }),
  ),
  holds: [],
  blocks: [],
  targets: { "kv1/cmk": versionId(2) },
};

const everyRepointBegins: ApplyConsumerAdapter = {
  read: async (id) => consumers.find((consumer) => consumer.id === id) as ConsumerSnapshot,
  beginRepoint: async (): Promise<StepOutcome> => ({ status: "done" }),
};

const keyVault: ApplyKeyVault = {
  listVersions: async () => [],
  readKey: async () => {
    throw new Error("no disable in this run");
  },
  disableVersion: async () => ({ status: "done" }),
  enableVersion: async () => ({ status: "done" }),
};

/** Events the topic accepted (200), from the sandbox's recording of every exchange. */
function acceptedEvents(sandbox: RunningSandbox): { id: string; subject: string }[] {
  return (sandbox.store.recording ?? [])
    .filter((exchange) => exchange.host.endsWith(".eventgrid.azure.net") && exchange.status === 200)
    .flatMap((exchange) => exchange.requestBody as { id: string; subject: string }[]);
}

function topicAnswers(sandbox: RunningSandbox): number[] {
  return (sandbox.store.recording ?? [])
    .filter((exchange) => exchange.host.endsWith(".eventgrid.azure.net"))
    .map((exchange) => exchange.status);
}

describe("outcome events of a run larger than one request", () => {
  let sandbox: RunningSandbox;

  beforeAll(async () => {
    sandbox = await startFastSandbox();
  });

  afterAll(async () => {
    await sandbox?.close();
  });

  function applier(outbox = new MemoryOutbox()) {
    const factory = createAzureClientFactory(sandbox.transport("rotator"));
    const publisher = new OutcomeDelivery({
      sender: factory.eventGridPublisher(TOPIC_ENDPOINT, sandbox.store.customTopics[0]?.accessKey),
      outbox,
      log: silentLog,
      sleep: async () => undefined,
    });
    return new PlanApplier({
      keyVault,
      consumerAdapter: () => everyRepointBegins,
      journal: new MemoryJournal(),
      publisher,
      log: silentLog,
      repointConcurrency: 16,
    });
  }

  it("is more than Event Grid takes in one request: sent at once, the topic answers 413", async () => {
    sandbox.store.recording = [];
    const factory = createAzureClientFactory(sandbox.transport("rotator"));
    const sender = factory.eventGridPublisher(TOPIC_ENDPOINT, sandbox.store.customTopics[0]?.accessKey);
    const inputs: SendEventGridEventInput<unknown>[] = plan.actions.map((action, index) =>
      toEventGridInput({
        name: "ConsumerRepointed",
        subject: (action as RepointAction).consumerId,
        at: NOW,
        data: {
          key: "kv1/cmk",
          keyId: "https://kv1.vault.azure.net/keys/cmk",
          version: versionId(2),
          fromVersion: versionId(1),
          consumer: (action as RepointAction).consumerId,
          consumerKind: "kusto",
          pin: "key",
          reason: "consumer-lags",
          message: `repoint ${index}: update begun; verified at the next observation`,
        },
      }),
    );
    await expect(sender.send(inputs)).rejects.toMatchObject({ statusCode: 413 });
    expect(acceptedEvents(sandbox)).toEqual([]);
  });

  it("delivers every event of the run, each once, in requests the topic accepts", async () => {
    sandbox.store.recording = [];
    const report = await applier().apply(plan, aSnapshot({ keys: [aKeySnapshot({ key })], consumers }), {
      runId: "run-large",
      trigger: "timer",
      mode: "enforce",
      now: NOW,
    });
    expect(report.steps.filter((step) => step.status === "done")).toHaveLength(REPOINTS);
    expect(report.outcomeEvents).toMatchObject({
      published: REPOINTS,
      delivered: REPOINTS,
      kept: 0,
      lost: 0,
    });
    expect(report.publishFailures).toEqual([]);
    const accepted = acceptedEvents(sandbox);
    expect(topicAnswers(sandbox).every((status) => status === 200)).toBe(true);
    expect(topicAnswers(sandbox).length).toBeGreaterThan(1);
    expect(accepted).toHaveLength(REPOINTS);
    expect(new Set(accepted.map((event) => event.id)).size).toBe(REPOINTS);
    expect(new Set(accepted.map((event) => event.subject))).toEqual(new Set(consumers.map((c) => c.id)));
  });

  it("retries requests the topic answers 503 and still delivers every event", async () => {
    sandbox.store.recording = [];
    const fault = await sandboxControl(sandbox, "POST", "/_sandbox/faults", {
      host: "rotator-events.westeurope-1.eventgrid.azure.net",
      count: 3,
      action: { kind: "status", status: 503 },
    });
    expect(fault.status).toBeLessThan(300);
    try {
      const report = await applier().apply(plan, aSnapshot({ keys: [aKeySnapshot({ key })], consumers }), {
        runId: "run-faults",
        trigger: "timer",
        mode: "enforce",
        now: NOW,
      });
      expect(report.outcomeEvents).toMatchObject({ delivered: REPOINTS, lost: 0, kept: 0 });
      expect(topicAnswers(sandbox).filter((status) => status === 503)).toHaveLength(3);
      expect(new Set(acceptedEvents(sandbox).map((event) => event.id)).size).toBe(REPOINTS);
    } finally {
      await sandboxControl(sandbox, "DELETE", "/_sandbox/faults");
    }
  });
});
