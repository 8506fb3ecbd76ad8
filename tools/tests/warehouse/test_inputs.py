"""The warehouse tests' lake keeps Firehose's partitioning: each line under
the UTC day it arrived (dt), whatever the hour the test runs at. A run a few
minutes after midnight once put two lines of the day before under today,
and the stream's side, which reads the arrival, answered per day otherwise.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import tempfile
import unittest
from pathlib import Path

from chat_tools.warehouse import inputs


class ReusedIds(unittest.TestCase):
    def test_each_line_is_under_its_arrival_day_minutes_after_midnight(self):
        now = dt.datetime(2026, 12, 8, 0, 5, tzinfo=dt.timezone.utc)
        with tempfile.TemporaryDirectory(prefix="warehouse-inputs-") as d:
            lake = Path(d)
            inputs.add_reused_ids(lake, now, "0b7c6c5e-0000-4a6e-9a51-3f1e2d000017")
            days = {}
            for path in lake.rglob("*.gz"):
                partition = next(part for part in path.parts if part.startswith("dt="))[3:]
                for line in gzip.decompress(path.read_bytes()).splitlines():
                    days.setdefault(partition, []).append(json.loads(line)["received_at"][:10])
        self.assertEqual(sum(len(v) for v in days.values()), 2)
        for partition, received in days.items():
            self.assertEqual(set(received), {partition})
        self.assertIn("2026-12-07", days, "a line that arrived before midnight is under the day before")


if __name__ == "__main__":
    unittest.main()
