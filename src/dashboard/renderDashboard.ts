/**
 * The dashboard: a pure function from the plan views (the same `KeyView`s GET /api/keys
 * answers) and recent journal entries to one self-contained HTML page. Inline CSS, a few
 * lines of inline script for the hold countdowns, no external assets.
 *
 *   header     mode, observation time, totals
 *   per key    timeline of versions · versions table (pins, use, audit, hold, next action)
 *              consumers · audit evidence · holds and blocks · next actions · journal
 *
 * Every string from outside (key names, ARM ids, messages) goes through `html`, which
 * escapes it. Colour always comes with a word, so nothing depends on seeing colour.
 */
import type { JournalEntry } from "../journal/journal.js";
import type { RotatorMode } from "../model.js";
import type { KeyView, PinView, VersionView } from "../plan/view.js";
import { html, type SafeHtml, trusted } from "./html.js";
import { formatRelative, formatSpan, formatUtc, parseTime, resourceName, shortVersion } from "./timeText.js";

/** A journal entry as the rotation service answers it (JSON: `at` is an ISO string). */
export type DashboardJournalEntry = Omit<JournalEntry, "at" | "keyId" | "runId"> & {
  at: string | Date;
  keyId?: string;
  runId?: string;
};

export interface DashboardInput {
  keys: readonly KeyView[];
  /** Recent entries per key id, newest first. */
  journal: Readonly<Record<string, readonly DashboardJournalEntry[]>>;
  now: Date;
  mode: RotatorMode;
  /** How old the observation was when it was served, in seconds (the views are cached). */
  ageSeconds?: number;
  /** The page reloads itself after this many seconds (0: never). */
  refreshSeconds: number;
}

function ageText(seconds: number): string {
  if (seconds < 1) return "just now";
  if (seconds < 120) return `${seconds} s ago`;
  return `${Math.round(seconds / 60)} min ago`;
}

/** Renders the whole page. Pure: the same input gives the same HTML. */
export function renderDashboard(input: DashboardInput): string {
  const { keys, now } = input;
  const holds = keys.reduce((sum, key) => sum + key.versions.filter((version) => version.hold).length, 0);
  const blocks = keys.reduce((sum, key) => sum + key.blocks.length, 0);
  const pending = keys.reduce((sum, key) => sum + key.pendingActions, 0);
  const warnings = keys.reduce((sum, key) => sum + key.warnings.length, 0);
  const frozen = keys.filter((key) => key.frozen).length;
  const restored = keys.reduce(
    (sum, key) => sum + key.versions.filter((version) => version.restores.length > 0).length,
    0,
  );
  const body = html`
<header class="page-header">
  <h1>cmk-rotator</h1>
  <p class="summary" data-testid="summary">
    <span class="badge mode-${input.mode}" data-testid="mode">mode: ${input.mode}</span>
    <span>${keys.length} ${keys.length === 1 ? "key" : "keys"}</span>
    <span data-testid="pending-total">${pending} pending ${pending === 1 ? "action" : "actions"}</span>
    <span>${holds} ${holds === 1 ? "hold" : "holds"}</span>
    <span>${blocks} ${blocks === 1 ? "block" : "blocks"}</span>
    ${warnings > 0 ? html`<span data-testid="warning-total">${warnings} ${warnings === 1 ? "warning" : "warnings"}</span>` : ""}
    ${frozen > 0 ? html`<span data-testid="frozen-total">${frozen} frozen ${frozen === 1 ? "key" : "keys"}</span>` : ""}
    ${restored > 0 ? html`<span data-testid="restored-total">${restored} restored ${restored === 1 ? "version" : "versions"}</span>` : ""}
  </p>
  <p class="observed">Observed <time datetime="${now.toISOString()}" data-testid="observed-at">${formatUtc(now)}</time>${
    input.ageSeconds !== undefined
      ? html` <span data-testid="observation-age">(${ageText(input.ageSeconds)})</span>`
      : ""
  }${input.refreshSeconds > 0 ? html` · refreshes every ${input.refreshSeconds} s` : ""}</p>
  ${input.mode === "report" ? html`<p class="notice" role="note">Report mode: the service plans and journals, but changes nothing.</p>` : ""}
</header>
<main>
${
  keys.length === 0
    ? html`<p class="empty" data-testid="no-keys">No managed keys found. The service manages the vaults and HSMs listed in ROTATOR_MANAGED_VAULTS; check that setting and the service's permission to list their keys.</p>`
    : html`<nav aria-label="Keys"><ul class="key-index">${keys.map(
        (key) =>
          html`<li><a href="#${keyAnchor(key.id)}">${key.id}</a> ${key.frozen ? html`<span class="badge warn" data-testid="frozen-badge">frozen</span> ` : ""}${key.error ? html`<span class="badge bad">unreadable</span>` : key.pendingActions > 0 ? html`<span class="badge act">${key.pendingActions} pending</span>` : html`<span class="badge ok">settled</span>`}</li>`,
      )}</ul></nav>
${keys.map((key) => renderKey(key, input.journal[key.id] ?? [], now))}`
}
</main>`;
  return page("cmk-rotator dashboard", body, input.refreshSeconds);
}

/** A readable error page for when the plan cannot be read at all. */
export function renderDashboardError(title: string, message: string, refreshSeconds: number): string {
  const body = html`
<header class="page-header"><h1>cmk-rotator</h1></header>
<main>
  <section class="key error-page" role="alert" data-testid="dashboard-error">
    <h2>${title}</h2>
    <p>${message}</p>
    <p>See the function logs for details.${refreshSeconds > 0 ? html` This page tries again every ${refreshSeconds} s.` : ""}</p>
  </section>
</main>`;
  return page(`cmk-rotator: ${title}`, body, refreshSeconds);
}

function page(title: string, body: SafeHtml, refreshSeconds: number): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refreshSeconds > 0 ? html`<meta http-equiv="refresh" content="${Math.round(refreshSeconds)}">` : ""}
<title>${title}</title>
<style>${trusted(STYLE)}</style>
</head>
<body>
${body}
<script>${trusted(COUNTDOWN_SCRIPT)}</script>
</body>
</html>
`.value;
}

/** An id usable in a URL fragment for a key id ("kv/key" → "key-kv-key"). */
export function keyAnchor(id: string): string {
  return `key-${id.toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`;
}

function renderKey(key: KeyView, journal: readonly DashboardJournalEntry[], now: Date): SafeHtml {
  const anchor = keyAnchor(key.id);
  return html`
<section class="key" id="${anchor}" data-testid="key" data-key-id="${key.id}" aria-labelledby="${anchor}-title">
  <h2 id="${anchor}-title">${key.id}</h2>
  <p class="key-facts">
    ${key.hostKind === "managedHsm" ? "Managed HSM" : key.hostKind === "vault" ? "Key Vault" : "unknown host"}
    ${key.vaultUrl ? html`· <span class="mono">${key.vaultUrl}</span>` : ""}
    · target <strong class="mono" data-testid="target">${shortVersion(key.target)}</strong>
    · ${key.pendingActions} pending ${key.pendingActions === 1 ? "action" : "actions"}
  </p>
  ${key.warnings.map(
    (warning) =>
      html`<p class="warning" role="note" data-testid="warning" data-reason="${warning.reason}"><span class="badge warn">warning</span> ${warning.message}</p>`,
  )}
  ${
    key.frozen
      ? html`<p class="warning" role="note" data-testid="frozen"><span class="badge warn">retirement frozen</span> since <time datetime="${key.frozen.at}">${formatUtc(new Date(key.frozen.at))}</time> by ${key.frozen.by}: ${key.frozen.reason}. Nothing of this key retires until it is unfrozen (<span class="mono">cmk-rotator unfreeze</span>).</p>`
      : ""
  }
  ${
    key.error
      ? html`<p class="problem" role="alert" data-testid="key-error"><strong>This key could not be read:</strong> ${key.error}</p>`
      : html`
  ${renderMigrations(key)}
  ${renderTimeline(key, now)}
  ${renderVersions(key, now)}
  ${renderConsumers(key)}
  ${renderEvidence(key, now)}
  ${renderHoldsAndBlocks(key, now)}
  ${renderNextActions(key)}
  ${renderJournal(key, journal, now)}`
  }
</section>`;
}

// ---- migrations ----------------------------------------------------------------------

function consumerWords(entry: {
  consumerKind: string;
  consumerId: string;
  pin: string;
  version: string | null;
}): SafeHtml {
  return html`${entry.consumerKind} <span class="mono">${entry.consumerId.split("/").at(-1) ?? entry.consumerId}</span> (${entry.pin}, ${entry.version ? html`version <span class="mono">${shortVersion(entry.version)}</span>` : "versionless"})`;
}

/** Each migration of this key (as source or destination): who moved, who waits, who is held and why. */
function renderMigrations(key: KeyView): SafeHtml {
  if (key.migrations.length === 0) return html``;
  return html`${key.migrations.map(
    (
      migration,
    ) => html`<div class="migration" data-testid="migration" data-state="${migration.state}" data-complete="${String(migration.complete)}">
  <h3>Migration of ${migration.source} to ${migration.destination}</h3>
  <p>${
    migration.state === "cancelled"
      ? html`<span class="badge warn">cancelled</span> ${migration.cancelReason ?? ""}: no further consumer moves; the ones moved stay on ${migration.destination}.`
      : migration.complete
        ? html`<span class="badge ok">complete</span> nothing references ${migration.source} any more.`
        : html`<span class="badge">running</span>`
  } Asked ${migration.requestedAt}: ${migration.reason}${migration.retireSource ? " (the source's newest version retires too, on evidence)" : ""}.</p>
  <ul>
    ${migration.moved.map((entry) => html`<li data-testid="migration-moved"><span class="badge ok">moved</span> ${consumerWords(entry)}</li>`)}
    ${migration.waiting.map((entry) => html`<li data-testid="migration-waiting"><span class="badge">waiting</span> ${consumerWords(entry)}: ${entry.why}</li>`)}
    ${migration.held.map((entry) => html`<li data-testid="migration-held"><span class="badge warn">held</span> ${consumerWords(entry)}: ${entry.message}</li>`)}
  </ul>
</div>`,
  )}`;
}

// ---- timeline -------------------------------------------------------------------------

function renderTimeline(key: KeyView, now: Date): SafeHtml {
  if (key.versions.length === 0) {
    return html`<h3>Timeline</h3><p class="empty" data-testid="no-versions">This key has no versions.</p>`;
  }
  const created = key.versions.map((version) => parseTime(version.created)?.getTime() ?? now.getTime());
  const windowFrom = parseTime(key.evidence?.from)?.getTime();
  const start = Math.min(...created, windowFrom ?? Number.POSITIVE_INFINITY);
  const end = now.getTime();
  const span = Math.max(end - start, 1);
  const percent = (time: number) => Math.min(100, Math.max(0, ((time - start) / span) * 100));
  const windowBand =
    windowFrom !== undefined
      ? html`<div class="audit-window" style="left:${percent(windowFrom).toFixed(2)}%;width:${(100 - percent(windowFrom)).toFixed(2)}%" title="audit evidence window"></div>`
      : "";
  const rows = key.versions.map((version) => {
    const from = parseTime(version.created)?.getTime() ?? end;
    const superseded = parseTime(version.superseded)?.getTime();
    const state = versionState(version);
    const left = percent(from);
    const activeEnd = superseded ?? end;
    const segments: SafeHtml[] = [
      html`<div class="seg seg-current" style="left:${left.toFixed(2)}%;width:${Math.max(percent(activeEnd) - left, 0.6).toFixed(2)}%"></div>`,
    ];
    if (superseded !== undefined) {
      const after = percent(superseded);
      segments.push(
        html`<div class="seg seg-${version.state === "disabled" ? "disabled" : "superseded"}" style="left:${after.toFixed(2)}%;width:${Math.max(100 - after, 0.6).toFixed(2)}%"></div>`,
      );
    }
    return html`<li class="timeline-row" data-testid="timeline-version" data-version="${version.version}">
  <span class="timeline-label"><span class="mono">${shortVersion(version.version)}</span> <span class="badge ${state.tone}">${state.label}</span></span>
  <span class="timeline-track" role="img" aria-label="${timelineSentence(version, now)}">${windowBand}${segments}</span>
</li>`;
  });
  return html`<h3>Timeline</h3>
<ol class="timeline" data-testid="timeline" aria-label="Versions of ${key.id}, newest on top">${rows}</ol>
<p class="axis"><span>${formatUtc(new Date(start))}</span><span class="legend"><i class="seg-current"></i> newest then <i class="seg-superseded"></i> superseded <i class="seg-disabled"></i> disabled <i class="audit-window"></i> audit window</span><span>now</span></p>`;
}

function timelineSentence(version: VersionView, now: Date): string {
  const created = parseTime(version.created);
  const superseded = parseTime(version.superseded);
  const parts = [`version ${shortVersion(version.version)}`];
  if (created) parts.push(`created ${formatRelative(created, now)}`);
  if (superseded) parts.push(`superseded ${formatRelative(superseded, now)}`);
  parts.push(version.state);
  return parts.join(", ");
}

function versionState(version: VersionView): { label: string; tone: string } {
  if (version.state === "disabled") return { label: "disabled", tone: "muted" };
  if (version.compromised) return { label: "compromised", tone: "bad" };
  if (version.isTarget) return { label: "target", tone: "ok" };
  if (version.isNewest) return { label: "newest", tone: "warn" };
  return { label: "superseded", tone: "info" };
}

// ---- versions ---------------------------------------------------------------------------

function usersOf(key: KeyView, version: string): { consumerId: string; pin: string }[] {
  const users: { consumerId: string; pin: string }[] = [];
  for (const consumer of key.consumers) {
    for (const pin of consumer.pins) {
      if (pin.inUse && pin.inUse.toLowerCase() === version.toLowerCase()) {
        users.push({ consumerId: consumer.id, pin: pin.pin });
      }
    }
  }
  return users;
}

/** Who made a call: its attributed name where the service knows it, else the consumer whose identity it is, else the bare id. */
function callerName(key: KeyView, caller: string, name?: string | null): string {
  if (name) return `${name} (${caller})`;
  const consumer = key.consumers.find(
    (candidate) => candidate.identity && candidate.identity.toLowerCase() === caller.toLowerCase(),
  );
  return consumer ? `${resourceName(consumer.id)} (${caller})` : caller;
}

function consumerList(entries: { consumerId: string; pin: string }[], testId: string): SafeHtml {
  if (entries.length === 0) return html`<span class="none" data-testid="${testId}">none</span>`;
  return html`<ul class="plain" data-testid="${testId}">${entries.map(
    (entry) =>
      html`<li title="${entry.consumerId}">${resourceName(entry.consumerId)}${entry.pin !== "key" ? html` <span class="muted-text">(${entry.pin})</span>` : ""}</li>`,
  )}</ul>`;
}

function renderVersions(key: KeyView, now: Date): SafeHtml {
  if (key.versions.length === 0) return html``;
  const rows = key.versions.map((version) => {
    const state = versionState(version);
    const created = parseTime(version.created);
    const superseded = parseTime(version.superseded);
    const lastUse = version.lastUse;
    const lastUseAt = parseTime(lastUse?.at);
    return html`<tr data-testid="version-row" data-version="${version.version}" data-state="${version.state}">
  <th scope="row"><span class="mono" title="${version.kid}">${shortVersion(version.version)}</span></th>
  <td><span class="badge ${state.tone}" data-testid="version-state">${state.label}</span>${version.restores.map(
    (restore) =>
      html`<br><span class="small" data-testid="restored" data-trigger="${restore.trigger}">restored <time datetime="${restore.at}">${formatRelative(new Date(restore.at), now)}</time> (${restore.trigger}): ${restore.reason}</span>`,
  )}</td>
  <td>${created ? html`<time datetime="${version.created}" title="${formatUtc(created)}">${formatRelative(created, now)}</time>` : "—"}</td>
  <td>${superseded ? html`<time datetime="${version.superseded}" title="${formatUtc(superseded)}">${formatRelative(superseded, now)}</time>` : "—"}</td>
  <td>${consumerList(version.pinnedBy, "pinned-by")}</td>
  <td>${consumerList(usersOf(key, version.version), "used-by")}</td>
  <td data-testid="last-use">${
    lastUse && lastUseAt
      ? html`<time datetime="${lastUse.at}" title="${formatUtc(lastUseAt)}">${formatRelative(lastUseAt, now)}</time><br><span class="small wrap-id" data-testid="last-user">by ${callerName(key, lastUse.by, lastUse.byName)}, ${lastUse.count} ${lastUse.count === 1 ? "call" : "calls"}</span>`
      : html`<span class="none">no use in the window</span>`
  }</td>
  <td class="message" data-testid="next-action">${
    version.restore
      ? html`<span class="badge ${version.restore.type === "restore" ? "act" : "bad"}" data-testid="restore-action">${version.restore.type}</span> <span class="small">${version.restore.message}</span>`
      : html`${actionBadge(version.nextAction.type)} <span class="small">${version.nextAction.message}</span>`
  }</td>
</tr>`;
  });
  return html`<h3>Versions</h3>
<div class="table-wrap"><table data-testid="versions">
<caption class="visually-hidden">Versions of ${key.id}, newest first</caption>
<thead><tr><th scope="col">Version</th><th scope="col">State</th><th scope="col">Created</th><th scope="col">Superseded</th><th scope="col">Pinned by</th><th scope="col">In use by</th><th scope="col">Last use (audit)</th><th scope="col">Next action</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

function actionBadge(type: VersionView["nextAction"]["type"]): SafeHtml {
  const tone = { repoint: "act", disable: "act", hold: "warn", block: "bad", none: "muted" }[type];
  return html`<span class="badge ${tone}">${type === "none" ? "no action" : type}</span>`;
}

// ---- consumers ----------------------------------------------------------------------------

const PIN_TONES: Record<PinView["status"], string> = {
  "follows-latest": "info",
  "on-target": "ok",
  lags: "act",
  busy: "warn",
  "ahead-of-target": "warn",
  "unknown-version": "bad",
  "no-target": "bad",
  stopped: "warn",
};

function renderConsumers(key: KeyView): SafeHtml {
  if (key.consumers.length === 0) {
    return html`<h3>Consumers</h3><p class="empty" data-testid="no-consumers">No consumer uses this key: discovery found no Kusto cluster, Cosmos DB account or Cassandra data center pointing at it.</p>`;
  }
  const rows = key.consumers.flatMap((consumer) =>
    consumer.pins.map(
      (
        pin,
      ) => html`<tr data-testid="consumer-row" data-consumer-id="${consumer.id}" data-pin="${pin.pin}" data-status="${pin.status}">
  <th scope="row" title="${consumer.id}">${resourceName(consumer.id)}</th>
  <td>${consumer.kind}</td>
  <td>${pin.pin}</td>
  <td class="mono" data-testid="pinned-version">${pin.followsLatest ? "follows newest" : shortVersion(pin.version)}</td>
  <td class="mono" data-testid="in-use-version">${pin.inUse ? shortVersion(pin.inUse) : html`<span class="none">not reported</span>`}</td>
  <td><span class="badge ${PIN_TONES[pin.status]}" data-testid="pin-status">${pin.status}</span>${pin.repointTo ? html` <span class="small">→ <span class="mono">${shortVersion(pin.repointTo)}</span></span>` : ""}${consumer.sharesRotatorIdentity ? html` <span class="badge bad" data-testid="shares-rotator-identity">rotator's identity</span>` : ""}</td>
  <td>${consumer.provisioningState ?? "—"}${consumer.runState ? html`<br><span class="badge ${consumer.runState.toLowerCase() === "running" ? "ok" : "warn"}" data-testid="run-state">${consumer.runState.toLowerCase()}</span>` : ""}${consumer.keyStatus ? html`<br><span class="small">${consumer.keyStatus}</span>` : ""}</td>
  <td class="small message">${pin.message}${consumer.backupRetention ? html`<br>Backups: ${consumer.backupRetention.description}, kept ${formatSpan(consumer.backupRetention.retentionMs)}.` : ""}</td>
</tr>`,
    ),
  );
  return html`<h3>Consumers</h3>
<div class="table-wrap"><table data-testid="consumers">
<caption class="visually-hidden">Consumers of ${key.id}</caption>
<thead><tr><th scope="col">Consumer</th><th scope="col">Kind</th><th scope="col">Pin</th><th scope="col">Pinned</th><th scope="col">In use</th><th scope="col">Status</th><th scope="col">Provisioning · running</th><th scope="col">Notes</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

// ---- audit evidence -----------------------------------------------------------------------

/** Proven current = complete evidence with a canary and no version held for a stale pipeline. */
export function pipelineState(
  key: KeyView,
): "proven-current" | "not-proven" | "history-too-short" | "incomplete" | "no-evidence" {
  const evidence = key.evidence;
  if (!evidence) return "no-evidence";
  if (!evidence.complete) return "incomplete";
  const held = (reason: string) => key.versions.some((version) => version.hold?.reason === reason);
  if (!evidence.canarySeenAt || held("pipeline-not-current")) return "not-proven";
  return held("pipeline-history-too-short") ? "history-too-short" : "proven-current";
}

function renderEvidence(key: KeyView, now: Date): SafeHtml {
  const evidence = key.evidence;
  if (!evidence) {
    return html`<h3>Audit evidence</h3><p class="empty" data-testid="evidence" data-pipeline="no-evidence">No audit evidence was gathered for this key, so no old version can be disabled.</p>`;
  }
  const state = pipelineState(key);
  const canary = parseTime(evidence.canarySeenAt);
  const firstCanary = parseTime(evidence.canaryFirstSeenAt);
  const from = parseTime(evidence.from);
  const to = parseTime(evidence.to);
  const label = {
    "proven-current": html`<span class="badge ok">proven current</span> the service's own read of the key arrived in the logs`,
    "not-proven": html`<span class="badge warn">not proven current</span> the service's recent read has not arrived in the logs yet, so "no use" proves nothing`,
    "history-too-short": html`<span class="badge warn">current, history too short</span> the service's reads are in the logs only since ${evidence.canaryFirstSeenAt ? formatUtc(parseTime(evidence.canaryFirstSeenAt) ?? now) : "recently"}, not for a whole quiet period, so "no use" before that proves nothing`,
    incomplete: html`<span class="badge bad">incomplete</span> ${evidence.problem ?? "the query failed or returned a partial result"}`,
    "no-evidence": html``,
  }[state];
  return html`<h3>Audit evidence</h3>
<dl class="facts" data-testid="evidence" data-pipeline="${state}">
  <dt>Log pipeline</dt><dd>${label}</dd>
  <dt>Canary seen</dt><dd>${canary ? html`<time datetime="${evidence.canarySeenAt}">${formatRelative(canary, now)}</time> (${formatUtc(canary)})` : "not seen in the window"}</dd>
  <dt>Own reads since</dt><dd>${firstCanary ? html`<time datetime="${evidence.canaryFirstSeenAt}">${formatRelative(firstCanary, now)}</time> (${formatUtc(firstCanary)})` : "none in the window"}</dd>
  <dt>Window</dt><dd>${from && to ? html`${formatUtc(from)} – ${formatUtc(to)} (${formatSpan(to.getTime() - from.getTime())})` : "—"}</dd>
  <dt>Workspace</dt><dd class="mono">${evidence.workspaceId}</dd>
</dl>`;
}

// ---- holds, blocks, next actions ------------------------------------------------------------

function countdown(until: string | null, now: Date): SafeHtml {
  const at = parseTime(until);
  if (!at) return html`<span class="small">until the condition changes</span>`;
  const remaining = at.getTime() - now.getTime();
  return html`<span class="countdown" data-testid="countdown" data-until="${at.toISOString()}" title="${formatUtc(at)}">${
    remaining > 0 ? `lifts in ${formatSpan(remaining)}` : "may lift at the next run"
  }</span>`;
}

/** What a person does about a hold, where that is more than waiting (the sentence says why it holds). */
const HOLD_ADVICE: Partial<Record<string, string>> = {
  "consumer-stopped":
    "start the stopped consumer (or wait until it runs again). Once it has run and moved to a newer version, the hold lifts by itself.",
  "consumer-not-proven-switched":
    "usually nothing: the hold lifts once the consumer is seen on a newer version. If it lasts, check that the consumer picks up new key versions (and that its identity can use the new one).",
  "consumer-shares-rotator-identity":
    "give the consumer a managed identity of its own with get, wrapKey and unwrapKey on the key.",
  "used-recently": "find the caller named above and move it to the newest version.",
  "backup-retention": "nothing: the version is needed to restore backups until the time shown.",
};

function renderHoldsAndBlocks(key: KeyView, now: Date): SafeHtml {
  const held = key.versions.filter((version) => version.hold);
  const items = [
    ...held.map(
      (
        version,
      ) => html`<li data-testid="hold" data-version="${version.version}" data-reason="${version.hold?.reason}">
  <span class="badge warn">hold</span> <span class="mono">${shortVersion(version.version)}</span> <code>${version.hold?.reason}</code> ${countdown(version.hold?.until ?? null, now)}
  <div>${version.hold?.message}${version.hold?.concerns ? html` <span class="small">(concerns ${version.hold.concernsName ?? callerName(key, version.hold.concerns)})</span>` : ""}</div>
  ${version.hold && HOLD_ADVICE[version.hold.reason] ? html`<div class="advice" data-testid="hold-advice"><strong>What to do:</strong> ${HOLD_ADVICE[version.hold.reason]}</div>` : ""}
</li>`,
    ),
    ...key.blocks.map(
      (block) => html`<li data-testid="block" data-version="${block.version}" data-reason="${block.reason}">
  <span class="badge bad">block</span> <span class="mono">${shortVersion(block.version)}</span> <code>${block.reason}</code>
  <div>${block.message}</div>
</li>`,
    ),
  ];
  return html`<h3>Holds and blocks</h3>${
    items.length === 0
      ? html`<p class="empty" data-testid="no-holds">No holds or blocks: nothing waits on this key.</p>`
      : html`<ul class="cards">${items}</ul>`
  }`;
}

function renderNextActions(key: KeyView): SafeHtml {
  const repoints = key.consumers.flatMap((consumer) =>
    consumer.pins
      .filter((pin) => pin.repointTo)
      .map(
        (pin) => html`<li data-testid="next-action-item" data-type="repoint">
  <span class="badge act">repoint</span> ${resourceName(consumer.id)} (${pin.pin}) from <span class="mono">${shortVersion(pin.version)}</span> to <span class="mono">${shortVersion(pin.repointTo)}</span>
</li>`,
      ),
  );
  const disables = key.versions
    .filter((version) => version.nextAction.type === "disable")
    .map(
      (version) => html`<li data-testid="next-action-item" data-type="disable">
  <span class="badge act">disable</span> <span class="mono">${shortVersion(version.version)}</span>: ${version.nextAction.message}
</li>`,
    );
  const items = [...repoints, ...disables];
  return html`<h3>Next actions</h3>${
    items.length === 0
      ? html`<p class="empty" data-testid="no-next-actions">Nothing to do at the next run.</p>`
      : html`<ul class="cards">${items}</ul>`
  }`;
}

// ---- journal ------------------------------------------------------------------------------

const OUTCOME_TONES: Record<string, string> = {
  done: "ok",
  pending: "info",
  failed: "bad",
  skipped: "muted",
  held: "warn",
  blocked: "bad",
};

function renderJournal(key: KeyView, entries: readonly DashboardJournalEntry[], now: Date): SafeHtml {
  if (entries.length === 0) {
    return html`<h3>Recent journal</h3><p class="empty" data-testid="no-journal">No journal entries yet: the service has not acted on this key.</p>`;
  }
  const rows = entries.map((entry) => {
    const at = parseTime(typeof entry.at === "string" ? entry.at : entry.at.toISOString());
    return html`<tr data-testid="journal-row" data-action="${entry.action}" data-outcome="${entry.outcome}">
  <td>${at ? html`<time datetime="${at.toISOString()}" title="${formatUtc(at)}">${formatRelative(at, now)}</time>` : "—"}</td>
  <td>${entry.action}</td>
  <td><span class="badge ${OUTCOME_TONES[entry.outcome] ?? "muted"}">${entry.outcome}</span></td>
  <td class="mono">${entry.version ? shortVersion(entry.version) : "—"}</td>
  <td title="${entry.consumerId ?? ""}">${entry.consumerId ? resourceName(entry.consumerId) : "—"}${entry.pin && entry.pin !== "key" ? html` <span class="small">(${entry.pin})</span>` : ""}</td>
  <td>${entry.trigger}</td>
  <td class="small message">${entry.message}</td>
</tr>`;
  });
  return html`<h3>Recent journal</h3>
<div class="table-wrap"><table data-testid="journal">
<caption class="visually-hidden">Recent journal entries for ${key.id}, newest first</caption>
<thead><tr><th scope="col">When</th><th scope="col">Step</th><th scope="col">Outcome</th><th scope="col">Version</th><th scope="col">Consumer</th><th scope="col">Trigger</th><th scope="col">Message</th></tr></thead>
<tbody>${rows}</tbody>
</table></div>`;
}

// ---- page assets ----------------------------------------------------------------------------

// The countdown text format mirrors formatSpan (timeText.ts); the page has no build, so it is
// repeated here in plain ES5 rather than shipped as a module.
const COUNTDOWN_SCRIPT = `
(function () {
  var units = [["d", 86400000], ["h", 3600000], ["min", 60000], ["s", 1000]];
  function span(ms) {
    var rest = Math.max(0, Math.round(ms / 1000) * 1000);
    for (var i = 0; i < units.length; i++) {
      if (rest < units[i][1]) continue;
      var text = Math.floor(rest / units[i][1]) + " " + units[i][0];
      var next = units[i + 1], count = next ? Math.floor((rest % units[i][1]) / next[1]) : 0;
      return count > 0 ? text + " " + count + " " + next[0] : text;
    }
    return "0 s";
  }
  function tick() {
    var items = document.querySelectorAll("[data-until]");
    for (var i = 0; i < items.length; i++) {
      var ms = Date.parse(items[i].getAttribute("data-until")) - Date.now();
      items[i].textContent = ms > 0 ? "lifts in " + span(ms) : "may lift at the next run";
    }
  }
  tick();
  setInterval(tick, 1000);
})();`;

const STYLE = `
:root { --ink:#1b1f24; --muted:#5b6470; --line:#d8dee4; --bg:#f6f8fa; --card:#fff;
  --ok:#1a7f37; --ok-bg:#dafbe1; --warn:#8a5a00; --warn-bg:#fff1c2; --bad:#b42318; --bad-bg:#ffe2de;
  --act:#0b5cad; --act-bg:#ddeeff; --info:#4c3fb0; --info-bg:#ece8ff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
.page-header { background:#0f2742; color:#fff; padding:16px 24px; }
.page-header h1 { margin:0 0 6px; font-size:22px; letter-spacing:.2px; }
.page-header .summary span { margin-right:14px; }
.page-header .observed { margin:4px 0 0; color:#c7d3e0; font-size:13px; }
.notice { background:var(--warn-bg); color:var(--warn); padding:6px 10px; border-radius:6px; display:inline-block; }
main { padding:16px 24px 40px; max-width:1400px; }
.key-index { list-style:none; padding:0; margin:0 0 12px; display:flex; flex-wrap:wrap; gap:8px; }
.key-index li { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:4px 10px; }
.key-index a { color:var(--act); text-decoration:none; font-weight:600; }
.key { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:14px 20px 18px; margin:0 0 18px; }
.key h2 { margin:0 0 2px; font-size:18px; }
.key h3 { margin:18px 0 6px; font-size:14px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); }
.key-facts { margin:0; color:var(--muted); }
.mono, code { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12.5px; }
.small { font-size:12.5px; color:var(--muted); }
.muted-text, .none { color:var(--muted); }
.empty { color:var(--muted); font-style:italic; margin:4px 0; }
.problem { background:var(--bad-bg); color:var(--bad); padding:8px 12px; border-radius:6px; }
.warning { background:var(--warn-bg); color:var(--warn); padding:8px 12px; border-radius:6px; margin:6px 0 0; }
.advice { margin-top:4px; font-size:12.5px; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:12px; font-weight:600; white-space:nowrap; border:1px solid transparent; }
.badge.ok { color:var(--ok); background:var(--ok-bg); } .badge.warn { color:var(--warn); background:var(--warn-bg); }
.badge.bad { color:var(--bad); background:var(--bad-bg); } .badge.act { color:var(--act); background:var(--act-bg); }
.badge.info { color:var(--info); background:var(--info-bg); } .badge.muted { color:var(--muted); background:#eef1f4; }
.page-header .badge { background:#ffffff22; color:#fff; border-color:#ffffff55; }
.table-wrap { overflow-x:auto; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; vertical-align:top; padding:6px 8px; border-bottom:1px solid var(--line); }
thead th { font-size:12px; color:var(--muted); font-weight:600; background:#fafbfc; white-space:nowrap; }
td time, td.mono, th .mono, td .badge { white-space:nowrap; }
td.message { min-width:280px; }
.wrap-id { word-break:break-all; }
tbody th { font-weight:600; }
ul.plain { list-style:none; margin:0; padding:0; }
ul.cards { list-style:none; margin:0; padding:0; display:grid; gap:6px; }
ul.cards li { border:1px solid var(--line); border-left:4px solid var(--line); border-radius:6px; padding:6px 10px; }
ul.cards li[data-testid="hold"] { border-left-color:#d4a72c; } ul.cards li[data-testid="block"] { border-left-color:var(--bad); }
ul.cards li[data-type] { border-left-color:var(--act); }
.countdown { font-weight:600; color:var(--warn); margin-left:6px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
dl.facts dt { color:var(--muted); } dl.facts dd { margin:0; }
.timeline { list-style:none; margin:0; padding:0; }
.timeline-row { display:grid; grid-template-columns:210px 1fr; align-items:center; gap:10px; margin:3px 0; }
.timeline-track { position:relative; height:18px; background:#eef1f4; border-radius:4px; overflow:hidden; display:block; }
.seg { position:absolute; top:0; bottom:0; }
.seg-current { background:#2f81f7; }
.seg-superseded { background:repeating-linear-gradient(135deg,#9ec5fe 0 6px,#cfe2ff 6px 12px); }
.seg-disabled { background:#adb5bd; }
.audit-window { position:absolute; top:0; bottom:0; background:#ffd33d33; border-left:2px dashed #d4a72c; }
.axis { display:flex; justify-content:space-between; margin:2px 0 0 220px; font-size:12px; color:var(--muted); gap:12px; }
.legend i { display:inline-block; width:14px; height:10px; position:static; border-radius:2px; vertical-align:middle; margin-left:8px; }
.visually-hidden { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); white-space:nowrap; }
`;
