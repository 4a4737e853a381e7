/**
 * Who made a call, and which calls are a consumer's: the audit logs name callers by object id
 * (and the app id their token carried), consumers name the identity they unwrap with. One place
 * for matching the two, for the retire rules, the view and the dashboard.
 */
import type { AuditEvidence, CallerAttribution, ConsumerSnapshot, VersionUse } from "../model.js";

/** A consumer as a person names it: "kusto adx-pinned", "cassandra cassandra-1/dc-east". */
export function consumerName(consumer: Pick<ConsumerSnapshot, "id" | "kind">): string {
  const segments = consumer.id.split("/");
  const providers = segments.findIndex((segment) => segment.toLowerCase() === "providers");
  // After /providers/<namespace>/: type, name, [child type, child name].
  const names = segments.slice(providers + 2).filter((_, index) => index % 2 === 1);
  return `${consumer.kind} ${names.length > 0 ? names.join("/") : consumer.id}`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The object id the consumer's calls carry: its identity's principal id (or its identity, when that is an object id). */
export function principalOf(consumer: ConsumerSnapshot): string | undefined {
  const principal =
    consumer.identityPrincipalId ??
    (consumer.identity && GUID.test(consumer.identity) ? consumer.identity : undefined);
  return principal?.toLowerCase();
}

/** The callers in the evidence that are this consumer's: its identity's principal, or its app id. */
export function callersOf(consumer: ConsumerSnapshot, evidence: AuditEvidence | undefined): string[] {
  const callers = new Set<string>();
  const principal = principalOf(consumer);
  if (principal) callers.add(principal);
  const appId = consumer.identityAppId?.toLowerCase();
  if (appId) {
    for (const [caller, callerAppId] of Object.entries(evidence?.callerAppIds ?? {})) {
      if (callerAppId.toLowerCase() === appId) callers.add(caller.toLowerCase());
    }
  }
  return [...callers];
}

/**
 * Whether the audit logs can tell this consumer's calls from every other consumer's of the key:
 * it unwraps with a principal no other consumer of the key uses. A first-party application
 * (a FirstPartyIdentity Cosmos DB account) is never its own: every such account calls as it.
 */
export function hasOwnIdentity(
  consumer: ConsumerSnapshot,
  consumersOfKey: readonly ConsumerSnapshot[],
): boolean {
  const principal = principalOf(consumer);
  if (!principal || consumer.identityAppId) return false;
  return !consumersOfKey.some((other) => other.id !== consumer.id && principalOf(other) === principal);
}

/** The newest time any of `callers` used the version, from its use in the evidence. */
export function lastUseBy(use: VersionUse | undefined, callers: readonly string[]): Date | undefined {
  let last: Date | undefined;
  for (const [caller, at] of Object.entries(use?.byCaller ?? {})) {
    if (!callers.includes(caller.toLowerCase())) continue;
    if (!last || at > last) last = at;
  }
  return last;
}

/** A caller in words: who it is when attributed, with its object id. */
export function describeCaller(
  caller: string,
  attributions: Readonly<Record<string, CallerAttribution>>,
): string {
  const attribution = attributions[caller.toLowerCase()];
  return attribution ? `${attribution.name} (${caller})` : `unattributed caller ${caller}`;
}

/** Names shown for a principal several consumers share; past a few, how many more. */
const NAMED_SHARERS = 3;

function sharedName(sharing: readonly ConsumerSnapshot[]): string {
  if (sharing.length <= NAMED_SHARERS) return sharing.map(consumerName).join(" and ");
  const named = sharing.slice(0, NAMED_SHARERS).map(consumerName).join(", ");
  return `${named} and ${sharing.length - NAMED_SHARERS} more consumers`;
}

/** What each consumer's own principal is called: "kusto adx-pinned" (a shared principal names up to three, then how many more). */
export function consumerAttributions(
  consumers: readonly ConsumerSnapshot[],
): Record<string, CallerAttribution> {
  const byPrincipal = new Map<string, ConsumerSnapshot[]>();
  for (const consumer of consumers) {
    const principal = principalOf(consumer);
    if (!principal) continue;
    const sharing = byPrincipal.get(principal);
    if (sharing) sharing.push(consumer);
    else byPrincipal.set(principal, [consumer]);
  }
  const attributions: Record<string, CallerAttribution> = {};
  for (const [principal, sharing] of byPrincipal) {
    const [first] = sharing;
    if (!first) continue;
    attributions[principal] = {
      name: sharedName(sharing),
      kind: "consumer",
      resourceId: first.id,
    };
  }
  return attributions;
}
