/**
 * The sandbox's KQL engine. `runKql` parses and analyses a query with the official Kusto
 * language service (`@kusto/language-service-next`), refuses it with the service's own
 * message when it has errors, then evaluates it over in-memory rows. Queries using an
 * operator or function the engine does not implement fail with UnsupportedQuery rather
 * than answering wrongly.
 */
import { evaluateQuery, type Row, type Scope, type Tabular } from "./evaluator.js";
import { analyseQuery } from "./languageService.js";
import {
  KQL_CELL,
  type KqlColumn,
  KqlError,
  type KqlLazyRow,
  type KqlResult,
  type KqlSourceRow,
  type KqlTable,
  type KqlType,
} from "./types.js";
import { coerceToType, formatTimespan, isNullValue, type KqlValue, Timespan } from "./values.js";

export type {
  KqlColumn,
  KqlDiagnosticInfo,
  KqlErrorCode,
  KqlLazyRow,
  KqlResult,
  KqlSourceRow,
  KqlTable,
  KqlType,
} from "./types.js";
export { KQL_CELL, KqlError } from "./types.js";

function isLazyRow(row: KqlSourceRow): row is KqlLazyRow {
  return typeof (row as Partial<KqlLazyRow>)[KQL_CELL] === "function";
}

/** A table's column types by name, shared by all its rows. */
interface LoadedColumns {
  columns: readonly KqlColumn[];
  types: ReadonlyMap<string, KqlType>;
}

/**
 * An input row as the evaluator reads it: each cell is read from the source row and typed
 * when asked, so loading a table copies nothing (a query over a large table keeps one small
 * object a row, not a map of every column).
 */
class SourceRow implements Row {
  constructor(
    private readonly source: KqlSourceRow,
    private readonly table: LoadedColumns,
  ) {}

  get(name: string): KqlValue | undefined {
    const type = this.table.types.get(name);
    if (type === undefined) return undefined;
    const source = this.source;
    const raw = isLazyRow(source)
      ? source[KQL_CELL](name)
      : Object.hasOwn(source, name)
        ? (source as Readonly<Record<string, unknown>>)[name]
        : null;
    const value = (raw ?? null) as KqlValue;
    // Kusto strings are never null: a missing string is the empty string.
    return type === "string" && isNullValue(value) ? "" : coerceToType(value, type);
  }

  has(name: string): boolean {
    return this.table.types.has(name);
  }

  *[Symbol.iterator](): IterableIterator<[string, KqlValue]> {
    for (const column of this.table.columns) yield [column.name, this.get(column.name) ?? null];
  }
}

function loadTable(table: KqlTable): Tabular {
  const loaded: LoadedColumns = {
    columns: table.columns,
    types: new Map(table.columns.map((column) => [column.name, column.type])),
  };
  return { columns: table.columns, rows: table.rows.map((source) => new SourceRow(source, loaded)) };
}

function toResultValue(value: KqlValue, type: KqlType): unknown {
  const typed = coerceToType(value, type);
  if (typed instanceof Timespan) return formatTimespan(typed);
  // Kusto strings are never null (for example the right side of an unmatched leftouter join).
  if (type === "string" && isNullValue(typed)) return "";
  return typed ?? null;
}

/**
 * Runs `query` over `tables`. `options.now` (epoch ms) is what now() and ago() measure
 * from; it defaults to the current time. Throws KqlError for any query it cannot answer.
 */
export function runKql(query: string, tables: KqlTable[], options?: { now?: number }): KqlResult {
  if (typeof query !== "string" || query.trim() === "") {
    throw new KqlError(
      "SyntaxError",
      "The query is empty: send a KQL query such as 'AzureDiagnostics | take 10'.",
    );
  }
  const analysed = analyseQuery(query, tables);
  const firstError = analysed.diagnostics[0];
  if (firstError) {
    const where = `at position ${firstError.start}`;
    throw new KqlError(
      firstError.isSyntax ? "SyntaxError" : "SemanticError",
      `${firstError.message} (${firstError.code} ${where} of the query)`,
      { diagnostic: { code: firstError.code, start: firstError.start, length: firstError.length } },
    );
  }
  const scope: Scope = {
    tables: new Map(tables.map((table) => [table.name, loadTable(table)])),
    variables: new Map(),
    now: options?.now ?? Date.now(),
  };
  const result = evaluateQuery(analysed.root, scope);
  const columns = analysed.resultColumns ?? result.columns;
  const rows = result.rows.map((row) =>
    columns.map((column) => toResultValue(row.get(column.name) ?? null, column.type)),
  );
  return { columns, rows };
}
