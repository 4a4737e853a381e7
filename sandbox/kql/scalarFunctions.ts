/**
 * Kusto's scalar functions that the sandbox implements. Arguments arrive evaluated; a
 * function that is not listed here makes the query fail with UnsupportedQuery.
 */
import { KqlError, unsupported } from "./types.js";
import {
  isDynamicValue,
  isNullValue,
  type KqlValue,
  parseTimespan,
  Timespan,
  toBoolValue,
  toDateValue,
  toDynamicValue,
  toKqlString,
  toNumberValue,
} from "./values.js";

export interface FunctionContext {
  now: number;
}

type ScalarFunction = (args: KqlValue[], context: FunctionContext) => KqlValue;

function arg(args: KqlValue[], index: number): KqlValue {
  return args[index] ?? null;
}

function isEmpty(value: KqlValue): boolean {
  return isNullValue(value) || value === "";
}

function toInteger(value: KqlValue): number | null {
  const number = toNumberValue(typeof value === "boolean" ? null : value);
  return number === null ? null : Math.trunc(number);
}

function binValue(value: KqlValue, size: KqlValue): KqlValue {
  if (isNullValue(value) || isNullValue(size)) return null;
  if (value instanceof Date && size instanceof Timespan) {
    if (size.ms <= 0) return null;
    return new Date(Math.floor(value.getTime() / size.ms) * size.ms);
  }
  if (value instanceof Timespan && size instanceof Timespan) {
    return size.ms <= 0 ? null : new Timespan(Math.floor(value.ms / size.ms) * size.ms);
  }
  if (typeof value === "number" && typeof size === "number") {
    return size <= 0 ? null : Math.floor(value / size) * size;
  }
  return null;
}

function extractGroup(pattern: KqlValue, group: KqlValue, source: KqlValue): KqlValue {
  const regex = compileRegex(toKqlString(pattern));
  const match = regex.exec(toKqlString(source));
  const index = toInteger(group) ?? 0;
  return match?.[index] ?? "";
}

export function compileRegex(pattern: string): RegExp {
  try {
    // RE2's inline flags such as (?i) have no JavaScript form; honour the common one.
    if (pattern.startsWith("(?i)")) return new RegExp(pattern.slice(4), "i");
    return new RegExp(pattern);
  } catch (error) {
    throw new KqlError(
      "SemanticError",
      `The regular expression ${JSON.stringify(pattern)} is not valid: ${(error as Error).message}`,
    );
  }
}

function splitString(source: KqlValue, delimiter: KqlValue, index: KqlValue): KqlValue {
  const parts = toKqlString(source).split(toKqlString(delimiter));
  if (isNullValue(index)) return parts;
  const position = toInteger(index);
  if (position === null || position < 0 || position >= parts.length) return [];
  return [parts[position]];
}

function packBag(args: KqlValue[]): KqlValue {
  if (args.length % 2 !== 0)
    throw new KqlError(
      "SemanticError",
      "bag_pack() expects an even number of arguments: key1, value1, key2, value2, ...",
    );
  const bag: Record<string, unknown> = {};
  for (let index = 0; index < args.length; index += 2) {
    bag[toKqlString(args[index])] = toDynamicValue(args[index + 1]);
  }
  return bag;
}

function caseOf(args: KqlValue[]): KqlValue {
  for (let index = 0; index + 1 < args.length; index += 2) {
    if (toBoolValue(args[index]) === true) return arg(args, index + 1);
  }
  return arg(args, args.length - 1);
}

const scalarFunctions: Record<string, ScalarFunction> = {
  isempty: (args) => isEmpty(arg(args, 0)),
  isnotempty: (args) => !isEmpty(arg(args, 0)),
  isnull: (args) => isNullValue(arg(args, 0)),
  isnotnull: (args) => !isNullValue(arg(args, 0)),
  not: (args) => {
    const value = toBoolValue(arg(args, 0));
    return value === null ? null : !value;
  },
  tostring: (args) => toKqlString(arg(args, 0)),
  tolower: (args) => toKqlString(arg(args, 0)).toLowerCase(),
  toupper: (args) => toKqlString(arg(args, 0)).toUpperCase(),
  strlen: (args) => toKqlString(arg(args, 0)).length,
  toint: (args) => toInteger(arg(args, 0)),
  tolong: (args) => toInteger(arg(args, 0)),
  todouble: (args) => toNumberValue(arg(args, 0)),
  toreal: (args) => toNumberValue(arg(args, 0)),
  todatetime: (args) => toDateValue(arg(args, 0)),
  totimespan: (args) => {
    const value = arg(args, 0);
    return value instanceof Timespan
      ? value
      : typeof value === "string"
        ? (parseTimespan(value) ?? null)
        : null;
  },
  tobool: (args) => toBoolValue(arg(args, 0)),
  toboolean: (args) => toBoolValue(arg(args, 0)),
  todynamic: (args) => toDynamicValue(arg(args, 0)),
  parse_json: (args) => toDynamicValue(arg(args, 0)),
  strcat: (args) => args.map(toKqlString).join(""),
  split: (args) => splitString(arg(args, 0), arg(args, 1), arg(args, 2)),
  extract: (args) => extractGroup(arg(args, 0), arg(args, 1), arg(args, 2)),
  iif: (args) => (toBoolValue(arg(args, 0)) === true ? arg(args, 1) : arg(args, 2)),
  iff: (args) => (toBoolValue(arg(args, 0)) === true ? arg(args, 1) : arg(args, 2)),
  case: caseOf,
  coalesce: (args) => args.find((value) => !isEmpty(value)) ?? arg(args, args.length - 1),
  now: (args, context) => {
    const offset = arg(args, 0);
    return new Date(context.now + (offset instanceof Timespan ? offset.ms : 0));
  },
  ago: (args, context) => {
    const span = arg(args, 0);
    return span instanceof Timespan ? new Date(context.now - span.ms) : null;
  },
  bin: (args) => binValue(arg(args, 0), arg(args, 1)),
  floor: (args) => binValue(arg(args, 0), arg(args, 1)),
  pack: packBag,
  bag_pack: packBag,
  pack_array: (args) => args.map(toDynamicValue),
  array_length: (args) => {
    const value = arg(args, 0);
    return Array.isArray(value) ? value.length : null;
  },
  substring: (args) => {
    const text = toKqlString(arg(args, 0));
    const start = Math.max(0, toInteger(arg(args, 1)) ?? 0);
    const length = toInteger(arg(args, 2));
    return length === null ? text.slice(start) : text.slice(start, start + Math.max(0, length));
  },
  bag_keys: (args) => {
    const value = arg(args, 0);
    return isDynamicValue(value) && !Array.isArray(value) ? Object.keys(value) : null;
  },
};

export function callScalarFunction(name: string, args: KqlValue[], context: FunctionContext): KqlValue {
  const implementation = scalarFunctions[name.toLowerCase()];
  if (!implementation) throw unsupported(`function ${name}()`);
  return implementation(args, context);
}

export function isScalarFunction(name: string): boolean {
  return Object.hasOwn(scalarFunctions, name.toLowerCase());
}
