"""Athena SQL to DuckDB SQL: the one place where the two engines' dialects
meet on this machine.

Where it sits: `lake_sql.py` (queries, views, the curation's MERGE) and
`curated.py` hand every statement of the stack here before DuckDB runs it,
so the SQL in template.yaml runs locally as written.

The translation is sqlglot's (`read="athena"`, `write="duckdb"`), a kept
transpiler, with hand-written fixes only where it was measured wrong
(`tools/tests/test_dialect.py` holds the table of Trino functions both were
run over):

- `date_format` and `date_parse`: sqlglot maps MySQL-style specifiers as
  MySQL reads them, not as Trino does (`%x` became DuckDB's locale date,
  `%D`, `%U`, `%u`, `%V`, `%w` and `%X`, which Trino refuses, were passed
  on). Every specifier of Trino's table is translated by `TRINO_FORMAT`
  below, or refused with the specifier named.
- `date_diff(unit, a, b)`: Trino counts whole units elapsed, DuckDB's
  `date_diff` counts boundaries crossed; DuckDB's `date_sub` is Trino's.
- `millisecond(ts)`: DuckDB's includes the seconds (5678 for 5.678 s).
- `date_add(unit, n, date)` of days and longer units: DuckDB returns a
  timestamp, Trino a date.
- `a / b` of two integers: Trino divides integers (5 / 2 = 2), DuckDB's `/`
  does not; DuckDB's `//` truncates as Trino does.
- `format_datetime` (Joda patterns) and `to_iso8601`, which DuckDB lacks.

Also here, for the stack's Glue and Hive definitions: Hive column types and
the Java date patterns of the SerDe and of partition projection.

Athena's parameterized queries (`?`, with ExecutionParameters applied in
order as SQL text) are substituted before parsing, by position in the text,
as Athena substitutes them.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.athena import Athena
from sqlglot.dialects.trino import Trino
from sqlglot.parsers.athena import AthenaTrinoParser
from sqlglot.tokens import TokenType


class DialectError(Exception):
    """A construct this translation refuses; the message names it."""


# ------------------------------------------------------------ Hive / Glue --
# Hive column types (Glue) -> DuckDB types. Nested types are translated
# recursively by glue_type_to_duckdb().
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

# Java date-pattern letters (SerDe timestamp.formats, projection.*.format,
# Trino's format_datetime) -> strftime, for the runs our SQL and template
# use. Anything else is refused by name.
JAVA_TO_STRFTIME = {
    "yyyy": "%Y",
    "yy": "%y",
    "MM": "%m",
    "MMM": "%b",
    "MMMM": "%B",
    "dd": "%d",
    "HH": "%H",
    "hh": "%I",
    "mm": "%M",
    "ss": "%S",
    "SSS": "%g",
    "a": "%p",
    "EEE": "%a",
    "EEEE": "%A",
}


def glue_type_to_duckdb(hive: str) -> str:
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
        raise DialectError(f"Glue type {hive!r} has no DuckDB translation in chat_tools.lake.dialect")
    kind, inner = m.group(1).lower(), m.group(2)
    parts = split_top_level(inner)
    if kind == "array":
        return f"{glue_type_to_duckdb(inner)}[]"
    if kind == "map":
        if len(parts) != 2:
            raise DialectError(f"Glue type {hive!r}: a map needs two types")
        return f"MAP({glue_type_to_duckdb(parts[0])}, {glue_type_to_duckdb(parts[1])})"
    fields = []
    for part in parts:
        name, _, field_type = part.partition(":")
        if not field_type:
            raise DialectError(f"Glue type {hive!r}: struct field {part!r} has no type")
        fields.append(f'"{name.strip()}" {glue_type_to_duckdb(field_type)}')
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
            end = java.find("'", i + 1)
            if end < 0:
                raise DialectError(f"date pattern {java!r}: a quote is not closed")
            out.append(java[i + 1 : end].replace("%", "%%") if end > i + 1 else "'")
            i = end + 1
            continue
        if ch.isalpha():
            run = re.match(rf"{ch}+", java[i:]).group(0)
            if run not in JAVA_TO_STRFTIME:
                raise DialectError(f"date pattern {java!r}: {run!r} has no strftime translation in chat_tools.lake.dialect")
            out.append(JAVA_TO_STRFTIME[run])
            i += len(run)
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


# ------------------------------------------------- Trino date_format table --
# Every specifier of Trino's date_format/date_parse table (Trino docs,
# "Date and time functions", MySQL date functions), as DuckDB strftime, or
# None with why Trino refuses it. Any other letter x stands for itself.
TRINO_FORMAT: dict[str, str | None] = {
    "a": "%a",  # abbreviated weekday name
    "b": "%b",  # abbreviated month name
    "c": "%-m",  # month, 1..12
    "D": None,  # day with English suffix: "not currently supported"
    "d": "%d",  # day of the month, 01..31
    "e": "%-d",  # day of the month, 1..31
    "f": "%g000",  # fraction, 6 digits, truncated to milliseconds
    "H": "%H",  # hour 00..23
    "h": "%I",  # hour 01..12
    "I": "%I",  # hour 01..12
    "i": "%M",  # minutes 00..59
    "j": "%j",  # day of year 001..366
    "k": "%-H",  # hour 0..23
    "l": "%-I",  # hour 1..12
    "M": "%B",  # month name
    "m": "%m",  # month 01..12
    "p": "%p",  # AM or PM
    "r": "%I:%M:%S %p",  # %h:%i:%s %p
    "S": "%S",  # seconds
    "s": "%S",  # seconds
    "T": "%H:%M:%S",  # %H:%i:%s
    "U": None,  # week, Sunday first: "not currently supported"
    "u": None,  # week, Monday first: "not currently supported"
    "V": None,  # week 01..53, Sunday first: "not currently supported"
    "v": "%V",  # ISO week 01..53, Monday first
    "W": "%A",  # weekday name
    "w": None,  # day of week 0..6: "not supported, consider day_of_week"
    "X": None,  # year for %V: "not currently supported"
    "x": "%G",  # ISO year for %v
    "Y": "%Y",  # year, four digits
    "y": "%y",  # year, two digits
    "%": "%%",  # a literal %
}


def trino_format_to_strftime(fmt: str) -> str:
    """A Trino `date_format` format as DuckDB strftime; a specifier Trino
    refuses is refused here too, by name."""
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch != "%":
            out.append(ch)
            i += 1
            continue
        if i + 1 == len(fmt):
            out.append("%%")  # a lone % at the end stands for itself
            break
        letter = fmt[i + 1]
        if letter in TRINO_FORMAT:
            translated = TRINO_FORMAT[letter]
            if translated is None:
                raise DialectError(
                    f"date_format specifier %{letter} is not supported by Trino (Athena), so it is refused here too"
                )
            out.append(translated)
        else:
            out.append(letter)  # Trino: %x is x for any x not in the table
        i += 2
    return "".join(out)


def joda_to_strftime(pattern: str) -> str:
    """Trino's format_datetime pattern (Joda) as strftime, for the letters
    JAVA_TO_STRFTIME knows."""
    return strftime_pattern(pattern)


# ------------------------------------------------------------ translation --
_TRINO_DATE_FORMAT = "__trino_date_format"
_TRINO_DATE_PARSE = "__trino_date_parse"
_TRINO_DATE_DIFF = "__trino_date_diff"


def _keep(name: str):
    return lambda args: exp.Anonymous(this=name, expressions=args)


class _TrinoStatements(AthenaTrinoParser):
    """The parser Athena's uses for Trino statements (all DML), with the
    functions whose meaning sqlglot gets wrong kept as written, so `_fix` can
    translate them."""

    FUNCTIONS = {
        **AthenaTrinoParser.FUNCTIONS,
        "DATE_FORMAT": _keep(_TRINO_DATE_FORMAT),
        "DATE_PARSE": _keep(_TRINO_DATE_PARSE),
        "DATE_DIFF": _keep(_TRINO_DATE_DIFF),
    }


class _Athena(Athena):
    class Parser(Athena.Parser):
        def __init__(self, **opts):
            super().__init__(**opts)
            self._trino_parser = _TrinoStatements(
                error_level=opts.get("error_level"),
                error_message_context=opts.get("error_message_context", 100),
                max_errors=opts.get("max_errors", 3),
                dialect=Trino(),
            )


_DATE_UNITS = {"day", "week", "month", "quarter", "year"}


def _string_arg(node: exp.Expression, what: str) -> str:
    if isinstance(node, exp.Literal) and node.is_string:
        return node.this
    raise DialectError(f"{what} must be a string literal to be translated, found {node.sql('athena')}")


def _is_date(node: exp.Expression) -> bool:
    if isinstance(node, exp.CurrentDate):
        return True
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DATE):
        return True
    return bool(node.type and node.type.is_type(exp.DataType.Type.DATE))


def _is_integer(node: exp.Expression) -> bool:
    if isinstance(node, exp.Paren):
        return _is_integer(node.this)
    if isinstance(node, exp.Literal) and not node.is_string:
        return re.fullmatch(r"\d+", node.this) is not None
    if isinstance(node, exp.Neg):
        return _is_integer(node.this)
    if isinstance(node, exp.Cast):
        return node.to.is_type(*exp.DataType.INTEGER_TYPES)
    return False


def _fix(node: exp.Expression) -> exp.Expression:
    """Replaces one construct sqlglot translates wrongly (see the module doc)."""
    if isinstance(node, exp.Anonymous) and node.name == _TRINO_DATE_FORMAT:
        value, fmt = node.expressions
        return exp.Anonymous(
            this="STRFTIME",
            expressions=[value, exp.Literal.string(trino_format_to_strftime(_string_arg(fmt, "date_format's format")))],
        )
    if isinstance(node, exp.Anonymous) and node.name == _TRINO_DATE_PARSE:
        value, fmt = node.expressions
        translated = trino_format_to_strftime(_string_arg(fmt, "date_parse's format"))
        # Parsing: %f reads up to nine digits of fraction.
        translated = translated.replace("%g000", "%f")
        return exp.Anonymous(this="STRPTIME", expressions=[value, exp.Literal.string(translated)])
    if isinstance(node, exp.Anonymous) and node.name == _TRINO_DATE_DIFF:
        unit, start, end = node.expressions
        return exp.Anonymous(this="DATE_SUB", expressions=[exp.Literal.string(_string_arg(unit, "date_diff's unit")), start, end])
    if isinstance(node, exp.Anonymous) and node.name.lower() == "millisecond":
        (value,) = node.expressions
        return exp.Mod(this=exp.Anonymous(this="MILLISECOND", expressions=[value]), expression=exp.Literal.number(1000))
    if isinstance(node, exp.Anonymous) and node.name.lower() == "format_datetime":
        value, pattern = node.expressions
        return exp.Anonymous(
            this="STRFTIME",
            expressions=[value, exp.Literal.string(joda_to_strftime(_string_arg(pattern, "format_datetime's pattern")))],
        )
    if isinstance(node, exp.Anonymous) and node.name.lower() == "to_iso8601":
        (value,) = node.expressions
        fmt = "%Y-%m-%d" if _is_date(value) else "%Y-%m-%dT%H:%M:%S.%g"
        return exp.Anonymous(this="STRFTIME", expressions=[value, exp.Literal.string(fmt)])
    if isinstance(node, exp.DateAdd) and _is_date(node.this):
        unit = (node.unit.name if node.unit else "day").lower()
        if unit in _DATE_UNITS:
            return exp.Cast(this=node, to=exp.DataType.build("DATE"))
    if isinstance(node, exp.Div) and _is_integer(node.this) and _is_integer(node.expression):
        return exp.IntDiv(this=node.this, expression=node.expression)
    if isinstance(node, exp.Decode) and node.args.get("charset") is not None \
            and node.args["charset"].name.lower().replace("-", "") == "utf8" and not node.args.get("replace"):
        return _trino_from_utf8(node.this)
    return node


def _trino_from_utf8(value: exp.Expression) -> exp.Expression:
    """Trino's from_utf8: an invalid byte sequence reads as U+FFFD (Trino
    docs, "Binary functions": from_utf8), where DuckDB's DECODE raises, and
    try() would make that NULL: a view that relied on it answered NULL here
    and garbled text on Athena. Valid UTF-8 decodes as it is; otherwise
    every byte outside ASCII reads as U+FFFD (Trino keeps the valid
    multi-byte characters of such a record: the same NULL-or-not, and the
    same replacement character, which is what a query can test)."""
    template = sqlglot.parse_one(
        "COALESCE(TRY(DECODE(v)), REGEXP_REPLACE(CAST(v AS VARCHAR), '\\\\x[0-9A-Fa-f]{2}', '\ufffd', 'g'))",
        read="duckdb")
    for column in list(template.find_all(exp.Column)):
        if column.name == "v":
            column.replace(value.copy())
    return template


def substitute_parameters(sql: str, parameters: list[str]) -> str:
    """Athena's ExecutionParameters: each `?` placeholder, in the order it
    appears in the text, replaced by the next value (SQL text, e.g.
    `'2026-11-30'` or `2`). A count mismatch is refused, as Athena refuses it."""
    placeholders = [t for t in Athena().tokenize(sql) if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    if len(placeholders) != len(parameters):
        raise DialectError(f"the query has {len(placeholders)} parameter(s) (?), and {len(parameters)} value(s) were given")
    out, at = [], 0
    for token, value in zip(placeholders, parameters):
        out.append(sql[at : token.start])
        out.append(value)
        at = token.end + 1
    out.append(sql[at:])
    return "".join(out)


def parse(sql: str, parameters: list[str] | None = None) -> list[exp.Expression]:
    """The statements of `sql`, read as Athena reads them."""
    if parameters is not None:
        sql = substitute_parameters(sql, parameters)
    try:
        return [tree for tree in sqlglot.parse(sql, dialect=_Athena) if tree is not None]
    except sqlglot.errors.ParseError as e:
        raise DialectError(f"not Athena SQL: {e}") from e


def _fix_all(root: exp.Expression) -> exp.Expression:
    """`_fix` over every node, children before their parents, so nested
    calls (date_format(date_parse(...))) are all translated."""
    for node in reversed(list(root.dfs())):
        parent, key, index = node.parent, node.arg_key, node.index
        new = _fix(node)
        if new is node:
            continue
        if parent is None:
            root = new
        else:
            parent.set(key, new, index)
    return root


def to_duckdb(tree: exp.Expression) -> str:
    """One parsed statement as DuckDB SQL."""
    return _fix_all(tree.copy()).sql(dialect="duckdb")


def translate(sql: str, parameters: list[str] | None = None) -> list[str]:
    """Athena SQL (one or more statements) as DuckDB statements."""
    return [to_duckdb(tree) for tree in parse(sql, parameters)]
