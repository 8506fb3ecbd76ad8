"""The Redshift -> DuckDB stand-in (chat_tools.warehouse.redshift_duckdb), one rewrite
at a time: each case is Redshift SQL with the answer the Redshift Database
Developer Guide gives for it, run through the translation in DuckDB (in a
session whose time zone is not UTC). The cases in SQLGLOT_WRONG answer
otherwise, or fail, with sqlglot's plain translation: those are why the
rewrites exist.
"""

from __future__ import annotations

import datetime as dt
import unittest

import duckdb
import sqlglot

from chat_tools.warehouse import redshift_duckdb

# A SUPER value as JSON_PARSE(kinesis_data) holds it, in a one-row table.
DOC = '{"s": "text", "n": 42, "big": 9223372036854775807, "over": 9223372036854775808, "f": 1.5, "nil": null}'

CASES = [
    # SUPER navigation: a string's value has no quotes; JSON null is NULL.
    ("nav_text", "SELECT CAST(payload.s AS VARCHAR) FROM doc", "text"),
    ("nav_null", "SELECT payload.nil IS NULL FROM doc", True),
    ("nav_absent", "SELECT payload.missing IS NULL FROM doc", True),
    ("nav_number", "SELECT CAST(payload.n AS BIGINT) + 1 FROM doc", 43),
    # IS_BIGINT: 64-bit integers only; IS_VARCHAR; IS_NUMBER.
    ("is_bigint_max", "SELECT IS_BIGINT(payload.big) FROM doc", True),
    ("is_bigint_over", "SELECT IS_BIGINT(payload.over) FROM doc", False),
    ("is_bigint_float", "SELECT IS_BIGINT(payload.f) FROM doc", False),
    ("is_bigint_text", "SELECT IS_BIGINT(payload.s) FROM doc", False),
    ("is_integer_32_bit", "SELECT IS_INTEGER(payload.n) AND NOT IS_INTEGER(payload.big) FROM doc", True),
    ("is_varchar", "SELECT IS_VARCHAR(payload.s) AND NOT IS_VARCHAR(payload.n) FROM doc", True),
    ("is_number", "SELECT IS_NUMBER(payload.f) AND IS_NUMBER(payload.n) AND NOT IS_NUMBER(payload.s) FROM doc", True),
    # JSON_PARSE / CAN_JSON_PARSE over VARBYTE.
    ("can_json_parse", "SELECT CAN_JSON_PARSE(FROM_HEX('7B7D')) AND NOT CAN_JSON_PARSE(FROM_HEX('7BFF7D'))", True),
    ("json_parse", "SELECT IS_VARCHAR(JSON_PARSE(FROM_HEX('226222')))", True),
    # Bytes: SUBSTRING of VARBYTE, OCTET_LENGTH of a string.
    ("varbyte_substring", "SELECT SUBSTRING(kinesis_data, 1, 3) = FROM_HEX('EFBBBF') FROM bytes", True),
    ("octet_length_text", "SELECT OCTET_LENGTH('é')", 2),
    # CONVERT_TIMEZONE('UTC', timestamptz): the UTC wall clock.
    ("convert_timezone", "SELECT CONVERT_TIMEZONE('UTC', CAST('2026-11-22T01:29:00+01:30' AS TIMESTAMPTZ))",
     dt.datetime(2026, 11, 21, 23, 59)),
    # Epoch milliseconds past 2^31.
    ("epoch_millis", "SELECT TIMESTAMP 'epoch' + CAST(1795305540123 AS BIGINT) * INTERVAL '1 millisecond'",
     dt.datetime(2026, 11, 21, 23, 59, 0, 123000)),
    # OBJECT builds a SUPER object.
    ("object", "SELECT CAST(OBJECT('a', 1) AS SUPER).a = 1", True),
]

# With sqlglot alone: a wrong answer or an error.
SQLGLOT_WRONG = {"nav_text", "nav_null", "is_bigint_max", "is_bigint_over", "is_bigint_float", "is_bigint_text", "is_integer_32_bit",
                 "is_varchar", "is_number", "can_json_parse", "json_parse", "varbyte_substring", "octet_length_text",
                 "convert_timezone", "epoch_millis", "object"}


def connection(plain: bool = False) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/Los_Angeles'")
    if not plain:
        redshift_duckdb.install(con)
    con.execute(f"CREATE TABLE doc AS SELECT CAST('{DOC}' AS JSON) AS payload")
    con.execute("CREATE TABLE bytes AS SELECT unhex('EFBBBF7B7D') AS kinesis_data")
    return con


class Rewrites(unittest.TestCase):
    def test_each_case_answers_as_redshift(self):
        con = connection()
        for name, sql, want in CASES:
            with self.subTest(name):
                (got,) = con.execute(redshift_duckdb.translate(sql)).fetchone()
                self.assertEqual(got, want, redshift_duckdb.translate(sql))

    def test_sqlglot_alone_gets_the_marked_cases_wrong(self):
        con = connection(plain=True)
        for name, sql, want in CASES:
            with self.subTest(name):
                try:
                    (got,) = con.execute(sqlglot.transpile(sql, read="redshift", write="duckdb")[0]).fetchone()
                except duckdb.Error:
                    got = "error"
                self.assertEqual(got != want, name in SQLGLOT_WRONG, f"{name}: sqlglot alone answers {got!r}")

    def test_materialized_view_becomes_one_refresh(self):
        sql = "CREATE MATERIALIZED VIEW v AUTO REFRESH YES AS SELECT 1 AS x"
        self.assertEqual(redshift_duckdb.translate(sql), "CREATE OR REPLACE TABLE v AS SELECT 1 AS x")

    def test_the_stream_is_the_stand_in(self):
        sql = 'SELECT kinesis_data FROM chat_stream."REPLACE-WITH-StreamName"'
        self.assertEqual(redshift_duckdb.translate(sql), "SELECT kinesis_data FROM kinesis_stream")

    def test_now_is_fixed_when_given(self):
        now = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.timezone.utc)
        con = connection()
        sql = "SELECT GETDATE() - INTERVAL '1 hour', CURRENT_DATE"
        self.assertEqual(con.execute(redshift_duckdb.translate(sql, now)).fetchone(),
                         (dt.datetime(2026, 12, 3, 9, 0), dt.date(2026, 12, 3)))

    def test_other_time_zones_are_refused_by_name(self):
        with self.assertRaisesRegex(redshift_duckdb.Untranslatable, "CONVERT_TIMEZONE"):
            redshift_duckdb.translate("SELECT CONVERT_TIMEZONE('America/New_York', x) FROM t")


if __name__ == "__main__":
    unittest.main()
