"""The curated table, built by the stack's curation workflow over synthetic
lakes of two ages (chat_tools.curation.bench, smaller): exactly one row per
event, a second run changes nothing, the "last day" named query answers what
the raw table de-duplicated answers, and it reads (measured from the
process: read() bytes while it runs, footers included) no more bytes than
the last two arrival days of raw objects, whatever the lake's age. Runs that
fail (after the insert, before the commit) and are retried are part of it.

`make curation-bench` runs the same on 60 and 120 arrival days for the
figures in docs/performance-history.md.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import unittest
from pathlib import Path

from chat_tools.curation import bench as curation_bench


class CuratedTable(unittest.TestCase):
    def test_exact_and_cheap_at_two_ages(self):
        end = dt.datetime.now(dt.timezone.utc).date()
        results = []
        # 12 days: the first day's events are replayed on the 11th; 16, an
        # older lake whose last days are the same as the younger's.
        for days in (12, 16):
            with tempfile.TemporaryDirectory(prefix=f"curation-{days}-") as d:
                # measure() raises BenchError on any exactness failure.
                results.append(curation_bench.measure(Path(d), days, 200, seed=7, end=end))
        for r in results:
            self.assertEqual(r.curated_rows, r.distinct_events)
            self.assertEqual(r.rerun_inserted, 0)
            self.assertTrue(r.last_day_rows_equal)
            self.assertLess(r.curated_query_files, r.raw_last_two_days_files)
        curation_bench.check_cost(results)
        # The whole-lake de-duplication grows with the lake; the curated read does not.
        self.assertGreater(results[1].raw_dedup_query_bytes, results[0].raw_dedup_query_bytes)


if __name__ == "__main__":
    unittest.main()
