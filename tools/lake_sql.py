#!/usr/bin/env python3
"""SQL over the landed lake on this machine: the stack's Athena table, as
template.yaml defines it, in DuckDB over the copy `make demo` writes to out/.

Where it sits: the last step of the data flow. Firehose (locally, the
stand-in) writes GZIP NDJSON under events/event_type=.../dt=.../; in AWS,
Athena reads it through the Glue table `chat_events`; here DuckDB reads the
same files through a view of the same name, built from the template:

- columns and types from the table's StorageDescriptor.Columns, partition
  columns from PartitionKeys, the timestamp format from the SerDe's
  `timestamp.formats`;
- files from `storage.location.template`, with the bucket replaced by the
  local lake directory;
- rows only from partitions the projection enumerates (an enum's values, a
  date range up to NOW in the projection's format): Athena silently returns
  nothing for an object outside the projection, so neither does this view.

The queries are the stack's own AWS::Athena::NamedQuery resources, run as
written. What differs between Athena (Trino) and DuckDB is translated in one
place, DIALECT below: type names, the Java date pattern of the SerDe and of
the projection, and a few Trino functions defined as DuckDB macros. Nothing
else is rewritten; a query that uses a Trino function missing from DIALECT
fails with DuckDB's own error naming it.

Commands (see `make query` and `make demo`):
  named             create the named queries' views, run the others, print tables
  query SQL         run one query; --json prints {columns, rows, files_read}
  describe          the view's columns and DuckDB types, as JSON
  setup-sql         the DuckDB SQL that defines the view (checked by sqlfluff)
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

import cfn_template

REPO = cfn_template.REPO
TABLE_TYPE = "AWS::Glue::Table"
NAMED_QUERY_TYPE = "AWS::Athena::NamedQuery"


class LakeSqlError(Exception):
    """Something in the template or the lake this tool cannot honour; the
    message says what and where."""


# ----------------------------------------------------------------- DIALECT --
# Everything that differs between Athena (Trino, Hive types) and DuckDB.

# Hive column types (Glue) -> DuckDB types. Nested types are translated
# recursively by duckdb_type().
HIVE_TO_DUCKDB = {
    "string": "VARCHAR",
    "varchar": "VARCHAR",
    "char": "VARCHAR",
    "boolean": "BOOLEAN",
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

# Java date-pattern letters (SerDe timestamp.formats, projection.*.format) ->
# strftime, for the letters our template uses. Anything else is refused.
JAVA_TO_STRFTIME = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S", "SSS": "%g"}

# Trino functions our queries may use that DuckDB lacks or spells otherwise.
# Trino's date_format takes MySQL specifiers; %Y %m %d %H mean the same in
# strftime (%i, Trino's minutes, does not: do not use it here).
TRINO_MACROS = [
    "CREATE MACRO date_format(ts, fmt) AS strftime(ts, fmt)",
    "CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)",
    "CREATE MACRO from_iso8601_timestamp(s) AS CAST(s AS TIMESTAMPTZ)",
]


def duckdb_type(hive: str) -> str:
    """`struct<a:string,b:bigint>` -> `STRUCT("a" VARCHAR, "b" BIGINT)`, and so on."""
    t = hive.strip()
    low = t.lower()
    if low in HIVE_TO_DUCKDB:
        return HIVE_TO_DUCKDB[low]
    m = re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", low)
    if m:
        return f"DECIMAL({m.group(1)},{m.group(2)})"
    m = re.fullmatch(r"(struct|array|map)<(.*)>", t, flags=re.IGNORECASE | re.DOTALL)
    if not m:
        raise LakeSqlError(f"Glue type {hive!r} has no DuckDB translation in DIALECT")
    kind, inner = m.group(1).lower(), m.group(2)
    parts = split_top_level(inner)
    if kind == "array":
        return f"{duckdb_type(inner)}[]"
    if kind == "map":
        if len(parts) != 2:
            raise LakeSqlError(f"Glue type {hive!r}: a map needs two types")
        return f"MAP({duckdb_type(parts[0])}, {duckdb_type(parts[1])})"
    fields = []
    for part in parts:
        name, _, field_type = part.partition(":")
        if not field_type:
            raise LakeSqlError(f"Glue type {hive!r}: struct field {part!r} has no type")
        fields.append(f'"{name.strip()}" {duckdb_type(field_type)}')
    return f"STRUCT({', '.join(fields)})"


def split_top_level(s: str) -> list[str]:
    """Splits on commas outside <...> and (...)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return [p.strip() for p in parts if p.strip()]


def strftime_pattern(java: str) -> str:
    """`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'` -> `%Y-%m-%dT%H:%M:%S.%gZ`."""
    out, i = [], 0
    while i < len(java):
        ch = java[i]
        if ch == "'":
            end = java.index("'", i + 1)
            out.append(java[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            run = re.match(rf"{ch}+", java[i:]).group(0)
            if run not in JAVA_TO_STRFTIME:
                raise LakeSqlError(f"date pattern {java!r}: {run!r} has no strftime translation in DIALECT")
            out.append(JAVA_TO_STRFTIME[run])
            i += len(run)
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


# ------------------------------------------------------------------- table --
@dataclass
class Projection:
    """One partition column's projection: the values Athena enumerates."""

    column: str
    kind: str  # "enum" or "date"
    values: list[str] | None = None
    strftime: str | None = None
    start: str | None = None
    end: str | None = None  # "NOW" or a date in the format

    def predicate(self) -> str:
        col = f'"{self.column}"'
        if self.kind == "enum":
            values = ", ".join(sql_string(v) for v in self.values or [])
            return f"{col} IN ({values})"
        fmt = sql_string(self.strftime or "")
        # Only values the projection could have generated: well formed in the
        # format, from the start to the end (NOW: today, UTC).
        parsed = f"try_strptime({col}, {fmt})"
        end = "current_date" if self.end == "NOW" else f"CAST(strptime({sql_string(self.end or '')}, {fmt}) AS DATE)"
        return (
            f"strftime({parsed}, {fmt}) = {col}"
            f" AND CAST({parsed} AS DATE) BETWEEN CAST(strptime({sql_string(self.start or '')}, {fmt}) AS DATE) AND {end}"
        )


@dataclass
class Table:
    """The Glue table as template.yaml defines it."""

    name: str
    columns: list[tuple[str, str]]  # (name, Glue type), data columns
    partitions: list[tuple[str, str]]
    timestamp_format: str | None
    location_template: str  # with ${column} placeholders
    bucket_prefix: str  # "s3://<bucket>/"
    projections: list[Projection]

    @staticmethod
    def from_template(template: dict, parameters: dict[str, str]) -> "Table":
        tables = cfn_template.resources_of_type(template, TABLE_TYPE)
        if len(tables) != 1:
            raise LakeSqlError(f"template.yaml: expected one {TABLE_TYPE}, found {sorted(tables)}")
        (logical, resource), = tables.items()
        ti = resource["Properties"]["TableInput"]
        sd = ti["StorageDescriptor"]
        bucket = "__bucket__"
        params = {k: cfn_template.sub(v, parameters, {"DataBucket": bucket}) for k, v in ti["Parameters"].items()}
        if params.get("projection.enabled") != "true":
            raise LakeSqlError(f"{logical}: only tables with partition projection are supported")
        partitions = [(p["Name"], p["Type"]) for p in ti.get("PartitionKeys", [])]
        projections = []
        for name, _ in partitions:
            kind = params.get(f"projection.{name}.type")
            if kind == "enum":
                projections.append(Projection(name, "enum", values=params[f"projection.{name}.values"].split(",")))
            elif kind == "date":
                start, _, end = params[f"projection.{name}.range"].partition(",")
                unit = params.get(f"projection.{name}.interval.unit", "DAYS")
                if params.get(f"projection.{name}.interval", "1") != "1" or unit != "DAYS":
                    raise LakeSqlError(f"{logical}: projection of {name}: only 1-DAYS intervals are translated")
                if end.strip() != "NOW" and "NOW" in end:
                    raise LakeSqlError(f"{logical}: projection of {name}: NOW with an offset is not translated")
                projections.append(
                    Projection(name, "date", strftime=strftime_pattern(params[f"projection.{name}.format"]),
                               start=start.strip(), end=end.strip())
                )
            else:
                raise LakeSqlError(f"{logical}: projection type {kind!r} of {name} is not translated")
        formats = sd.get("SerdeInfo", {}).get("Parameters", {}).get("timestamp.formats")
        if formats and "," in formats:
            raise LakeSqlError(f"{logical}: DuckDB reads one timestamp format; the SerDe lists {formats!r}")
        location = params["storage.location.template"]
        return Table(
            name=ti["Name"],
            columns=[(c["Name"], c["Type"]) for c in sd["Columns"]],
            partitions=partitions,
            timestamp_format=formats,
            location_template=location,
            bucket_prefix=f"s3://{bucket}/",
            projections=projections,
        )

    def glob(self, lake: Path) -> str:
        """The local files Athena would read: the location template with every
        partition value a wildcard (the projection filters the values)."""
        if not self.location_template.startswith(self.bucket_prefix):
            raise LakeSqlError(f"storage.location.template {self.location_template!r} is not in the data bucket")
        relative = re.sub(r"\$\{[^}]+\}", "*", self.location_template[len(self.bucket_prefix):])
        return f"{lake}/{relative}*"

    def setup_sql(self, lake: Path) -> list[str]:
        """The statements that define the view over `lake`."""
        typed = [f'CAST(NULL AS {duckdb_type(t)}) AS "{c}"' for c, t in self.columns + self.partitions]
        files = self.glob(lake)
        where = " AND ".join(f"({p.predicate()})" for p in self.projections) or "true"
        if glob.glob(files):
            struct = "{" + ", ".join(f"{sql_string(c)}: {sql_string(duckdb_type(t))}" for c, t in self.columns) + "}"
            hive_types = "{" + ", ".join(f"{sql_string(c)}: {sql_string(duckdb_type(t))}" for c, t in self.partitions) + "}"
            options = [
                "format = 'newline_delimited'",
                "compression = 'gzip'",
                f"columns = {struct}",
                "hive_partitioning = true",
                f"hive_types = {hive_types}",
            ]
            if self.timestamp_format:
                options.append(f"timestampformat = {sql_string(strftime_pattern(self.timestamp_format))}")
            names = ", ".join(f'"{c}"' for c, _ in self.columns + self.partitions)
            source = f"SELECT {names} FROM read_json({sql_string(files)}, {', '.join(options)})"
        else:
            # No objects yet: an empty view of the same columns (read_json
            # refuses a pattern that matches nothing).
            source = f"SELECT {', '.join(typed)} WHERE false"
        return [
            # Athena's NOW and current_date are UTC; so are ours.
            "SET TimeZone = 'UTC'",
            *TRINO_MACROS,
            f'CREATE VIEW "{self.name}" AS SELECT * FROM ({source}) WHERE {where}',
        ]


def sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


@dataclass
class NamedQuery:
    logical_id: str
    name: str
    description: str
    sql: str

    @property
    def creates_view(self) -> bool:
        return bool(re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", self.sql, flags=re.IGNORECASE))


def named_queries(template: dict) -> list[NamedQuery]:
    """The stack's named queries, views first (the others may use them)."""
    out = [
        NamedQuery(k, r["Properties"]["Name"], r["Properties"].get("Description", "").strip(), r["Properties"]["QueryString"])
        for k, r in cfn_template.resources_of_type(template, NAMED_QUERY_TYPE).items()
    ]
    return sorted(out, key=lambda q: not q.creates_view)


# -------------------------------------------------------------------- lake --
class Lake:
    """A DuckDB connection with the table's view over a local lake and the
    stack's views created."""

    def __init__(self, lake: Path, parameters: dict[str, str] | None = None):
        self.template = cfn_template.load()
        values = cfn_template.parameter_values(self.template, parameters)
        self.table = Table.from_template(self.template, values)
        self.lake = lake
        self.con = duckdb.connect()
        for statement in self.table.setup_sql(lake):
            self.con.execute(statement)
        self.queries = named_queries(self.template)
        for q in self.queries:
            if q.creates_view:
                self.con.execute(q.sql)

    def run(self, sql: str) -> tuple[list[str], list[tuple]]:
        cur = self.con.execute(sql)
        columns = [d[0] for d in cur.description or []]
        return columns, cur.fetchall()

    def files_read(self, sql: str) -> int:
        """How many files the query opens, from DuckDB's own profile
        (`Total Files Read` of each READ_JSON)."""
        self.con.execute("PRAGMA enable_profiling = 'json'")
        try:
            profile = self.con.execute(f"EXPLAIN ANALYZE {sql}").fetchall()[0][1]
        finally:
            self.con.execute("PRAGMA disable_profiling")
        total = 0

        def walk(node: dict):
            nonlocal total
            info = node.get("extra_info", {})
            if info.get("Function") == "READ_JSON":
                total += int(info.get("Total Files Read", 0))
            # The root lists its plan under "operator"; operators under "children".
            for child in node.get("operator", []) + node.get("children", []):
                walk(child)

        walk(json.loads(profile))
        return total


def plain(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def print_table(columns: list[str], rows: list[tuple], limit: int = 50):
    cells = [[("NULL" if v is None else json.dumps(plain(v)) if isinstance(v, (dict, list)) else str(plain(v))) for v in row] for row in rows[:limit]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    print("  " + line)
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)))
    more = f", first {limit} shown" if len(rows) > limit else ""
    print(f"  ({len(rows)} row{'s' if len(rows) != 1 else ''}{more})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", default=str(REPO / "out"), help="local copy of the bucket (default: out/, written by make demo)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a template parameter's default")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("named", help="run the stack's named queries")
    q = sub.add_parser("query", help="run one query")
    q.add_argument("sql")
    q.add_argument("--json", action="store_true")
    sub.add_parser("describe", help="the view's columns as JSON")
    sub.add_parser("setup-sql", help="print the view's DuckDB SQL")
    args = ap.parse_args()

    overrides = dict(p.split("=", 1) for p in args.param)
    lake_dir = Path(args.lake)
    try:
        if args.command == "setup-sql":
            template = cfn_template.load()
            table = Table.from_template(template, cfn_template.parameter_values(template, overrides))
            print(";\n".join(table.setup_sql(Path("out"))) + ";")
            return 0
        if not lake_dir.is_dir():
            raise LakeSqlError(f"no lake at {lake_dir}: run `make demo` first (it copies the lake to out/)")
        lake = Lake(lake_dir, overrides)
        if args.command == "describe":
            columns, rows = lake.run(f'DESCRIBE "{lake.table.name}"')
            print(json.dumps([{"name": r[0], "type": r[1]} for r in rows]))
        elif args.command == "query":
            columns, rows = lake.run(args.sql)
            if args.json:
                print(json.dumps({"columns": columns, "rows": plain(rows), "files_read": lake.files_read(args.sql)}))
            else:
                print_table(columns, rows)
        else:
            for nq in lake.queries:
                if nq.creates_view:
                    print(f"\n-- {nq.name}: {nq.description}\n  (view created)")
                    continue
                print(f"\n-- {nq.name}: {nq.description}")
                print_table(*lake.run(nq.sql))
    except (LakeSqlError, duckdb.Error) as e:
        print(f"lake_sql: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
