/**
 * The consumer kinds the rotator manages, one row each. Adding a kind = one adapter file
 * plus one row here (and its sandbox resource).
 */
import type { AzureClientFactory } from "../../azure/clientFactory.js";
import type { ConsumerKind } from "../../model.js";
import { cassandraAdapterFromFactory } from "./cassandra.js";
import type { ConsumerAdapter } from "./consumerAdapter.js";
import { cosmosAdapterFromFactory } from "./cosmos.js";
import { kustoAdapterFromFactory } from "./kusto.js";

export type ConsumerAdapters = Readonly<Record<ConsumerKind, ConsumerAdapter>>;

/** Every consumer adapter, over the real SDK clients from `factory`. One row per kind. */
export function createConsumerAdapters(factory: AzureClientFactory): ConsumerAdapters {
  return {
    kusto: kustoAdapterFromFactory(factory),
    cosmos: cosmosAdapterFromFactory(factory),
    cassandra: cassandraAdapterFromFactory(factory),
  };
}

export type { ConsumerAdapter, DiscoveredConsumer, ResourceGraphRow } from "./consumerAdapter.js";
