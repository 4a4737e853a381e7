/**
 * Evaluates an analysed KQL syntax tree over in-memory rows.
 *
 * Tabular operators that create columns (project, extend, summarize, join, print) take
 * the names and order of their output columns from the language service's analysis of
 * that operator, so that generated names (Column1, count_, max_x, TimeGenerated1, ...)
 * are exactly Kusto's. Anything not implemented raises UnsupportedQuery.
 */
import { type Accumulator, accumulator, ExtremeRow, isAggregation } from "./aggregates.js";
import type { KqlSyntaxNode } from "./languageService.js";
import { callScalarFunction, compileRegex } from "./scalarFunctions.js";
import { type KqlColumn, KqlError, unsupported } from "./types.js";
import {
  compareValues,
  groupKey,
  isDynamicValue,
  isNullValue,
  type KqlValue,
  parseDateTime,
  parseTimespan,
  Timespan,
  toBoolValue,
  toKqlString,
  valuesEqual,
} from "./values.js";

/**
 * A row as operators read it: its cells by column name, and every (name, value) pair in
 * column order. A Map is one; input rows and extended rows compute cells when asked.
 */
export interface Row extends Iterable<[string, KqlValue]> {
  get(name: string): KqlValue | undefined;
  has(name: string): boolean;
}

/**
 * A row with the columns `extend`s computed laid over its input row, without copying the
 * input's cells: a long pipeline over a wide table keeps a few values a row. The names of the
 * computed columns are shared by every row of a stage (see ExtendLayouts); a row holds only
 * its values.
 */
class ExtendedRow implements Row {
  constructor(
    readonly base: Row,
    readonly names: readonly string[],
    readonly values: readonly KqlValue[],
  ) {}

  get(name: string): KqlValue | undefined {
    const index = this.names.indexOf(name);
    return index >= 0 ? this.values[index] : this.base.get(name);
  }

  has(name: string): boolean {
    return this.names.includes(name) || this.base.has(name);
  }

  /** The input's columns in their order (a replaced one keeps its place), then the new ones. */
  *[Symbol.iterator](): IterableIterator<[string, KqlValue]> {
    for (const [name, value] of this.base) {
      const index = this.names.indexOf(name);
      yield [name, index >= 0 ? (this.values[index] ?? null) : value];
    }
    for (const [index, name] of this.names.entries())
      if (!this.base.has(name)) yield [name, this.values[index] ?? null];
  }
}

/**
 * One extend stage's layouts: for the computed names an input row already has (none, or an
 * earlier extend's), the names the output rows carry and where each assignment's value goes.
 * Worked out once per distinct input layout, so rows share their names.
 */
class ExtendLayouts {
  private readonly byInput = new Map<readonly string[], { names: string[]; slots: number[] }>();
  private readonly fresh: { names: string[]; slots: number[] };

  constructor(private readonly assigned: readonly string[]) {
    this.fresh = this.layout([]);
  }

  private layout(inputNames: readonly string[]): { names: string[]; slots: number[] } {
    const names = [...inputNames];
    const slots = this.assigned.map((name) => {
      const at = names.indexOf(name);
      if (at >= 0) return at;
      names.push(name);
      return names.length - 1;
    });
    return { names, slots };
  }

  /** `row` with `values` (one per assignment, in order) laid over it, one level above its input row. */
  extend(row: Row, values: readonly KqlValue[]): ExtendedRow {
    if (!(row instanceof ExtendedRow)) {
      const out = new Array<KqlValue>(this.fresh.names.length).fill(null);
      for (const [index, slot] of this.fresh.slots.entries()) out[slot] = values[index] ?? null;
      return new ExtendedRow(row, this.fresh.names, out);
    }
    let layout = this.byInput.get(row.names);
    if (!layout) {
      layout = this.layout(row.names);
      this.byInput.set(row.names, layout);
    }
    const out = [...row.values];
    for (const [index, slot] of layout.slots.entries()) out[slot] = values[index] ?? null;
    return new ExtendedRow(row.base, layout.names, out);
  }
}

export interface Tabular {
  columns: KqlColumn[];
  rows: Row[];
}

export interface Scope {
  tables: Map<string, Tabular>;
  variables: Map<string, KqlValue | Tabular>;
  now: number;
}

class TabularValue implements Tabular {
  constructor(
    readonly columns: KqlColumn[],
    readonly rows: Row[],
  ) {}
}

function child(node: KqlSyntaxNode, name: string): KqlSyntaxNode {
  const found = node.named.get(name);
  if (!found) throw unsupported(`the syntax "${node.text}" (${node.kind} without ${name})`);
  return found;
}

function listItems(node: KqlSyntaxNode | undefined): KqlSyntaxNode[] {
  return node?.items ?? [];
}

function outputColumns(node: KqlSyntaxNode): KqlColumn[] {
  if (!node.columns) throw unsupported(`the operator "${node.text.trim()}" (no result schema)`);
  return node.columns;
}

// --- Queries and tabular expressions ---------------------------------------------------

export function evaluateQuery(root: KqlSyntaxNode, scope: Scope): Tabular {
  let result: Tabular | undefined;
  for (const statement of listItems(root.named.get("Statements"))) {
    if (statement.kind === "LetStatement") {
      const name = child(statement, "Name").text.trim();
      const expression = child(statement, "Expression");
      if (expression.kind === "FunctionDeclaration") throw unsupported("let with a function body");
      const value = expression.columns
        ? evaluateTabular(expression, scope)
        : evaluateScalar(expression, undefined, scope);
      scope.variables.set(name, value);
    } else if (statement.kind === "ExpressionStatement") {
      result = evaluateTabular(child(statement, "Expression"), scope);
    } else {
      throw unsupported(`the statement "${statement.text.trim()}"`);
    }
  }
  if (!result) throw new KqlError("SemanticError", "The query has no tabular expression to return.");
  return result;
}

function evaluateTabular(node: KqlSyntaxNode, scope: Scope): Tabular {
  switch (node.kind) {
    case "PipeExpression": {
      const operator = child(node, "Operator");
      if (ROW_BY_ROW.has(operator.kind)) {
        const stream = rowStream(node, scope);
        return new TabularValue(stream.columns, [...stream.rows]);
      }
      if (operator.kind === "SummarizeOperator")
        return summarize(operator, rowStream(child(node, "Expression"), scope), scope);
      return applyOperator(operator, evaluateTabular(child(node, "Expression"), scope), scope);
    }
    case "ParenthesizedExpression":
      return evaluateTabular(child(node, "Expression"), scope);
    case "NameReference": {
      const name = node.text.trim();
      if (node.symbol?.kind === "Table") {
        const table = scope.tables.get(name);
        if (table) return table;
      }
      const variable = scope.variables.get(name);
      if (variable instanceof TabularValue) return variable;
      throw new KqlError(
        "SemanticError",
        `The name '${name}' does not refer to any known table or tabular variable.`,
      );
    }
    case "UnionOperator":
    case "PrintOperator":
      return applyOperator(node, undefined, scope);
    default:
      throw unsupported(`the tabular expression "${node.text.trim()}" (${node.kind})`);
  }
}

/** Operators that take one row at a time, each on its own: a run of them streams, keeping no rows between them. */
const ROW_BY_ROW = new Set(["FilterOperator", "ExtendOperator"]);

/** A tabular expression's columns and its rows as they come (a table's, or a run of row-by-row operators over them). */
interface RowStream {
  columns: KqlColumn[];
  rows: Iterable<Row>;
}

/** What a row-by-row operator does to one row: the row it becomes, or undefined when it drops it. */
type RowStage = (row: Row) => Row | undefined;

function rowStage(
  operator: KqlSyntaxNode,
  columns: KqlColumn[],
  scope: Scope,
): { columns: KqlColumn[]; stage: RowStage } {
  if (operator.kind === "FilterOperator") {
    const condition = child(operator, "Condition");
    return {
      columns,
      stage: (row) => (toBoolValue(evaluateScalar(condition, row, scope)) === true ? row : undefined),
    };
  }
  return extendStage(operator, columns, scope);
}

/**
 * The rows of a tabular expression without materializing a run of row-by-row operators: a
 * query such as `T | where … | extend … | where … | summarize …` reads each row of T through
 * the whole run before the next, so only the rows summarize keeps (none) outlive their turn.
 */
function rowStream(node: KqlSyntaxNode, scope: Scope): RowStream {
  const operators: KqlSyntaxNode[] = [];
  let source = node;
  while (source.kind === "PipeExpression" && ROW_BY_ROW.has(child(source, "Operator").kind)) {
    operators.unshift(child(source, "Operator"));
    source = child(source, "Expression");
  }
  const input = evaluateTabular(source, scope);
  if (operators.length === 0) return input;
  let columns = input.columns;
  const stages: RowStage[] = [];
  for (const operator of operators) {
    const built = rowStage(operator, columns, scope);
    columns = built.columns;
    stages.push(built.stage);
  }
  function* rows(): Generator<Row> {
    for (const inputRow of input.rows) {
      let row: Row | undefined = inputRow;
      for (const stage of stages) {
        row = stage(row);
        if (row === undefined) break;
      }
      if (row !== undefined) yield row;
    }
  }
  return { columns, rows: rows() };
}

/** Every other operator (where, extend and summarize stream: see evaluateTabular and rowStream). */
function applyOperator(operator: KqlSyntaxNode, input: Tabular | undefined, scope: Scope): Tabular {
  if (operator.kind === "UnionOperator") return union(operator, input, scope);
  if (operator.kind === "PrintOperator") return print(operator, scope);
  if (!input) throw unsupported(`the operator "${operator.text.trim()}" without input`);
  switch (operator.kind) {
    case "TakeOperator": {
      const count = Number(evaluateScalar(child(operator, "Expression"), undefined, scope));
      return new TabularValue(input.columns, input.rows.slice(0, Math.max(0, count)));
    }
    case "SortOperator":
      return new TabularValue(
        input.columns,
        sortRows(input.rows, listItems(operator.named.get("Expressions")), scope),
      );
    case "TopOperator": {
      const count = Number(evaluateScalar(child(operator, "Expression"), undefined, scope));
      const sorted = sortRows(input.rows, [child(operator, "ByExpression")], scope);
      return new TabularValue(input.columns, sorted.slice(0, Math.max(0, count)));
    }
    case "ProjectOperator":
      return project(operator, input, scope);
    case "ProjectAwayOperator":
    case "ProjectKeepOperator":
    case "ProjectReorderOperator":
      return selectByName(outputColumns(operator), input);
    case "ProjectRenameOperator":
      return projectRename(operator, input);
    case "DistinctOperator":
      return distinct(operator, input, scope);
    case "CountOperator":
      return new TabularValue(outputColumns(operator), [
        new Map([[outputColumns(operator)[0]?.name ?? "Count", input.rows.length]]),
      ]);
    case "MvExpandOperator":
      return mvExpand(operator, input, scope);
    case "JoinOperator":
      return join(operator, input, scope);
    default:
      throw unsupported(`operator ${operatorName(operator)}`);
  }
}

function operatorName(operator: KqlSyntaxNode): string {
  const keyword = [...operator.named.values()].find((element) => element.isToken);
  return keyword ? keyword.text.trim() : operator.kind;
}

/** Rows of `input` reduced to `columns`, matched by name (for operators that only drop or reorder). */
function selectByName(columns: KqlColumn[], input: Tabular): Tabular {
  return new TabularValue(
    columns,
    input.rows.map((row) => new Map(columns.map((column) => [column.name, row.get(column.name) ?? null]))),
  );
}

function project(operator: KqlSyntaxNode, input: Tabular, scope: Scope): Tabular {
  const columns = outputColumns(operator);
  const expressions = listItems(operator.named.get("Expressions"));
  if (expressions.length !== columns.length)
    throw unsupported(`project with wildcards ("${operator.text.trim()}")`);
  const rows = input.rows.map(
    (row) =>
      new Map(
        expressions.map((expression, index) => [
          columns[index]?.name ?? "",
          evaluateNamed(expression, row, scope),
        ]),
      ),
  );
  return new TabularValue(columns, rows);
}

function projectRename(operator: KqlSyntaxNode, input: Tabular): Tabular {
  const renames = new Map<string, string>();
  for (const expression of listItems(operator.named.get("Expressions"))) {
    if (expression.kind !== "SimpleNamedExpression")
      throw unsupported(`project-rename of "${expression.text.trim()}"`);
    renames.set(child(expression, "Expression").text.trim(), child(expression, "Name").text.trim());
  }
  const rows = input.rows.map(
    (row) => new Map([...row].map(([name, value]) => [renames.get(name) ?? name, value])),
  );
  return selectByName(outputColumns(operator), new TabularValue(outputColumns(operator), rows));
}

function print(operator: KqlSyntaxNode, scope: Scope): Tabular {
  const columns = outputColumns(operator);
  const expressions = listItems(operator.named.get("Expressions"));
  const row: Row = new Map(
    expressions.map((expression, index) => [
      columns[index]?.name ?? "",
      evaluateNamed(expression, undefined, scope),
    ]),
  );
  return new TabularValue(columns, [row]);
}

/** The value of a projection item: `name = expression` or a bare expression. */
function evaluateNamed(expression: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  if (expression.kind === "SimpleNamedExpression")
    return evaluateScalar(child(expression, "Expression"), row, scope);
  if (expression.kind === "CompoundNamedExpression")
    throw unsupported(`tuple naming ("${expression.text.trim()}")`);
  return evaluateScalar(expression, row, scope);
}

/** An extend's output columns and what it does to a row (computes the new cells over the input row). */
function extendStage(
  operator: KqlSyntaxNode,
  inputColumns: KqlColumn[],
  scope: Scope,
): { columns: KqlColumn[]; stage: RowStage } {
  const input = { columns: inputColumns };
  const columns = outputColumns(operator);
  const inputNames = new Set(input.columns.map((column) => column.name));
  const assignments: { name: string; expression: KqlSyntaxNode }[] = [];
  let added = 0;
  for (const expression of listItems(operator.named.get("Expressions"))) {
    const declared =
      expression.kind === "SimpleNamedExpression" ? child(expression, "Name").text.trim() : undefined;
    if (declared !== undefined && inputNames.has(declared)) {
      assignments.push({ name: declared, expression });
    } else {
      const slot = columns[input.columns.length + added];
      added++;
      if (!slot)
        throw unsupported(`extend "${operator.text.trim()}" (its result schema could not be matched)`);
      assignments.push({ name: slot.name, expression });
    }
  }
  if (columns.length !== input.columns.length + added) {
    throw unsupported(`extend "${operator.text.trim()}" (its result schema could not be matched)`);
  }
  const layouts = new ExtendLayouts(assignments.map((assignment) => assignment.name));
  return {
    columns,
    stage: (row) =>
      // Kusto evaluates every extend expression against the input row.
      layouts.extend(
        row,
        assignments.map(({ expression }) => evaluateNamed(expression, row, scope)),
      ),
  };
}

function sortRows(rows: Row[], orderings: KqlSyntaxNode[], scope: Scope): Row[] {
  const keys = orderings.map((ordering) => {
    const expression = ordering.kind === "OrderedExpression" ? child(ordering, "Expression") : ordering;
    const clause = ordering.kind === "OrderedExpression" ? ordering.named.get("Ordering") : undefined;
    const ascending = clause?.named.get("AscOrDescKeyword")?.text.trim().toLowerCase() === "asc";
    const nullsClause = clause?.named
      .get("NullsClause")
      ?.named.get("FirstOrLastKeyword")
      ?.text.trim()
      .toLowerCase();
    // Kusto's defaults: descending; nulls last when descending, first when ascending.
    const nullsFirst = nullsClause ? nullsClause === "first" : ascending;
    return { expression, ascending, nullsFirst };
  });
  const decorated = rows.map((row, index) => ({
    row,
    index,
    values: keys.map((key) => evaluateScalar(key.expression, row, scope)),
  }));
  decorated.sort((a, b) => {
    for (const [position, key] of keys.entries()) {
      const left = a.values[position];
      const right = b.values[position];
      const leftNull = isNullValue(left);
      const rightNull = isNullValue(right);
      if (leftNull || rightNull) {
        if (leftNull && rightNull) continue;
        return (leftNull ? -1 : 1) * (key.nullsFirst ? 1 : -1);
      }
      const order = compareValues(left, right) ?? toKqlString(left).localeCompare(toKqlString(right));
      if (order !== 0) return key.ascending ? order : -order;
    }
    return a.index - b.index;
  });
  return decorated.map((entry) => entry.row);
}

function distinct(operator: KqlSyntaxNode, input: Tabular, scope: Scope): Tabular {
  const columns = outputColumns(operator);
  const expressions = listItems(operator.named.get("Expressions"));
  const isStar = expressions.length === 1 && expressions[0]?.kind === "StarExpression";
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const row of input.rows) {
    const values = isStar
      ? columns.map((column) => row.get(column.name) ?? null)
      : expressions.map((expression) => evaluateNamed(expression, row, scope));
    const key = values.map(groupKey).join("\u0000");
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push(new Map(columns.map((column, index) => [column.name, values[index] ?? null])));
  }
  return new TabularValue(columns, rows);
}

function union(operator: KqlSyntaxNode, input: Tabular | undefined, scope: Scope): Tabular {
  for (const parameter of listItems(operator.named.get("Parameters"))) {
    const name = parameter.named.get("Name")?.text.trim().toLowerCase();
    const value = parameter.named.get("Expression")?.text.trim().toLowerCase();
    if (!(name === "kind" && value === "outer"))
      throw unsupported(`union parameter ${parameter.text.trim()}`);
  }
  const sources = [
    ...(input ? [input] : []),
    ...listItems(operator.named.get("Expressions")).map((item) => evaluateTabular(item, scope)),
  ];
  const columns = outputColumns(operator);
  const rows = sources.flatMap((source) =>
    source.rows.map((row) => new Map(columns.map((column) => [column.name, row.get(column.name) ?? null]))),
  );
  return new TabularValue(columns, rows);
}

function mvExpand(operator: KqlSyntaxNode, input: Tabular, scope: Scope): Tabular {
  if (listItems(operator.named.get("Parameters")).length > 0) throw unsupported("mv-expand parameters");
  const expressions = listItems(operator.named.get("Expressions"));
  const only = expressions[0];
  if (expressions.length !== 1 || !only || only.named.has("ToTypeOf"))
    throw unsupported("mv-expand of several columns or with 'to typeof'");
  const target = child(only, "Expression");
  const named = target.kind === "SimpleNamedExpression";
  const name = named ? child(target, "Name").text.trim() : target.text.trim();
  if (!named && target.kind !== "NameReference")
    throw unsupported(`mv-expand of the expression "${target.text.trim()}"`);
  const columns = outputColumns(operator);
  const rows: Row[] = [];
  for (const row of input.rows) {
    const value = evaluateNamed(target, row, scope);
    const elements = Array.isArray(value)
      ? value
      : isDynamicValue(value)
        ? Object.entries(value).map(([key, element]) => ({ [key]: element }))
        : [value];
    for (const element of elements) {
      const expanded = new Map(row);
      expanded.set(name, element ?? null);
      rows.push(new Map(columns.map((column) => [column.name, expanded.get(column.name) ?? null])));
    }
  }
  return new TabularValue(columns, rows);
}

function join(operator: KqlSyntaxNode, left: Tabular, scope: Scope): Tabular {
  let kind = "innerunique";
  for (const parameter of listItems(operator.named.get("Parameters"))) {
    const name = parameter.named.get("Name")?.text.trim().toLowerCase();
    if (name !== "kind") throw unsupported(`join parameter ${parameter.text.trim()}`);
    kind = parameter.named.get("Expression")?.text.trim().toLowerCase() ?? kind;
  }
  if (!["inner", "innerunique", "leftouter", "leftsemi", "leftanti"].includes(kind))
    throw unsupported(`join kind=${kind}`);
  const right = evaluateTabular(child(operator, "Expression"), scope);
  const clause = child(operator, "ConditionClause");
  if (clause.kind !== "JoinOnClause") throw unsupported("join without 'on'");
  const keys = listItems(clause.named.get("Expressions")).map(joinKey);
  const keyOf = (row: Row, side: "left" | "right"): string =>
    keys.map((key) => groupKey(row.get(side === "left" ? key.left : key.right) ?? null)).join("\u0000");

  const rightByKey = new Map<string, Row[]>();
  for (const row of right.rows) {
    const key = keyOf(row, "right");
    const matches = rightByKey.get(key);
    if (matches) matches.push(row);
    else rightByKey.set(key, [row]);
  }
  let leftRows = left.rows;
  if (kind === "innerunique") {
    const seen = new Set<string>();
    leftRows = leftRows.filter((row) => {
      const key = keyOf(row, "left");
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  const columns = outputColumns(operator);
  if (kind === "leftsemi" || kind === "leftanti") {
    const wanted = kind === "leftsemi";
    return selectByName(
      columns,
      new TabularValue(
        left.columns,
        leftRows.filter((row) => rightByKey.has(keyOf(row, "left")) === wanted),
      ),
    );
  }
  if (columns.length !== left.columns.length + right.columns.length)
    throw unsupported("join whose result schema could not be matched");
  const combine = (leftRow: Row, rightRow: Row | undefined): Row =>
    new Map(
      columns.map((column, index) => {
        const source =
          index < left.columns.length ? left.columns[index] : right.columns[index - left.columns.length];
        const row = index < left.columns.length ? leftRow : rightRow;
        return [column.name, source && row ? (row.get(source.name) ?? null) : null];
      }),
    );
  const rows: Row[] = [];
  for (const leftRow of leftRows) {
    const matches = rightByKey.get(keyOf(leftRow, "left")) ?? [];
    if (matches.length === 0 && kind === "leftouter") rows.push(combine(leftRow, undefined));
    for (const rightRow of matches) rows.push(combine(leftRow, rightRow));
  }
  return new TabularValue(columns, rows);
}

function joinKey(expression: KqlSyntaxNode): { left: string; right: string } {
  if (expression.kind === "NameReference") {
    const name = expression.text.trim();
    return { left: name, right: name };
  }
  if (expression.kind === "EqualExpression") {
    const sides = [child(expression, "Left"), child(expression, "Right")].map((side) =>
      /^\$(left|right)\.(\w+)$/.exec(side.text.trim()),
    );
    const [first, second] = sides;
    if (first?.[1] && first[2] && second?.[1] && second[2] && first[1] !== second[1]) {
      return first[1] === "left"
        ? { left: first[2], right: second[2] }
        : { left: second[2], right: first[2] };
    }
  }
  throw unsupported(`the join condition "${expression.text.trim()}"`);
}

/**
 * summarize over rows as they come: each group keeps its keys and one accumulator per
 * aggregate (arg_max/arg_min their best row), never the group's rows.
 */
function summarize(operator: KqlSyntaxNode, input: RowStream, scope: Scope): Tabular {
  const columns = outputColumns(operator);
  const byExpressions = listItems(operator.named.get("ByClause")?.named.get("Expressions"));
  const aggregates = listItems(operator.named.get("Aggregates")).map((expression) => {
    const call = expression.kind === "SimpleNamedExpression" ? child(expression, "Expression") : expression;
    const name = call.kind === "FunctionCallExpression" ? child(call, "Name").text.trim().toLowerCase() : "";
    if (!isAggregation(name)) throw unsupported(`the aggregate expression "${expression.text.trim()}"`);
    const args = listItems(child(call, "ArgumentList").named.get("Expressions"));
    const evaluate = (index: number, row: Row): KqlValue => {
      const argument = args[index];
      return argument ? evaluateScalar(argument, row, scope) : null;
    };
    return { name, args, evaluate };
  });
  const singleSlots = aggregates.filter(
    (entry) => entry.name !== "arg_max" && entry.name !== "arg_min",
  ).length;
  const argExtremes = aggregates.length - singleSlots;
  const starSlots = columns.length - byExpressions.length - singleSlots;
  if (argExtremes > 1 || (argExtremes === 0 && starSlots !== 0))
    throw unsupported(`summarize "${operator.text.trim()}" (more than one arg_max/arg_min)`);

  type Slot = { kind: "extreme"; extreme: ExtremeRow<Row> } | { kind: "value"; value: Accumulator<Row> };
  const newGroup = (keys: KqlValue[]) => ({
    keys,
    slots: aggregates.map(
      ({ name, args, evaluate }): Slot =>
        name === "arg_max" || name === "arg_min"
          ? { kind: "extreme", extreme: new ExtremeRow(evaluate, name === "arg_max" ? 1 : -1) }
          : { kind: "value", value: accumulator(name, evaluate, args.length) },
    ),
  });
  const groups = new Map<string, ReturnType<typeof newGroup>>();
  for (const row of input.rows) {
    const keys = byExpressions.map((expression) => evaluateNamed(expression, row, scope));
    const key = keys.map(groupKey).join("\u0000");
    let group = groups.get(key);
    if (!group) {
      group = newGroup(keys);
      groups.set(key, group);
    }
    for (const slot of group.slots) {
      if (slot.kind === "extreme") slot.extreme.add(row);
      else slot.value.add(row);
    }
  }
  if (byExpressions.length === 0 && groups.size === 0) groups.set("", newGroup([]));

  const rows: Row[] = [];
  for (const group of groups.values()) {
    const output = new Map<string, KqlValue>();
    let slot = 0;
    const put = (value: KqlValue): void => {
      const column = columns[slot++];
      if (column) output.set(column.name, value);
    };
    for (const key of group.keys) put(key);
    for (const [index, { name, args, evaluate }] of aggregates.entries()) {
      const state = group.slots[index];
      if (state?.kind === "extreme") {
        const best = state.extreme.best;
        put(best ? evaluate(0, best) : null);
        const extras = args.slice(1);
        if (extras.length === 1 && extras[0]?.kind === "StarExpression") {
          for (let remaining = starSlots - 1; remaining > 0; remaining--) {
            const column = columns[slot];
            put(best && column ? (best.get(column.name) ?? null) : null);
          }
        } else {
          if (extras.length !== starSlots - 1)
            throw unsupported(`${name} whose result schema could not be matched`);
          for (const extra of extras) put(best ? evaluateNamed(extra, best, scope) : null);
        }
      } else {
        put(state ? state.value.result() : null);
      }
    }
    rows.push(output);
  }
  return new TabularValue(columns, rows);
}

// --- Scalar expressions ------------------------------------------------------------------

function literalBody(text: string): string {
  const wrapped = /^\s*\w+\s*\(([\s\S]*)\)\s*$/.exec(text);
  const body = (wrapped?.[1] ?? text).trim();
  const quoted = /^(['"])([\s\S]*)\1$/.exec(body);
  return quoted?.[2] ?? body;
}

function parseNumberLiteral(text: string): number | null {
  const body = literalBody(text);
  if (body.toLowerCase() === "null") return null;
  const value = Number(body);
  if (Number.isNaN(value)) throw unsupported(`the literal ${text.trim()}`);
  return value;
}

const NOT_A_LITERAL = Symbol("not a literal");
const LITERAL_KINDS = new Set([
  "StringLiteralExpression",
  "LongLiteralExpression",
  "IntLiteralExpression",
  "RealLiteralExpression",
  "DecimalLiteralExpression",
  "BooleanLiteralExpression",
  "DateTimeLiteralExpression",
  "TimespanLiteralExpression",
  "GuidLiteralExpression",
  "NullLiteralExpression",
  "DynamicExpression",
]);
/** Each literal node's value, worked out once per query (a query reads it once per row). */
const literalValues = new WeakMap<KqlSyntaxNode, KqlValue | typeof NOT_A_LITERAL>();

/** The value of a literal node, or undefined when the node is not a literal. */
function evaluateLiteral(node: KqlSyntaxNode): KqlValue {
  if (!LITERAL_KINDS.has(node.kind)) return undefined;
  const known = literalValues.get(node);
  if (known !== undefined) return known === NOT_A_LITERAL ? undefined : known;
  const value = literalValue(node);
  literalValues.set(node, value === undefined ? NOT_A_LITERAL : value);
  return value;
}

function literalValue(node: KqlSyntaxNode): KqlValue {
  const text = node.text.trim();
  switch (node.kind) {
    case "StringLiteralExpression":
      return node.stringValue ?? literalBody(text);
    case "LongLiteralExpression":
    case "IntLiteralExpression":
    case "RealLiteralExpression":
    case "DecimalLiteralExpression":
      return parseNumberLiteral(text);
    case "BooleanLiteralExpression": {
      const body = literalBody(text).toLowerCase();
      return body === "null" ? null : body === "true";
    }
    case "DateTimeLiteralExpression": {
      const body = literalBody(text);
      if (body.toLowerCase() === "null") return null;
      const date = parseDateTime(body);
      if (!date) throw new KqlError("SemanticError", `The datetime literal ${text} is not valid.`);
      return date;
    }
    case "TimespanLiteralExpression": {
      const span = parseTimespan(text);
      if (span === undefined) throw unsupported(`the timespan literal ${text}`);
      return span;
    }
    case "GuidLiteralExpression": {
      const body = literalBody(text);
      return body.toLowerCase() === "null" ? null : body;
    }
    case "NullLiteralExpression":
      return null;
    case "DynamicExpression":
      return evaluateJson(child(node, "Expression"));
    default:
      return undefined;
  }
}

const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", "0": "\0" };

/** Unquotes a string token such as 'a', "b\\n" or @"c:\\d". */
function unquoteStringToken(text: string): string {
  const trimmed = text.trim();
  const verbatim = trimmed.startsWith("@");
  const quoted = verbatim ? trimmed.slice(1) : trimmed;
  const quote = quoted[0] ?? "";
  const body = quoted.slice(1, -1);
  if (verbatim) return body.replaceAll(`${quote}${quote}`, quote);
  return body.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escaped: string) =>
    escaped.length > 1
      ? String.fromCharCode(Number.parseInt(escaped.slice(1), 16))
      : (escapes[escaped] ?? escaped),
  );
}

/** The value of a dynamic literal, from its parsed JSON syntax. */
function evaluateJson(node: KqlSyntaxNode): unknown {
  switch (node.kind) {
    case "JsonArrayExpression":
      return listItems(node.named.get("Values")).map(evaluateJson);
    case "JsonObjectExpression": {
      const bag: Record<string, unknown> = {};
      for (const pair of listItems(node.named.get("Pairs"))) {
        bag[unquoteStringToken(child(pair, "Name").text)] = evaluateJson(child(pair, "Value"));
      }
      return bag;
    }
    case "UnaryMinusExpression": {
      const value = evaluateJson(child(node, "Expression"));
      return typeof value === "number" ? -value : null;
    }
    default: {
      const value = evaluateLiteral(node);
      if (value === undefined || value instanceof Date || value instanceof Timespan) {
        throw unsupported(`the dynamic literal part ${node.text.trim()}`);
      }
      return value;
    }
  }
}

export function evaluateScalar(node: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  const literal = evaluateLiteral(node);
  if (literal !== undefined) return literal;
  switch (node.kind) {
    case "ParenthesizedExpression":
      return evaluateScalar(child(node, "Expression"), row, scope);
    case "NameReference":
      return evaluateName(node, row, scope);
    case "FunctionCallExpression":
      return evaluateCall(node, row, scope);
    case "PathExpression":
      return member(
        evaluateScalar(child(node, "Expression"), row, scope),
        selectorKey(child(node, "Selector"), row, scope),
      );
    case "ElementExpression":
      return member(
        evaluateScalar(child(node, "Expression"), row, scope),
        selectorKey(child(node, "Selector"), row, scope),
      );
    case "UnaryMinusExpression": {
      const value = evaluateScalar(child(node, "Expression"), row, scope);
      if (typeof value === "number") return -value;
      if (value instanceof Timespan) return new Timespan(-value.ms);
      return null;
    }
    case "UnaryPlusExpression":
      return evaluateScalar(child(node, "Expression"), row, scope);
    case "BetweenExpression":
    case "NotBetweenExpression":
      return evaluateBetween(node, row, scope);
    default:
      if (node.named.has("Left") && node.named.has("Operator") && node.named.has("Right"))
        return evaluateBinary(node, row, scope);
      throw unsupported(`the expression "${node.text.trim()}" (${node.kind})`);
  }
}

/** Each name reference's name, worked out once per query. */
const referencedNames = new WeakMap<KqlSyntaxNode, string>();

function referencedName(node: KqlSyntaxNode): string {
  let name = referencedNames.get(node);
  if (name === undefined) {
    name = node.text.trim().replace(/^\[['"](.*)['"]\]$/, "$1");
    referencedNames.set(node, name);
  }
  return name;
}

function evaluateName(node: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  const name = referencedName(node);
  // A row's get is undefined only for a column it lacks (a missing value is null).
  const cell = row?.get(name);
  if (node.symbol?.kind !== "Variable" && cell !== undefined) return cell;
  if (scope.variables.has(name)) {
    const value = scope.variables.get(name);
    if (value instanceof TabularValue) throw unsupported(`the tabular variable '${name}' used as a scalar`);
    return value;
  }
  if (cell !== undefined || row?.has(name)) return cell;
  if (node.symbol?.kind === "Column") return null;
  throw unsupported(`the name '${name}' here`);
}

function selectorKey(selector: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  if (selector.kind === "NameReference") return selector.text.trim();
  if (selector.kind === "BracketedExpression")
    return evaluateScalar(child(selector, "Expression"), row, scope);
  if (selector.kind === "BracketedName") return literalBody(child(selector, "Name").text);
  throw unsupported(`the member access "${selector.text.trim()}"`);
}

/** Dynamic member access: bag["key"] or array[index] (negative indexes count from the end). */
function member(container: KqlValue, key: KqlValue): KqlValue {
  if (Array.isArray(container) && typeof key === "number") {
    const index = key < 0 ? container.length + key : key;
    return (container[index] as KqlValue) ?? null;
  }
  if (isDynamicValue(container) && !Array.isArray(container) && typeof key === "string") {
    return Object.hasOwn(container, key) ? ((container[key] as KqlValue) ?? null) : null;
  }
  return null;
}

function evaluateCall(node: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  const name = child(node, "Name").text.trim();
  const args = listItems(child(node, "ArgumentList").named.get("Expressions"));
  const lower = name.toLowerCase();
  if (isAggregation(lower) && !["max_of", "min_of"].includes(lower)) {
    throw unsupported(`the aggregation ${name}() outside summarize`);
  }
  if (lower === "column_ifexists") return columnIfExists(args, row, scope);
  // iif/case/coalesce evaluate lazily in Kusto; evaluating every argument is equivalent here.
  const values = args.map((argument) => evaluateScalar(argument, row, scope));
  return callScalarFunction(name, values, { now: scope.now });
}

/**
 * `column_ifexists('name', default)`: the column's value when the input has a column of that
 * name, else the default. The language service resolves it against the table's schema, which is
 * why a query names a column that may not exist this way (a plain reference to it fails).
 */
function columnIfExists(args: KqlSyntaxNode[], row: Row | undefined, scope: Scope): KqlValue {
  const [nameArgument, fallback] = args;
  if (!nameArgument || !fallback || nameArgument.kind !== "StringLiteralExpression") {
    throw unsupported("column_ifexists() without a constant column name and a default");
  }
  const name = nameArgument.stringValue ?? literalBody(nameArgument.text);
  if (row?.has(name)) return row.get(name) ?? null;
  return evaluateScalar(fallback, row, scope);
}

function evaluateBetween(node: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  const value = evaluateScalar(child(node, "Left"), row, scope);
  const range = child(node, "Right");
  const low = evaluateScalar(child(range, "First"), row, scope);
  let high = evaluateScalar(child(range, "Second"), row, scope);
  // `x between (start .. 1d)` means start to start + 1d for datetimes.
  if (low instanceof Date && high instanceof Timespan) high = new Date(low.getTime() + high.ms);
  if (isNullValue(value) || isNullValue(low) || isNullValue(high)) return null;
  const fromLow = compareValues(value, low);
  const toHigh = compareValues(value, high);
  if (fromLow === undefined || toHigh === undefined) return null;
  const inside = fromLow >= 0 && toHigh <= 0;
  return node.kind === "NotBetweenExpression" ? !inside : inside;
}

function isWordCharacter(character: string | undefined): boolean {
  return character !== undefined && /[\p{L}\p{N}_]/u.test(character);
}

/** Kusto's `has`: the needle appears as whole term(s), case-insensitively. */
export function hasTerm(haystack: string, needle: string, caseSensitive = false): boolean {
  const text = caseSensitive ? haystack : haystack.toLowerCase();
  const term = caseSensitive ? needle : needle.toLowerCase();
  if (term === "") return true;
  for (let start = text.indexOf(term); start >= 0; start = text.indexOf(term, start + 1)) {
    const before = text[start - 1];
    const after = text[start + term.length];
    const boundedBefore = !isWordCharacter(term[0]) || !isWordCharacter(before);
    const boundedAfter = !isWordCharacter(term[term.length - 1]) || !isWordCharacter(after);
    if (boundedBefore && boundedAfter) return true;
  }
  return false;
}

/** A list of string literals (`in ('a', 'b')`), as sets: worked out once per node, not once per row. */
const stringLists = new WeakMap<KqlSyntaxNode, { exact: Set<string>; folded: Set<string> } | null>();

function stringList(list: KqlSyntaxNode): { exact: Set<string>; folded: Set<string> } | undefined {
  const known = stringLists.get(list);
  if (known !== undefined) return known ?? undefined;
  const exact = new Set<string>();
  let constant = true;
  for (const item of listItems(list.named.get("Expressions"))) {
    const value = item.kind === "StringLiteralExpression" ? evaluateLiteral(item) : undefined;
    if (typeof value !== "string") {
      constant = false;
      break;
    }
    exact.add(value);
  }
  const sets = constant ? { exact, folded: new Set([...exact].map((value) => value.toLowerCase())) } : null;
  stringLists.set(list, sets);
  return sets ?? undefined;
}

function listValues(list: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue[] {
  const values: KqlValue[] = [];
  for (const item of listItems(list.named.get("Expressions"))) {
    if (item.columns) {
      const table = evaluateTabular(item, scope);
      const first = table.columns[0];
      if (first) values.push(...table.rows.map((tableRow) => tableRow.get(first.name) ?? null));
      continue;
    }
    const value = evaluateScalar(item, row, scope);
    if (Array.isArray(value)) values.push(...(value as KqlValue[]));
    else values.push(value);
  }
  return values;
}

type StringPredicate = (left: string, right: string) => boolean;

const stringOperators: Record<string, StringPredicate> = {
  "=~": (l, r) => l.toLowerCase() === r.toLowerCase(),
  has: (l, r) => hasTerm(l, r),
  has_cs: (l, r) => hasTerm(l, r, true),
  contains: (l, r) => l.toLowerCase().includes(r.toLowerCase()),
  contains_cs: (l, r) => l.includes(r),
  startswith: (l, r) => l.toLowerCase().startsWith(r.toLowerCase()),
  startswith_cs: (l, r) => l.startsWith(r),
  endswith: (l, r) => l.toLowerCase().endsWith(r.toLowerCase()),
  endswith_cs: (l, r) => l.endsWith(r),
  hasprefix: (l, r) =>
    l
      .toLowerCase()
      .split(/[^\p{L}\p{N}_]+/u)
      .some((term) => term.startsWith(r.toLowerCase())),
  hassuffix: (l, r) =>
    l
      .toLowerCase()
      .split(/[^\p{L}\p{N}_]+/u)
      .some((term) => term.endsWith(r.toLowerCase())),
};

function evaluateBinary(node: KqlSyntaxNode, row: Row | undefined, scope: Scope): KqlValue {
  const operator = child(node, "Operator").text.trim().toLowerCase().replace(/\s+/g, " ");
  if (operator === "and" || operator === "or") {
    const left = toBoolValue(evaluateScalar(child(node, "Left"), row, scope));
    if (operator === "and" && left === false) return false;
    if (operator === "or" && left === true) return true;
    const right = toBoolValue(evaluateScalar(child(node, "Right"), row, scope));
    if (operator === "and") return right === false ? false : left === null || right === null ? null : true;
    return right === true ? true : left === null || right === null ? null : false;
  }
  const left = evaluateScalar(child(node, "Left"), row, scope);
  const rightNode = child(node, "Right");

  const inOperator = /^(!?)(in~?|has_any)$/.exec(operator);
  if (inOperator) {
    const negate = inOperator[1] === "!";
    const constant = inOperator[2] !== "has_any" ? stringList(rightNode) : undefined;
    if (constant && typeof left === "string") {
      const text: string = left;
      const found =
        inOperator[2] === "in~" ? constant.folded.has(text.toLowerCase()) : constant.exact.has(text);
      return negate ? !found : found;
    }
    const candidates = listValues(rightNode, row, scope);
    let found: boolean;
    if (inOperator[2] === "has_any") {
      found = candidates.some((candidate) => hasTerm(toKqlString(left), toKqlString(candidate)));
    } else {
      if (isNullValue(left)) return null;
      found = candidates.some((candidate) => valuesEqual(left, candidate, inOperator[2] === "in~"));
    }
    return negate ? !found : found;
  }

  const right = evaluateScalar(rightNode, row, scope);
  const negated = /^!(.+)$/.exec(operator)?.[1];
  const stringOperator =
    stringOperators[operator] ?? (negated && operator !== "!=" ? stringOperators[negated] : undefined);
  if (operator === "!~") return !stringOperators["=~"]?.(toKqlString(left), toKqlString(right));
  if (stringOperator) {
    const result = stringOperator(toKqlString(left), toKqlString(right));
    return negated && operator !== "!=" ? !result : result;
  }
  if (operator === "matches regex") return compileRegex(toKqlString(right)).test(toKqlString(left));

  switch (operator) {
    case "==":
      return isNullValue(left) || isNullValue(right) ? null : valuesEqual(left, right);
    case "!=":
    case "<>":
      return isNullValue(left) || isNullValue(right) ? null : !valuesEqual(left, right);
    case "<":
    case "<=":
    case ">":
    case ">=": {
      if (isNullValue(left) || isNullValue(right)) return null;
      const order = compareValues(left, right);
      if (order === undefined) return null;
      return operator === "<"
        ? order < 0
        : operator === "<="
          ? order <= 0
          : operator === ">"
            ? order > 0
            : order >= 0;
    }
    case "+":
    case "-":
    case "*":
    case "/":
    case "%":
      return arithmetic(operator, left, right, node.scalarType === "long" || node.scalarType === "int");
    default:
      throw unsupported(`operator ${operator}`);
  }
}

function arithmetic(operator: string, left: KqlValue, right: KqlValue, integral: boolean): KqlValue {
  if (isNullValue(left) || isNullValue(right)) return null;
  if (left instanceof Date && right instanceof Timespan) {
    if (operator === "+") return new Date(left.getTime() + right.ms);
    if (operator === "-") return new Date(left.getTime() - right.ms);
  }
  if (left instanceof Timespan && right instanceof Date && operator === "+")
    return new Date(right.getTime() + left.ms);
  if (left instanceof Date && right instanceof Date && operator === "-")
    return new Timespan(left.getTime() - right.getTime());
  if (left instanceof Timespan && right instanceof Timespan) {
    if (operator === "+") return new Timespan(left.ms + right.ms);
    if (operator === "-") return new Timespan(left.ms - right.ms);
    if (operator === "/") return right.ms === 0 ? null : left.ms / right.ms;
  }
  if (left instanceof Timespan && typeof right === "number") {
    if (operator === "*") return new Timespan(left.ms * right);
    if (operator === "/") return right === 0 ? null : new Timespan(left.ms / right);
  }
  if (typeof left === "number" && right instanceof Timespan && operator === "*")
    return new Timespan(left * right.ms);
  if (typeof left !== "number" || typeof right !== "number") return null;
  switch (operator) {
    case "+":
      return left + right;
    case "-":
      return left - right;
    case "*":
      return left * right;
    case "/":
      if (right === 0) return integral ? null : left / right;
      return integral ? Math.trunc(left / right) : left / right;
    default:
      return right === 0 ? null : left % right;
  }
}
