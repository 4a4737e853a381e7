/**
 * The one place where Azure SDK clients are built. Every adapter, the sandbox conformance
 * tests and the plan command get their clients here, so production and sandbox differ
 * only in the `AzureTransport` passed in. Every client carries the same two policies
 * (pipelinePolicies.ts), run on every attempt: each request is reported to `onRequest` (the
 * metrics: API, method, status, duration), and Resource Manager writes and reads are paced
 * under their budgets by the factory's one `ArmWritePacer` and `ArmReadPacer`, Resource Graph
 * queries under its quota by the `ResourceGraphPacer`.
 */
import { CosmosDBManagementClient } from "@azure/arm-cosmosdb";
import { KustoManagementClient } from "@azure/arm-kusto";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { AzureKeyCredential, EventGridPublisherClient } from "@azure/eventgrid";
import { KeyClient } from "@azure/keyvault-keys";
import { LogsQueryClient } from "@azure/monitor-query-logs";
import {
  type AdditionalPolicyConfig,
  ArmReadPacer,
  ArmWritePacer,
  type AzureRequestInfo,
  azureRequestsPolicy,
  ResourceGraphPacer,
} from "./pipelinePolicies.js";
import { type AzureTransport, httpClientFor } from "./transport.js";

export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";
export const DEFAULT_LOGS_ENDPOINT = "https://api.loganalytics.io/v1";

export interface AzureClientFactoryOptions {
  /** Told about every HTTP request any client of this factory makes (every retry too). */
  onRequest?: (info: AzureRequestInfo) => void;
  /** Paces Resource Manager writes; default one pacer with Azure's write budget per factory. */
  armWritePacer?: ArmWritePacer;
  /** Paces Resource Manager reads; default one pacer with Azure's read budget per factory. */
  armReadPacer?: ArmReadPacer;
}

export interface AzureClientFactory {
  readonly transport: AzureTransport;
  /** The pacer of this factory's Resource Manager writes. */
  readonly armWritePacer: ArmWritePacer;
  /** The pacer of this factory's Resource Manager reads. */
  readonly armReadPacer: ArmReadPacer;
  /** The pacer of this factory's Resource Graph queries. */
  readonly resourceGraphPacer: ResourceGraphPacer;
  /** The policies every client here carries, for clients built elsewhere (the journal table). */
  readonly policies: AdditionalPolicyConfig[];
  keys(vaultUrl: string): KeyClient;
  kusto(subscriptionId: string): KustoManagementClient;
  cosmos(subscriptionId: string): CosmosDBManagementClient;
  resourceGraph(): ResourceGraphClient;
  logs(): LogsQueryClient;
  /** Publisher for an Event Grid custom topic (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`). */
  eventGridPublisher(endpoint: string, accessKey?: string): EventGridPublisherClient<"EventGrid">;
}

export function createAzureClientFactory(
  transport: AzureTransport,
  options: AzureClientFactoryOptions = {},
): AzureClientFactory {
  const httpClient = httpClientFor(transport);
  const armEndpoint = transport.armEndpoint ?? DEFAULT_ARM_ENDPOINT;
  const armHost = new URL(armEndpoint).hostname;
  const armWritePacer = options.armWritePacer ?? new ArmWritePacer(undefined, undefined, armHost);
  const armReadPacer = options.armReadPacer ?? new ArmReadPacer(undefined, undefined, armHost);
  const resourceGraphPacer = new ResourceGraphPacer(undefined, armHost);
  const policies: AdditionalPolicyConfig[] = [
    ...(options.onRequest
      ? [{ policy: azureRequestsPolicy(options.onRequest, { armHost }), position: "perRetry" as const }]
      : []),
    { policy: armWritePacer.policy(), position: "perRetry" },
    { policy: armReadPacer.policy(), position: "perRetry" },
    { policy: resourceGraphPacer.policy(), position: "perRetry" },
  ];
  const common = { ...(httpClient ? { httpClient } : {}), additionalPolicies: policies };
  const logsEndpoint = transport.logsEndpoint ?? DEFAULT_LOGS_ENDPOINT;
  const armOptions = { ...common, endpoint: armEndpoint, credentialScopes: [`${armEndpoint}/.default`] };
  const keyClients = new Map<string, KeyClient>();
  return {
    transport,
    armWritePacer,
    armReadPacer,
    resourceGraphPacer,
    policies,
    keys(vaultUrl) {
      let client = keyClients.get(vaultUrl);
      if (!client) {
        client = new KeyClient(vaultUrl, transport.credential, { ...common });
        keyClients.set(vaultUrl, client);
      }
      return client;
    },
    kusto: (subscriptionId) => new KustoManagementClient(transport.credential, subscriptionId, armOptions),
    cosmos: (subscriptionId) =>
      new CosmosDBManagementClient(transport.credential, subscriptionId, armOptions),
    resourceGraph: () => new ResourceGraphClient(transport.credential, armOptions),
    logs: () =>
      new LogsQueryClient(transport.credential, {
        ...common,
        endpoint: logsEndpoint,
        credentials: { scopes: [`${new URL(logsEndpoint).origin}/.default`] },
      }),
    // The service retries outcome events itself (src/outcomes/outcomeDelivery.ts: backoff, Retry-After,
    // splitting on 413, an outbox for what still fails), so the client sends each request once.
    eventGridPublisher: (endpoint, accessKey) =>
      accessKey
        ? new EventGridPublisherClient(endpoint, "EventGrid", new AzureKeyCredential(accessKey), {
            ...common,
            retryOptions: { maxRetries: 0 },
          })
        : new EventGridPublisherClient(endpoint, "EventGrid", transport.credential, {
            ...common,
            retryOptions: { maxRetries: 0 },
          }),
  };
}
