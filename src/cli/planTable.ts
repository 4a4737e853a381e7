/**
 * The plan as plain-text tables for a terminal: per key one line of facts, a versions
 * table (newest first), a consumers table, and its holds, blocks and warnings.
 */
import { formatRelative, parseTime, resourceName, shortVersion } from "../dashboard/timeText.js";
import type { KeyView } from "../plan/view.js";

/** Columns padded to their widest cell; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]) =>
    headers
      .map((_, column) => {
        const cell = cells[column] ?? "";
        return column === headers.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
      })
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

function when(text: string | null, now: Date): string {
  const at = parseTime(text);
  return at ? formatRelative(at, now) : "-";
}

function versionTable(key: KeyView, now: Date): string {
  const rows = key.versions.map((version) => {
    const state =
      version.state === "disabled" ? "disabled" : version.isTarget ? "enabled, target" : "enabled";
    const pinnedBy = version.pinnedBy.map((pin) => resourceName(pin.consumerId)).join(", ") || "-";
    const lastUse = version.lastUse
      ? `${when(version.lastUse.at, now)} (${version.lastUse.count}x)`
      : "none in window";
    const next = version.nextAction;
    const until = next.until ? ` until ${when(next.until, now)}` : "";
    return [
      shortVersion(version.version),
      state,
      when(version.created, now),
      when(version.superseded, now),
      pinnedBy,
      lastUse,
      next.type === "none" ? "-" : `${next.type}${next.reason ? ` (${next.reason})` : ""}${until}`,
    ];
  });
  return formatTable(["VERSION", "STATE", "CREATED", "SUPERSEDED", "PINNED BY", "LAST USE", "NEXT"], rows);
}

function consumerTable(key: KeyView): string {
  const rows = key.consumers.flatMap((consumer) =>
    consumer.pins.map((pin) => [
      resourceName(consumer.id),
      consumer.kind,
      pin.pin,
      pin.followsLatest ? "latest" : shortVersion(pin.version),
      pin.inUse ? shortVersion(pin.inUse) : "-",
      pin.status,
      pin.repointTo ? `repoint to ${shortVersion(pin.repointTo)}` : "-",
    ]),
  );
  return formatTable(["CONSUMER", "KIND", "PIN", "PINNED", "IN USE", "STATUS", "NEXT"], rows);
}

function keyBlock(key: KeyView, now: Date): string {
  const title = `${key.id}  (${key.hostKind === "managedHsm" ? "Managed HSM" : "Key Vault"}, target ${shortVersion(key.target)}, ${key.pendingActions} pending ${key.pendingActions === 1 ? "action" : "actions"})`;
  if (key.error) return `${key.id}  could not be read: ${key.error}`;
  const parts = [title, "", versionTable(key, now), ""];
  parts.push(key.consumers.length > 0 ? consumerTable(key) : "No consumer uses this key.");
  const notes = [
    ...key.versions
      .filter((version) => version.hold)
      .map((version) => `  hold  ${shortVersion(version.version)}: ${version.hold?.message}`),
    ...key.blocks.map((block) => `  block ${shortVersion(block.version)}: ${block.message}`),
    ...key.warnings.map((warning) => `  warning: ${warning.message}`),
    ...(key.migrations ?? []).flatMap((migration) => [
      `  migration ${migration.source} -> ${migration.destination}: ${migration.state}${migration.complete ? ", complete" : ""}, ${migration.moved.length} moved, ${migration.waiting.length} waiting, ${migration.held.length} held`,
      ...migration.waiting.map(
        (entry) => `    waiting ${entry.consumerKind} ${entry.consumerId}: ${entry.why}`,
      ),
      ...migration.held.map(
        (entry) => `    held ${entry.consumerKind} ${entry.consumerId}: ${entry.message}`,
      ),
    ]),
  ];
  if (notes.length > 0) parts.push("", ...notes);
  return parts.join("\n");
}

/** The whole plan as text: one block per key, separated by a blank line. */
export function formatPlan(keys: readonly KeyView[], now: Date): string {
  if (keys.length === 0)
    return "No managed keys found: check ROTATOR_MANAGED_VAULTS and the permission to list their keys.";
  const pending = keys.reduce((sum, key) => sum + key.pendingActions, 0);
  const summary = `${keys.length} ${keys.length === 1 ? "key" : "keys"}, ${pending} pending ${pending === 1 ? "action" : "actions"}`;
  return [summary, ...keys.map((key) => keyBlock(key, now))].join("\n\n");
}
