/**
 * The one parser for key identifiers, wherever they come from: Event Grid `Id`, Cosmos
 * `keyVaultKeyUri`, Cassandra `managedDiskCustomerKeyUri`, Kusto `keyVaultUri` + `keyName`,
 * settings and HTTP routes. Everything that builds KQL or a URL uses only values that went
 * through here, so a vault name, key name or version is always `[0-9a-zA-Z-]` / 32 hex.
 */
import { ValidationError } from "../errors.js";
import type { KeyRef, VaultHostKind } from "../model.js";

/** A key reference plus the version the identifier named, or null for a versionless one. */
export interface ParsedKeyId {
  key: KeyRef;
  version: string | null;
}

/** A vault or Managed HSM, without a key. */
export interface VaultRef {
  vaultUrl: string;
  vaultName: string;
  hostKind: VaultHostKind;
}

const NAME_PATTERN = /^[0-9a-zA-Z-]{1,127}$/;
const VERSION_PATTERN = /^[0-9a-fA-F]{32}$/;
const GUID_PATTERN = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const HOST_SUFFIXES: readonly { suffix: string; hostKind: VaultHostKind }[] = [
  { suffix: ".vault.azure.net", hostKind: "vault" },
  { suffix: ".managedhsm.azure.net", hostKind: "managedHsm" },
];
const EXPECTED_KEY_ID =
  "https://<vault>.vault.azure.net/keys/<name>[/<version>] or https://<hsm>.managedhsm.azure.net/keys/<name>[/<version>]";
const EXPECTED_VAULT_URL = "https://<vault>.vault.azure.net or https://<hsm>.managedhsm.azure.net";

export function isValidName(value: string): boolean {
  return NAME_PATTERN.test(value);
}

export function isValidVersion(value: string): boolean {
  return VERSION_PATTERN.test(value);
}

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

/** Validates a vault or key name (`[0-9a-zA-Z-]`, 1-127 characters). */
export function validateName(value: unknown, what: string): string {
  if (typeof value !== "string")
    throw new ValidationError(what, `${what} must be a string, got ${typeof value}`);
  const trimmed = value.trim();
  if (!isValidName(trimmed)) {
    throw new ValidationError(
      what,
      `${what} ${JSON.stringify(value)} is not valid: expected 1-127 characters [0-9a-zA-Z-]`,
    );
  }
  return trimmed;
}

/** Validates a key version (32 hex characters) and returns it in lower case. */
export function validateVersion(value: unknown, what = "key version"): string {
  if (typeof value !== "string")
    throw new ValidationError(what, `${what} must be a string, got ${typeof value}`);
  const trimmed = value.trim();
  if (!isValidVersion(trimmed)) {
    throw new ValidationError(
      what,
      `${what} ${JSON.stringify(value)} is not valid: expected 32 hexadecimal characters`,
    );
  }
  return trimmed.toLowerCase();
}

/** Validates an Entra object id or workspace id (GUID) and returns it in lower case. */
export function validateGuid(value: unknown, what: string): string {
  if (typeof value !== "string")
    throw new ValidationError(what, `${what} must be a string, got ${typeof value}`);
  const trimmed = value.trim();
  if (!isGuid(trimmed)) throw new ValidationError(what, `${what} ${JSON.stringify(value)} is not a GUID`);
  return trimmed.toLowerCase();
}

function parseHttpsUrl(value: unknown, what: string, expected: string): URL {
  if (typeof value !== "string")
    throw new ValidationError(what, `${what} must be a string (${expected}), got ${typeof value}`);
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new ValidationError(what, `${what} ${JSON.stringify(value)} is not a URL: expected ${expected}`);
  }
  if (url.protocol !== "https:")
    throw new ValidationError(what, `${what} ${JSON.stringify(value)} must use https: expected ${expected}`);
  if (url.username || url.password || url.search || url.hash) {
    throw new ValidationError(
      what,
      `${what} ${JSON.stringify(value)} must not carry credentials, a query or a fragment`,
    );
  }
  if (url.port !== "" && url.port !== "443") {
    throw new ValidationError(what, `${what} ${JSON.stringify(value)} must not name a port other than 443`);
  }
  return url;
}

function vaultFromHost(host: string, original: string, what: string): VaultRef {
  const lower = host.toLowerCase();
  for (const { suffix, hostKind } of HOST_SUFFIXES) {
    if (!lower.endsWith(suffix)) continue;
    const vaultName = lower.slice(0, -suffix.length);
    if (!isValidName(vaultName)) {
      throw new ValidationError(
        what,
        `${what} ${JSON.stringify(original)} names vault ${JSON.stringify(vaultName)}, which is not 1-127 characters [0-9a-zA-Z-]`,
      );
    }
    return { vaultUrl: `https://${lower}/`, vaultName, hostKind };
  }
  throw new ValidationError(
    what,
    `${what} ${JSON.stringify(original)} is not on a Key Vault or Managed HSM host: expected ${EXPECTED_VAULT_URL}`,
  );
}

/** Parses a vault or Managed HSM URL (`https://kv1.vault.azure.net[/]`). Throws ValidationError. */
export function parseVaultUrl(value: unknown, what = "vault URL"): VaultRef {
  const url = parseHttpsUrl(value, what, EXPECTED_VAULT_URL);
  if (url.pathname !== "/" && url.pathname !== "") {
    throw new ValidationError(
      what,
      `${what} ${JSON.stringify(value)} must not have a path: expected ${EXPECTED_VAULT_URL}`,
    );
  }
  return vaultFromHost(url.hostname, String(value), what);
}

/**
 * Parses a key identifier `https://<vault>.vault.azure.net/keys/<name>[/<version>]` (or on
 * `*.managedhsm.azure.net`); surrounding spaces and one trailing slash are tolerated, the
 * version is returned in lower case. Throws ValidationError saying what is wrong.
 */
export function parseKeyId(value: unknown, what = "key identifier"): ParsedKeyId {
  const url = parseHttpsUrl(value, what, EXPECTED_KEY_ID);
  const vault = vaultFromHost(url.hostname, String(value), what);
  const segments = url.pathname.replace(/\/$/, "").split("/").slice(1);
  const [collection, name, version, ...rest] = segments;
  if (collection !== "keys" || name === undefined || rest.length > 0) {
    throw new ValidationError(
      what,
      `${what} ${JSON.stringify(value)} is not a key identifier: expected ${EXPECTED_KEY_ID}`,
    );
  }
  const keyName = validateName(name, `key name in ${what}`);
  return {
    key: { ...vault, keyName },
    version: version === undefined ? null : validateVersion(version, `key version in ${what}`),
  };
}

/** Like `parseKeyId`, but returns the ValidationError instead of throwing it. */
export function tryParseKeyId(value: unknown, what = "key identifier"): ParsedKeyId | ValidationError {
  try {
    return parseKeyId(value, what);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
}

/** Builds a KeyRef from a vault URL and key name given separately (Kusto's keyVaultProperties). */
export function keyRefFromParts(vaultUrl: unknown, keyName: unknown, what = "key"): KeyRef {
  const vault = parseVaultUrl(vaultUrl, `vault URL of ${what}`);
  return { ...vault, keyName: validateName(keyName, `key name of ${what}`) };
}

/** `https://kv1.vault.azure.net/keys/k[/<version>]`: the form ARM resources and audit records use. */
export function keyIdOf(key: KeyRef, version?: string | null): string {
  const base = `${key.vaultUrl}keys/${key.keyName}`;
  return version ? `${base}/${version}` : base;
}

/** What sameKey compares, as one string: the vault URL and the key name in lower case (for sets and maps of keys). */
export function sameKeyIdentity(key: KeyRef): string {
  return `${key.vaultUrl}\u0000${key.keyName.toLowerCase()}`;
}

/** Whether two references name the same key (host and key names compare case-insensitively, as Key Vault does). */
export function sameKey(a: KeyRef, b: KeyRef): boolean {
  return a.vaultUrl === b.vaultUrl && a.keyName.toLowerCase() === b.keyName.toLowerCase();
}
