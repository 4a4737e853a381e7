/**
 * Kusto's aggregation functions for `summarize`. Each reduces the rows of one group to a
 * value; `evaluate(argumentIndex, row)` computes an argument of the call for a row.
 */
import { unsupported } from "./types.js";
import {
  compareValues,
  groupKey,
  isNullValue,
  type KqlValue,
  toBoolValue,
  toDynamicValue,
  toNumberValue,
} from "./values.js";

export type ArgumentEvaluator<Row> = (argumentIndex: number, row: Row) => KqlValue;

type Aggregation = <Row>(rows: Row[], evaluate: ArgumentEvaluator<Row>, argumentCount: number) => KqlValue;

function extreme<Row>(rows: Row[], evaluate: ArgumentEvaluator<Row>, direction: 1 | -1): KqlValue {
  let best: KqlValue = null;
  for (const row of rows) {
    const value = evaluate(0, row);
    if (isNullValue(value) || value === "") continue;
    const order = compareValues(value, best);
    if (isNullValue(best) || (order !== undefined && order * direction > 0)) best = value;
  }
  return best;
}

function makeSet<Row>(
  rows: Row[],
  evaluate: ArgumentEvaluator<Row>,
  argumentCount: number,
  distinct: boolean,
): KqlValue {
  const limit = argumentCount > 1 ? (toNumberValue(evaluate(1, rows[0] as Row)) ?? 1_048_576) : 1_048_576;
  const seen = new Set<string>();
  const values: unknown[] = [];
  for (const row of rows) {
    if (values.length >= limit) break;
    const value = evaluate(0, row);
    if (isNullValue(value)) continue;
    const elements = Array.isArray(value) && distinct ? value : [value];
    for (const element of elements) {
      const key = groupKey(element);
      if (distinct && seen.has(key)) continue;
      seen.add(key);
      values.push(toDynamicValue(element));
    }
  }
  return values;
}

const aggregations: Record<string, Aggregation> = {
  count: (rows) => rows.length,
  countif: (rows, evaluate) => rows.filter((row) => toBoolValue(evaluate(0, row)) === true).length,
  sum: (rows, evaluate) =>
    rows.reduce<number>((total, row) => total + (toNumberValue(evaluate(0, row)) ?? 0), 0),
  avg: (rows, evaluate) => {
    const numbers = rows
      .map((row) => toNumberValue(evaluate(0, row)))
      .filter((value): value is number => value !== null);
    return numbers.length === 0 ? null : numbers.reduce((total, value) => total + value, 0) / numbers.length;
  },
  max: (rows, evaluate) => extreme(rows, evaluate, 1),
  min: (rows, evaluate) => extreme(rows, evaluate, -1),
  dcount: (rows, evaluate) => {
    const keys = new Set<string>();
    for (const row of rows) {
      const value = evaluate(0, row);
      if (!isNullValue(value)) keys.add(groupKey(value));
    }
    return keys.size;
  },
  make_set: (rows, evaluate, count) => makeSet(rows, evaluate, count, true),
  make_list: (rows, evaluate, count) => makeSet(rows, evaluate, count, false),
  take_any: (rows, evaluate) => {
    for (const row of rows) {
      const value = evaluate(0, row);
      if (!isNullValue(value)) return value;
    }
    return null;
  },
};
aggregations.any = aggregations.take_any as Aggregation;

export function isAggregation(name: string): boolean {
  const lower = name.toLowerCase();
  return Object.hasOwn(aggregations, lower) || lower === "arg_max" || lower === "arg_min";
}

export function aggregate<Row>(
  name: string,
  rows: Row[],
  evaluate: ArgumentEvaluator<Row>,
  argumentCount: number,
): KqlValue {
  const aggregation = aggregations[name.toLowerCase()];
  if (!aggregation) throw unsupported(`aggregation ${name}()`);
  return aggregation(rows, evaluate, argumentCount);
}

/** The row with the greatest (direction 1) or least (-1) value of argument 0, for arg_max/arg_min. */
export function extremeRow<Row>(
  rows: Row[],
  evaluate: ArgumentEvaluator<Row>,
  direction: 1 | -1,
): Row | undefined {
  let best: Row | undefined;
  let bestValue: KqlValue = null;
  for (const row of rows) {
    const value = evaluate(0, row);
    if (isNullValue(value)) continue;
    const order = compareValues(value, bestValue);
    if (best === undefined || (order !== undefined && order * direction > 0)) {
      best = row;
      bestValue = value;
    }
  }
  return best;
}
