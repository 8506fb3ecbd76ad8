"""The Athena -> DuckDB translation (chat_tools.lake.dialect), run in DuckDB.

Two tables:
- every specifier of Trino's date_format table, against what Trino's docs
  say it prints (computed independently here with Python's datetime), or
  refused by name;
- Trino functions our users reach for, each with the answer Trino gives (from
  Trino's documentation), run through the translation in DuckDB. Run with
  sqlglot alone, the rows marked in `SQLGLOT_WRONG` failed: those are the
  hand-written fixes in dialect.py.
"""

from __future__ import annotations

import datetime as dt
import unittest
from decimal import Decimal

import duckdb

from chat_tools.lake import dialect

# Two instants that tell the specifiers apart: a Sunday in ISO week 1 of
# 2026, morning, with microseconds; a Monday in ISO week 1 of 2025 that is
# still in calendar 2024, afternoon.
INSTANTS = [dt.datetime(2026, 1, 4, 5, 7, 9, 123456), dt.datetime(2024, 12, 30, 13, 0, 0, 0)]


def trino_reference(letter: str, t: dt.datetime) -> str:
    """What Trino's documentation says `%<letter>` prints for `t`."""
    hour12 = t.hour % 12 or 12
    iso_year, iso_week, _ = t.isocalendar()
    return {
        "a": t.strftime("%a"),
        "b": t.strftime("%b"),
        "c": str(t.month),
        "d": f"{t.day:02d}",
        "e": str(t.day),
        "f": f"{t.microsecond // 1000:03d}000",
        "H": f"{t.hour:02d}",
        "h": f"{hour12:02d}",
        "I": f"{hour12:02d}",
        "i": f"{t.minute:02d}",
        "j": f"{t.timetuple().tm_yday:03d}",
        "k": str(t.hour),
        "l": str(hour12),
        "M": t.strftime("%B"),
        "m": f"{t.month:02d}",
        "p": "AM" if t.hour < 12 else "PM",
        "r": f"{hour12:02d}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'}",
        "S": f"{t.second:02d}",
        "s": f"{t.second:02d}",
        "T": f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}",
        "v": f"{iso_week:02d}",
        "W": t.strftime("%A"),
        "x": str(iso_year),
        "Y": str(t.year),
        "y": f"{t.year % 100:02d}",
        "%": "%",
    }[letter]


# Trino refuses these (docs: "The following specifiers are not currently
# supported: %D %U %u %V %w %X").
REFUSED_BY_TRINO = set("DUuVwX")


class DateFormatTable(unittest.TestCase):
    def setUp(self):
        self.con = duckdb.connect()

    def run_format(self, fmt: str, t: dt.datetime) -> str:
        (sql,) = dialect.translate(f"SELECT date_format(TIMESTAMP '{t.isoformat(sep=' ')}', '{fmt}')")
        return self.con.execute(sql).fetchone()[0]

    def test_every_documented_specifier_is_translated_or_refused_by_name(self):
        self.assertEqual(set(dialect.TRINO_FORMAT), set("abcDdefHhIijklMmprSsTUuVvWwXxYy%"))
        for letter in dialect.TRINO_FORMAT:
            with self.subTest(letter=letter):
                if letter in REFUSED_BY_TRINO:
                    with self.assertRaisesRegex(dialect.DialectError, f"%{letter} is not supported"):
                        self.run_format(f"%{letter}", INSTANTS[0])
                    continue
                for t in INSTANTS:
                    self.assertEqual(self.run_format(f"%{letter}", t), trino_reference(letter, t), t)

    def test_other_letters_and_text_stand_for_themselves(self):
        self.assertEqual(self.run_format("%q at %Y|%", INSTANTS[0]), "q at 2026|%")
        self.assertEqual(self.run_format("%Y-%m-%d %H:%i:%s", INSTANTS[0]), "2026-01-04 05:07:09")

    def test_date_parse_uses_the_same_table(self):
        (sql,) = dialect.translate("SELECT date_parse('2026/01/04 05:07', '%Y/%m/%d %H:%i')")
        self.assertEqual(self.con.execute(sql).fetchone()[0], dt.datetime(2026, 1, 4, 5, 7))


# (Trino expression, FROM clause, Trino's answer). Sources: Trino's function
# documentation (aggregate, date and time, JSON, string, array, math).
FUNCTIONS = [
    ("count_if(x > 1)", "FROM (VALUES (1),(2),(3)) t(x)", 2),
    ("approx_distinct(x)", "FROM (VALUES (1),(2),(2)) t(x)", 2),
    ("from_iso8601_timestamp('2026-01-02T03:04:05.678Z') = TIMESTAMP '2026-01-02 03:04:05.678 UTC'", "", True),
    ("from_iso8601_date('2026-01-02')", "", dt.date(2026, 1, 2)),
    ("date_trunc('hour', TIMESTAMP '2026-01-02 03:04:05')", "", dt.datetime(2026, 1, 2, 3)),
    ("date_add('day', -1, DATE '2026-01-02')", "", dt.date(2026, 1, 1)),
    ("date_add('hour', 2, TIMESTAMP '2026-01-02 03:04:05')", "", dt.datetime(2026, 1, 2, 5, 4, 5)),
    ("date_diff('day', DATE '2026-01-01', DATE '2026-01-31')", "", 30),
    ("date_diff('hour', TIMESTAMP '2026-01-01 00:30:00', TIMESTAMP '2026-01-01 02:00:00')", "", 1),
    ("to_unixtime(TIMESTAMP '2026-01-01 00:00:00')", "", 1767225600.0),
    ("day_of_week(DATE '2026-01-04')", "", 7),
    ("day_of_year(DATE '2026-02-01')", "", 32),
    ("week(DATE '2026-01-04')", "", 1),
    ("year_of_week(DATE '2024-12-30')", "", 2025),
    ("hour(TIMESTAMP '2026-01-02 03:04:05')", "", 3),
    ("millisecond(TIMESTAMP '2026-01-02 03:04:05.678')", "", 678),
    ("quarter(DATE '2026-05-01')", "", 2),
    ("format_datetime(TIMESTAMP '2026-01-02 03:04:05', 'yyyy-MM-dd HH:mm')", "", "2026-01-02 03:04"),
    ("to_iso8601(TIMESTAMP '2026-01-02 03:04:05.678')", "", "2026-01-02T03:04:05.678"),
    ("to_iso8601(DATE '2026-01-02')", "", "2026-01-02"),
    ("json_extract_scalar('{\"a\":{\"b\":\"x\"}}', '$.a.b')", "", "x"),
    ("regexp_like('abc', 'b')", "", True),
    ("regexp_extract('abc123', '[0-9]+')", "", "123"),
    ("split('a,b,c', ',')", "", ["a", "b", "c"]),
    ("cardinality(ARRAY[1,2,3])", "", 3),
    ("element_at(ARRAY[10,20,30], -1)", "", 30),
    ("array_join(ARRAY['a','b'], '-')", "", "a-b"),
    ("try_cast('x' AS integer)", "", None),
    ("strpos('hello', 'l')", "", 3),
    ("substr('hello', 2, 3)", "", "ell"),
    ("length('héllo')", "", 5),
    ("if(1 > 0, 'y', 'n')", "", "y"),
    ("round(2.567, 2)", "", Decimal("2.57")),
    ("5 / 2", "", 2),
    ("-5 / 2", "", -2),
    ("5.0 / 2", "", Decimal("2.5")),
    ("max_by(x, y)", "FROM (VALUES (1, 5), (2, 9)) t(x, y)", 2),
    ("arbitrary(x)", "FROM (VALUES (1)) t(x)", 1),
    ("approx_percentile(x, 0.5)", "FROM (VALUES (1),(2),(3)) t(x)", 2),
    ("sequence(1, 3)", "", [1, 2, 3]),
    ("date_format(date_add('day', -1, DATE '2026-01-01'), '%Y-%m-%d')", "", "2025-12-31"),
]

# Rows that sqlglot alone answered wrongly (measured with sqlglot 30.30.0):
# the reason each hand-written fix in dialect.py exists.
SQLGLOT_WRONG = {
    "date_add('day', -1, DATE '2026-01-02')": "a timestamp, not a date",
    "date_diff('hour', TIMESTAMP '2026-01-01 00:30:00', TIMESTAMP '2026-01-01 02:00:00')": "2: boundaries crossed",
    "millisecond(TIMESTAMP '2026-01-02 03:04:05.678')": "5678: seconds included",
    "format_datetime(TIMESTAMP '2026-01-02 03:04:05', 'yyyy-MM-dd HH:mm')": "no such DuckDB function",
    "to_iso8601(TIMESTAMP '2026-01-02 03:04:05.678')": "no such DuckDB function",
    "to_iso8601(DATE '2026-01-02')": "no such DuckDB function",
    "5 / 2": "2.5: not integer division",
    "-5 / 2": "-2.5: not integer division",
}

# Trino functions with no translation here: DuckDB refuses them, naming them.
UNTRANSLATED = ["map_agg(x, y)", "url_extract_host('https://example.com/')", "with_timezone(TIMESTAMP '2026-01-02 03:04:05', 'UTC')"]


class FunctionTable(unittest.TestCase):
    def setUp(self):
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")

    def test_functions_answer_as_trino_does(self):
        for expr, source, expected in FUNCTIONS:
            with self.subTest(expr=expr):
                (sql,) = dialect.translate(f"SELECT {expr} {source}")
                self.assertEqual(self.con.execute(sql).fetchone()[0], expected, sql)

    def test_the_fixed_rows_are_wrong_with_sqlglot_alone(self):
        import sqlglot

        for expr, why in SQLGLOT_WRONG.items():
            source, expected = next((s, e) for x, s, e in FUNCTIONS if x == expr)
            with self.subTest(expr=expr, why=why):
                sql = sqlglot.transpile(f"SELECT {expr} {source}", read="athena", write="duckdb")[0]
                try:
                    got = self.con.execute(sql).fetchone()[0]
                except duckdb.Error:
                    continue
                self.assertFalse(got == expected and type(got) is type(expected), f"{sql} answered {got!r}")

    def test_functions_without_translation_fail_naming_the_function(self):
        for expr in UNTRANSLATED:
            name = expr.split("(")[0]
            with self.subTest(expr=expr):
                (sql,) = dialect.translate(f"SELECT {expr} FROM (VALUES ('a', 1)) t(x, y)")
                with self.assertRaisesRegex(duckdb.Error, name):
                    self.con.execute(sql)


class Parameters(unittest.TestCase):
    def test_placeholders_take_values_in_text_order(self):
        sql = "SELECT date_add('day', -CAST(? AS integer), CAST(? AS date)) AS d, ? AS s"
        (translated,) = dialect.translate(sql, ["2", "'2026-01-03'", "'it''s ?'"])
        self.assertEqual(duckdb.connect().execute(translated).fetchone(), (dt.date(2026, 1, 1), "it's ?"))

    def test_a_count_mismatch_is_refused(self):
        with self.assertRaisesRegex(dialect.DialectError, "1 parameter"):
            dialect.translate("SELECT ?", [])

    def test_question_marks_in_strings_are_not_parameters(self):
        (translated,) = dialect.translate("SELECT '?' AS q", [])
        self.assertEqual(duckdb.connect().execute(translated).fetchone(), ("?",))


if __name__ == "__main__":
    unittest.main()
