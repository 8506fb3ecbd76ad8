"""`make query` runs exactly the SQL it is given: through make and the shell
untouched ($, quotes, backslashes, $(...), backticks), from SQL=, FILE= or
standard input, and answers what the engine answers for the same text given
directly. Also `make describe`, and the messages for what cannot be run.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import tempfile
import unittest
from pathlib import Path

from chat_tools.paths import REPO
from chat_tools.lake import engine
from chat_tools.lake import synthetic_lake


# Each of these was mangled before: make expanded `$`, the shell split quotes.
TRICKY = [
    "SELECT count(*) AS n FROM chat_events WHERE event_id LIKE '%$%'",
    "SELECT count(*) AS n FROM chat_events WHERE event_id = 'a$'",
    'SELECT count(*) AS "n events" FROM chat_events',
    "SELECT 'b\\n' AS backslash, '$(HOME)' AS not_expanded, '`id`' AS not_run, 'it''s' AS quote",
    "SELECT event_type,\n       count(*) AS n\nFROM chat_events\nGROUP BY 1 ORDER BY 1",
    "SELECT date_format(TIMESTAMP '2026-01-04 05:07:09', '%Y-%m-%d %H:%i') AS minutes",
]


class MakeQuery(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="make-query-")
        cls.lake = Path(cls.dir.name)
        today = dt.datetime.now(dt.timezone.utc).date()
        for obj in synthetic_lake.objects_of(today, 40, seed=1):
            synthetic_lake.write(cls.lake, obj)
        cls.engine = engine.Lake(cls.lake)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def make(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(REPO), *args, f"LAKE={self.lake}"],
            input=stdin,
            capture_output=True,
            text=True,
        )

    def answer(self, result: subprocess.CompletedProcess) -> list:
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)["rows"]

    def expected(self, sql: str) -> list:
        return json.loads(json.dumps([list(r) for r in self.engine.run(sql)[1]], default=str))

    def test_sql_is_passed_untouched(self):
        for sql in TRICKY:
            with self.subTest(sql=sql):
                got = self.answer(self.make("query", f"SQL={sql}", "JSON=1"))
                self.assertEqual(got, self.expected(sql))

    def test_the_dollar_query_counts_nothing(self):
        got = self.answer(self.make("query", "SQL=SELECT count(*) FROM chat_events WHERE event_id LIKE '%$%'", "JSON=1"))
        self.assertEqual(got, [[0]])
        total = self.answer(self.make("query", "SQL=SELECT count(*) FROM chat_events", "JSON=1"))
        self.assertGreater(total[0][0], 0)

    def test_sql_from_a_file_and_from_standard_input(self):
        sql = TRICKY[2]
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
            f.write(sql)
            f.flush()
            self.assertEqual(self.answer(self.make("query", f"FILE={f.name}", "JSON=1")), self.expected(sql))
        self.assertEqual(self.answer(self.make("query", "FILE=-", "JSON=1", stdin=sql)), self.expected(sql))

    def test_without_sql_it_says_how(self):
        result = self.make("query")
        self.assertEqual(result.returncode, 2)
        self.assertIn('make query SQL="', result.stderr)

    def test_a_bad_query_names_the_problem(self):
        result = self.make("query", "SQL=SELECT nope FROM chat_events")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("nope", result.stderr)

    def test_a_misspelled_column_is_shown_in_the_query_as_given(self):
        result = self.make("query", "SQL=SELECT event_type, nope FROM chat_events_curated")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("LINE 1: SELECT event_type, nope FROM chat_events_curated\n", result.stderr)
        self.assertIn("\n" + " " * len("LINE 1: SELECT event_type, ") + "^^^^\n", result.stderr)
        # Not the engine's rewrite of the curated table as a read of its files.
        self.assertNotIn("read_parquet", result.stderr)
        self.assertNotIn("CAST(NULL", result.stderr)
        self.assertNotIn("Traceback", result.stderr)

    def test_output_to_a_pipe_carries_no_terminal_codes(self):
        # DuckDB draws a progress bar for queries past two seconds; into a
        # pipe nothing but the answer and its messages may arrive.
        slow = "SELECT count(*) AS n FROM range(3000000000)"
        for args in (("query", f"SQL={slow}"), ("query", "SQL=SELECT nope FROM chat_events"), ("describe",)):
            with self.subTest(args=args):
                result = self.make(*args)
                for stream in (result.stdout, result.stderr):
                    self.assertNotIn("\x1b", stream)
                    self.assertNotIn("\r", stream)

    def test_describe(self):
        result = self.make("describe", "TABLE=chat_events", "JSON=1")
        self.assertEqual(result.returncode, 0, result.stderr)
        columns = [c["name"] for c in json.loads(result.stdout)]
        self.assertEqual(columns[:2], ["event_id", "user_id"])
        self.assertIn("dt", columns)
        result = self.make("describe", "TABLE=nothing")
        self.assertEqual(result.returncode, 2)
        self.assertIn("chat_events_curated", result.stderr)

    def test_several_statements_are_refused_as_athena_refuses_them(self):
        result = self.make("query", "SQL=SELECT 1 AS a; SELECT 2 AS b")
        self.assertEqual(result.returncode, 2)
        self.assertIn("2 statements given", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_plain_output_shows_the_data_scanned(self):
        result = self.make("query", "SQL=SELECT count(*) AS n FROM chat_events")
        self.assertEqual(result.returncode, 0, result.stderr)
        scanned = [line for line in result.stdout.splitlines() if "data scanned:" in line]
        self.assertEqual(len(scanned), 1, result.stdout)
        self.assertNotIn("data scanned: 0 bytes", scanned[0])

    def test_a_lake_never_curated_says_to_curate(self):
        result = self.make("query", "SQL=SELECT count(*) AS n FROM chat_events_curated", "JSON=1")
        self.assertEqual(self.answer(result), [[0]])
        self.assertIn("run `make curate`", result.stderr)
        raw = self.make("query", "SQL=SELECT count(*) AS n FROM chat_events", "JSON=1")
        self.assertNotIn("make curate", raw.stderr)

    def test_a_missing_lake_says_what_to_run(self):
        result = subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(REPO), "query", "SQL=SELECT 1", "LAKE=/nonexistent/lake"],
            capture_output=True,
            text=True,
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn("make demo", result.stderr)


if __name__ == "__main__":
    unittest.main()
