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

/** The method by which a lazy row gives one cell (see KqlLazyRow). */
export const KQL_CELL: unique symbol = Symbol("kqlCell");

/**
 * A row that computes a cell when a query reads it, instead of holding every cell: a table
 * of many rows then costs one small object a row, however many columns it has. The cell of a
 * column the row has no value for is `undefined` (read as null).
 */
export interface KqlLazyRow {
  [KQL_CELL](column: string): unknown;
}

/** An input row: a plain record (a cell is its own property named after the column) or a lazy row. */
export type KqlSourceRow = Readonly<Record<string, unknown>> | KqlLazyRow;

/** An input table. Datetime values are `Date`, dynamic values plain JSON. */
export interface KqlTable {
  name: string;
  columns: KqlColumn[];
  rows: readonly KqlSourceRow[];
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
