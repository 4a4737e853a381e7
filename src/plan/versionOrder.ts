/**
 * The order of a key's versions. Key Vault reports `created` in whole seconds, so versions
 * created within one second tie; their order cannot be told from `created` alone. The key's
 * current version (what a versionless GET returns) is the newest of all, so it breaks the tie
 * in its group; any other tie is ordered by id only to stay deterministic, and callers that
 * must not guess ask `tiedWith` first.
 */

interface OrderedVersion {
  version: string;
  created: Date;
}

/** Whether two version ids name the same version (ids compare case-insensitively). */
export function sameVersion(a: string | null | undefined, b: string | null | undefined): boolean {
  return (
    a !== null && a !== undefined && b !== null && b !== undefined && a.toLowerCase() === b.toLowerCase()
  );
}

/** Oldest first; the current version last among the versions created in its second. */
export function orderVersions<T extends OrderedVersion>(
  versions: readonly T[],
  currentVersion?: string,
): T[] {
  return [...versions].sort((a, b) => {
    const byTime = a.created.getTime() - b.created.getTime();
    if (byTime !== 0) return byTime;
    if (sameVersion(a.version, currentVersion)) return 1;
    if (sameVersion(b.version, currentVersion)) return -1;
    const left = a.version.toLowerCase();
    const right = b.version.toLowerCase();
    return left < right ? -1 : left > right ? 1 : 0;
  });
}

/**
 * Whether the order of `a` and `b` is unknown: created in the same second and neither is the
 * current version.
 */
export function orderUnknown(a: OrderedVersion, b: OrderedVersion, currentVersion?: string): boolean {
  if (sameVersion(a.version, b.version)) return false;
  if (Math.floor(a.created.getTime() / 1000) !== Math.floor(b.created.getTime() / 1000)) return false;
  return !sameVersion(a.version, currentVersion) && !sameVersion(b.version, currentVersion);
}

/**
 * The versions (lower case) known to be older than `target`: before it in order, and not tied
 * with it in a way that leaves the order unknown. A repoint to `target` may replace only these.
 */
export function versionsOlderThan<T extends OrderedVersion>(
  versions: readonly T[],
  target: string,
  currentVersion?: string,
): Set<string> {
  const ordered = orderVersions(versions, currentVersion);
  const position = ordered.findIndex((version) => sameVersion(version.version, target));
  const targetFacts = ordered[position];
  if (!targetFacts) return new Set();
  return new Set(
    ordered
      .slice(0, position)
      .filter((version) => !orderUnknown(version, targetFacts, currentVersion))
      .map((version) => version.version.toLowerCase()),
  );
}
