"""Redshift's SQL, as the recipes in warehouse/redshift/ write it, run on
DuckDB: sqlglot's redshift -> duckdb translation plus a small set of named
rewrites, each for one construct whose plain translation would run but
answer differently.

Where it sits: under chat_tools.warehouse.redshift (`make warehouse-test`).
No Redshift emulator exists; this is a stand-in, held to what the Redshift
Database Developer Guide says each construct does. What it cannot show
(the integration, the refresh itself, Redshift's own JSON and timestamp
parsers) is listed in docs/warehouses.md with the statement to run on an
account.

The rewrites (REWRITES below, tested one by one in
tools/tests/test_redshift_duckdb.py):

- SUPER navigation `payload.x`: DuckDB JSON `payload -> '$."x"'`, with a
  JSON null read as NULL (Redshift: "Using SUPER data type navigation");
  `CAST(payload.x AS VARCHAR)` is the string's value, without the quotes
  DuckDB keeps when it casts JSON to text (sqlglot's plain output answers 0
  rows for that reason);
- IS_BIGINT / IS_INTEGER / IS_VARCHAR / IS_NUMBER: the JSON type of the
  value, with IS_BIGINT true from -2^63 to 2^63-1 only (DuckDB types larger
  positive integers UBIGINT) and IS_INTEGER from -2^31 to 2^31-1;
- JSON_PARSE / CAN_JSON_PARSE over VARBYTE: the bytes read as UTF-8, then
  as JSON; bytes that are not UTF-8 cannot be parsed;
- FROM_HEX, SUBSTRING over the VARBYTE column kinesis_data, OCTET_LENGTH:
  byte strings (OCTET_LENGTH of a string: its UTF-8 bytes);
- CONVERT_TIMEZONE('UTC', timestamptz): the UTC wall clock, whatever the
  session's time zone (sqlglot's AT TIME ZONE pair depends on it);
- OBJECT(k, v, ...): json_object; TIMESTAMP 'epoch': 1970-01-01;
  n * INTERVAL '1 millisecond': to_milliseconds(n) (DuckDB multiplies an
  interval by a 32-bit integer only, and epoch milliseconds need 64);
- CREATE MATERIALIZED VIEW ... AUTO REFRESH YES: a table holding what one
  refresh reads;
- GETDATE(), SYSDATE, CURRENT_DATE: a fixed instant, when given, so that a
  question answers for the same "now" as the lake it is compared with.
"""

from __future__ import annotations

import datetime as dt

import sqlglot
from sqlglot import exp

# The SUPER column the recipes navigate (02_streaming_view.sql).
SUPER_COLUMNS = {"payload"}
# The VARBYTE column of the Kinesis stream (Redshift Developer Guide,
# "Streaming ingestion": kinesis_data is VARBYTE).
VARBYTE_COLUMNS = {"kinesis_data"}
# The stream's table as the recipe names it, and its stand-in here.
STREAM = 'chat_stream."REPLACE-WITH-StreamName"'
STREAM_STAND_IN = "kinesis_stream"

# DuckDB macros named for the Redshift function they stand for (prefixed,
# so that none shadows a DuckDB built-in by accident).
MACROS = [
    # A SUPER value at a path: NULL when absent or JSON null.
    "CREATE OR REPLACE MACRO rs_super_get(doc, path) AS "
    "CASE WHEN json_type(json_extract(doc, path)) IS NULL OR json_type(json_extract(doc, path)) = 'NULL' THEN NULL ELSE json_extract(doc, path) END",
    # CAST(SUPER AS VARCHAR): the string's value, unquoted.
    "CREATE OR REPLACE MACRO rs_super_text(doc, path) AS json_extract_string(doc, path)",
    "CREATE OR REPLACE MACRO rs_is_bigint(v) AS coalesce("
    "json_type(v) = 'BIGINT' OR (json_type(v) = 'UBIGINT' AND TRY_CAST(json_extract_string(v, '$') AS BIGINT) IS NOT NULL), false)",
    # IS_INTEGER: the 32-bit range only (so a recipe that uses it where it
    # means IS_BIGINT loses users from 2^31 here as on Redshift).
    "CREATE OR REPLACE MACRO rs_is_integer(v) AS coalesce(rs_is_bigint(v) "
    "AND TRY_CAST(json_extract_string(v, '$') AS BIGINT) BETWEEN -2147483648 AND 2147483647, false)",
    "CREATE OR REPLACE MACRO rs_is_varchar(v) AS coalesce(json_type(v) = 'VARCHAR', false)",
    "CREATE OR REPLACE MACRO rs_is_number(v) AS coalesce(json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE'), false)",
    # VARBYTE read as UTF-8 text; NULL when the bytes are not UTF-8.
    "CREATE OR REPLACE MACRO rs_utf8(b) AS TRY(decode(b))",
    "CREATE OR REPLACE MACRO rs_can_json_parse(b) AS coalesce(json_valid(rs_utf8(b)), false)",
    "CREATE OR REPLACE MACRO rs_json_parse(b) AS "
    "CASE WHEN rs_can_json_parse(b) THEN CAST(rs_utf8(b) AS JSON) END",
    "CREATE OR REPLACE MACRO rs_from_hex(s) AS unhex(s)",
    # SUBSTRING(varbyte, start, length), 1-based, in bytes.
    "CREATE OR REPLACE MACRO rs_varbyte_substring(b, start, len) AS "
    "unhex(substring(hex(b), (start - 1) * 2 + 1, greatest(len, 0) * 2))",
    # CONVERT_TIMEZONE('UTC', timestamptz): the UTC wall clock.
    "CREATE OR REPLACE MACRO rs_to_utc(ts) AS timezone('UTC', ts)",
]


class Untranslatable(Exception):
    """A statement uses a construct this stand-in has no rewrite for."""


def _name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).upper()
    return node.sql_name().upper() if isinstance(node, exp.Func) else ""


def _super_path(column: exp.Column) -> str:
    return '$."' + column.name.replace('"', '\\"') + '"'


def _is_super_nav(node: exp.Expression) -> bool:
    return isinstance(node, exp.Column) and node.table in SUPER_COLUMNS and not node.args.get("db")


def super_navigation(node: exp.Expression) -> exp.Expression:
    """`payload.x` -> rs_super_get(payload, '$."x"'); CAST(payload.x AS
    VARCHAR) -> rs_super_text(...)."""
    if isinstance(node, exp.Cast) and _is_super_nav(node.this) and node.to.is_type(*exp.DataType.TEXT_TYPES):
        col = node.this
        text = exp.Anonymous(this="rs_super_text", expressions=[exp.column(col.table), exp.Literal.string(_super_path(col))])
        # VARCHAR(n) keeps its length check as a plain VARCHAR here.
        return exp.Cast(this=text, to=exp.DataType.build("VARCHAR"))
    if _is_super_nav(node):
        return exp.Anonymous(this="rs_super_get", expressions=[exp.column(node.table), exp.Literal.string(_super_path(node))])
    return node


FUNCTIONS = {
    "IS_BIGINT": "rs_is_bigint",
    "IS_INTEGER": "rs_is_integer",
    "IS_VARCHAR": "rs_is_varchar",
    "IS_NUMBER": "rs_is_number",
    "JSON_PARSE": "rs_json_parse",
    "CAN_JSON_PARSE": "rs_can_json_parse",
    "FROM_HEX": "rs_from_hex",
}


def super_functions(node: exp.Expression) -> exp.Expression:
    """IS_BIGINT, IS_INTEGER, IS_VARCHAR, IS_NUMBER, JSON_PARSE, CAN_JSON_PARSE,
    FROM_HEX -> the rs_ macros of the same meaning."""
    name = _name(node)
    if isinstance(node, exp.ParseJSON):
        name = "JSON_PARSE"
    if name in FUNCTIONS and isinstance(node, exp.Func):
        args = [node.this] if isinstance(node, exp.ParseJSON) else list(node.expressions or [node.this])
        return exp.Anonymous(this=FUNCTIONS[name], expressions=[a for a in args if a is not None])
    return node


def varbyte_bytes(node: exp.Expression) -> exp.Expression:
    """SUBSTRING over a VARBYTE column counts bytes; OCTET_LENGTH of a
    string is its length in UTF-8 bytes (DuckDB's takes BLOB only)."""
    if _name(node) == "OCTET_LENGTH" or isinstance(node, exp.ByteLength):
        arg = node.expressions[0] if isinstance(node, exp.Anonymous) else node.this
        if not (isinstance(arg, exp.Column) and arg.name in VARBYTE_COLUMNS):
            return exp.Anonymous(this="strlen", expressions=[arg])
    if isinstance(node, exp.Substring) and isinstance(node.this, exp.Column) and node.this.name in VARBYTE_COLUMNS:
        return exp.Anonymous(
            this="rs_varbyte_substring",
            expressions=[node.this, node.args.get("start"), node.args.get("length") or exp.Literal.number(2**31)],
        )
    return node


def convert_timezone(node: exp.Expression) -> exp.Expression:
    """CONVERT_TIMEZONE('UTC', x) -> the UTC wall clock of x."""
    if isinstance(node, exp.ConvertTimezone):
        target = node.args.get("target_tz")
        # sqlglot fills the two-argument form's source zone with 'UTC'.
        source = node.args.get("source_tz")
        utc = [t is None or (isinstance(t, exp.Literal) and t.this.upper() == "UTC") for t in (source, target)]
        if target is None or not all(utc):
            raise Untranslatable(f"CONVERT_TIMEZONE other than ('UTC', timestamptz): {node.sql('redshift')}")
        return exp.Anonymous(this="rs_to_utc", expressions=[node.args["timestamp"]])
    return node


def plain_values(node: exp.Expression) -> exp.Expression:
    """OBJECT(k, v, ...) -> json_object; TIMESTAMP 'epoch' -> 1970-01-01;
    n * INTERVAL '1 millisecond' -> to_milliseconds(n); CAST(... AS SUPER)
    -> JSON."""
    if _name(node) == "OBJECT":
        return exp.Anonymous(this="json_object", expressions=list(node.expressions))
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal) and node.this.this.lower() == "epoch":
        return exp.Cast(this=exp.Literal.string("1970-01-01 00:00:00"), to=node.to)
    if isinstance(node, exp.Mul) and isinstance(node.expression, exp.Interval):
        unit = node.expression.text("unit").upper()
        if node.expression.this.name == "1" and unit in {"MILLISECOND", "MILLISECONDS"}:
            return exp.Anonymous(this="to_milliseconds", expressions=[node.this])
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.SUPER:
        return exp.DataType.build("JSON")
    return node


def stream_stand_in(node: exp.Expression) -> exp.Expression:
    """chat_stream."REPLACE-WITH-StreamName" -> the stand-in table."""
    if isinstance(node, exp.Table) and node.db == "chat_stream":
        return exp.to_table(STREAM_STAND_IN)
    return node


def fixed_now(now: dt.datetime | None):
    def rewrite(node: exp.Expression) -> exp.Expression:
        if now is None:
            return node
        stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if isinstance(node, (exp.CurrentTimestamp, exp.CurrentDatetime)) or _name(node) in {"GETDATE", "SYSDATE"}:
            return exp.Cast(this=exp.Literal.string(stamp), to=exp.DataType.build("TIMESTAMP"))
        if isinstance(node, exp.CurrentDate):
            return exp.Cast(this=exp.Literal.string(stamp[:10]), to=exp.DataType.build("DATE"))
        return node

    return rewrite


def materialized_view(statement: exp.Expression) -> exp.Expression:
    """CREATE MATERIALIZED VIEW ... AUTO REFRESH YES AS q -> CREATE TABLE AS
    q: what one refresh holds."""
    if isinstance(statement, exp.Create) and statement.kind == "VIEW":
        props = statement.args.get("properties")
        if props and any(isinstance(p, exp.MaterializedProperty) for p in props.expressions):
            return exp.Create(this=statement.this, kind="TABLE", expression=statement.expression, replace=True)
    return statement


REWRITES = [super_navigation, super_functions, varbyte_bytes, convert_timezone, plain_values, stream_stand_in]


def translate(sql: str, now: dt.datetime | None = None) -> str:
    """One Redshift statement as DuckDB SQL."""
    tree = sqlglot.parse_one(sql, read="redshift")
    tree = materialized_view(tree)
    # A node a rewrite replaces is not descended into in the same pass, so
    # the passes repeat until nothing changes (every rewrite is idempotent).
    before = None
    while before != tree.sql("duckdb"):
        before = tree.sql("duckdb")
        for rewrite in [*REWRITES, fixed_now(now)]:
            tree = tree.transform(rewrite)
    return tree.sql("duckdb")


def install(con) -> None:
    """The rs_ macros, on a DuckDB connection."""
    for macro in MACROS:
        con.execute(macro)
