/**
 * The only way a value enters KQL the rotator builds: as a single-quoted string literal of
 * a value that passes the validation for its kind. The patterns admit no quote, backslash
 * or whitespace, so nothing from outside can change the query's shape; anything else is
 * refused with a ValidationError instead of being escaped and hoped for.
 */
import { ValidationError } from "../errors.js";

const KQL_VALUE_PATTERNS = {
  /** Vault, HSM or key name. */
  name: /^[0-9a-zA-Z-]{1,127}$/,
  /** Key version. */
  version: /^[0-9a-fA-F]{32}$/,
  /** Object id, workspace id, subscription id. */
  guid: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
  /** Key Vault / Managed HSM host with a key name: "kv1.vault.azure.net/key1". */
  hostKey: /^[0-9a-zA-Z-]{1,127}\.(vault|managedhsm)\.azure\.net\/[0-9a-zA-Z-]{1,127}$/,
  /** ARM resource type: "microsoft.kusto/clusters". */
  resourceType: /^[a-zA-Z0-9.]+(\/[a-zA-Z0-9]+)+$/,
  /** Key Vault operation name: "KeyUnwrap". */
  operation: /^[A-Za-z]{1,64}$/,
} as const;

export type KqlValueKind = keyof typeof KQL_VALUE_PATTERNS;

/** `'value'` when `value` is a valid `kind`; throws ValidationError otherwise. */
export function kqlLiteral(kind: KqlValueKind, value: string): string {
  if (!KQL_VALUE_PATTERNS[kind].test(value)) {
    throw new ValidationError(
      "KQL literal",
      `refusing to put ${JSON.stringify(value)} into a query: it is not a valid ${kind}`,
    );
  }
  return `'${value}'`;
}

/** `('a', 'b')` for an `in` list; throws on an empty list (KQL has no empty `in`). */
export function kqlList(kind: KqlValueKind, values: readonly string[]): string {
  if (values.length === 0) throw new ValidationError("KQL list", `refusing to build an empty ${kind} list`);
  return `(${values.map((value) => kqlLiteral(kind, value)).join(", ")})`;
}
