/**
 * The way back from a disable (issue 12): for ROTATOR_RESTORE_WATCH after the service disabled a
 * version, each plan looks for signs that it is still needed, and plans to enable it again.
 *
 *   disabled version, tagged cmk-rotator-disabled-by/-at by the service (and not restored since)
 *     ├─ audit: calls that failed on it with 403 within the watch after the disable (seen
 *     │  whenever their records arrive) ──► sign "failed-use"
 *     └─ while the watch runs: a consumer of the key whose own status shows a Key Vault error,
 *        naming that version, pinning it, or (versionless, naming none) on the key
 *        ──► sign "consumer-key-error"
 *   any sign ──► compromised?  yes ──► RestoreNeeded (an operator decides)
 *                              no  ──► RestoreAction (enable, tag, journal, event, freeze the key)
 *
 * Pure, like the rest of the planner: `now` is passed in. Enabling is the safe direction, so
 * any sign restores, even from incomplete evidence.
 */
import { formatIsoDuration } from "../duration.js";
import {
  type ConsumerSnapshot,
  DEFAULT_RESTORE_WATCH_MS,
  type KeyVersionFacts,
  type Policy,
  type RestoreAction,
  type RestoreNeeded,
  type RestoreSign,
  TAGS,
} from "../model.js";
import type { KeyContext } from "./keyContext.js";
import { isCompromised } from "./preflight.js";

const VERSION_PATTERN = /[0-9a-f]{32}/gi;

function tagTime(version: KeyVersionFacts, tag: string): Date | undefined {
  const value = version.tags[tag];
  if (!value) return undefined;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? undefined : time;
}

/**
 * When the service disabled this version, if it did and the version is disabled still (and not
 * restored since): the tags the disable wrote say so. A version someone else disabled is theirs.
 */
export function serviceDisabledAt(version: KeyVersionFacts): Date | undefined {
  if (version.enabled) return undefined;
  if (!version.tags[TAGS.disabledBy]?.startsWith("cmk-rotator")) return undefined;
  const disabledAt = tagTime(version, TAGS.disabledAt);
  if (!disabledAt) return undefined;
  const restoredAt = tagTime(version, TAGS.restoredAt);
  // Restored after that disable and disabled again since by someone else: not the service's disable.
  if (restoredAt && restoredAt >= disabledAt) return undefined;
  return disabledAt;
}

/** Whether a consumer's own status reports a Key Vault error (Cosmos confirms access when all is well). */
export function showsKeyError(consumer: ConsumerSnapshot): boolean {
  const status = consumer.keyStatus?.trim();
  if (!status) return false;
  return !/^access to the configured customer managed key confirmed/i.test(status);
}

function failedUseSigns(
  context: KeyContext,
  version: string,
  disabledAt: Date,
  watchMs: number,
): RestoreSign[] {
  const failure = context.evidence?.failures?.find((entry) => entry.version.toLowerCase() === version);
  if (!failure) return [];
  const from = disabledAt.getTime();
  return Object.entries(failure.byCaller)
    .filter(([, at]) => at.getTime() >= from && at.getTime() - from <= watchMs)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([caller, at]) => {
      const name = context.callers[caller.toLowerCase()]?.name;
      return {
        trigger: "failed-use" as const,
        who: name ? `${name} (${caller})` : `caller ${caller}`,
        id: caller,
        at,
        detail: `a call on version ${version} failed with 403 at ${at.toISOString()}`,
      };
    });
}

function consumerErrorSigns(context: KeyContext, version: string, now: Date): RestoreSign[] {
  const signs: RestoreSign[] = [];
  for (const consumer of context.consumers) {
    if (!showsKeyError(consumer)) continue;
    const status = consumer.keyStatus ?? "";
    const named = new Set((status.match(VERSION_PATTERN) ?? []).map((found) => found.toLowerCase()));
    const pinsOfKey = context.pins.filter((entry) => entry.consumer.id === consumer.id);
    const pinsIt = pinsOfKey.some(
      (entry) => entry.version === version || entry.consumer.inUse[entry.pin.pin]?.toLowerCase() === version,
    );
    // A status that names versions is about those (a versionless Kusto cluster that could not
    // wrap with a newer version not yet valid names that one: not this disable's doing); one
    // naming none is about the version the consumer pins or uses, or, for a versionless
    // consumer, about the key.
    const versionless = pinsOfKey.length > 0 && pinsOfKey.every((entry) => entry.version === null);
    const concerned = named.has(version) || (named.size === 0 && (pinsIt || versionless));
    if (!concerned) continue;
    signs.push({
      trigger: "consumer-key-error",
      who: `${consumer.kind} ${consumer.id}`,
      id: consumer.id,
      at: now,
      detail: `${consumer.kind} ${consumer.id} reports a key error: ${status}`,
    });
  }
  return signs;
}

function describeSigns(signs: readonly RestoreSign[]): string {
  return signs.map((sign) => sign.detail.replace(/^a call/, `a call by ${sign.who}`)).join("; ");
}

/**
 * The restores (and the notices for compromised versions) of one key. A version is watched from
 * its disable by the service until ROTATOR_RESTORE_WATCH after it.
 */
export function planRestores(
  context: KeyContext,
  policy: Policy,
  now: Date,
): { restores: RestoreAction[]; needed: RestoreNeeded[] } {
  const watchMs = policy.restoreWatchMs ?? DEFAULT_RESTORE_WATCH_MS;
  // A failed call within the watch counts whenever its record arrives (the evidence window
  // reaches back past the ingestion latency); a consumer's status counts while the watch runs.
  const watchedVersions = context.versions.flatMap((version) => {
    const disabledAt = serviceDisabledAt(version);
    return disabledAt
      ? [{ version, disabledAt, watching: now.getTime() - disabledAt.getTime() <= watchMs }]
      : [];
  });
  const restores: RestoreAction[] = [];
  const needed: RestoreNeeded[] = [];
  for (const { version, disabledAt, watching } of watchedVersions) {
    const name = version.version.toLowerCase();
    const signs = [
      ...failedUseSigns(context, name, disabledAt, watchMs),
      ...(watching ? consumerErrorSigns(context, name, now) : []),
    ];
    if (signs.length === 0) continue;
    const who = [...new Set(signs.map((sign) => sign.who))].join(", ");
    const base = `Version ${version.version} of ${context.id}, disabled by the service at ${disabledAt.toISOString()} (watched for ${formatIsoDuration(watchMs)}), is still needed by ${who}: ${describeSigns(signs)}`;
    if (isCompromised(version)) {
      needed.push({
        type: "restore-needed",
        key: context.key,
        version: version.version,
        disabledAt,
        signs,
        reason: "compromised-version-needed",
        message: `${base}. It is tagged ${TAGS.compromised}, so it is never enabled again automatically: an operator decides (POST /api/keys/{vault}/{key}/versions/{version}/restore, or cmk-rotator restore), or moves ${who} to the new version.`,
      });
      continue;
    }
    restores.push({
      type: "restore",
      key: context.key,
      version: version.version,
      disabledAt,
      signs,
      reason: signs.some((sign) => sign.trigger === "failed-use")
        ? "failed-use-after-disable"
        : "consumer-key-error-after-disable",
      message: `${base}. Enable it again, and freeze retirement of the key until an operator unfreezes it.`,
    });
  }
  return { restores, needed };
}
