/**
 * How the service reaches Azure. Production uses the platform's HTTPS stack and a managed
 * identity; the sandbox supplies an HTTPS agent that routes Azure host names to its
 * loopback port (trusting its own CA) and a credential that mints sandbox tokens. Nothing
 * else differs: URLs stay the real ones.
 */
import type { TokenCredential } from "@azure/core-auth";
import { type Agent, createDefaultHttpClient, type HttpClient } from "@azure/core-rest-pipeline";

export interface AzureTransport {
  credential: TokenCredential;
  /** When set, every SDK request goes through this HTTPS agent (the sandbox's routing agent). */
  agent?: Agent;
  /** Where Resource Manager lives. Defaults to https://management.azure.com. */
  armEndpoint?: string;
  /** Where the Log Analytics query API lives. Defaults to https://api.loganalytics.io/v1. */
  logsEndpoint?: string;
}

/** An HttpClient that sends every request through `agent` (or the default stack without one). */
export function httpClientFor(transport: AzureTransport): HttpClient | undefined {
  const agent = transport.agent;
  if (!agent) return undefined;
  const base = createDefaultHttpClient();
  return {
    sendRequest(request) {
      request.agent = agent;
      return base.sendRequest(request);
    },
  };
}
