"""The local engine's reads of the curated table: pruning by Iceberg's own
planning only ever skips files that cannot match, so every answer equals the
answer read from every file, for predicates of every shape on every kind of
column; and it does skip files when a predicate bounds the event time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import unittest
from pathlib import Path

from chat_tools.lake import engine
from chat_tools.lake import synthetic_lake
from chat_tools.curation import workflow

TODAY = dt.datetime.now(dt.timezone.utc).date()
YESTERDAY = TODAY - dt.timedelta(days=1)

PREDICATES = [
    "occurred_at >= current_timestamp - INTERVAL '1' DAY",
    "occurred_at > TIMESTAMP '{y} 12:00:00'",
    "occurred_at < TIMESTAMP '{y} 12:00:00'",
    "occurred_at <= DATE '{y}'",
    "occurred_at = TIMESTAMP '{y} 00:00:00'",
    "occurred_at BETWEEN TIMESTAMP '{y} 06:00:00' AND TIMESTAMP '{t} 06:00:00'",
    "TIMESTAMP '{y} 12:00:00' < occurred_at",
    "occurred_at >= current_date",
    "occurred_at < current_date",
    "event_date = DATE '{y}'",
    "event_date < TIMESTAMP '{y} 10:00:00'",
    "event_date >= TIMESTAMP '{y} 10:00:00'",
    "received_at >= TIMESTAMP '{t} 00:00:00'",
    "event_type = 'join'",
    "user_id < 10 AND occurred_at >= TIMESTAMP '{y} 00:00:00'",
    "occurred_at < TIMESTAMP '2024-01-01 00:00:00'",
    "occurred_at >= TIMESTAMP '{y} 00:00:00' OR event_type = 'leave'",
]


class Pruning(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="pruning-")
        lake_dir = Path(cls.dir.name)
        for day in (TODAY - dt.timedelta(days=2), YESTERDAY, TODAY):
            for obj in synthetic_lake.objects_of(day, 120, seed=5):
                synthetic_lake.write(lake_dir, obj)
            lake = engine.Lake(lake_dir)
            # One run a day, so the table has several files per partition.
            workflow.curate(lake, maintenance=True, today=day)
        cls.pruned = engine.Lake(lake_dir)
        cls.everything = engine.Lake(lake_dir, prune=False)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_pruning_never_changes_an_answer(self):
        for predicate in PREDICATES:
            where = predicate.format(y=YESTERDAY, t=TODAY)
            for sql in (
                f"SELECT count(*), count(DISTINCT event_id), min(occurred_at), max(occurred_at) FROM chat_events_curated WHERE {where}",
                f"SELECT c.event_type, count(*) FROM chat_events_curated AS c WHERE {where.replace('occurred_at', 'c.occurred_at')} GROUP BY 1 ORDER BY 1",
            ):
                with self.subTest(sql=sql):
                    self.assertEqual(self.pruned.run(sql)[1], self.everything.run(sql)[1])

    def test_a_bound_on_event_time_skips_the_other_days(self):
        sql = f"SELECT count(*) FROM chat_events_curated WHERE occurred_at >= TIMESTAMP '{TODAY} 00:00:00'"
        pruned, everything = self.pruned.profile(sql), self.everything.profile(sql)
        self.assertLess(pruned.parquet_files, everything.parquet_files)
        self.assertLess(pruned.bytes_read, everything.bytes_read)
        self.assertEqual(self.pruned.run(sql)[1], self.everything.run(sql)[1])

    def test_a_constant_not_of_the_columns_type_is_the_querys_error_not_the_planners(self):
        # Iceberg's planner raised a ValueError traceback on `user_id = 'x'`;
        # now the predicate is not used to prune and DuckDB names the value.
        with self.assertRaisesRegex(engine.duckdb.Error, "'x'"):
            self.pruned.run("SELECT count(*) FROM chat_events_curated WHERE user_id = 'x'")
        sql = "SELECT count(*) FROM chat_events_curated WHERE user_id = '7'"
        self.assertEqual(self.pruned.run(sql)[1], self.everything.run(sql)[1])


    def test_opening_the_lake_reads_no_data_file(self):
        # The regression of issue 35: the stack's views were created in
        # DuckDB when the lake was opened, and binding a view over the
        # curated table opened the footer of every data file. Views are
        # expanded where used now: opening a lake creates none of them.
        lake = engine.Lake(Path(self.dir.name))
        views = {v for (v,) in lake.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        self.assertEqual(views, {t.name for t in lake.glue_tables}, "only the raw tables' views")
        self.assertIn("chat_events_recent", lake.views)

    def test_a_bound_through_a_view_reaches_the_curated_table(self):
        # Athena pushes the filter into the view; so does the local engine.
        sql = f"SELECT count(*) FROM chat_events_recent WHERE occurred_at >= TIMESTAMP '{TODAY} 00:00:00'"
        pruned, everything = self.pruned.profile(sql), self.everything.profile(sql)
        self.assertLess(pruned.parquet_files, everything.parquet_files)
        self.assertEqual(self.pruned.run(sql)[1], self.everything.run(sql)[1])
        unbounded = "SELECT count(*) FROM chat_events_recent"
        self.assertGreater(self.pruned.profile(unbounded).parquet_files, pruned.parquet_files)

    def test_bytes_read_are_measured_from_the_process(self):
        sql = f"SELECT * FROM chat_events_curated WHERE occurred_at >= TIMESTAMP '{TODAY} 00:00:00'"
        before = engine.process_read_bytes()
        profile = self.pruned.profile(sql)
        self.assertGreater(profile.bytes_read, 0)
        self.assertLessEqual(profile.bytes_read, engine.process_read_bytes() - before)


class ErrorsAboutTheQueryGiven(unittest.TestCase):
    """DuckDB quotes the statement it ran, which is the engine's rewrite."""

    def test_the_users_line_is_marked_not_the_rewrite(self):
        message = (
            'Binder Error: Referenced column "nope" not found in FROM clause!\nCandidate bindings: "source"\n\n'
            "LINE 1: SELECT nope FROM (SELECT event_id, event_type FROM read_parquet([...\n               ^^^^"
        )
        sql = "SELECT event_type,\n       nope\nFROM chat_events_curated"
        self.assertEqual(
            engine.error_in_query(message, sql),
            'Binder Error: Referenced column "nope" not found in FROM clause!\nCandidate bindings: "source"\n\n'
            "LINE 2:        nope\n               ^^^^",
        )

    def test_a_name_not_in_the_query_leaves_only_the_message(self):
        message = 'Binder Error: Referenced column "dt" not found\n\nLINE 1: SELECT dt FROM (SELECT ...\n       ^^'
        self.assertEqual(engine.error_in_query(message, "SELECT x_dt FROM t"), 'Binder Error: Referenced column "dt" not found')

    def test_a_message_without_a_quote_is_unchanged(self):
        self.assertEqual(engine.error_in_query("Conversion Error: no", "SELECT 1"), "Conversion Error: no")


if __name__ == "__main__":
    unittest.main()
