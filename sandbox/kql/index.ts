/**
 * The sandbox's KQL engine. `runKql` parses and analyses a query with the official Kusto
 * language service (`@kusto/language-service-next`), refuses it with the service's own
 * message when it has errors, then evaluates it over in-memory rows. Queries using an
 * operator or function the engine does not implement fail with UnsupportedQuery rather
 * than answering wrongly.
 */
import { evaluateQuery, type Row, type Scope, type Tabular } from "./evaluator.js";
import { analyseQuery } from "./languageService.js";
import { KqlError, type KqlResult, type KqlTable, type KqlType } from "./types.js";
import { coerceToType, formatTimespan, isNullValue, type KqlValue, Timespan } from "./values.js";

export type { KqlColumn, KqlDiagnosticInfo, KqlErrorCode, KqlResult, KqlTable, KqlType } from "./types.js";
export { KqlError } from "./types.js";

function loadTable(table: KqlTable): Tabular {
  const rows = table.rows.map((record): Row => {
    const row: Row = new Map();
    for (const column of table.columns) {
      const raw = Object.hasOwn(record, column.name) ? record[column.name] : null;
      // Kusto strings are never null: a missing string is the empty string.
      const value = column.type === "string" && isNullValue(raw) ? "" : coerceToType(raw, column.type);
      row.set(column.name, value);
    }
    return row;
  });
  return { columns: table.columns, rows };
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
