/**
 * Public API of the sandbox's KQL engine. Queries are parsed and analysed by
 * `@kusto/language-service-next`, then evaluated over in-memory rows.
 */

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

export interface KqlResult {
  columns: KqlColumn[];
  rows: unknown[][];
}

/** A query that cannot be answered; always a 400-class error. */
export class KqlError extends Error {
  /** "SyntaxError" | "SemanticError" | "UnsupportedQuery" */
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KqlError";
    this.code = code;
  }
}

export function runKql(query: string, tables: KqlTable[], options?: { now?: number }): KqlResult {
  void query;
  void tables;
  void options;
  throw new KqlError("UnsupportedQuery", "UnsupportedQuery: the sandbox KQL engine is not implemented yet");
}
