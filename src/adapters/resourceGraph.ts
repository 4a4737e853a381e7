/**
 * Consumer discovery: ONE Resource Graph query over the configured subscriptions for every
 * resource type a consumer adapter announces, paged with `$skipToken`. Each row is handed to
 * its kind's adapter, which says which consumers it stands for and which keys it saw (the
 * Cassandra adapter expands a cluster into its data centers through Resource Manager).
 * Candidates are confirmed later by each adapter's ARM GET.
 */
import type { QueryRequest, QueryResponse } from "@azure/arm-resourcegraph";
import type { AzureClientFactory } from "../azure/clientFactory.js";
import { AzureCallError, describeError, ValidationError } from "../errors.js";
import type { ConsumerKind } from "../model.js";
import { describeAzureFailure, failureText } from "./azureFailure.js";
import type { ConsumerAdapter, DiscoveredConsumer, ResourceGraphRow } from "./consumers/consumerAdapter.js";
import { validateGuid } from "./keyRef.js";
import { kqlList } from "./kqlLiteral.js";

/** The `ResourceGraphClient` call used here. */
export interface ResourceGraphApi {
  resources(query: QueryRequest): Promise<QueryResponse>;
}

export interface DiscoveryProblem {
  /** The resource whose row could not be turned into consumers. */
  id: string;
  message: string;
}

export interface DiscoveryResult {
  consumers: DiscoveredConsumer[];
  /** Rows that could not be expanded; while any exist, discovery is incomplete. */
  problems: DiscoveryProblem[];
}

export interface ConsumerDiscovery {
  /** Throws AzureCallError when the query itself fails: then nothing is known about consumers. */
  discover(subscriptions: readonly string[]): Promise<DiscoveryResult>;
}

/** Safety net against a service that keeps handing out skip tokens. */
const MAX_PAGES = 1000;

/** The discovery query for the given adapters (types are code constants, still validated). */
export function discoveryQuery(adapters: readonly ConsumerAdapter[]): string {
  const types = adapters.map((adapter) => adapter.resourceGraphType);
  return `Resources | where type in~ ${kqlList("resourceType", types)} | project id, type, subscriptionId, properties | order by id asc`;
}

function rowOf(value: unknown): ResourceGraphRow | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { id, type, subscriptionId, properties } = record;
  if (typeof id !== "string" || typeof type !== "string" || typeof subscriptionId !== "string")
    return undefined;
  return { id, type: type.toLowerCase(), subscriptionId, properties };
}

export function createConsumerDiscovery(
  api: ResourceGraphApi,
  adapters: Readonly<Record<ConsumerKind, ConsumerAdapter>>,
): ConsumerDiscovery {
  const all = Object.values(adapters);
  const byType = new Map(all.map((adapter) => [adapter.resourceGraphType, adapter]));
  const query = discoveryQuery(all);

  return {
    async discover(subscriptions) {
      const validated = subscriptions.map((id) => validateGuid(id, "subscription id"));
      if (validated.length === 0) {
        throw new ValidationError("subscriptions", "consumer discovery needs at least one subscription id");
      }
      const rows: ResourceGraphRow[] = [];
      const problems: DiscoveryProblem[] = [];
      let skipToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page += 1) {
        let response: QueryResponse;
        try {
          response = await api.resources({
            subscriptions: validated,
            query,
            options: { resultFormat: "objectArray", ...(skipToken ? { skipToken } : {}) },
          });
        } catch (error) {
          const failure = describeAzureFailure(error);
          throw new AzureCallError(
            {
              resourceId: "Microsoft.ResourceGraph/resources",
              operation: "discover consumers",
              ...(failure.status !== undefined ? { status: failure.status } : {}),
              ...(failure.code ? { azureCode: failure.code } : {}),
            },
            `Resource Graph discovery over ${validated.length} subscription(s) failed: ${failureText(failure)}; the service identity needs Reader on each subscription`,
            { cause: error },
          );
        }
        if (!Array.isArray(response.data)) {
          throw new AzureCallError(
            { resourceId: "Microsoft.ResourceGraph/resources", operation: "discover consumers" },
            "Resource Graph answered without an object array in data; the discovery query cannot be trusted",
          );
        }
        for (const value of response.data) {
          const row = rowOf(value);
          if (row) rows.push(row);
          else
            problems.push({
              id: "(row)",
              message: `Resource Graph returned a row without id/type/subscriptionId: ${JSON.stringify(value)}`,
            });
        }
        skipToken = response.skipToken;
        if (!skipToken) {
          if (response.resultTruncated === "true") {
            problems.push({
              id: "(query)",
              message: "Resource Graph truncated the result without a skip token",
            });
          }
          break;
        }
        if (page === MAX_PAGES - 1)
          problems.push({ id: "(query)", message: `Resource Graph kept paging after ${MAX_PAGES} pages` });
      }

      const consumers: DiscoveredConsumer[] = [];
      for (const row of rows) {
        const adapter = byType.get(row.type);
        if (!adapter) continue;
        try {
          consumers.push(...(await adapter.candidatesFromRow(row)));
        } catch (error) {
          problems.push({ id: row.id, message: describeError(error) });
        }
      }
      return { consumers, problems };
    },
  };
}

export function consumerDiscoveryFromFactory(
  factory: AzureClientFactory,
  adapters: Readonly<Record<ConsumerKind, ConsumerAdapter>>,
): ConsumerDiscovery {
  return createConsumerDiscovery(factory.resourceGraph(), adapters);
}
