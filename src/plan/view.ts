/**
 * The plan as JSON-ready views per key, for GET /api/keys, the dashboard and the plan
 * command: one shape for all three. Dates are ISO strings; order is stable (keys by id,
 * versions newest first, consumers by id).
 */
import type {
  Block,
  ConsumerKind,
  Hold,
  KeySnapshot,
  KeyVersionFacts,
  MigrationConsumer,
  MigrationProgress,
  Plan,
  PlannedAction,
  Policy,
  ReasonCode,
  RepointAction,
  RestoreAction,
  RestoreNeeded,
  RotatorMode,
  Snapshot,
  VaultHostKind,
  Warning,
} from "../model.js";
import { keyRefId, TAGS } from "../model.js";
import { consumerName, describeCaller } from "./callers.js";
import { compareText, gatherKeyContext, type KeyContext, supersededAt } from "./keyContext.js";
import { isCompromised } from "./preflight.js";
import { type PinStatus, pinStatus } from "./repoint.js";
import { sameVersion } from "./versionOrder.js";

export interface NextActionView {
  type: "repoint" | "disable" | "hold" | "block" | "none";
  reason: ReasonCode | null;
  message: string;
  /** Earliest time a hold can lift, when known. */
  until: string | null;
}

export interface VersionView {
  version: string;
  kid: string;
  state: "enabled" | "disabled";
  created: string;
  /** When the next newer version was created; null for the newest. */
  superseded: string | null;
  notBefore: string | null;
  expires: string | null;
  keyType: string;
  keySize: number | null;
  compromised: boolean;
  isNewest: boolean;
  isTarget: boolean;
  /** Last use by anyone but the service in the evidence window; `byName` says who that caller is. */
  lastUse: { at: string; by: string; byName: string | null; count: number } | null;
  /** Every caller of this version in the window, newest use first, named where attributed. */
  callers: { caller: string; name: string | null; lastUse: string }[];
  pinnedBy: { consumerId: string; pin: string }[];
  hold: {
    reason: ReasonCode;
    message: string;
    until: string | null;
    concerns: string | null;
    /** The consumer or caller the hold concerns, in words ("kusto adx-latest"). */
    concernsName: string | null;
  } | null;
  block: { reason: ReasonCode; message: string } | null;
  nextAction: NextActionView;
  /**
   * Its restores: when it was enabled again after a disable, why (the trigger: "failed-use",
   * "consumer-key-error" or "operator") and who failed, from its cmk-rotator-restored-* tags
   * (the newest restore; the journal keeps every one).
   */
  restores: { at: string; trigger: string; reason: string }[];
  /** A restore this plan makes (or, for a compromised version, asks an operator for), with who failed. */
  restore: {
    type: "restore" | "restore-needed";
    reason: ReasonCode;
    message: string;
    neededBy: string[];
  } | null;
}

export interface PinView {
  pin: string;
  /** Pinned version, null when following the newest. */
  version: string | null;
  followsLatest: boolean;
  /** Version the consumer reports really using, when it reports one. */
  inUse: string | null;
  status: PinStatus["status"];
  /** Planned repoint for this pin, if any. */
  repointTo: string | null;
  message: string;
}

export interface ConsumerView {
  id: string;
  kind: ConsumerKind;
  subscriptionId: string;
  identity: string | null;
  provisioningState: string | null;
  keyStatus: string | null;
  /** Kusto `state` or Cassandra "Deallocated"/"Running"; null for kinds that always run. */
  runState: string | null;
  /** The app id its calls carry instead of an identity of its own (FirstPartyIdentity Cosmos DB). */
  identityAppId: string | null;
  backupRetention: { retentionMs: number; description: string } | null;
  /** The consumer unwraps with the rotator's own identity: old versions of its key are held. */
  sharesRotatorIdentity: boolean;
  pins: PinView[];
}

export interface EvidenceView {
  workspaceId: string;
  complete: boolean;
  problem: string | null;
  from: string;
  to: string;
  canarySeenAt: string | null;
  /** Oldest of the service's own reads in the window: how far back the logs are proven flowing. */
  canaryFirstSeenAt: string | null;
}

export interface KeyView {
  id: string;
  /** Null only for a key that could not be read (known by id only). */
  vaultUrl: string | null;
  vaultName: string;
  hostKind: VaultHostKind | null;
  keyName: string;
  mode: RotatorMode | null;
  /** Set when the key could not be read this time; everything else is then empty. */
  error: string | null;
  target: string | null;
  newest: string | null;
  versions: VersionView[];
  consumers: ConsumerView[];
  blocks: { version: string; reason: ReasonCode; message: string }[];
  /** Warnings about the key (a Managed HSM key near its cap of 100 versions). */
  warnings: { reason: ReasonCode; message: string }[];
  evidence: EvidenceView | null;
  pendingActions: number;
  /** Retirement of the key frozen (after a restore, or by an operator) until unfrozen; null when not. */
  frozen: { reason: string; at: string; by: string } | null;
  /** The migration of this key to another (as source), or to this key (as destination), when stored. */
  migrations: MigrationView[];
}

/** A migration as the plan sees it: consumers moved, waiting and held (and why). */
export interface MigrationView {
  source: string;
  destination: string;
  state: MigrationProgress["state"];
  complete: boolean;
  requestedAt: string;
  reason: string;
  retireSource: boolean;
  cancelledAt: string | null;
  cancelReason: string | null;
  moved: MigrationConsumer[];
  waiting: (MigrationConsumer & { why: string })[];
  held: (MigrationConsumer & { reason: ReasonCode; message: string })[];
}

function migrationViewsOf(plan: Plan, keyId: string): MigrationView[] {
  return (plan.migrations ?? [])
    .filter((migration) => migration.source === keyId || migration.destination === keyId)
    .map((migration) => ({
      source: migration.source,
      destination: migration.destination,
      state: migration.state,
      complete: migration.complete,
      requestedAt: migration.requestedAt.toISOString(),
      reason: migration.reason,
      retireSource: migration.retireSource,
      cancelledAt: iso(migration.cancelledAt),
      cancelReason: migration.cancelReason ?? null,
      moved: migration.moved.map((entry) => ({ ...entry })),
      waiting: migration.waiting.map((entry) => ({ ...entry })),
      held: migration.held.map((entry) => ({ ...entry })),
    }));
}

function iso(date: Date | undefined): string | null {
  return date ? date.toISOString() : null;
}

function nextActionOf(
  version: string,
  disables: ReadonlyMap<string, PlannedAction>,
  hold: Hold | undefined,
  block: Block | undefined,
  disabled: boolean,
  isTarget: boolean,
): NextActionView {
  const disable = disables.get(version.toLowerCase());
  if (disable) return { type: "disable", reason: disable.reason, message: disable.message, until: null };
  if (block) return { type: "block", reason: block.reason, message: block.message, until: null };
  if (hold) return { type: "hold", reason: hold.reason, message: hold.message, until: iso(hold.until) };
  if (disabled)
    return {
      type: "none",
      reason: "already-disabled",
      message: "Disabled; never touched again.",
      until: null,
    };
  const message = isTarget ? "The target: consumers are moved to this version." : "Nothing to do.";
  return { type: "none", reason: isTarget ? "newest-version" : null, message, until: null };
}

/** Items grouped by lower-cased version, first come first: one pass instead of a search per version. */
function byVersion<T>(items: readonly T[], versionOf: (item: T) => string | null): Map<string, T[]> {
  const index = new Map<string, T[]>();
  for (const item of items) {
    const version = versionOf(item);
    if (version === null) continue;
    const id = version.toLowerCase();
    index.set(id, [...(index.get(id) ?? []), item]);
  }
  return index;
}

/** The trigger a restore's reason tag names. */
function restoreTrigger(reason: string): string {
  if (reason.startsWith("operator")) return "operator";
  if (reason.startsWith("failed-use")) return "failed-use";
  if (reason.startsWith("consumer-key-error")) return "consumer-key-error";
  return "unknown";
}

function restoresOf(version: KeyVersionFacts): VersionView["restores"] {
  const at = version.tags[TAGS.restoredAt];
  if (!at) return [];
  const reason = version.tags[TAGS.restoredReason] ?? "";
  return [{ at, trigger: restoreTrigger(reason), reason }];
}

function restoreOf(version: string, planForKey: KeyPlan): VersionView["restore"] {
  const found = planForKey.restores.find((candidate) => sameVersion(candidate.version, version));
  if (!found) return null;
  return {
    type: found.type,
    reason: found.reason,
    message: found.message,
    neededBy: [...new Set(found.signs.map((sign) => sign.who))],
  };
}

function versionViews(context: KeyContext, planForKey: KeyPlan): VersionView[] {
  const evidence = context.evidence;
  const holdsByVersion = byVersion(planForKey.holds, (hold) => hold.version);
  const blocksByVersion = byVersion(planForKey.blocks, (block) => block.version);
  const usesByVersion = byVersion(evidence?.uses ?? [], (use) => use.version);
  const pinsByVersion = byVersion(context.pins, (entry) => entry.version);
  return [...context.versions].reverse().map((version) => {
    const id = version.version;
    const versionHolds = holdsByVersion.get(id.toLowerCase()) ?? [];
    // A retire hold speaks for the version itself; consumer holds (busy, ahead) for a pin.
    const hold = versionHolds.find((candidate) => isRetireHold(candidate)) ?? versionHolds[0];
    const block = blocksByVersion.get(id.toLowerCase())?.[0];
    const use = usesByVersion.get(id.toLowerCase())?.[0];
    const isTarget = sameVersion(context.target?.version, id);
    return {
      version: id,
      kid: version.kid,
      state: version.enabled ? "enabled" : "disabled",
      created: version.created.toISOString(),
      superseded: iso(supersededAt(context, version)),
      notBefore: iso(version.notBefore),
      expires: iso(version.expiresOn),
      keyType: version.keyType,
      keySize: version.keySize ?? null,
      compromised: isCompromised(version),
      isNewest: version === context.newest,
      isTarget,
      lastUse: use
        ? {
            at: use.lastUse.toISOString(),
            by: use.lastUser,
            byName: context.callers[use.lastUser.toLowerCase()]?.name ?? null,
            count: use.count,
          }
        : null,
      callers: Object.entries(use?.byCaller ?? {})
        .sort(([a, left], [b, right]) => right.getTime() - left.getTime() || compareText(a, b))
        .map(([caller, at]) => ({
          caller,
          name: context.callers[caller.toLowerCase()]?.name ?? null,
          lastUse: at.toISOString(),
        })),
      pinnedBy: (pinsByVersion.get(id.toLowerCase()) ?? []).map((entry) => ({
        consumerId: entry.consumer.id,
        pin: entry.pin.pin,
      })),
      hold: hold
        ? {
            reason: hold.reason,
            message: hold.message,
            until: iso(hold.until),
            concerns: hold.concerns ?? null,
            concernsName: hold.concerns ? concernsName(context, hold.concerns) : null,
          }
        : null,
      block: block ? { reason: block.reason, message: block.message } : null,
      nextAction: nextActionOf(id, planForKey.disables, hold, block, !version.enabled, isTarget),
      restores: restoresOf(version),
      restore: restoreOf(id, planForKey),
    };
  });
}

/** A consumer id or a caller's object id, in words. */
function concernsName(context: KeyContext, concerns: string): string {
  const consumer = context.consumers.find((candidate) => candidate.id === concerns);
  if (consumer) return consumerName(consumer);
  return describeCaller(concerns, context.callers);
}

/** Reasons a pin's repoint is held for (a stopped consumer's is also a retire reason; the version's own hold goes first). */
const CONSUMER_HOLD_REASONS: ReadonlySet<ReasonCode> = new Set([
  "repoint-in-progress",
  "pinned-version-unknown",
  "consumer-ahead-of-target",
  "consumer-stopped",
]);

function isRetireHold(hold: Hold): boolean {
  return !CONSUMER_HOLD_REASONS.has(hold.reason);
}

const PIN_MESSAGES: Record<PinView["status"], string> = {
  "follows-latest": "Follows the newest version automatically; never patched.",
  "on-target": "On the target version.",
  lags: "Pins an older version; a repoint to the target is planned.",
  busy: "Pins an older version but is still busy with an earlier change; repointed once it finishes.",
  "ahead-of-target": "Pins a version newer than the target (the newest is blocked); left where it is.",
  "unknown-version": "Pins a version the key does not list; left alone, check the consumer's key URI.",
  "no-target": "No version of the key passes preflight; left where it is.",
  stopped:
    "Stopped or deallocated: it makes no Key Vault calls and is not repointed until it runs again; old versions it may need are kept. Start it to let the rotation finish.",
};

/** What a person does about a consumer that shares the rotator's identity. */
export const SHARES_ROTATOR_IDENTITY_NOTE =
  "Uses the rotator's own identity: its use of the key cannot be told apart from the service's, so old versions of this key are kept. Give it a managed identity of its own (get, wrapKey, unwrapKey on the key).";

function consumerViews(context: KeyContext, planForKey: KeyPlan): ConsumerView[] {
  const byConsumer = new Map<string, ConsumerView>();
  const sharingRotatorIdentity = new Set(
    planForKey.holds
      .filter((hold) => hold.reason === "consumer-shares-rotator-identity")
      .map((hold) => hold.concerns),
  );
  const newestIsBlocked = planForKey.blocks.some((block) =>
    sameVersion(block.version, context.newest?.version),
  );
  for (const entry of context.pins) {
    const consumer = entry.consumer;
    const sharesRotatorIdentity = sharingRotatorIdentity.has(consumer.id);
    let view = byConsumer.get(consumer.id);
    if (!view) {
      view = {
        id: consumer.id,
        kind: consumer.kind,
        subscriptionId: consumer.subscriptionId,
        identity: consumer.identity ?? null,
        provisioningState: consumer.provisioningState ?? null,
        keyStatus: consumer.keyStatus ?? null,
        runState: consumer.runState ?? null,
        identityAppId: consumer.identityAppId ?? null,
        backupRetention: consumer.backupRetention ? { ...consumer.backupRetention } : null,
        sharesRotatorIdentity,
        pins: [],
      };
      byConsumer.set(consumer.id, view);
    }
    const status = pinStatus(context, entry).status;
    const repoint = planForKey.repoints.get(`${consumer.id}|${entry.pin.pin}`);
    const newestBlocked = status === "follows-latest" && newestIsBlocked;
    view.pins.push({
      pin: entry.pin.pin,
      version: entry.version,
      followsLatest: entry.version === null,
      inUse: consumer.inUse[entry.pin.pin] ?? null,
      status,
      repointTo: repoint ? repoint.to : null,
      message: sharesRotatorIdentity
        ? `${PIN_MESSAGES[status]} ${SHARES_ROTATOR_IDENTITY_NOTE}`
        : newestBlocked
          ? "Follows the newest version automatically, but the newest version is blocked: check this consumer."
          : PIN_MESSAGES[status],
    });
  }
  return [...byConsumer.values()].sort((a, b) => compareText(a.id, b.id));
}

interface KeyPlan {
  actions: PlannedAction[];
  holds: Hold[];
  blocks: Block[];
  warnings: Warning[];
  /** This key's repoints by `${consumerId}|${pin}`. */
  repoints: Map<string, RepointAction>;
  /** This key's disables by lower-cased version. */
  disables: Map<string, PlannedAction>;
  /** This key's restores and restore notices. */
  restores: (RestoreAction | RestoreNeeded)[];
}

function emptyKeyPlan(): KeyPlan {
  return {
    actions: [],
    holds: [],
    blocks: [],
    warnings: [],
    repoints: new Map(),
    disables: new Map(),
    restores: [],
  };
}

/** The plan split by key id in one pass (a filter per key grew as keys times actions). */
function keyPlansOf(plan: Plan): Map<string, KeyPlan> {
  const byKey = new Map<string, KeyPlan>();
  const of = (id: string) => {
    let keyPlan = byKey.get(id);
    if (!keyPlan) {
      keyPlan = emptyKeyPlan();
      byKey.set(id, keyPlan);
    }
    return keyPlan;
  };
  for (const action of plan.actions) {
    const keyPlan = of(keyRefId(action.key));
    keyPlan.actions.push(action);
    if (action.type === "repoint") {
      const id = `${action.consumerId}|${action.pin}`;
      if (!keyPlan.repoints.has(id)) keyPlan.repoints.set(id, action);
    } else if (action.type === "disable") {
      const id = action.version.toLowerCase();
      if (!keyPlan.disables.has(id)) keyPlan.disables.set(id, action);
    }
  }
  for (const hold of plan.holds) of(keyRefId(hold.key)).holds.push(hold);
  for (const block of plan.blocks) of(keyRefId(block.key)).blocks.push(block);
  for (const warning of plan.warnings ?? []) of(keyRefId(warning.key)).warnings.push(warning);
  for (const restore of [...(plan.restores ?? []), ...(plan.restoresNeeded ?? [])])
    of(keyRefId(restore.key)).restores.push(restore);
  return byKey;
}

/** Only the minimum RSA sizes matter to the view's gathering (preflight), and the plan already decided. */
const VIEW_POLICY: Policy = {
  quietPeriodMs: 0,
  emergencyQuietPeriodMs: 0,
  ingestionMarginMs: 0,
  maxIngestionLatencyMs: 0,
  servicePrincipalId: "",
  mode: "report",
  minRsaBits: { kusto: 0, cosmos: 0, cassandra: 0 },
  acceptedRsaBits: {},
};

function keyView(
  keySnapshot: KeySnapshot,
  snapshot: Snapshot,
  plan: Plan,
  keyPlans: ReadonlyMap<string, KeyPlan>,
  now: Date,
): KeyView {
  const context = gatherKeyContext(keySnapshot, snapshot, VIEW_POLICY, now);
  // The target comes from the plan, which applied the real policy.
  const targetId = plan.targets[context.id];
  const target = context.versions.find((version) => sameVersion(version.version, targetId));
  const contextWithPlanTarget: KeyContext = { ...context, target };
  const planForKey = keyPlans.get(context.id) ?? emptyKeyPlan();
  const evidence = context.evidence;
  return {
    id: context.id,
    vaultUrl: context.key.vaultUrl,
    vaultName: context.key.vaultName,
    hostKind: context.key.hostKind,
    keyName: context.key.keyName,
    mode: plan.mode ?? null,
    error: null,
    target: target?.version ?? null,
    newest: context.newest?.version ?? null,
    versions: versionViews(contextWithPlanTarget, planForKey),
    consumers: consumerViews(contextWithPlanTarget, planForKey),
    blocks: planForKey.blocks.map((block) => ({
      version: block.version,
      reason: block.reason,
      message: block.message,
    })),
    warnings: planForKey.warnings.map((warning) => ({ reason: warning.reason, message: warning.message })),
    evidence: evidence
      ? {
          workspaceId: evidence.workspaceId,
          complete: evidence.complete,
          problem: evidence.problem ?? null,
          from: evidence.from.toISOString(),
          to: evidence.to.toISOString(),
          canarySeenAt: iso(evidence.canarySeenAt),
          canaryFirstSeenAt: iso(evidence.canaryFirstSeenAt),
        }
      : null,
    pendingActions:
      planForKey.actions.length + planForKey.restores.filter((r) => r.type === "restore").length,
    frozen: context.frozen
      ? { reason: context.frozen.reason, at: context.frozen.at.toISOString(), by: context.frozen.by }
      : null,
    migrations: migrationViewsOf(plan, context.id),
  };
}

function unreadableKeyView(id: string, error: string, plan: Plan): KeyView {
  const [vaultName = "", keyName = ""] = id.split("/");
  return {
    id,
    vaultUrl: null,
    vaultName,
    hostKind: null,
    keyName,
    mode: plan.mode ?? null,
    error,
    target: null,
    newest: null,
    versions: [],
    consumers: [],
    blocks: [],
    warnings: [],
    evidence: null,
    pendingActions: 0,
    frozen: null,
    migrations: migrationViewsOf(plan, id),
  };
}

/** Views of every key in the snapshot (and every key that could not be read), sorted by key id. */
export function buildKeyViews(snapshot: Snapshot, plan: Plan, now: Date): KeyView[] {
  const keyPlans = keyPlansOf(plan);
  const views = snapshot.keys.map((keySnapshot) => keyView(keySnapshot, snapshot, plan, keyPlans, now));
  const seen = new Set(views.map((view) => view.id));
  for (const [id, error] of Object.entries(snapshot.unreadableKeys)) {
    if (!seen.has(id)) views.push(unreadableKeyView(id, error, plan));
  }
  return views.sort((a, b) => compareText(a.id, b.id));
}
