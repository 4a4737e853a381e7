/**
 * The service's settings: the single source of truth for their names, defaults, shapes and
 * documentation (`SETTINGS_SCHEMA`), and the one place they are validated (`loadSettings`).
 * Bad settings stop the service at start with a message naming each bad setting and the
 * shape it should have.
 */
import { parseVaultUrl, validateGuid } from "./adapters/keyRef.js";
import { formatIsoDuration, parseIsoDuration } from "./duration.js";
import { SettingsError, ValidationError } from "./errors.js";
import type { ConsumerKind, Policy, RotatorMode, VaultHostKind } from "./model.js";
import { type NcrontabSchedule, parseNcrontab } from "./schedule/ncrontab.js";

export interface SettingSpec {
  name: string;
  required: boolean;
  default?: string;
  description: string;
  example: string;
}

export const SETTINGS_SCHEMA: readonly SettingSpec[] = [
  {
    name: "ROTATOR_QUIET_PERIOD",
    required: false,
    default: "P1D",
    description:
      "ISO 8601 duration (PnDTnHnMnS or PnW; no years or months). How long an old key version must be superseded and unused in the audit logs before it is disabled. At least PT1H and at least ROTATOR_MAX_INGESTION_LATENCY, unless ROTATOR_ALLOW_SHORT_QUIET_PERIOD=true.",
    example: "P1D",
  },
  {
    name: "ROTATOR_INGESTION_MARGIN",
    required: true,
    description:
      "ISO 8601 duration. How old the service's newest own read of a key (the canary) may be in the audit logs for the log pipeline to count as current. Resource logs usually arrive in 3-10 minutes, up to about 20. Longer than the timer interval plus the log delay; shorter than both quiet periods; at most PT6H.",
    example: "PT30M",
  },
  {
    name: "ROTATOR_MODE",
    required: true,
    description: "`enforce` changes resources; `report` plans and journals but changes nothing.",
    example: "report",
  },
  {
    name: "ROTATOR_TIMER_SCHEDULE",
    required: true,
    description:
      "6-field NCRONTAB `{second} {minute} {hour} {day} {month} {day-of-week}` (UTC) for the retireOldVersions reconcile timer.",
    example: "0 */15 * * * *",
  },
  {
    name: "ROTATOR_EMERGENCY_QUIET_PERIOD",
    required: false,
    default: "PT1H",
    description:
      "ISO 8601 duration. Quiet period for a version tagged compromised by an emergency rotation (never longer than ROTATOR_QUIET_PERIOD in effect). Still only on evidence. Same floor as ROTATOR_QUIET_PERIOD.",
    example: "PT1H",
  },
  {
    name: "ROTATOR_ALLOW_SHORT_QUIET_PERIOD",
    required: false,
    default: "false",
    description:
      "`true` or `false`. Both quiet periods must be at least PT1H and at least ROTATOR_MAX_INGESTION_LATENCY: absence of use in the audit logs proves nothing about a caller that calls less often than the quiet period. `true` lifts that floor, for test and sandbox estates only.",
    example: "false",
  },
  {
    name: "ROTATOR_MAX_INGESTION_LATENCY",
    required: false,
    default: "PT20M",
    description:
      "ISO 8601 duration, at most PT6H: the longest delay you allow for between a Key Vault call and its audit record being queryable in Log Analytics (resource logs usually arrive in 3-10 minutes, up to about 20). Both quiet periods must be at least this long.",
    example: "PT20M",
  },
  {
    name: "ROTATOR_EMERGENCY_COOLDOWN",
    required: false,
    default: "PT1M",
    description:
      'ISO 8601 duration. While an emergency rotation of a key runs, and for this long after it created a version, another emergency rotation of that key answers 409 naming that version, unless its body says "force": true.',
    example: "PT1M",
  },
  {
    name: "ROTATOR_RESTORE_WATCH",
    required: false,
    default: "P7D",
    description:
      "ISO 8601 duration. For this long after the service disabled a version, each reconcile looks for signs that it is still needed (calls that failed on it with 403 in the audit logs, a consumer whose status shows a Key Vault error on it); on one it enables the version again, tags it, publishes VersionRestored and freezes retirement of the key until an operator unfreezes it. A compromised version is never re-enabled automatically (RestoreNeeded). Time to restore is at most the ingestion latency plus the timer interval.",
    example: "P7D",
  },
  {
    name: "ROTATOR_MANAGED_VAULTS",
    required: true,
    description:
      "Comma-separated allowlist of Key Vault and Managed HSM URLs whose keys the service manages: https://<name>.vault.azure.net or https://<name>.managedhsm.azure.net.",
    example: "https://kv-prod-keys.vault.azure.net,https://hsm-prod.managedhsm.azure.net",
  },
  {
    name: "ROTATOR_SUBSCRIPTIONS",
    required: true,
    description:
      "Comma-separated subscription ids (GUIDs) where consumers are discovered through Resource Graph.",
    example: "00000000-0000-0000-0000-000000000001",
  },
  {
    name: "ROTATOR_AUDIT_WORKSPACES",
    required: true,
    description:
      "Comma-separated `<vaultName>=<workspaceId>`: the Log Analytics workspace (GUID) receiving each managed vault's or HSM's audit logs, exactly one per managed vault.",
    example:
      "kv-prod-keys=11111111-1111-1111-1111-111111111111,hsm-prod=11111111-1111-1111-1111-111111111111",
  },
  {
    name: "ROTATOR_AUDIT_TABLE",
    required: false,
    default: "AzureDiagnostics",
    description:
      "`AzureDiagnostics` or `AZKVAuditLogs` (resource-specific table). AZKVAuditLogs applies to vaults only: Managed HSM audit logs are always read from AzureDiagnostics.",
    example: "AzureDiagnostics",
  },
  {
    name: "ROTATOR_SERVICE_PRINCIPAL_ID",
    required: true,
    description:
      "Object id (GUID) of the service's own identity. Its calls never count as use of a key version; its reads are the canary proving the audit log pipeline is current.",
    example: "22222222-2222-2222-2222-222222222222",
  },
  {
    name: "ROTATOR_REPOINT_CONCURRENCY",
    required: false,
    default: "16",
    description:
      "Integer 1-32: how many consumer repoints run at the same time. 16 keeps a run of 200 repoints within Resource Manager's write budget (200, refilled at 10 per second); writes are paced by its x-ms-ratelimit-remaining-* headers and Retry-After.",
    example: "16",
  },
  {
    name: "ROTATOR_VIEW_MAX_AGE",
    required: false,
    default: "PT1M",
    description:
      "ISO 8601 duration, PT1S to PT1H. GET /api/keys, the single-key view, the dashboard and the plan command are served from the newest observation if it is younger than this (the answer says how old it is), and one observation at a time serves every concurrent viewer. The dashboard reloads itself this often.",
    example: "PT1M",
  },
  {
    name: "ROTATOR_DATACENTER_LISTING_MAX_AGE",
    required: false,
    default: "PT30M",
    description:
      "ISO 8601 duration, PT1S to PT6H. Resource Graph does not index Cassandra data centers, so each cluster's data centers are listed through Resource Manager (one read per cluster). A timer run reuses a cluster's listing younger than this (PT1S lists every cluster every run); a run whose plan would disable a version lists every cluster afresh and plans again first, and a cluster the service wrote to or read afresh is listed again.",
    example: "PT30M",
  },
  {
    name: "ROTATOR_RECONCILE_DEADLINE",
    required: false,
    default: "PT4M",
    description:
      "ISO 8601 duration, PT1S to PT2H: how long after its start a reconcile of every key (the timer) begins no further key. It saves the first key it left in the rotator table, and the next run goes on from there. Keep it a margin below host.json's functionTimeout (5 minutes).",
    example: "PT4M",
  },
  {
    name: "ROTATOR_JOURNAL_TABLE_ENDPOINT",
    required: false,
    description:
      "https://<account>.table.core.windows.net: journal storage reached with the managed identity. Set exactly one of this and ROTATOR_JOURNAL_CONNECTION_STRING.",
    example: "https://stcmkrotator.table.core.windows.net",
  },
  {
    name: "ROTATOR_JOURNAL_CONNECTION_STRING",
    required: false,
    description:
      "Azure Storage connection string for the journal (local runs and Azurite). Set exactly one of this and ROTATOR_JOURNAL_TABLE_ENDPOINT.",
    example: "UseDevelopmentStorage=true",
  },
  {
    name: "ROTATOR_JOURNAL_TABLE",
    required: false,
    default: "rotatorjournal",
    description: "Journal table name: a letter followed by 2-62 letters or digits.",
    example: "rotatorjournal",
  },
  {
    name: "ROTATOR_EVENTS_TOPIC_ENDPOINT",
    required: true,
    description:
      "Event Grid custom topic endpoint for outcome events: https://<topic>.<region>-1.eventgrid.azure.net/api/events.",
    example: "https://cmk-rotator-events.westeurope-1.eventgrid.azure.net/api/events",
  },
  {
    name: "ROTATOR_EVENTS_TOPIC_KEY",
    required: false,
    description: "Access key of the outcome-events topic; without it the managed identity is used.",
    example: "",
  },
  {
    name: "ROTATOR_MIN_RSA_BITS",
    required: false,
    default: "kusto=2048,cosmos=3072,cassandra=2048",
    description:
      "Comma-separated `<consumerKind>=<bits>` (kinds kusto, cosmos, cassandra; bits 2048-16384): the smallest RSA key a new version may have for each consumer kind using the key. Kinds left out keep their default.",
    example: "kusto=2048,cosmos=3072,cassandra=2048",
  },
];

export type AuditTable = "AzureDiagnostics" | "AZKVAuditLogs";

export interface ManagedVault {
  /** "https://kv1.vault.azure.net/": lower-case host, trailing slash (as in KeyRef). */
  vaultUrl: string;
  vaultName: string;
  hostKind: VaultHostKind;
  /** Log Analytics workspace id holding this vault's audit logs. */
  workspaceId: string;
  /** Table to query for this vault: HSMs always use AzureDiagnostics. */
  auditTable: AuditTable;
}

export type JournalLocation =
  | { kind: "tableEndpoint"; endpoint: string }
  | { kind: "connectionString"; connectionString: string };

export interface Settings {
  quietPeriodMs: number;
  emergencyQuietPeriodMs: number;
  ingestionMarginMs: number;
  /** ROTATOR_ALLOW_SHORT_QUIET_PERIOD: the quiet-period floor is lifted (test and sandbox estates). */
  allowShortQuietPeriod: boolean;
  /** ROTATOR_MAX_INGESTION_LATENCY: the longest call-to-queryable delay of an audit record allowed for. */
  maxIngestionLatencyMs: number;
  /** ROTATOR_EMERGENCY_COOLDOWN: how long after an emergency rotation another one needs `force`. */
  emergencyCooldownMs: number;
  /** ROTATOR_RESTORE_WATCH: how long after a disable the service watches for signs the version is still needed. */
  restoreWatchMs: number;
  mode: RotatorMode;
  /** The expression as configured (the Functions timer binding reads it by name). */
  timerSchedule: string;
  timerScheduleParsed: NcrontabSchedule;
  managedVaults: ManagedVault[];
  subscriptions: string[];
  /** The configured table; per-vault table in `managedVaults[].auditTable`. */
  auditTable: AuditTable;
  servicePrincipalId: string;
  repointConcurrency: number;
  /** ROTATOR_VIEW_MAX_AGE: how old an observation a view may be served from (also the dashboard's reload). */
  viewMaxAgeMs: number;
  /** ROTATOR_RECONCILE_DEADLINE: a reconcile of every key begins no further key after this long. */
  reconcileDeadlineMs: number;
  /** ROTATOR_DATACENTER_LISTING_MAX_AGE: how old a cluster's data-center listing a timer run may reuse. */
  dataCenterListingMaxAgeMs: number;
  journal: JournalLocation;
  journalTable: string;
  eventsTopicEndpoint: string;
  /** Undefined: use the managed identity. */
  eventsTopicKey?: string;
  minRsaBits: Record<ConsumerKind, number>;
}

const CONSUMER_KINDS: readonly ConsumerKind[] = ["kusto", "cosmos", "cassandra"];
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9]{2,62}$/;
const TABLE_ENDPOINT = /^https:\/\/([a-z0-9]{3,24})\.table\.core\.windows\.net\/?$/;
const EVENTS_ENDPOINT =
  /^https:\/\/[a-z0-9][a-z0-9-]{1,48}[a-z0-9]\.[a-z0-9]+-1\.eventgrid\.azure\.net\/api\/events$/;

function specOf(name: string): SettingSpec {
  const spec = SETTINGS_SCHEMA.find((setting) => setting.name === name);
  if (!spec) throw new Error(`setting ${name} is not in SETTINGS_SCHEMA`);
  return spec;
}

/** Reads settings one by one, collecting every problem so the operator sees them all at once. */
class SettingsReader {
  readonly problems: SettingsError[] = [];

  constructor(private readonly env: Record<string, string | undefined>) {}

  /** The trimmed value, the default, or undefined; an empty value counts as unset. */
  raw(name: string): string | undefined {
    const spec = specOf(name);
    const value = this.env[name]?.trim();
    if (value) return value;
    if (spec.required) {
      this.fail(
        name,
        `${name} is required but not set. It holds: ${spec.description} Example: ${JSON.stringify(spec.example)}`,
      );
    }
    return spec.default;
  }

  fail(name: string, message: string): void {
    this.problems.push(new SettingsError(name, message));
  }

  /** Parses with `parse`; a ValidationError becomes a SettingsError naming the setting. */
  parse<T>(name: string, parse: (value: string) => T): T | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    try {
      return parse(value);
    } catch (error) {
      if (!(error instanceof ValidationError || error instanceof SettingsError)) throw error;
      const detail = error.message;
      this.fail(name, detail.startsWith("must ") ? `${name} ${detail}` : `${name} is invalid: ${detail}`);
      return undefined;
    }
  }

  duration(name: string): number | undefined {
    return this.parse(name, (value) => {
      const ms = (() => {
        try {
          return parseIsoDuration(value);
        } catch (error) {
          const calendar = error instanceof Error && error.message.includes("years or months");
          throw new SettingsError(
            name,
            `must be an ISO 8601 duration such as P1D or PT30S; got ${JSON.stringify(value)}${calendar ? " (years and months vary in length: use days, hours, minutes or seconds)" : ""}`,
          );
        }
      })();
      if (ms <= 0) throw new SettingsError(name, `must be longer than zero; got ${JSON.stringify(value)}`);
      return ms;
    });
  }
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function parseBoolean(value: string): boolean {
  const normalized = value.toLowerCase();
  if (normalized === "true") return true;
  if (normalized === "false") return false;
  throw new ValidationError("boolean", `must be "true" or "false"; got ${JSON.stringify(value)}`);
}

function parseMode(value: string): RotatorMode {
  if (value === "enforce" || value === "report") return value;
  throw new ValidationError("mode", `must be "enforce" or "report"; got ${JSON.stringify(value)}`);
}

function parseVaults(value: string): { vaultUrl: string; vaultName: string; hostKind: VaultHostKind }[] {
  const vaults = list(value).map((url) => parseVaultUrl(url, "vault URL"));
  if (vaults.length === 0)
    throw new ValidationError("vaults", "must list at least one vault or Managed HSM URL");
  const seen = new Set<string>();
  for (const vault of vaults) {
    if (seen.has(vault.vaultName)) throw new ValidationError("vaults", `lists ${vault.vaultName} twice`);
    seen.add(vault.vaultName);
  }
  return vaults;
}

function parseSubscriptions(value: string): string[] {
  const ids = list(value).map((id) => validateGuid(id, "subscription id"));
  if (ids.length === 0)
    throw new ValidationError("subscriptions", "must list at least one subscription id (GUID)");
  return [...new Set(ids)];
}

function parseWorkspaces(value: string): Map<string, string> {
  const workspaces = new Map<string, string>();
  for (const entry of list(value)) {
    const [vaultName, workspaceId, extra] = entry.split("=").map((part) => part.trim());
    if (!vaultName || !workspaceId || extra !== undefined) {
      throw new ValidationError(
        "workspaces",
        `entry ${JSON.stringify(entry)} must be <vaultName>=<workspaceId>`,
      );
    }
    const name = vaultName.toLowerCase();
    if (workspaces.has(name)) throw new ValidationError("workspaces", `names vault ${name} twice`);
    workspaces.set(name, validateGuid(workspaceId, `workspace id for ${name}`));
  }
  if (workspaces.size === 0) {
    throw new ValidationError("workspaces", "must list <vaultName>=<workspaceId> for every managed vault");
  }
  return workspaces;
}

function parseAuditTable(value: string): AuditTable {
  if (value === "AzureDiagnostics" || value === "AZKVAuditLogs") return value;
  throw new ValidationError(
    "audit table",
    `must be "AzureDiagnostics" or "AZKVAuditLogs"; got ${JSON.stringify(value)}`,
  );
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 32) {
    throw new ValidationError("concurrency", `must be an integer from 1 to 32; got ${JSON.stringify(value)}`);
  }
  return n;
}

function parseTableEndpoint(value: string): string {
  const match = TABLE_ENDPOINT.exec(value);
  if (!match) {
    throw new ValidationError(
      "journal endpoint",
      `must be https://<account>.table.core.windows.net (account: 3-24 lower-case letters and digits); got ${JSON.stringify(value)}`,
    );
  }
  return `https://${match[1]}.table.core.windows.net`;
}

function parseConnectionString(value: string): string {
  const pairs = new Map<string, string>();
  for (const part of value.split(";")) {
    if (part.trim() === "") continue;
    const separator = part.indexOf("=");
    if (separator <= 0) {
      throw new ValidationError("connection string", "must be `Key=Value` pairs separated by `;`");
    }
    pairs.set(part.slice(0, separator).trim().toLowerCase(), part.slice(separator + 1).trim());
  }
  const usable =
    pairs.get("usedevelopmentstorage")?.toLowerCase() === "true" ||
    (pairs.has("accountname") && pairs.has("accountkey")) ||
    (pairs.has("tableendpoint") && pairs.has("sharedaccesssignature")) ||
    (pairs.has("tableendpoint") && pairs.has("accountname") && pairs.has("accountkey"));
  // The value is a secret: never echo it.
  if (!usable) {
    throw new ValidationError(
      "connection string",
      "must be an Azure Storage connection string with AccountName and AccountKey, TableEndpoint and SharedAccessSignature, or UseDevelopmentStorage=true",
    );
  }
  return value;
}

function parseTableName(value: string): string {
  if (!TABLE_NAME.test(value)) {
    throw new ValidationError(
      "table",
      `must be a letter followed by 2-62 letters or digits; got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function parseEventsEndpoint(value: string): string {
  const normalized = value.toLowerCase();
  if (!EVENTS_ENDPOINT.test(normalized)) {
    throw new ValidationError(
      "events endpoint",
      `must be https://<topic>.<region>-1.eventgrid.azure.net/api/events; got ${JSON.stringify(value)}`,
    );
  }
  return normalized;
}

export const DEFAULT_MIN_RSA_BITS: Readonly<Record<ConsumerKind, number>> = {
  kusto: 2048,
  cosmos: 3072,
  cassandra: 2048,
};

function parseMinRsaBits(value: string): Record<ConsumerKind, number> {
  const result = { ...DEFAULT_MIN_RSA_BITS };
  for (const entry of list(value)) {
    const [kind, bits, extra] = entry.split("=").map((part) => part.trim());
    if (!CONSUMER_KINDS.includes(kind as ConsumerKind) || bits === undefined || extra !== undefined) {
      throw new ValidationError(
        "min RSA bits",
        `entry ${JSON.stringify(entry)} must be <kind>=<bits> with kind one of ${CONSUMER_KINDS.join(", ")}`,
      );
    }
    const n = Number(bits);
    if (!/^\d+$/.test(bits) || n < 2048 || n > 16384) {
      throw new ValidationError(
        "min RSA bits",
        `bits for ${kind} must be an integer from 2048 to 16384; got ${JSON.stringify(bits)}`,
      );
    }
    result[kind as ConsumerKind] = n;
  }
  return result;
}

/** The longest ingestion margin accepted: beyond it a canary proves nothing about "now". */
export const MAX_INGESTION_MARGIN_MS = 6 * 3600 * 1000;

/** The longest ROTATOR_DATACENTER_LISTING_MAX_AGE: six hours. */
export const MAX_DATACENTER_LISTING_MAX_AGE_MS = 6 * 3600 * 1000;

/** The longest ROTATOR_VIEW_MAX_AGE: a view older than an hour would hide what the service did. */
export const MAX_VIEW_MAX_AGE_MS = 3600 * 1000;

/** The longest ROTATOR_RECONCILE_DEADLINE: past any functionTimeout a plan allows (Premium's 60-minute default, with room). */
export const MAX_RECONCILE_DEADLINE_MS = 2 * 3600 * 1000;

/** The longest ingestion latency that may be allowed for (ROTATOR_MAX_INGESTION_LATENCY). */
export const MAX_INGESTION_LATENCY_MS = 6 * 3600 * 1000;

/**
 * The shortest quiet period accepted without ROTATOR_ALLOW_SHORT_QUIET_PERIOD: a caller that
 * uses a version less often than the quiet period looks unused, so the period must be long
 * enough to cover real callers' cadence (services check hourly to daily).
 */
export const QUIET_PERIOD_FLOOR_MS = 3600 * 1000;

/**
 * Validates the settings in `env` (usually `process.env`). Throws one `SettingsError`
 * naming the bad setting and its expected shape; when several are bad, the message lists
 * every problem and `problems` holds each one.
 */
export function loadSettings(env: Record<string, string | undefined>): Settings {
  const reader = new SettingsReader(env);
  const quietPeriodMs = reader.duration("ROTATOR_QUIET_PERIOD");
  const emergencyQuietPeriodMs = reader.duration("ROTATOR_EMERGENCY_QUIET_PERIOD");
  const ingestionMarginMs = reader.duration("ROTATOR_INGESTION_MARGIN");
  const allowShortQuietPeriod = reader.parse("ROTATOR_ALLOW_SHORT_QUIET_PERIOD", parseBoolean);
  const maxIngestionLatencyMs = reader.duration("ROTATOR_MAX_INGESTION_LATENCY");
  const emergencyCooldownMs = reader.duration("ROTATOR_EMERGENCY_COOLDOWN");
  const restoreWatchMs = reader.duration("ROTATOR_RESTORE_WATCH");
  const mode = reader.parse("ROTATOR_MODE", parseMode);
  const timerScheduleParsed = reader.parse("ROTATOR_TIMER_SCHEDULE", parseNcrontab);
  const vaults = reader.parse("ROTATOR_MANAGED_VAULTS", parseVaults);
  const subscriptions = reader.parse("ROTATOR_SUBSCRIPTIONS", parseSubscriptions);
  const workspaces = reader.parse("ROTATOR_AUDIT_WORKSPACES", parseWorkspaces);
  const auditTable = reader.parse("ROTATOR_AUDIT_TABLE", parseAuditTable);
  const servicePrincipalId = reader.parse("ROTATOR_SERVICE_PRINCIPAL_ID", (value) =>
    validateGuid(value, "service principal object id"),
  );
  const repointConcurrency = reader.parse("ROTATOR_REPOINT_CONCURRENCY", parseConcurrency);
  const viewMaxAgeMs = reader.duration("ROTATOR_VIEW_MAX_AGE");
  const reconcileDeadlineMs = reader.duration("ROTATOR_RECONCILE_DEADLINE");
  const dataCenterListingMaxAgeMs = reader.duration("ROTATOR_DATACENTER_LISTING_MAX_AGE");
  const tableEndpoint = reader.parse("ROTATOR_JOURNAL_TABLE_ENDPOINT", parseTableEndpoint);
  const connectionString = reader.parse("ROTATOR_JOURNAL_CONNECTION_STRING", parseConnectionString);
  const journalTable = reader.parse("ROTATOR_JOURNAL_TABLE", parseTableName);
  const eventsTopicEndpoint = reader.parse("ROTATOR_EVENTS_TOPIC_ENDPOINT", parseEventsEndpoint);
  const eventsTopicKey = reader.raw("ROTATOR_EVENTS_TOPIC_KEY");
  const minRsaBits = reader.parse("ROTATOR_MIN_RSA_BITS", parseMinRsaBits);

  // The margin is how stale "current" may be. At or beyond the quiet period, "the logs flowed
  // through the whole quiet period" would hold for any history, and a canary hours old proves
  // nothing about now.
  if (
    quietPeriodMs !== undefined &&
    emergencyQuietPeriodMs !== undefined &&
    ingestionMarginMs !== undefined
  ) {
    const shortestQuiet = Math.min(quietPeriodMs, emergencyQuietPeriodMs);
    if (ingestionMarginMs >= shortestQuiet) {
      reader.fail(
        "ROTATOR_INGESTION_MARGIN",
        `ROTATOR_INGESTION_MARGIN (${formatIsoDuration(ingestionMarginMs)}) must be shorter than ROTATOR_QUIET_PERIOD and ROTATOR_EMERGENCY_QUIET_PERIOD (the shorter is ${formatIsoDuration(shortestQuiet)}); otherwise the audit logs could never prove a version unused`,
      );
    } else if (ingestionMarginMs > MAX_INGESTION_MARGIN_MS) {
      reader.fail(
        "ROTATOR_INGESTION_MARGIN",
        `ROTATOR_INGESTION_MARGIN (${formatIsoDuration(ingestionMarginMs)}) must be at most ${formatIsoDuration(MAX_INGESTION_MARGIN_MS)}: a canary older than that does not prove the log pipeline current (resource logs arrive within about 20 minutes; PT30M is typical)`,
      );
    }
  }

  if (maxIngestionLatencyMs !== undefined && maxIngestionLatencyMs > MAX_INGESTION_LATENCY_MS) {
    reader.fail(
      "ROTATOR_MAX_INGESTION_LATENCY",
      `ROTATOR_MAX_INGESTION_LATENCY (${formatIsoDuration(maxIngestionLatencyMs)}) must be at most ${formatIsoDuration(MAX_INGESTION_LATENCY_MS)}; resource logs arrive within about 20 minutes (PT20M is the default)`,
    );
  }

  // The floor: absence of use over a quiet period shorter than a caller's cadence (or than the
  // time its audit records take to arrive) proves nothing about that caller.
  if (allowShortQuietPeriod === false) {
    const floorMs = Math.max(QUIET_PERIOD_FLOOR_MS, maxIngestionLatencyMs ?? 0);
    const floorWhy =
      floorMs > QUIET_PERIOD_FLOOR_MS
        ? `ROTATOR_MAX_INGESTION_LATENCY (${formatIsoDuration(floorMs)})`
        : formatIsoDuration(QUIET_PERIOD_FLOOR_MS);
    for (const [name, value] of [
      ["ROTATOR_QUIET_PERIOD", quietPeriodMs],
      ["ROTATOR_EMERGENCY_QUIET_PERIOD", emergencyQuietPeriodMs],
    ] as const) {
      if (value === undefined || value >= floorMs) continue;
      reader.fail(
        name,
        `${name} (${formatIsoDuration(value)}) must be at least ${floorWhy}: a caller that uses a key version less often than the quiet period, or whose audit records arrive later, would look unused and lose its key. Set ROTATOR_ALLOW_SHORT_QUIET_PERIOD=true only for test and sandbox estates.`,
      );
    }
  }

  if (
    dataCenterListingMaxAgeMs !== undefined &&
    dataCenterListingMaxAgeMs > MAX_DATACENTER_LISTING_MAX_AGE_MS
  ) {
    reader.fail(
      "ROTATOR_DATACENTER_LISTING_MAX_AGE",
      `ROTATOR_DATACENTER_LISTING_MAX_AGE (${formatIsoDuration(dataCenterListingMaxAgeMs)}) must be from PT1S to ${formatIsoDuration(MAX_DATACENTER_LISTING_MAX_AGE_MS)}: a data center re-pinned by someone else would wait longer than that to be seen (PT30M is the default)`,
    );
  }

  if (viewMaxAgeMs !== undefined && (viewMaxAgeMs < 1000 || viewMaxAgeMs > MAX_VIEW_MAX_AGE_MS)) {
    reader.fail(
      "ROTATOR_VIEW_MAX_AGE",
      `ROTATOR_VIEW_MAX_AGE (${formatIsoDuration(viewMaxAgeMs)}) must be from PT1S to ${formatIsoDuration(MAX_VIEW_MAX_AGE_MS)}: views older than that would hide what the service did (PT1M is the default)`,
    );
  }

  if (
    reconcileDeadlineMs !== undefined &&
    (reconcileDeadlineMs < 1000 || reconcileDeadlineMs > MAX_RECONCILE_DEADLINE_MS)
  ) {
    reader.fail(
      "ROTATOR_RECONCILE_DEADLINE",
      `ROTATOR_RECONCILE_DEADLINE (${formatIsoDuration(reconcileDeadlineMs)}) must be from PT1S to ${formatIsoDuration(MAX_RECONCILE_DEADLINE_MS)}, a margin below host.json's functionTimeout (PT4M is the default, for 5 minutes)`,
    );
  }

  const bothJournals =
    env.ROTATOR_JOURNAL_TABLE_ENDPOINT?.trim() && env.ROTATOR_JOURNAL_CONNECTION_STRING?.trim();
  const noJournal =
    !env.ROTATOR_JOURNAL_TABLE_ENDPOINT?.trim() && !env.ROTATOR_JOURNAL_CONNECTION_STRING?.trim();
  if (bothJournals || noJournal) {
    reader.fail(
      "ROTATOR_JOURNAL_TABLE_ENDPOINT",
      `ROTATOR_JOURNAL_TABLE_ENDPOINT / ROTATOR_JOURNAL_CONNECTION_STRING: exactly one journal location is needed: set ROTATOR_JOURNAL_TABLE_ENDPOINT (https://<account>.table.core.windows.net, managed identity) or ROTATOR_JOURNAL_CONNECTION_STRING (local runs, Azurite), ${bothJournals ? "not both" : "but neither is set"}`,
    );
  }

  const managedVaults: ManagedVault[] = [];
  if (vaults && workspaces) {
    for (const vault of vaults) {
      const workspaceId = workspaces.get(vault.vaultName);
      if (!workspaceId) {
        reader.fail(
          "ROTATOR_AUDIT_WORKSPACES",
          `ROTATOR_AUDIT_WORKSPACES has no workspace for managed vault ${vault.vaultName}; add ${vault.vaultName}=<workspaceId> (the Log Analytics workspace receiving its audit logs)`,
        );
        continue;
      }
      managedVaults.push({
        ...vault,
        workspaceId,
        auditTable: vault.hostKind === "managedHsm" ? "AzureDiagnostics" : (auditTable ?? "AzureDiagnostics"),
      });
    }
    const managedNames = new Set(vaults.map((vault) => vault.vaultName));
    for (const name of workspaces.keys()) {
      if (!managedNames.has(name)) {
        reader.fail(
          "ROTATOR_AUDIT_WORKSPACES",
          `ROTATOR_AUDIT_WORKSPACES names ${name}, which is not in ROTATOR_MANAGED_VAULTS; remove it or add the vault's URL to ROTATOR_MANAGED_VAULTS`,
        );
      }
    }
  }

  const [first, ...rest] = reader.problems;
  if (first) {
    if (rest.length === 0) throw first;
    throw new SettingsError(
      first.setting,
      `${reader.problems.length} settings are invalid:\n${reader.problems.map((problem) => `- ${problem.message}`).join("\n")}`,
      { problems: reader.problems },
    );
  }
  // Every value below is defined: a missing one was recorded as a problem above.
  return {
    quietPeriodMs: quietPeriodMs!,
    emergencyQuietPeriodMs: emergencyQuietPeriodMs!,
    ingestionMarginMs: ingestionMarginMs!,
    allowShortQuietPeriod: allowShortQuietPeriod!,
    maxIngestionLatencyMs: maxIngestionLatencyMs!,
    emergencyCooldownMs: emergencyCooldownMs!,
    restoreWatchMs: restoreWatchMs!,
    mode: mode!,
    timerSchedule: timerScheduleParsed!.expression,
    timerScheduleParsed: timerScheduleParsed!,
    managedVaults,
    subscriptions: subscriptions!,
    auditTable: auditTable!,
    servicePrincipalId: servicePrincipalId!,
    repointConcurrency: repointConcurrency!,
    viewMaxAgeMs: viewMaxAgeMs!,
    reconcileDeadlineMs: reconcileDeadlineMs!,
    dataCenterListingMaxAgeMs: dataCenterListingMaxAgeMs!,
    journal: tableEndpoint
      ? { kind: "tableEndpoint", endpoint: tableEndpoint }
      : { kind: "connectionString", connectionString: connectionString! },
    journalTable: journalTable!,
    eventsTopicEndpoint: eventsTopicEndpoint!,
    ...(eventsTopicKey ? { eventsTopicKey } : {}),
    minRsaBits: minRsaBits!,
  };
}

/** The planner's policy from the settings. */
/**
 * RSA sizes a consumer kind accepts at all, where its service documents a closed list: Azure
 * Data Explorer's customer-managed-key documents accept RSA 2048 only. Widen this only when
 * the documentation does.
 */
export const ACCEPTED_RSA_BITS: Policy["acceptedRsaBits"] = { kusto: [2048] };

export function policyFromSettings(settings: Settings): Policy {
  return {
    acceptedRsaBits: ACCEPTED_RSA_BITS,
    quietPeriodMs: settings.quietPeriodMs,
    emergencyQuietPeriodMs: settings.emergencyQuietPeriodMs,
    ingestionMarginMs: settings.ingestionMarginMs,
    maxIngestionLatencyMs: settings.maxIngestionLatencyMs,
    servicePrincipalId: settings.servicePrincipalId,
    mode: settings.mode,
    minRsaBits: { ...settings.minRsaBits },
    restoreWatchMs: settings.restoreWatchMs,
  };
}

/** The managed vault a URL or name refers to, if any. */
export function findManagedVault(settings: Settings, vaultName: string): ManagedVault | undefined {
  const name = vaultName.toLowerCase();
  return settings.managedVaults.find((vault) => vault.vaultName === name);
}

/** A one-line, secret-free summary for the start-up log. */
export function describeSettings(settings: Settings): Record<string, unknown> {
  return {
    mode: settings.mode,
    quietPeriod: formatIsoDuration(settings.quietPeriodMs),
    emergencyQuietPeriod: formatIsoDuration(settings.emergencyQuietPeriodMs),
    ingestionMargin: formatIsoDuration(settings.ingestionMarginMs),
    allowShortQuietPeriod: settings.allowShortQuietPeriod,
    maxIngestionLatency: formatIsoDuration(settings.maxIngestionLatencyMs),
    emergencyCooldown: formatIsoDuration(settings.emergencyCooldownMs),
    restoreWatch: formatIsoDuration(settings.restoreWatchMs),
    timerSchedule: settings.timerSchedule,
    managedVaults: settings.managedVaults.map((vault) => vault.vaultUrl),
    subscriptions: settings.subscriptions,
    journal: settings.journal.kind === "tableEndpoint" ? settings.journal.endpoint : "connection string",
    journalTable: settings.journalTable,
    eventsTopicEndpoint: settings.eventsTopicEndpoint,
    eventsTopicAuth: settings.eventsTopicKey ? "access key" : "managed identity",
    repointConcurrency: settings.repointConcurrency,
    viewMaxAge: formatIsoDuration(settings.viewMaxAgeMs),
    reconcileDeadline: formatIsoDuration(settings.reconcileDeadlineMs),
    minRsaBits: settings.minRsaBits,
  };
}
