/** Times as people read them, for the dashboard and the plan command alike. */

const UNITS: readonly [string, number][] = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["min", 60_000],
  ["s", 1000],
];

/** "2 d 3 h", "5 min 10 s", "30 d", "4 s": the largest unit and the next one when not zero; never negative. */
export function formatSpan(ms: number): string {
  const rest = Math.max(0, Math.round(ms / 1000) * 1000);
  const first = UNITS.findIndex(([, size]) => rest >= size);
  const unit = UNITS[first];
  if (!unit) return "0 s";
  const parts = [`${Math.floor(rest / unit[1])} ${unit[0]}`];
  const next = UNITS[first + 1];
  if (next) {
    const count = Math.floor((rest % unit[1]) / next[1]);
    if (count > 0) parts.push(`${count} ${next[0]}`);
  }
  return parts.join(" ");
}

/** "5 min ago" / "in 2 h" relative to `now`. */
export function formatRelative(at: Date, now: Date): string {
  const delta = at.getTime() - now.getTime();
  if (Math.abs(delta) < 1000) return "now";
  return delta < 0 ? `${formatSpan(-delta)} ago` : `in ${formatSpan(delta)}`;
}

/** "2025-06-01 12:00:00 UTC". */
export function formatUtc(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** A date from an ISO string in a view; undefined for null or garbage. */
export function parseTime(text: string | null | undefined): Date | undefined {
  if (!text) return undefined;
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? undefined : at;
}

/** The first 8 characters of a 32-hex version id, as people quote them. */
export function shortVersion(version: string | null | undefined): string {
  return version ? version.slice(0, 8) : "—";
}

/** The last segment of an ARM id: the resource's own name (a Cassandra data center: cluster/dc). */
export function resourceName(id: string): string {
  const segments = id.split("/").filter((segment) => segment !== "");
  const dataCenter = segments.findIndex((segment) => segment.toLowerCase() === "datacenters");
  if (dataCenter > 0 && segments[dataCenter + 1])
    return `${segments[dataCenter - 1]}/${segments[dataCenter + 1]}`;
  return segments.at(-1) ?? id;
}
