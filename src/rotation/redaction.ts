/**
 * The one redaction every log line goes through (the service's structured log and the local
 * Functions host): function keys and other secrets never reach a log. It redacts by field name
 * (key headers such as `x-functions-key`, `Authorization`, `aeg-sas-key`, a `code` field) and
 * inside any text (a URL's `code=` / `sig=` query values, bearer tokens, connection-string keys,
 * `header: value` pairs), so a URL or an error message that carries one is logged without it.
 */

const REDACTED = "[redacted]";

/** Header and field names whose value is a secret, compared case-insensitively. */
const SECRET_NAMES = new Set([
  "x-functions-key",
  "authorization",
  "proxy-authorization",
  "aeg-sas-key",
  "aeg-sas-token",
  "ocp-apim-subscription-key",
  "cookie",
  "set-cookie",
  "code",
  "sig",
  "accountkey",
  "sharedaccesskey",
  "sharedaccesssignature",
  "eventstopickey",
  "connectionstring",
]);

const TEXT_PATTERNS: readonly [RegExp, string][] = [
  // Query values in URLs: ?code=<function key>, &sig=<SAS signature>, ?x-functions-key=...
  [/([?&](?:code|sig|x-functions-key|aeg-sas-key)=)[^&#\s"'\\]+/gi, `$1${REDACTED}`],
  // Connection strings and SAS: AccountKey=..., SharedAccessKey=..., SharedAccessSignature=...
  [/\b(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;&\s"'\\]+/gi, `$1=${REDACTED}`],
  // Tokens: "Bearer <jwt>", "Basic <credentials>", "SharedAccessSignature sr=..."
  [/\b(Bearer|Basic|SharedAccessSignature)\s+[^\s"'\\,;]+/gi, `$1 ${REDACTED}`],
  // Headers written as text: "x-functions-key: <key>", "aeg-sas-key=<key>"
  [
    /\b(x-functions-key|aeg-sas-key|aeg-sas-token|ocp-apim-subscription-key|authorization)(["']?\s*[:=]\s*["']?)(?!\[redacted\])[^\s"'\\,;&]+/gi,
    `$1$2${REDACTED}`,
  ],
];

/** The text with every secret-looking part replaced. */
export function redactText(text: string): string {
  let result = text;
  for (const [pattern, replacement] of TEXT_PATTERNS) result = result.replace(pattern, replacement);
  return result;
}

/** Whether a field or header of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAMES.has(name.toLowerCase().replaceAll("_", ""));
}

/**
 * A copy of `value` for a log: values of secret-named fields replaced, every string redacted.
 * Plain data only (what goes into a JSON log line).
 */
export function redactSecrets<T>(value: T): T {
  return redactValue(value, undefined) as T;
}

function redactValue(value: unknown, name: string | undefined): unknown {
  if (name !== undefined && isSecretName(name) && value !== undefined && value !== null && value !== "")
    return REDACTED;
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (typeof value === "object" && value !== null && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, key)]));
  }
  return value;
}
