/**
 * Reads Key Vault events as they arrive in the wild: Event Grid or CloudEvents 1.0 schema,
 * data field names in any casing (`Id`/`id`, `Version`/`version`, `VaultName`), values with
 * stray spaces, `NBF`/`EXP` missing, `data` sometimes a JSON string. The only event acted on
 * is a new key version in a managed vault; everything else is ignored with a reason, never
 * thrown, so Event Grid does not retry it. The event only says "look at key K now": its
 * version is informational, the target is decided from observation.
 */
import { parseKeyId } from "./adapters/keyRef.js";
import { ValidationError } from "./errors.js";
import type { KeyRef } from "./model.js";

export const KEY_NEW_VERSION_CREATED = "Microsoft.KeyVault.KeyNewVersionCreated";

export type IgnoredReason = "other-event-type" | "not-a-key" | "unmanaged-vault" | "malformed";

export type KeyVaultEventReading =
  | { kind: "keyNewVersion"; eventId: string; key: KeyRef; version: string | null; schema: EventSchemaName }
  | { kind: "ignored"; reason: IgnoredReason; detail: string; eventId?: string; eventType?: string };

export type EventSchemaName = "EventGridSchema" | "CloudEventSchema";

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field by name, ignoring case and stray spaces in the field name. */
function field(record: Record<string, unknown>, name: string): unknown {
  const wanted = name.toLowerCase();
  for (const [candidate, value] of Object.entries(record)) {
    if (candidate.trim().toLowerCase() === wanted) return value;
  }
  return undefined;
}

function text(record: Record<string, unknown>, name: string): string | undefined {
  const value = field(record, name);
  if (typeof value !== "string") return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function parseData(raw: unknown): Record<string, unknown> | undefined {
  if (typeof raw === "string") {
    try {
      const parsed: unknown = JSON.parse(raw);
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return isRecord(raw) ? raw : undefined;
}

/** "https://kv1.vault.azure.net" for any spelling of a vault URL. */
function vaultOrigin(url: string): string {
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return url.toLowerCase();
  }
}

/**
 * @param managedVaultUrls the vault and HSM URLs the service manages, as in
 *   ROTATOR_MANAGED_VAULTS (compared by scheme and host, so a name on another host is not managed)
 */
export function readKeyVaultEvent(raw: unknown, managedVaultUrls: readonly string[]): KeyVaultEventReading {
  const event = typeof raw === "string" ? parseData(raw) : isRecord(raw) ? raw : undefined;
  if (!event) return { kind: "ignored", reason: "malformed", detail: "the event is not a JSON object" };
  const schema: EventSchemaName = text(event, "specversion") ? "CloudEventSchema" : "EventGridSchema";
  const eventType = schema === "CloudEventSchema" ? text(event, "type") : text(event, "eventType");
  const eventId = text(event, "id");
  const base = { ...(eventId ? { eventId } : {}), ...(eventType ? { eventType } : {}) };
  if (!eventType)
    return { kind: "ignored", reason: "malformed", detail: "the event has no event type", ...base };
  if (eventType !== KEY_NEW_VERSION_CREATED) {
    return {
      kind: "ignored",
      reason: "other-event-type",
      detail: `event type ${eventType} is not acted on`,
      ...base,
    };
  }
  const data = parseData(field(event, "data"));
  if (!data) return { kind: "ignored", reason: "malformed", detail: "the event has no data object", ...base };
  const objectType = text(data, "ObjectType");
  if (objectType && objectType.toLowerCase() !== "key") {
    return {
      kind: "ignored",
      reason: "not-a-key",
      detail: `the event is about a ${objectType}, not a key`,
      ...base,
    };
  }
  const id = text(data, "Id");
  if (!id) return { kind: "ignored", reason: "malformed", detail: "the event data has no Id", ...base };
  if (/^https:\/\/[^/]+\/(secrets|certificates)\//i.test(id)) {
    return {
      kind: "ignored",
      reason: "not-a-key",
      detail: `the event is about ${id}, which is not a key`,
      ...base,
    };
  }
  let parsed: ReturnType<typeof parseKeyId>;
  try {
    parsed = parseKeyId(id, "event data.Id");
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { kind: "ignored", reason: "malformed", detail: error.message, ...base };
  }
  const vaultName = text(data, "VaultName");
  if (vaultName && vaultName.toLowerCase() !== parsed.key.vaultName) {
    return {
      kind: "ignored",
      reason: "malformed",
      detail: `data.VaultName ${JSON.stringify(vaultName)} does not match the vault of data.Id ${id}`,
      ...base,
    };
  }
  const managedHosts = managedVaultUrls.map(vaultOrigin);
  if (!managedHosts.includes(vaultOrigin(parsed.key.vaultUrl))) {
    return {
      kind: "ignored",
      reason: "unmanaged-vault",
      detail: `vault ${parsed.key.vaultUrl} is not in ROTATOR_MANAGED_VAULTS`,
      ...base,
    };
  }
  const dataVersion = text(data, "Version");
  const version =
    parsed.version ?? (dataVersion && /^[0-9a-f]{32}$/i.test(dataVersion) ? dataVersion.toLowerCase() : null);
  return { kind: "keyNewVersion", eventId: eventId ?? "(no id)", key: parsed.key, version, schema };
}
