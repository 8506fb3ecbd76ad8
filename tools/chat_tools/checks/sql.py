"""Offline checks of every SQL the project ships, run by `make test`
(`make sql-check`).

There is no Athena, Redshift or Snowflake here, so the SQL is checked as far
as is honest:

1. Parsing. Every file under warehouse/redshift and warehouse/snowflake, the
   stack's Athena named queries (template.yaml) and the DuckDB SQL that
   chat_tools.lake generates parse in their dialects with sqlfluff, with no
   unparsable section.
2. Columns. Each consumer's declaration of output schema v1 is read from its
   own source and compared with schema/output-v1.schema.json: names, types
   (per dialect, below) and, where the dialect declares it, nullability.
   - Glue (Athena): the table's Columns and PartitionKeys in template.yaml;
   - DuckDB: DESCRIBE of the view chat_tools.lake builds;
   - Redshift: the select list of warehouse/redshift/03_chat_events_view.sql
     (every column cast explicitly), read from sqlfluff's parse tree;
   - Snowflake: the column definitions of warehouse/snowflake/03_table.sql and
     the pipe's COPY column list, read from the parse tree.

Prints one line per check; exits 1 on any failure.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from sqlfluff.core import FluffConfig, Linter

from chat_tools import cfn_template
from chat_tools.checks.report import Checks
from chat_tools.curation import curated
from chat_tools.lake import dialect
from chat_tools.lake import engine
from chat_tools.lake import raw_table

from chat_tools import schema as event_model
from chat_tools.paths import REPO

# The curation workflow's Athena states (statemachine/curation.asl.yaml).
ATHENA_STATES = ["CreateTable", "CheckTableColumns", "PlanWindow", "PlanInserts", "PrepareInsert", "ReconcileBlock",
                 "CountFutureDated", "CompactSmallFiles", "ExpireSnapshotsAndOrphans"]

# The warehouse recipes over the curated Iceberg table.
CURATED_RECIPES = ["05_curated_table.sql", "06_curated_iceberg_table.sql"]

# Athena User Guide, "OPTIMIZE" and "VACUUM": their synopses, for the table.
ATHENA_MAINTENANCE_SYNOPSES = {
    "CompactSmallFiles": r"OPTIMIZE chat_events_curated REWRITE DATA USING BIN_PACK",
    "ExpireSnapshotsAndOrphans": r"VACUUM chat_events_curated",
}

# Columns a consumer adds beyond the schema, with why.
EXTRA = {
    "snowflake": {"raw": "the line as VARIANT", "file_name": "the S3 object", "loaded_at": "load time"},
}


# ------------------------------------------------------------------ schema --
def expected_type(consumer: str, name: str) -> str:
    """The type `consumer` must declare column `name` as: the one
    chat_tools.schema derives for its dialect (the lake's dt partition: a
    string of its length)."""
    model = event_model.load()
    if name == "dt":
        dt = next(p for p in model.partitions if p.name == "dt")
        return {"glue": "string", "duckdb": "VARCHAR", "iceberg": "VARCHAR",
                "redshift": f"VARCHAR({dt.max_length})", "snowflake": f"VARCHAR({dt.max_length})"}[consumer]
    column = model.column(name)
    return {"glue": column.glue_type(), "duckdb": column.duckdb_type(), "iceberg": column.duckdb_type(),
            "redshift": column.redshift_type(), "snowflake": column.snowflake_type()}[consumer]


def normalized(t: str) -> str:
    return re.sub(r"\s+", "", t).upper()


def compare(c: Checks, consumer: str, declared: dict[str, tuple[str, bool | None]]):
    """declared: column -> (type as written, nullable or None if the dialect
    does not say). Held to the schema's columns plus the lake's dt, in any
    order (the generated copies are held in order by `make generate`)."""
    model = event_model.load()
    expected = model.names + ["dt"]
    extras = EXTRA.get(consumer, {})
    missing = [n for n in expected if n not in declared]
    unknown = [n for n in declared if n not in expected and n not in extras]
    c.check(f"{consumer}: declares every schema column", not missing, f"missing {missing}")
    c.check(f"{consumer}: declares nothing the schema lacks (or is listed as extra)", not unknown, f"unknown {unknown}")
    for name in expected:
        if name not in declared:
            continue
        written, null = declared[name]
        want = expected_type(consumer, name)
        if consumer in ("glue", "duckdb", "iceberg") and name != "dt" and model.column(name).kind == "struct":
            fields = struct_fields(written, consumer)
            ok = normalized(written) == normalized(want) or list(fields) == [f for f, _ in model.column(name).fields]
            c.check(f"{consumer}: {name} {written} has the schema's fields", ok, f"expected {want}")
        else:
            c.check(f"{consumer}: {name} is {written}", normalized(written) == normalized(want), f"expected {want}")
        if null is not None:
            nullable = name != "dt" and model.column(name).nullable
            c.check(f"{consumer}: {name} is {'nullable' if nullable else 'NOT NULL'}",
                    null == nullable, f"declared {'nullable' if null else 'NOT NULL'}")


def struct_fields(written: str, consumer: str) -> dict[str, str]:
    """struct<a:string,...> (Glue) or STRUCT(a VARCHAR, ...) (DuckDB) ->
    {a: TYPE}, names lower case, types upper case without spaces."""
    m = re.fullmatch(r"\s*struct\s*[<(](.*)[>)]\s*", written, flags=re.IGNORECASE | re.DOTALL)
    if not m:
        return {}
    out = {}
    for part in dialect.split_top_level(m.group(1)):
        if consumer == "glue":
            name, _, t = part.partition(":")
        else:
            name, _, t = part.strip().partition(" ")
        out[name.strip().strip('"').lower()] = re.sub(r"\s+", "", t).upper()
    return out


# ----------------------------------------------------------------- parsing --
def parse(sql: str, dialect: str):
    linter = Linter(config=FluffConfig(overrides={"dialect": dialect}))
    parsed = linter.parse_string(sql)
    problems = [str(v.desc()) for v in parsed.violations]
    if parsed.tree is not None:
        problems += [f"unparsable: {seg.raw[:80]!r}" for seg in parsed.tree.recursive_crawl("unparsable")]
    return parsed.tree, problems


def check_parses(c: Checks, label: str, sql: str, dialect: str):
    tree, problems = parse(sql, dialect)
    c.check(f"{dialect}: {label} parses", tree is not None and not problems, "; ".join(problems[:3]))
    return tree


def shallowest(segment, seg_type: str):
    """The `seg_type` descendant closest to `segment` (breadth first)."""
    queue = list(segment.segments)
    while queue:
        seg = queue.pop(0)
        if seg.is_type(seg_type):
            return seg
        queue.extend(seg.segments)
    return None


def redshift_view_columns(tree) -> dict[str, tuple[str, bool | None]]:
    """alias -> outermost cast type of each select element of the first
    CREATE VIEW's top-level SELECT."""
    view = next(tree.recursive_crawl("create_view_statement"))
    select = next(view.recursive_crawl("select_clause"))
    out = {}
    for element in select.recursive_crawl("select_clause_element", recurse_into=False):
        alias = shallowest(element, "alias_expression")
        name = alias.raw.split()[-1].strip('"').lower() if alias else element.raw
        data_type = shallowest(element, "data_type")
        out[name] = (data_type.raw if data_type else "<no cast>", None)
    return out


def snowflake_table_columns(tree) -> dict[str, tuple[str, bool | None]]:
    out = {}
    for col in tree.recursive_crawl("column_definition"):
        name = shallowest(col, "naked_identifier") or shallowest(col, "quoted_identifier")
        data_type = shallowest(col, "data_type")
        not_null = bool(re.search(r"\bNOT\s+NULL\b", col.raw, flags=re.IGNORECASE))
        out[name.raw.strip('"').lower()] = (data_type.raw, not not_null)
    return out


def snowflake_pipe_columns(tree) -> list[str]:
    copy = next(tree.recursive_crawl("copy_into_table_statement"))
    bracketed = shallowest(copy, "bracketed")
    return [s.raw.lower() for s in bracketed.recursive_crawl("naked_identifier")]


# -------------------------------------------------------------------- main --
def main() -> int:
    c = Checks()
    template = cfn_template.load()

    print("Parsing (sqlfluff):")
    trees = {}
    for warehouse in ("redshift", "snowflake"):
        files = sorted((REPO / "warehouse" / warehouse).glob("*.sql"))
        c.check(f"{warehouse}: warehouse/{warehouse} has SQL files", bool(files), "none found")
        for f in files:
            trees[f.name] = check_parses(c, str(f.relative_to(REPO)), f.read_text(), warehouse)
    for q in engine.named_queries(template):
        check_parses(c, f"named query {q.name}", q.sql, "athena")
    values = cfn_template.parameter_values(template)
    workflow = curated.Workflow.from_template(template, values, raw_table.BUCKET)
    for state in ATHENA_STATES:
        sql = workflow.query(state)
        synopsis = ATHENA_MAINTENANCE_SYNOPSES.get(state)
        if synopsis:
            # sqlfluff's athena dialect has no grammar for Iceberg table
            # maintenance: held to Athena's documented synopsis instead.
            c.check(f"athena: curation state {state} follows Athena's synopsis",
                    re.fullmatch(synopsis, sql.strip()) is not None, sql)
        else:
            check_parses(c, f"curation state {state}", sql, "athena")
    table = raw_table.Table.from_template(template, values)
    with tempfile.TemporaryDirectory() as empty:
        setup = ";\n".join(table.setup_sql(Path(empty))) + ";\n"
    check_parses(c, "chat_tools.lake view (empty lake)", setup, "duckdb")
    # The view over files, as `make demo` builds it (read_json with typed columns).
    with tempfile.TemporaryDirectory() as lake:
        sample = Path(lake) / "events" / "event_type=join" / "dt=2026-01-01" / "x.gz"
        sample.parent.mkdir(parents=True)
        sample.write_bytes(b"")
        setup = ";\n".join(table.setup_sql(Path(lake))) + ";\n"
    check_parses(c, "chat_tools.lake view (over files)", setup, "duckdb")

    print("Columns against schema/output-v1.schema.json:")
    # The Glue table's data and partition columns, as template.yaml declares them.
    compare(c, "glue", {name: (t, None) for name, t in table.columns + table.partitions})

    with tempfile.TemporaryDirectory() as empty:
        lake = engine.Lake(Path(empty))
        rows = lake.con.execute(f'DESCRIBE "{table.name}"').fetchall()
        compare(c, "duckdb", {r[0]: (r[1], None) for r in rows})
        # The curated table holds the schema's columns, without the raw
        # table's partition dt (its partition is hidden: day(occurred_at)).
        definition = lake.definition
        iceberg = {f.name: (curated.iceberg_type_to_duckdb(f.field_type), None) for f in definition.schema.fields}
        iceberg["dt"] = ("VARCHAR", None)  # not in the table; compare() expects the lake partition
        compare(c, "iceberg", iceberg)
        c.check("iceberg: chat_events_curated has no dt column (its partition is day(occurred_at))",
                "dt" not in {f.name for f in definition.schema.fields}, "dt found")
        spec = [(f.name, str(f.transform)) for f in definition.spec.fields]
        c.check("iceberg: partitioned by day(occurred_at)", spec == [("occurred_at_day", "day")], str(spec))

    # The recipes that read the curated table name only its columns (which
    # are the schema's, checked above).
    curated_columns = {f.name for f in definition.schema.fields}
    for name in CURATED_RECIPES:
        tree = trees.get(name)
        if tree is None:
            c.check(f"{name}: exists and parses", False, "missing")
            continue
        aliases = {a.raw.split()[-1].lower() for a in tree.recursive_crawl("alias_expression")}
        used = {seg.raw.split(".")[-1].strip('"').lower() for seg in tree.recursive_crawl("column_reference")}
        unknown = sorted(used - curated_columns - aliases)
        c.check(f"{name}: reads only chat_events_curated's columns", not unknown, f"unknown {unknown}")

    redshift = trees.get("03_chat_events_view.sql")
    if redshift is not None:
        compare(c, "redshift", redshift_view_columns(redshift))
    snowflake = trees.get("03_table.sql")
    if snowflake is not None:
        columns = snowflake_table_columns(snowflake)
        compare(c, "snowflake", columns)
        pipe = trees.get("04_pipe.sql")
        if pipe is not None:
            loaded = snowflake_pipe_columns(pipe)
            expected = list(columns)
            c.check("snowflake: the pipe's COPY loads every table column (loaded_at: METADATA$START_SCAN_TIME)",
                    loaded == expected,
                    f"{loaded} != {expected}")

    print(c.summary())
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
