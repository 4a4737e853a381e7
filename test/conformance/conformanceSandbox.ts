/**
 * Shared by the conformance tests: an in-process sandbox that records every exchange,
 * the real SDK clients built by the service's own client factory, and the check that
 * holds the whole recording against the official specs.
 */
import { afterAll, beforeAll, expect } from "vitest";
import type { Estate } from "../../sandbox/estate.js";
import type { SandboxExchange } from "../../sandbox/http.js";
import { defaultEstate } from "../../sandbox/seed.js";
import { type RunningSandbox, startSandbox } from "../../sandbox/server.js";
import { type AzureClientFactory, createAzureClientFactory } from "../../src/azure/clientFactory.js";
import {
  AzureSpecCatalog,
  checkExchanges,
  describeFailures,
  type ExchangeVerdict,
} from "../support/swagger/azureSpecCatalog.js";
import type { ExchangeToValidate } from "../support/swagger/validateExchange.js";

/** An identity of the conformance estate allowed every operation the tests exercise. */
export const CONFORMANCE_IDENTITY = "conformance";
export const SUBSCRIPTION_ID = "00000000-0000-0000-0000-000000000001";
export const VAULT_URL = "https://kv-cmk-1.vault.azure.net";
export const HSM_URL = "https://hsm-cmk-1.managedhsm.azure.net";
export const WORKSPACE_ID = "a1b2c3d4-0000-4000-8000-000000000001";
/** The default estate's resource group of the Kusto, Cosmos and Cassandra resources. */
export const DATA_RESOURCE_GROUP = "rg-data";

/** Poll long-running operations quickly; the sandbox's operations are made short in startConformanceSandbox. */
export const FAST_LRO = { updateIntervalInMs: 50 };
const LRO_DURATION_MS = 200;

export const specCatalog = new AzureSpecCatalog();

/**
 * The default estate plus one identity with the rights to call every operation we check,
 * so that the success responses get validated (the 403 path is exercised separately).
 */
export function conformanceEstate(): Estate {
  const estate = defaultEstate();
  const subscriptionScope = `/subscriptions/${SUBSCRIPTION_ID}`;
  estate.identities.push({ name: CONFORMANCE_IDENTITY, objectId: "99999999-0000-0000-0000-000000000001" });
  estate.roleAssignments.push(
    { principal: CONFORMANCE_IDENTITY, role: "Key Vault Crypto Officer", scope: "vault:kv-cmk-1" },
    { principal: CONFORMANCE_IDENTITY, role: "Managed HSM Crypto User", scope: "vault:hsm-cmk-1" },
    { principal: CONFORMANCE_IDENTITY, role: "Contributor", scope: subscriptionScope },
    { principal: CONFORMANCE_IDENTITY, role: "Log Analytics Reader", scope: subscriptionScope },
    { principal: CONFORMANCE_IDENTITY, role: "EventGrid Data Sender", scope: subscriptionScope },
  );
  return estate;
}

export interface ConformanceSandbox {
  sandbox: RunningSandbox;
  clients: AzureClientFactory;
  /** Everything recorded so far, in order. */
  exchanges(): SandboxExchange[];
}

export async function startConformanceSandbox(
  estate: Estate = conformanceEstate(),
): Promise<ConformanceSandbox> {
  const sandbox = await startSandbox({ estate });
  const recording: SandboxExchange[] = [];
  sandbox.store.recording = recording;
  sandbox.store.latency = { armWriteMs: 0, lroDurationMs: LRO_DURATION_MS };
  return {
    sandbox,
    clients: createAzureClientFactory(sandbox.transport(CONFORMANCE_IDENTITY)),
    exchanges: () => recording,
  };
}

/**
 * Starts a conformance sandbox before the suite's tests and closes it after them. The
 * returned object reads the running sandbox, so use it inside hooks and tests only.
 */
export function useConformanceSandbox(): ConformanceSandbox {
  let started: ConformanceSandbox | undefined;
  const running = (): ConformanceSandbox => {
    if (!started) throw new Error("The conformance sandbox is used before its beforeAll hook started it.");
    return started;
  };
  beforeAll(async () => {
    started = await startConformanceSandbox();
  });
  afterAll(async () => {
    await started?.sandbox.close();
  });
  return {
    get sandbox() {
      return running().sandbox;
    },
    get clients() {
      return running().clients;
    },
    exchanges: () => running().exchanges(),
  };
}

export function toValidate(exchange: SandboxExchange): ExchangeToValidate {
  const requestHeaders: Record<string, string | string[] | undefined> = { ...exchange.requestHeaders };
  return { ...exchange, requestHeaders };
}

/**
 * Every recorded exchange conforms; and the recording really contains the operations the
 * test meant to exercise (so an empty or misrouted recording cannot pass).
 */
export function expectRecordingConforms(
  exchanges: SandboxExchange[],
  expectedOperations: string[],
): ExchangeVerdict[] {
  const verdicts = checkExchanges(specCatalog, exchanges.map(toValidate));
  const seen = new Set(verdicts.map((verdict) => verdict.checkedAs.split(" ")[0]));
  const missing = expectedOperations.filter((operationId) => !seen.has(operationId));
  expect.soft(missing, `operations not seen in the recording (seen: ${[...seen].join(", ")})`).toEqual([]);
  expect(describeFailures(verdicts), "exchanges that violate the specification").toBe("");
  return verdicts;
}
