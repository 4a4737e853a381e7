/**
 * The one place where Azure SDK clients are built. Every adapter, the sandbox conformance
 * tests and the plan command get their clients here, so production and sandbox differ
 * only in the `AzureTransport` passed in.
 */
import { CosmosDBManagementClient } from "@azure/arm-cosmosdb";
import { KustoManagementClient } from "@azure/arm-kusto";
import { ResourceGraphClient } from "@azure/arm-resourcegraph";
import { AzureKeyCredential, EventGridPublisherClient } from "@azure/eventgrid";
import { KeyClient } from "@azure/keyvault-keys";
import { LogsQueryClient } from "@azure/monitor-query-logs";
import { type AzureTransport, httpClientFor } from "./transport.js";

export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";
export const DEFAULT_LOGS_ENDPOINT = "https://api.loganalytics.io/v1";

export interface AzureClientFactory {
  readonly transport: AzureTransport;
  keys(vaultUrl: string): KeyClient;
  kusto(subscriptionId: string): KustoManagementClient;
  cosmos(subscriptionId: string): CosmosDBManagementClient;
  resourceGraph(): ResourceGraphClient;
  logs(): LogsQueryClient;
  /** Publisher for an Event Grid custom topic (`https://<topic>.<region>-1.eventgrid.azure.net/api/events`). */
  eventGridPublisher(endpoint: string, accessKey?: string): EventGridPublisherClient<"EventGrid">;
}

export function createAzureClientFactory(transport: AzureTransport): AzureClientFactory {
  const httpClient = httpClientFor(transport);
  const common = httpClient ? { httpClient } : {};
  const armEndpoint = transport.armEndpoint ?? DEFAULT_ARM_ENDPOINT;
  const logsEndpoint = transport.logsEndpoint ?? DEFAULT_LOGS_ENDPOINT;
  const armOptions = { ...common, endpoint: armEndpoint, credentialScopes: [`${armEndpoint}/.default`] };
  const keyClients = new Map<string, KeyClient>();
  return {
    transport,
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
