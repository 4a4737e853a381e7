import { describe, expect, it } from "vitest";
import { KQL_CELL, KqlError, type KqlLazyRow, type KqlTable, runKql } from "../../../../sandbox/kql/index.js";

const NOW = Date.parse("2024-05-10T12:00:00Z");
const hoursAgo = (hours: number): Date => new Date(NOW - hours * 3_600_000);

interface AuditRow {
  TimeGenerated: Date;
  OperationName: string;
  id_s: string;
  identity_claim_oid_g: string;
  httpStatusCode_d: number;
  Properties: unknown;
}

function auditRow(overrides: Partial<AuditRow> = {}): AuditRow {
  return {
    TimeGenerated: hoursAgo(1),
    OperationName: "KeyUnwrap",
    id_s: "https://kv1.vault.azure.net/keys/k1/v1",
    identity_claim_oid_g: "caller-a",
    httpStatusCode_d: 200,
    Properties: { keyVaultProperties: { keyName: "k1", versions: ["v1", "v2"] } },
    ...overrides,
  };
}

function auditTable(rows: AuditRow[], name = "Audit"): KqlTable {
  return {
    name,
    columns: [
      { name: "TimeGenerated", type: "datetime" },
      { name: "OperationName", type: "string" },
      { name: "id_s", type: "string" },
      { name: "identity_claim_oid_g", type: "string" },
      { name: "httpStatusCode_d", type: "real" },
      { name: "Properties", type: "dynamic" },
    ],
    rows: rows.map((row) => ({ ...row })),
  };
}

const standardRows = [
  auditRow({
    TimeGenerated: hoursAgo(30),
    id_s: "https://kv1.vault.azure.net/keys/k1/v1",
    identity_claim_oid_g: "caller-a",
  }),
  auditRow({
    TimeGenerated: hoursAgo(5),
    id_s: "https://kv1.vault.azure.net/keys/k1/v1",
    identity_claim_oid_g: "rotator",
  }),
  auditRow({
    TimeGenerated: hoursAgo(2),
    id_s: "https://kv1.vault.azure.net/keys/k1/v2",
    identity_claim_oid_g: "caller-b",
  }),
  auditRow({
    TimeGenerated: hoursAgo(1),
    id_s: "https://kv1.vault.azure.net/keys/k1/v2",
    OperationName: "KeyGet",
    httpStatusCode_d: 403,
  }),
];

function query(text: string, rows: AuditRow[] = standardRows, extraTables: KqlTable[] = []) {
  return runKql(text, [auditTable(rows), ...extraTables], { now: NOW });
}

function column(text: string, rows?: AuditRow[]): unknown[] {
  return query(text, rows).rows.map((row) => row[0]);
}

function scalar(expression: string): unknown {
  return runKql(`print v = ${expression}`, [], { now: NOW }).rows[0]?.[0];
}

function kqlError(run: () => unknown): KqlError {
  try {
    run();
  } catch (error) {
    if (error instanceof KqlError) return error;
    throw error;
  }
  throw new Error("expected a KqlError");
}

describe("runKql tabular operators", () => {
  it("returns a table reference with the declared columns and row values", () => {
    const result = query("Audit | take 1");
    expect(result.columns.map((c) => `${c.name}:${c.type}`)).toEqual([
      "TimeGenerated:datetime",
      "OperationName:string",
      "id_s:string",
      "identity_claim_oid_g:string",
      "httpStatusCode_d:real",
      "Properties:dynamic",
    ]);
    expect(result.rows[0]?.[0]).toEqual(hoursAgo(30));
  });

  it("filters with where and time arithmetic", () => {
    expect(column("Audit | where TimeGenerated > ago(6h) | project identity_claim_oid_g")).toEqual([
      "rotator",
      "caller-b",
      "caller-a",
    ]);
    expect(column("Audit | where TimeGenerated between (ago(3h) .. now()) | count")).toEqual([2]);
    expect(column("Audit | where TimeGenerated !between (ago(3h) .. 2h) | count")).toEqual([2]);
  });

  it("projects, renames, extends and drops columns", () => {
    const result = query(
      "Audit | take 1 | project op = OperationName, id_s | extend upper = toupper(op), op = tolower(op)",
    );
    expect(result.columns.map((c) => c.name)).toEqual(["op", "id_s", "upper"]);
    expect(result.rows[0]).toEqual(["keyunwrap", "https://kv1.vault.azure.net/keys/k1/v1", "KEYUNWRAP"]);
    expect(query("Audit | project-away Properties, id_s | take 1").columns.map((c) => c.name)).toEqual([
      "TimeGenerated",
      "OperationName",
      "identity_claim_oid_g",
      "httpStatusCode_d",
    ]);
    expect(query("Audit | take 1 | project-rename Op = OperationName").columns.map((c) => c.name)).toContain(
      "Op",
    );
  });

  it("keeps a replaced column in its place across extends, and reads each extend against its input", () => {
    const result = query(
      "Audit | take 1 | project op = OperationName | extend a = strcat(op, '-1') | extend op = tolower(op), b = strcat(a, '-2') | extend a = toupper(a), c = op",
    );
    expect(result.columns.map((c) => c.name)).toEqual(["op", "a", "b", "c"]);
    expect(result.rows[0]).toEqual(["keyunwrap", "KEYUNWRAP-1", "KeyUnwrap-1-2", "keyunwrap"]);
    const renamed = query("Audit | take 1 | extend x = 1 | extend y = x + 1 | project-rename z = x");
    expect(renamed.columns.map((c) => c.name).slice(-2)).toEqual(["z", "y"]);
    expect(renamed.rows[0]?.slice(-2)).toEqual([1, 2]);
  });

  it("answers over lazy rows as over plain ones, reading only the cells the query needs", () => {
    const reads = new Map<string, number>();
    class CountingRow implements KqlLazyRow {
      constructor(private readonly row: AuditRow) {}
      [KQL_CELL](column: string): unknown {
        reads.set(column, (reads.get(column) ?? 0) + 1);
        return (this.row as unknown as Record<string, unknown>)[column];
      }
    }
    const rows = Array.from({ length: 200 }, (_, index) =>
      auditRow({
        TimeGenerated: hoursAgo(index % 48),
        identity_claim_oid_g: `caller-${index % 7}`,
        httpStatusCode_d: index % 5 === 0 ? 403 : 200,
      }),
    );
    const text =
      "Audit | where TimeGenerated > ago(24h) | extend Failed = httpStatusCode_d == 403 | summarize Uses = count(), Last = max(TimeGenerated) by identity_claim_oid_g, Failed | order by identity_claim_oid_g asc, Failed asc";
    const plain = query(text, rows);
    const lazy = runKql(text, [{ ...auditTable([]), rows: rows.map((row) => new CountingRow(row)) }], {
      now: NOW,
    });
    expect(lazy).toEqual(plain);
    expect(lazy.rows.length).toBeGreaterThan(7);
    expect([...reads.keys()].sort()).toEqual(["TimeGenerated", "httpStatusCode_d", "identity_claim_oid_g"]);
    expect(reads.get("id_s")).toBeUndefined();
  });

  it("takes each row through a run of where and extend before the next row, into summarize", () => {
    const reads: string[] = [];
    const rows = [1, 2, 3].map(
      (index): KqlLazyRow => ({
        [KQL_CELL]: (column: string) => {
          reads.push(`${column}${index}`);
          return column === "TimeGenerated" ? hoursAgo(index) : `op-${index}`;
        },
      }),
    );
    const table: KqlTable = { ...auditTable([]), rows };
    const result = runKql(
      "Audit | where TimeGenerated > ago(24h) | extend op = OperationName | where isnotempty(op) | summarize n = count(), newest = max(TimeGenerated)",
      [table],
      { now: NOW },
    );
    expect(result.rows).toEqual([[3, hoursAgo(1)]]);
    expect(reads).toEqual([
      "TimeGenerated1",
      "OperationName1",
      "TimeGenerated1",
      "TimeGenerated2",
      "OperationName2",
      "TimeGenerated2",
      "TimeGenerated3",
      "OperationName3",
      "TimeGenerated3",
    ]);
  });

  it("names unnamed extend columns as Kusto does", () => {
    const result = query(
      "Audit | take 1 | extend tolower(OperationName), Properties.keyVaultProperties.keyName",
    );
    expect(result.columns.slice(-2).map((c) => c.name)).toEqual([
      "Column1",
      "Properties_keyVaultProperties_keyName",
    ]);
    expect(result.rows[0]?.slice(-2)).toEqual(["keyunwrap", "k1"]);
  });

  it("summarizes with count, countif, min, max, dcount, sum, make_set and take_any by keys", () => {
    const result = query(
      "Audit | summarize n = count(), failures = countif(httpStatusCode_d >= 400), firstSeen = min(TimeGenerated), lastSeen = max(TimeGenerated), callers = dcount(identity_claim_oid_g), total = sum(httpStatusCode_d), ops = make_set(OperationName), any = take_any(OperationName) by id_s | order by id_s asc",
    );
    expect(result.columns.map((c) => c.name)).toEqual([
      "id_s",
      "n",
      "failures",
      "firstSeen",
      "lastSeen",
      "callers",
      "total",
      "ops",
      "any",
    ]);
    expect(result.rows).toEqual([
      [
        "https://kv1.vault.azure.net/keys/k1/v1",
        2,
        0,
        hoursAgo(30),
        hoursAgo(5),
        2,
        400,
        ["KeyUnwrap"],
        "KeyUnwrap",
      ],
      [
        "https://kv1.vault.azure.net/keys/k1/v2",
        2,
        1,
        hoursAgo(2),
        hoursAgo(1),
        2,
        603,
        ["KeyUnwrap", "KeyGet"],
        "KeyUnwrap",
      ],
    ]);
  });

  it("summarizes by expressions with Kusto's default column names", () => {
    const result = query(
      "Audit | summarize count(), max(TimeGenerated) by bin(TimeGenerated, 1d), tolower(OperationName)",
    );
    expect(result.columns.map((c) => c.name)).toEqual([
      "TimeGenerated",
      "Column1",
      "count_",
      "max_TimeGenerated",
    ]);
    expect(result.rows).toContainEqual([new Date("2024-05-10T00:00:00Z"), "keyunwrap", 2, hoursAgo(2)]);
  });

  it("summarizes over no rows without keys as one row of zero", () => {
    expect(query("Audit | where OperationName == 'none' | summarize count()").rows).toEqual([[0]]);
    expect(query("Audit | where OperationName == 'none' | summarize count() by id_s").rows).toEqual([]);
  });

  it("finds the last use per version with arg_max", () => {
    const result = query(
      "Audit | where identity_claim_oid_g != 'rotator' | summarize arg_max(TimeGenerated, identity_claim_oid_g) by id_s | order by id_s asc",
    );
    expect(result.columns.map((c) => c.name)).toEqual(["id_s", "TimeGenerated", "identity_claim_oid_g"]);
    expect(result.rows).toEqual([
      ["https://kv1.vault.azure.net/keys/k1/v1", hoursAgo(30), "caller-a"],
      ["https://kv1.vault.azure.net/keys/k1/v2", hoursAgo(1), "caller-a"],
    ]);
    const star = query("Audit | summarize arg_min(TimeGenerated, *) by id_s | order by id_s asc");
    expect(star.columns.map((c) => c.name)).toEqual([
      "id_s",
      "TimeGenerated",
      "OperationName",
      "identity_claim_oid_g",
      "httpStatusCode_d",
      "Properties",
    ]);
    expect(star.rows[1]?.slice(0, 4)).toEqual([
      "https://kv1.vault.azure.net/keys/k1/v2",
      hoursAgo(2),
      "KeyUnwrap",
      "caller-b",
    ]);
  });

  it("orders, tops, takes and limits with Kusto's default descending order", () => {
    expect(column("Audit | order by TimeGenerated | project identity_claim_oid_g")).toEqual([
      "caller-a",
      "caller-b",
      "rotator",
      "caller-a",
    ]);
    expect(
      column("Audit | sort by identity_claim_oid_g asc, TimeGenerated desc | project httpStatusCode_d"),
    ).toEqual([403, 200, 200, 200]);
    expect(column("Audit | top 2 by TimeGenerated asc | project identity_claim_oid_g")).toEqual([
      "caller-a",
      "rotator",
    ]);
    expect(column("Audit | limit 3 | count")).toEqual([3]);
  });

  it("sorts nulls first ascending and last descending unless told", () => {
    const table: KqlTable = {
      name: "N",
      columns: [{ name: "x", type: "long" }],
      rows: [{ x: 2 }, { x: null }, { x: 1 }],
    };
    const run = (text: string) => runKql(text, [table]).rows.map((row) => row[0]);
    expect(run("N | order by x asc")).toEqual([null, 1, 2]);
    expect(run("N | order by x desc")).toEqual([2, 1, null]);
    expect(run("N | order by x asc nulls last")).toEqual([1, 2, null]);
  });

  it("distinct returns unique combinations", () => {
    expect(column("Audit | distinct identity_claim_oid_g | order by identity_claim_oid_g asc")).toEqual([
      "caller-a",
      "caller-b",
      "rotator",
    ]);
    expect(query("Audit | distinct id_s, OperationName").rows).toHaveLength(3);
  });

  it("unions tables, filling missing columns with null", () => {
    const other: KqlTable = {
      name: "Other",
      columns: [
        { name: "OperationName", type: "string" },
        { name: "extra", type: "long" },
      ],
      rows: [{ OperationName: "KeyCreate", extra: 7 }],
    };
    const result = query(
      "union Audit, Other | where OperationName == 'KeyCreate' or OperationName == 'KeyGet' | project OperationName, extra",
      standardRows,
      [other],
    );
    expect(result.rows).toEqual([
      ["KeyGet", null],
      ["KeyCreate", 7],
    ]);
    expect(query("Audit | union Other | count", standardRows, [other]).rows).toEqual([[5]]);
  });

  it("expands dynamic arrays with mv-expand", () => {
    const result = query("Audit | take 1 | mv-expand v = Properties.keyVaultProperties.versions | project v");
    expect(result.rows).toEqual([["v1"], ["v2"]]);
  });

  it("evaluates let scalars, lists and tabular variables", () => {
    expect(
      column(
        "let excluded = dynamic(['rotator', 'caller-b']); let since = 6h; Audit | where TimeGenerated > ago(since) and identity_claim_oid_g !in (excluded) | project identity_claim_oid_g",
      ),
    ).toEqual(["caller-a"]);
    expect(column("let recent = Audit | where TimeGenerated > ago(3h); recent | count")).toEqual([2]);
  });

  it("joins inner and leftouter on equal keys", () => {
    const owners: KqlTable = {
      name: "Owners",
      columns: [
        { name: "caller", type: "string" },
        { name: "team", type: "string" },
      ],
      rows: [{ caller: "caller-a", team: "data" }],
    };
    const inner = query(
      "Audit | join kind=inner (Owners) on $left.identity_claim_oid_g == $right.caller | project team",
      standardRows,
      [owners],
    );
    expect(inner.rows).toEqual([["data"], ["data"]]);
    const outer = query(
      "Audit | project caller = identity_claim_oid_g | join kind=leftouter (Owners) on caller | project caller, team",
      standardRows,
      [owners],
    );
    expect(outer.rows).toHaveLength(4);
    expect(outer.rows).toContainEqual(["rotator", ""]);
  });
});

describe("runKql scalar semantics", () => {
  it("compares strings case-sensitively with == and insensitively with =~", () => {
    expect(scalar("'KeyGet' == 'keyget'")).toBe(false);
    expect(scalar("'KeyGet' =~ 'keyget'")).toBe(true);
    expect(scalar("'KeyGet' != 'keyget'")).toBe(true);
    expect(scalar("'KeyGet' !~ 'keyget'")).toBe(false);
  });

  it("matches has by whole terms, case-insensitively", () => {
    expect(scalar("'https://kv1.vault.azure.net/keys/k1/v2' has 'KEYS'")).toBe(true);
    expect(scalar("'https://kv1.vault.azure.net/keys/k1/v2' has 'key'")).toBe(false);
    expect(scalar("'https://kv1.vault.azure.net/keys/k1/v2' !has 'key'")).toBe(true);
    expect(scalar("'abc' contains 'B'")).toBe(true);
    expect(scalar("'abc' !contains 'B'")).toBe(false);
    expect(scalar("'abc' startswith 'AB'")).toBe(true);
    expect(scalar("'abc' endswith 'BC'")).toBe(true);
    expect(scalar("'abc' matches regex '^a.c$'")).toBe(true);
    expect(scalar("'KeyGet' in ('keyget', 'x')")).toBe(false);
    expect(scalar("'KeyGet' in~ ('keyget', 'x')")).toBe(true);
    expect(scalar("'KeyGet' !in ('keyget', 'x')")).toBe(true);
  });

  it("treats nulls as Kusto does", () => {
    expect(scalar("isnull(long(null))")).toBe(true);
    expect(scalar("isnotnull(1)")).toBe(true);
    expect(scalar("isempty('')")).toBe(true);
    expect(scalar("isnotempty('a')")).toBe(true);
    expect(scalar("long(null) == 1")).toBe(null);
    expect(scalar("long(null) > 1 or true")).toBe(true);
    expect(scalar("not(long(null) > 1)")).toBe(null);
    const table: KqlTable = {
      name: "N",
      columns: [
        { name: "x", type: "long" },
        { name: "s", type: "string" },
      ],
      rows: [{ x: null }, { x: 1, s: "a" }],
    };
    expect(runKql("N | where x != 1 | count", [table]).rows).toEqual([[0]]);
    expect(runKql("N | where s == '' | count", [table]).rows).toEqual([[1]]);
  });

  it("converts types", () => {
    expect(scalar("tostring(12)")).toBe("12");
    expect(scalar("toint('42')")).toBe(42);
    expect(scalar("tolong('x')")).toBe(null);
    expect(scalar("todouble('1.5')")).toBe(1.5);
    expect(scalar("tobool('true')")).toBe(true);
    expect(scalar("todatetime('2024-01-02T03:04:05Z')")).toEqual(new Date("2024-01-02T03:04:05Z"));
    expect(scalar("parse_json('{\"a\":[1,2]}').a[1]")).toBe(2);
    expect(scalar("todynamic('[1]')")).toEqual([1]);
    expect(scalar("tostring(datetime(2024-01-02))")).toBe("2024-01-02T00:00:00Z");
    expect(scalar("7 / 2")).toBe(3);
    expect(scalar("7.0 / 2")).toBe(3.5);
  });

  it("works with strings and dynamic values", () => {
    expect(scalar("strcat('a', 1, 'b')")).toBe("a1b");
    expect(scalar("split('a/b/c', '/')")).toEqual(["a", "b", "c"]);
    expect(scalar("split('a/b/c', '/', 1)")).toEqual(["b"]);
    expect(scalar("extract('keys/([^/]+)/', 1, 'https://kv/keys/k1/v1')")).toBe("k1");
    expect(scalar("iif(1 > 2, 'a', 'b')")).toBe("b");
    expect(scalar("iff(true, 'a', 'b')")).toBe("a");
    expect(scalar("case(1 > 2, 'a', 2 > 1, 'b', 'c')")).toBe("b");
    expect(scalar("coalesce('', 'x')")).toBe("x");
    expect(scalar("bag_pack('a', 1, 'b', 'x')")).toEqual({ a: 1, b: "x" });
    expect(scalar("pack('a', 1)['a']")).toBe(1);
    expect(scalar("array_length(dynamic([1, 2, 3]))")).toBe(3);
    expect(scalar("dynamic({'a': null, \"b\": [1, 2.5, true, -3, 'x']})")).toEqual({
      a: null,
      b: [1, 2.5, true, -3, "x"],
    });
  });

  it("does time arithmetic with datetimes and timespans", () => {
    expect(scalar("now()")).toEqual(new Date(NOW));
    expect(scalar("ago(1d)")).toEqual(new Date(NOW - 86_400_000));
    expect(scalar("datetime(2024-01-02) - datetime(2024-01-01)")).toBe("1.00:00:00");
    expect(scalar("datetime(2024-01-01) + 24h")).toEqual(new Date("2024-01-02T00:00:00Z"));
    expect(scalar("30m + 10s")).toBe("00:30:10");
    expect(scalar("bin(datetime(2024-01-01 10:17:00), 15m)")).toEqual(new Date("2024-01-01T10:15:00Z"));
    expect(scalar("bin(17, 5)")).toBe(15);
  });
});

describe("runKql column_ifexists", () => {
  it("reads a column the table has and falls back to the default for one it lacks", () => {
    const result = query(
      "Audit | where TimeGenerated > ago(3h) | extend Oid = tostring(column_ifexists('identity_claim_oid_g', '')), Long = tostring(column_ifexists('identity_claim_http_schemas_microsoft_com_identity_claims_objectidentifier_g', 'none')) | project Oid, Long",
    );
    expect(result.rows).toEqual([
      ["caller-b", "none"],
      ["caller-a", "none"],
    ]);
  });

  it("lets a query name a column that may not exist, where naming it directly fails", () => {
    expect(kqlError(() => query("Audit | extend x = requestUri_s")).code).toBe("SemanticError");
    expect(column("Audit | extend x = column_ifexists('requestUri_s', id_s) | project x | take 1")).toEqual([
      "https://kv1.vault.azure.net/keys/k1/v1",
    ]);
  });
});

describe("runKql errors", () => {
  it("refuses an unknown table with the language service's message", () => {
    const error = kqlError(() => query("Nope | take 1"));
    expect(error.code).toBe("SemanticError");
    expect(error.message).toContain("'Nope'");
  });

  it("refuses an unknown column", () => {
    const error = kqlError(() => query("Audit | where nope == 1"));
    expect(error.code).toBe("SemanticError");
    expect(error.message).toContain("'nope'");
  });

  it("refuses a syntax error", () => {
    expect(kqlError(() => query("Audit | where OperationName ==")).code).toBe("SyntaxError");
  });

  it("refuses operators and functions it does not implement instead of answering wrongly", () => {
    const operator = kqlError(() => query("Audit | render timechart"));
    expect(operator.code).toBe("UnsupportedQuery");
    expect(operator.message).toBe("UnsupportedQuery: operator render is not supported by the sandbox");
    expect(kqlError(() => query("Audit | extend h = hash(id_s)")).message).toContain("function hash()");
    expect(kqlError(() => query("Audit | summarize percentile(httpStatusCode_d, 50)")).code).toBe(
      "UnsupportedQuery",
    );
  });
});
