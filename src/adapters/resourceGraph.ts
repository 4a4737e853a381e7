/**
 * Consumer discovery: ONE Resource Graph query over the configured subscriptions for every
 * resource type a consumer adapter announces, 1,000 rows a page (`$top`), paged with
 * `$skipToken`. Each row is handed to its kind's adapter, which says which consumers it stands
 * for, which keys it saw and the consumer's facts from the row (the Cassandra adapter expands a
 * cluster into its data centers through Resource Manager, clusters at the same time). Rows
 * may lag Resource Manager: a disable is planned only on fresh ARM reads (`plan/freshReads.ts`). The same rows name the principals
 * every such resource carries (`identity.principalId`, `identity.userAssignedIdentities.*.principalId`),
 * so callers in the audit logs can be named; callers still unknown after that are resolved with
 * one more query per run (`resolvePrincipals`), never one per caller.
 */
import type { QueryRequest, QueryResponse } from "@azure/arm-resourcegraph";
import type { AzureClientFactory } from "../azure/clientFactory.js";
import { AzureCallError, describeError, ValidationError } from "../errors.js";
import { mapLimited } from "../mapLimited.js";
import type { CallerAttribution, ConsumerKind, VaultFacts } from "../model.js";
import { describeAzureFailure, failureText } from "./azureFailure.js";
import { isRecord } from "./consumers/armResource.js";
import type {
  ConsumerAdapter,
  DiscoveredConsumer,
  ResourceGraphRow,
  RowExpansionOptions,
} from "./consumers/consumerAdapter.js";
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
  /** Who each principal carried by a discovered resource is, by lower-case principal id. */
  principals: Record<string, CallerAttribution>;
  /** Rows expanded from a listing an earlier run made (`DiscoverOptions.listingMaxAgeMs`), and the oldest of them. */
  reusedListings?: ReusedListings;
}

export interface ReusedListings {
  rows: number;
  oldestListedAt: Date;
}

export interface DiscoverOptions {
  /** Rows may be expanded from listings younger than this (Cassandra data centers); absent: list every row afresh. */
  listingMaxAgeMs?: number;
}

export interface ConsumerDiscovery {
  /** Throws AzureCallError when the query itself fails: then nothing is known about consumers. */
  discover(subscriptions: readonly string[], options?: DiscoverOptions): Promise<DiscoveryResult>;
  /**
   * Names principals no discovered resource carries, with ONE query: a resource whose
   * system-assigned identity it is, or a user-assigned identity resource. Principals it cannot
   * name are left out; a failed query answers what it has (nothing) and never throws.
   */
  resolvePrincipals(
    subscriptions: readonly string[],
    principalIds: readonly string[],
  ): Promise<ResolvedPrincipals>;
}

export interface ResolvedPrincipals {
  principals: Record<string, CallerAttribution>;
  /** Why the lookup could not be done (the query failed), when it could not. */
  problem?: string;
}

/** At most this many unknown principals are looked up per run (the query stays small). */
export const MAX_PRINCIPALS_RESOLVED = 100;

const USER_ASSIGNED_IDENTITY_TYPE = "microsoft.managedidentity/userassignedidentities";

/** Safety net against a service that keeps handing out skip tokens. */
const MAX_PAGES = 1000;

/** Rows per page: Resource Graph's largest `$top` (its default is 100). */
export const DISCOVERY_PAGE_SIZE = 1000;

/** Rows expanded at once (a Cassandra cluster row lists its data centers through Resource Manager). */
const ROW_EXPANSION_CONCURRENCY = 8;

/** The discovery query for the given adapters (types are code constants, still validated). */
export function discoveryQuery(adapters: readonly ConsumerAdapter[]): string {
  const types = adapters.map((adapter) => adapter.resourceGraphType);
  return `Resources | where type in~ ${kqlList("resourceType", types)} | project id, type, subscriptionId, location, properties, identity | order by id asc`;
}

/**
 * The query that names unknown principals: resources whose system-assigned identity they are
 * (`identity.principalId`) and user-assigned identity resources (`properties.principalId`).
 */
export function principalQuery(principalIds: readonly string[]): string {
  const ids = kqlList(
    "guid",
    principalIds.map((id) => id.toLowerCase()),
  );
  return [
    "Resources",
    `| extend SystemPrincipal = tolower(tostring(identity.principalId)), IdentityPrincipal = iff(type =~ '${USER_ASSIGNED_IDENTITY_TYPE}', tolower(tostring(properties.principalId)), '')`,
    `| where SystemPrincipal in ${ids} or IdentityPrincipal in ${ids}`,
    "| project id, type, subscriptionId, SystemPrincipal, IdentityPrincipal",
    "| order by id asc",
  ].join(" ");
}

function rowOf(value: unknown): ResourceGraphRow | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { id, type, subscriptionId, location, properties, identity } = record;
  if (typeof id !== "string" || typeof type !== "string" || typeof subscriptionId !== "string")
    return undefined;
  return {
    id,
    type: type.toLowerCase(),
    subscriptionId,
    ...(typeof location === "string" && location !== "" ? { location } : {}),
    properties,
    ...(identity !== undefined && identity !== null ? { identity } : {}),
  };
}

/** The last name segment of an ARM id: ".../clusters/adx-1" → "adx-1". */
function armName(id: string): string {
  return id.split("/").filter(Boolean).at(-1) ?? id;
}

/** "kusto", "cosmos", "cassandra" for a consumer type, else the ARM type itself. */
function kindWord(type: string, adapters: readonly ConsumerAdapter[]): string {
  return (
    adapters.find((adapter) => adapter.resourceGraphType === type.toLowerCase())?.kind ?? type.toLowerCase()
  );
}

/**
 * The principals a discovered resource carries: its system-assigned identity, and each
 * user-assigned identity attached to it (named by the identity and the resource).
 */
function principalsOfRow(
  row: ResourceGraphRow,
  adapters: readonly ConsumerAdapter[],
): Record<string, CallerAttribution> {
  const found: Record<string, CallerAttribution> = {};
  if (!isRecord(row.identity)) return found;
  const resource = `${kindWord(row.type, adapters)} ${armName(row.id)}`;
  const system = row.identity.principalId;
  if (typeof system === "string" && system) {
    found[system.toLowerCase()] = { name: resource, kind: "resource", resourceId: row.id };
  }
  const userAssigned = isRecord(row.identity.userAssignedIdentities)
    ? row.identity.userAssignedIdentities
    : {};
  for (const [identityId, entry] of Object.entries(userAssigned)) {
    const principal = isRecord(entry) ? entry.principalId : undefined;
    if (typeof principal !== "string" || !principal) continue;
    found[principal.toLowerCase()] = {
      name: `user-assigned identity ${armName(identityId)} (on ${resource})`,
      kind: "user-assigned-identity",
      resourceId: row.id,
    };
  }
  return found;
}

function isGuidText(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

export function createConsumerDiscovery(
  api: ResourceGraphApi,
  adapters: Readonly<Record<ConsumerKind, ConsumerAdapter>>,
): ConsumerDiscovery {
  const all = Object.values(adapters);
  const byType = new Map(all.map((adapter) => [adapter.resourceGraphType, adapter]));
  const query = discoveryQuery(all);

  return {
    async resolvePrincipals(subscriptions, principalIds) {
      const wanted = [...new Set(principalIds.map((id) => id.toLowerCase()).filter(isGuidText))].slice(
        0,
        MAX_PRINCIPALS_RESOLVED,
      );
      if (wanted.length === 0 || subscriptions.length === 0) return { principals: {} };
      let response: QueryResponse;
      try {
        response = await api.resources({
          subscriptions: subscriptions.map((id) => validateGuid(id, "subscription id")),
          query: principalQuery(wanted),
          options: { resultFormat: "objectArray", top: 1000 },
        });
      } catch (error) {
        return {
          principals: {},
          problem: `naming ${wanted.length} caller(s) through Resource Graph failed: ${failureText(describeAzureFailure(error))}`,
        };
      }
      const principals: Record<string, CallerAttribution> = {};
      for (const value of Array.isArray(response.data) ? response.data : []) {
        if (!isRecord(value) || typeof value.id !== "string" || typeof value.type !== "string") continue;
        const { id, type } = value;
        const identityPrincipal = typeof value.IdentityPrincipal === "string" ? value.IdentityPrincipal : "";
        const systemPrincipal = typeof value.SystemPrincipal === "string" ? value.SystemPrincipal : "";
        if (identityPrincipal && wanted.includes(identityPrincipal)) {
          principals[identityPrincipal] = {
            name: `user-assigned identity ${armName(id)}`,
            kind: "user-assigned-identity",
            resourceId: id,
          };
        }
        if (systemPrincipal && wanted.includes(systemPrincipal)) {
          principals[systemPrincipal] = {
            name: `${kindWord(type, all)} ${armName(id)}`,
            kind: "resource",
            resourceId: id,
          };
        }
      }
      return { principals };
    },

    async discover(subscriptions, options = {}) {
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
            options: {
              resultFormat: "objectArray",
              top: DISCOVERY_PAGE_SIZE,
              ...(skipToken ? { skipToken } : {}),
            },
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

      const principals: Record<string, CallerAttribution> = {};
      for (const row of rows) Object.assign(principals, principalsOfRow(row, all));
      let reusedListings: ReusedListings | undefined;
      const expansion: RowExpansionOptions = {
        ...(options.listingMaxAgeMs ? { listingMaxAgeMs: options.listingMaxAgeMs } : {}),
        reused: (listedAt) => {
          const oldest = reusedListings?.oldestListedAt;
          reusedListings = {
            rows: (reusedListings?.rows ?? 0) + 1,
            oldestListedAt: oldest && oldest.getTime() <= listedAt.getTime() ? oldest : listedAt,
          };
        },
      };
      const expanded = await mapLimited(rows, ROW_EXPANSION_CONCURRENCY, async (row) => {
        const adapter = byType.get(row.type);
        if (!adapter) return [];
        try {
          return await adapter.candidatesFromRow(row, expansion);
        } catch (error) {
          problems.push({ id: row.id, message: describeError(error) });
          return [];
        }
      });
      return {
        consumers: expanded.flat(),
        problems,
        principals,
        ...(reusedListings ? { reusedListings } : {}),
      };
    },
  };
}

export function consumerDiscoveryFromFactory(
  factory: AzureClientFactory,
  adapters: Readonly<Record<ConsumerKind, ConsumerAdapter>>,
): ConsumerDiscovery {
  return createConsumerDiscovery(factory.resourceGraph(), adapters);
}

/** The query for the vaults and Managed HSMs a migration's checks need: region, soft delete, purge protection. */
export const VAULT_FACTS_QUERY =
  "Resources | where type in~ ('microsoft.keyvault/vaults', 'microsoft.keyvault/managedhsms') | project name, type, location, properties | order by name asc";

/**
 * What Resource Manager says about every vault and Managed HSM in the subscriptions, by
 * lower-case name, in ONE query. A vault it does not list is unknown (its checks hold), and a
 * failed query answers nothing (every check that needs it holds): it never throws.
 */
export async function readVaultFacts(
  api: ResourceGraphApi,
  subscriptions: readonly string[],
): Promise<{ vaults: Record<string, VaultFacts>; problem?: string }> {
  const vaults: Record<string, VaultFacts> = {};
  if (subscriptions.length === 0) return { vaults };
  let response: QueryResponse;
  try {
    response = await api.resources({
      subscriptions: subscriptions.map((id) => validateGuid(id, "subscription id")),
      query: VAULT_FACTS_QUERY,
      options: { resultFormat: "objectArray", top: 1000 },
    });
  } catch (error) {
    return {
      vaults,
      problem: `reading the vaults through Resource Graph failed: ${failureText(describeAzureFailure(error))}`,
    };
  }
  for (const value of Array.isArray(response.data) ? response.data : []) {
    if (!isRecord(value) || typeof value.name !== "string") continue;
    const properties = isRecord(value.properties) ? value.properties : {};
    const location =
      typeof value.location === "string" ? value.location.replace(/\s+/g, "").toLowerCase() : undefined;
    vaults[value.name.toLowerCase()] = {
      ...(location ? { location } : {}),
      // Resource Manager omits these until they are turned on; soft delete is on by default since 2020.
      softDelete: properties.enableSoftDelete !== false,
      purgeProtection: properties.enablePurgeProtection === true,
    };
  }
  return { vaults };
}
