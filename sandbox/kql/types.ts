/** Types shared by the KQL engine's modules; `index.ts` re-exports the public ones. */

export type KqlType =
  | "string"
  | "datetime"
  | "real"
  | "long"
  | "int"
  | "bool"
  | "guid"
  | "dynamic"
  | "timespan";

export interface KqlColumn {
  name: string;
  type: KqlType;
}

/** An input table. Datetime values are `Date`, dynamic values plain JSON. */
export interface KqlTable {
  name: string;
  columns: KqlColumn[];
  rows: Record<string, unknown>[];
}

/**
 * A query result. Values are `null`, strings (string, guid; timespan as "[d.]hh:mm:ss[.fffffff]"),
 * numbers (long, int, real), booleans, `Date` (datetime) or plain JSON (dynamic).
 */
export interface KqlResult {
  columns: KqlColumn[];
  rows: unknown[][];
}

/** Why a query cannot be answered. */
export type KqlErrorCode = "SyntaxError" | "SemanticError" | "UnsupportedQuery" | "EvaluationError";

/** Where the language service found the first error: its code (e.g. KS142) and the offending text. */
export interface KqlDiagnosticInfo {
  code: string;
  start: number;
  length: number;
}

/** A query that cannot be answered; always a 400-class error (the caller's query is at fault). */
export class KqlError extends Error {
  readonly code: KqlErrorCode;
  readonly diagnostic: KqlDiagnosticInfo | undefined;
  constructor(
    code: KqlErrorCode,
    message: string,
    options?: { cause?: unknown; diagnostic?: KqlDiagnosticInfo },
  ) {
    super(message, options);
    this.name = "KqlError";
    this.code = code;
    this.diagnostic = options?.diagnostic;
  }
}

export function unsupported(what: string): KqlError {
  return new KqlError("UnsupportedQuery", `UnsupportedQuery: ${what} is not supported by the sandbox`);
}
