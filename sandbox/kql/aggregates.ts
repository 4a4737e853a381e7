/**
 * Kusto's aggregation functions for `summarize`. Each reduces the rows of one group to a
 * value, a row at a time; `evaluate(argumentIndex, row)` computes an argument of the call for
 * a row.
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

/**
 * One group's aggregation, fed a row at a time (`summarize` keeps no rows of its groups):
 * `add` each row of the group, then `result`.
 */
export interface Accumulator<Row> {
  add(row: Row): void;
  result(): KqlValue;
}

type AccumulatorFactory = <Row>(evaluate: ArgumentEvaluator<Row>, argumentCount: number) => Accumulator<Row>;

function extreme(direction: 1 | -1): AccumulatorFactory {
  return <Row>(evaluate: ArgumentEvaluator<Row>) => {
    let best: KqlValue = null;
    return {
      add(row: Row) {
        const value = evaluate(0, row);
        if (isNullValue(value) || value === "") return;
        const order = compareValues(value, best);
        if (isNullValue(best) || (order !== undefined && order * direction > 0)) best = value;
      },
      result: () => best,
    };
  };
}

function makeSet(distinct: boolean): AccumulatorFactory {
  return <Row>(evaluate: ArgumentEvaluator<Row>, argumentCount: number) => {
    // The size limit is the second argument, evaluated on the group's first row.
    let limit: number | undefined;
    const seen = new Set<string>();
    const values: unknown[] = [];
    return {
      add(row: Row) {
        limit ??= argumentCount > 1 ? (toNumberValue(evaluate(1, row)) ?? 1_048_576) : 1_048_576;
        if (values.length >= limit) return;
        const value = evaluate(0, row);
        if (isNullValue(value)) return;
        const elements = Array.isArray(value) && distinct ? value : [value];
        for (const element of elements) {
          const key = groupKey(element);
          if (distinct && seen.has(key)) continue;
          seen.add(key);
          values.push(toDynamicValue(element));
        }
      },
      result: () => values,
    };
  };
}

function counting(counts: <Row>(evaluate: ArgumentEvaluator<Row>, row: Row) => boolean): AccumulatorFactory {
  return <Row>(evaluate: ArgumentEvaluator<Row>) => {
    let count = 0;
    return {
      add(row: Row) {
        if (counts(evaluate, row)) count++;
      },
      result: () => count,
    };
  };
}

const aggregations: Record<string, AccumulatorFactory> = {
  count: counting(() => true),
  countif: counting((evaluate, row) => toBoolValue(evaluate(0, row)) === true),
  sum: <Row>(evaluate: ArgumentEvaluator<Row>) => {
    let total = 0;
    return {
      add(row: Row) {
        total += toNumberValue(evaluate(0, row)) ?? 0;
      },
      result: () => total,
    };
  },
  avg: <Row>(evaluate: ArgumentEvaluator<Row>) => {
    let total = 0;
    let count = 0;
    return {
      add(row: Row) {
        const value = toNumberValue(evaluate(0, row));
        if (value === null) return;
        total += value;
        count++;
      },
      result: () => (count === 0 ? null : total / count),
    };
  },
  max: extreme(1),
  min: extreme(-1),
  dcount: <Row>(evaluate: ArgumentEvaluator<Row>) => {
    const keys = new Set<string>();
    return {
      add(row: Row) {
        const value = evaluate(0, row);
        if (!isNullValue(value)) keys.add(groupKey(value));
      },
      result: () => keys.size,
    };
  },
  make_set: makeSet(true),
  make_list: makeSet(false),
  take_any: <Row>(evaluate: ArgumentEvaluator<Row>) => {
    let found: KqlValue = null;
    return {
      add(row: Row) {
        if (isNullValue(found)) found = evaluate(0, row);
      },
      result: () => (isNullValue(found) ? null : found),
    };
  },
};
aggregations.any = aggregations.take_any as AccumulatorFactory;

export function isAggregation(name: string): boolean {
  const lower = name.toLowerCase();
  return Object.hasOwn(aggregations, lower) || lower === "arg_max" || lower === "arg_min";
}

/** A fresh accumulator of the aggregation `name` (not arg_max/arg_min: see ExtremeRow). */
export function accumulator<Row>(
  name: string,
  evaluate: ArgumentEvaluator<Row>,
  argumentCount: number,
): Accumulator<Row> {
  const factory = aggregations[name.toLowerCase()];
  if (!factory) throw unsupported(`aggregation ${name}()`);
  return factory(evaluate, argumentCount);
}

/** The row with the greatest (direction 1) or least (-1) value of argument 0, for arg_max/arg_min, fed a row at a time. */
export class ExtremeRow<Row> {
  private bestValue: KqlValue = null;
  best: Row | undefined;

  constructor(
    private readonly evaluate: ArgumentEvaluator<Row>,
    private readonly direction: 1 | -1,
  ) {}

  add(row: Row): void {
    const value = this.evaluate(0, row);
    if (isNullValue(value)) return;
    const order = compareValues(value, this.bestValue);
    if (this.best === undefined || (order !== undefined && order * this.direction > 0)) {
      this.best = row;
      this.bestValue = value;
    }
  }
}
