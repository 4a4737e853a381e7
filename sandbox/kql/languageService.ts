/**
 * A narrow, typed facade over `@kusto/language-service-next`, a Bridge.NET build that
 * defines the globals `Bridge`, `System` and `Kusto` when its scripts are required. We
 * parse and analyse each query with it, then copy the analysed syntax tree into plain
 * objects (`KqlSyntaxNode`) so that the evaluator never touches the Bridge objects.
 */
import { createRequire } from "node:module";
import type { KqlColumn, KqlType } from "./types.js";

/** A diagnostic of the language service (errors only are kept). */
export interface KqlDiagnostic {
  code: string;
  message: string;
  start: number;
  length: number;
  isSyntax: boolean;
}

export interface KqlSymbolRef {
  /** "Column", "Variable", "Table", "Function", "Operator", ... (the Symbol class name without "Symbol"). */
  kind: string;
  name: string;
}

/** One node of the analysed syntax tree, as plain data. Tokens are nodes without children. */
export interface KqlSyntaxNode {
  /** The SyntaxKind name, e.g. "FilterOperator", "AndExpression", "WhereKeyword". */
  kind: string;
  /** Source text without leading trivia. */
  text: string;
  isToken: boolean;
  /** Named children (Kusto's child names: "Expression", "Operator", "Left", ...). */
  named: Map<string, KqlSyntaxNode>;
  /** Elements of a list node (separators dropped), else empty. */
  items: KqlSyntaxNode[];
  /** The scalar result type of an expression, when it has one. */
  scalarType?: KqlType;
  /** The columns of a tabular expression's result. */
  columns?: KqlColumn[];
  symbol?: KqlSymbolRef;
  /** Unescaped value of a string literal. */
  stringValue?: string;
}

export interface AnalysedQuery {
  root: KqlSyntaxNode;
  diagnostics: KqlDiagnostic[];
  /** Columns of the query's result, when it is tabular. */
  resultColumns?: KqlColumn[];
}

// --- The slice of the Bridge.NET API this module uses ------------------------------------

interface BridgeList {
  readonly __bridgeList: unique symbol;
}
interface BridgeType {
  readonly __bridgeType: unique symbol;
}
interface BridgeElement {
  Kind: number;
  IsToken: boolean;
  ChildCount: number;
  GetChild(index: number): BridgeElement | null;
  GetName(index: number): string | null;
  GetContainedSyntaxDiagnostics(): BridgeList;
  ToString(includeTrivia: number): string | null;
  Text?: string | null;
  ValueText?: string | null;
  ResultType?: BridgeTypeSymbol | null;
  ReferencedSymbol?: BridgeSymbol | null;
  LiteralValue?: unknown;
}
interface BridgeSymbol {
  Name: string;
}
interface BridgeTypeSymbol extends BridgeSymbol {
  Columns?: BridgeList;
}
interface BridgeColumnSymbol extends BridgeSymbol {
  Type: BridgeTypeSymbol;
}
interface BridgeDiagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
  Length: number;
}
interface BridgeCode {
  Syntax: BridgeElement;
  ResultType: BridgeTypeSymbol | null;
  GetDiagnostics(): BridgeList;
}
interface BridgeGlobalState {
  WithDatabase(database: unknown): BridgeGlobalState;
}
interface KustoLanguage {
  KustoCode: { ParseAndAnalyze(text: string, globals: BridgeGlobalState): BridgeCode };
  GlobalState: { Default: BridgeGlobalState };
  Diagnostic: BridgeType;
  Syntax: { SyntaxKind: BridgeType };
  Symbols: {
    ColumnSymbol: (new (name: string, type: unknown) => BridgeColumnSymbol) & BridgeType;
    TableSymbol: { $ctor4: new (name: string, columns: BridgeColumnSymbol[]) => BridgeSymbol };
    DatabaseSymbol: { $ctor1: new (name: string, members: BridgeSymbol[], isOpen: boolean) => BridgeSymbol };
    ScalarTypes: Record<string, unknown>;
  };
}
interface BridgeRuntime {
  getTypeName(value: unknown): string;
}
interface SystemRuntime {
  Array: {
    getCount(list: BridgeList, type: BridgeType): number;
    getItem<T>(list: BridgeList, index: number, type: BridgeType): T;
  };
  Enum: { toString(type: BridgeType, value: number): string };
}

interface LanguageService {
  Kusto: KustoLanguage;
  Bridge: BridgeRuntime;
  System: SystemRuntime;
}

let loaded: LanguageService | undefined;

/** Loads the language service once (about 0.3 s); its scripts install globals. */
function languageService(): LanguageService {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  require("@kusto/language-service-next/bridge.js");
  require("@kusto/language-service-next/Kusto.Language.Bridge.js");
  const globals = globalThis as unknown as {
    Kusto?: { Language?: KustoLanguage };
    Bridge?: BridgeRuntime;
    System?: SystemRuntime;
  };
  if (!globals.Kusto?.Language || !globals.Bridge || !globals.System) {
    throw new Error("@kusto/language-service-next did not define the Kusto, Bridge and System globals");
  }
  loaded = { Kusto: globals.Kusto.Language, Bridge: globals.Bridge, System: globals.System };
  return loaded;
}

const scalarTypeNames: Record<KqlType, string> = {
  string: "String",
  datetime: "DateTime",
  real: "Real",
  long: "Long",
  int: "Int",
  bool: "Bool",
  guid: "Guid",
  dynamic: "Dynamic",
  timespan: "TimeSpan",
};

const kqlTypesByName: Record<string, KqlType> = {
  string: "string",
  datetime: "datetime",
  date: "datetime",
  real: "real",
  double: "real",
  decimal: "real",
  long: "long",
  int: "int",
  bool: "bool",
  boolean: "bool",
  guid: "guid",
  uniqueid: "guid",
  dynamic: "dynamic",
  timespan: "timespan",
  time: "timespan",
};

/** The KQL type named by a language-service type symbol, if it is a scalar type we model. */
function kqlTypeOf(typeName: string | undefined): KqlType | undefined {
  return typeName === undefined ? undefined : kqlTypesByName[typeName.toLowerCase()];
}

export interface SchemaTable {
  name: string;
  columns: KqlColumn[];
}

/** Parses and analyses `query` against a database holding `tables`. */
export function analyseQuery(query: string, tables: SchemaTable[]): AnalysedQuery {
  const service = languageService();
  const { Kusto, System } = service;
  const symbols = Kusto.Symbols;
  const tableSymbols = tables.map(
    (table) =>
      new symbols.TableSymbol.$ctor4(
        table.name,
        table.columns.map(
          (column) =>
            new symbols.ColumnSymbol(column.name, symbols.ScalarTypes[scalarTypeNames[column.type]]),
        ),
      ),
  );
  const database = new symbols.DatabaseSymbol.$ctor1("sandbox", tableSymbols, false);
  const globals = Kusto.GlobalState.Default.WithDatabase(database);
  const code = Kusto.KustoCode.ParseAndAnalyze(query, globals);

  const syntaxErrorPositions = new Set<string>();
  const syntaxDiagnostics = code.Syntax.GetContainedSyntaxDiagnostics();
  for (let index = 0; index < System.Array.getCount(syntaxDiagnostics, Kusto.Diagnostic); index++) {
    const diagnostic = System.Array.getItem<BridgeDiagnostic>(syntaxDiagnostics, index, Kusto.Diagnostic);
    syntaxErrorPositions.add(`${diagnostic.Start}:${diagnostic.Code}`);
  }
  const root = copyNode(service, code.Syntax);
  const diagnostics: KqlDiagnostic[] = [];
  const all = code.GetDiagnostics();
  for (let index = 0; index < System.Array.getCount(all, Kusto.Diagnostic); index++) {
    const diagnostic = System.Array.getItem<BridgeDiagnostic>(all, index, Kusto.Diagnostic);
    if (diagnostic.Severity !== "Error") continue;
    diagnostics.push({
      code: diagnostic.Code,
      message: diagnostic.Message,
      start: diagnostic.Start,
      length: diagnostic.Length,
      isSyntax: syntaxErrorPositions.has(`${diagnostic.Start}:${diagnostic.Code}`),
    });
  }
  const resultColumns = code.ResultType ? tableColumns(service, code.ResultType) : undefined;
  return { root, diagnostics, resultColumns };
}

function tableColumns(service: LanguageService, type: BridgeTypeSymbol): KqlColumn[] | undefined {
  const { Bridge, System, Kusto } = service;
  if (!Bridge.getTypeName(type).endsWith(".TableSymbol") || !type.Columns) return undefined;
  const columns: KqlColumn[] = [];
  for (let index = 0; index < System.Array.getCount(type.Columns, Kusto.Symbols.ColumnSymbol); index++) {
    const column = System.Array.getItem<BridgeColumnSymbol>(type.Columns, index, Kusto.Symbols.ColumnSymbol);
    // Types we do not model (decimal is mapped to real) still need a column; dynamic is the honest fallback.
    columns.push({ name: column.Name, type: kqlTypeOf(column.Type.Name) ?? "dynamic" });
  }
  return columns;
}

const includeNoTrivia = 0;

function copyNode(service: LanguageService, element: BridgeElement): KqlSyntaxNode {
  const { Bridge, System, Kusto } = service;
  const kind = System.Enum.toString(Kusto.Syntax.SyntaxKind, element.Kind);
  const node: KqlSyntaxNode = {
    kind,
    text: element.ToString(includeNoTrivia) ?? "",
    isToken: element.IsToken,
    named: new Map(),
    items: [],
  };
  if (element.IsToken) return node;

  const resultType = element.ResultType;
  if (resultType) {
    const columns = tableColumns(service, resultType);
    if (columns) node.columns = columns;
    else {
      const scalar = kqlTypeOf(resultType.Name);
      if (scalar) node.scalarType = scalar;
    }
  }
  const symbol = element.ReferencedSymbol;
  if (symbol) {
    const className = Bridge.getTypeName(symbol).split(".").pop() ?? "";
    node.symbol = { kind: className.replace(/Symbol$/, ""), name: symbol.Name };
  }
  if (kind === "StringLiteralExpression" && typeof element.LiteralValue === "string") {
    node.stringValue = element.LiteralValue;
  }
  for (let index = 0; index < element.ChildCount; index++) {
    const child = element.GetChild(index);
    if (!child) continue;
    const copied = copyNode(service, child);
    if (kind === "List") {
      // A list holds elements, or SeparatedElements of an element and an optional separator.
      const item = copied.kind === "SeparatedElement" ? copied.named.get("#0") : copied;
      if (item) node.items.push(item);
    } else {
      node.named.set(element.GetName(index) || `#${index}`, copied);
    }
  }
  return node;
}
