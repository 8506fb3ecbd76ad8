"""chat_tools.cost: what `make cost` measures from a lake and the bill it
prices, held to issue 36's bounds (packed Firehose ingestion at most a tenth
of one event a record, the whole pipeline at most a third at 1,000
events/s) on a run's figures, and to the template's settings."""

from __future__ import annotations

import gzip
import io
import json
import tempfile
import unittest
import unittest.mock
from contextlib import redirect_stdout
from pathlib import Path

from chat_tools.cost import __main__ as cost_cli
from chat_tools.cost import model

# An event of the demo's size (about 200 bytes as sent, 230 as landed).
EVENT = {"event_id": "e", "user_id": "u", "type": "SEND_MESSAGE", "text": "x" * 120}


def write_lake(root: Path, events: int, records: int, event_bytes: int = 200) -> None:
    """A lake as `make demo` leaves it: the ledger and GZIP objects."""
    (root / "_demo").mkdir(parents=True)
    (root / "_demo" / "ledger.json").write_text(json.dumps({
        "accepted": events,
        "accepted_records": records,
        # Packed records hold events joined by newlines.
        "accepted_bytes": events * event_bytes + (events - records),
        "split": events,
        "invocations": max(1, events // 1000),
    }))
    day = root / "events" / "event_type=SEND_MESSAGE" / "dt=20261207"
    day.mkdir(parents=True)
    line = (json.dumps(EVENT) + "\n").encode()
    (day / "part-0.gz").write_bytes(gzip.compress(line * events))


class Measure(unittest.TestCase):
    def test_reads_the_ledger_and_the_objects(self):
        with tempfile.TemporaryDirectory() as d:
            write_lake(Path(d), events=4000, records=34)
            m = model.measure(Path(d))
        self.assertEqual((m.events, m.records), (4000, 34))
        self.assertAlmostEqual(m.event_bytes, 200.0)
        self.assertEqual(m.output_bytes, len(json.dumps(EVENT)) + 1)
        self.assertAlmostEqual(m.invocations_per_event, 4 / 4000)

    def test_a_lake_without_a_ledger_names_what_to_run(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(model.CostError, r"no ledger at .*make demo"):
                model.measure(Path(d))

    def test_a_ledger_without_record_counts_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            write_lake(Path(d), events=10, records=0)
            with self.assertRaisesRegex(model.CostError, "no record counts"):
                model.measure(Path(d))


class Estimate(unittest.TestCase):
    def setUp(self):
        self.m = model.Measured(events=4000, records=34, event_bytes=200.0, landed_gz_bytes=60.0,
                                output_bytes=230.0, curated_bytes=40.0, invocations_per_event=0.001)
        self.settings = model.settings_from_template()
        self.p = model.prices()

    def pair(self, rate: float) -> tuple[model.Estimate, model.Estimate]:
        return (model.estimate(self.m, rate, "packed", self.settings, self.p),
                model.estimate(self.m, rate, "one-per-record", self.settings, self.p))

    @staticmethod
    def line(e: model.Estimate, service: str) -> float:
        return next(line.dollars for line in e.lines if line.service == service)

    def test_packed_records_fill_to_the_byte_bound(self):
        per, size = model.record_shape(self.m, "packed")
        self.assertEqual(per, 124.0)  # floor(25,001 / 201)
        self.assertLessEqual(size, model.MAX_PACKED_BYTES)
        self.assertEqual(model.record_shape(self.m, "one-per-record"), (1.0, 200.0))

    def test_small_events_fill_to_the_event_bound(self):
        small = model.Measured(**{**self.m.__dict__, "event_bytes": 20.0})
        self.assertEqual(model.record_shape(small, "packed")[0], model.MAX_EVENTS_PER_RECORD)

    def test_at_1000_events_a_second_packing_cuts_firehose_tenfold_and_the_bill_threefold(self):
        packed, single = self.pair(1_000)
        self.assertLessEqual(self.line(packed, "firehose_ingestion"), self.line(single, "firehose_ingestion") / 10)
        self.assertLessEqual(packed.total, single.total / 3)

    def test_at_100000_events_a_second_firehose_ingestion_is_a_tenth(self):
        packed, single = self.pair(100_000)
        self.assertLessEqual(self.line(packed, "firehose_ingestion"), self.line(single, "firehose_ingestion") / 10)

    def test_firehose_rounds_each_record_up_to_5_kb(self):
        packed, single = self.pair(1_000)
        # 200-byte events bill 5 KB each: 25 times what they hold.
        gb_single = 1_000 * model.SECONDS * 5 * 1024 / model.GB
        self.assertAlmostEqual(self.line(single, "firehose_ingestion"), model.tiered(self.p, gb_single), places=2)

    def test_the_tiers_price_each_band_at_its_own_rate(self):
        tiers = self.p["firehose_ingestion_per_gb"]["tiers"]
        first_tb, first_price = tiers[0]
        second_price = tiers[1][1]
        gb = first_tb * 1024 + 100
        self.assertAlmostEqual(model.tiered(self.p, gb), first_tb * 1024 * first_price + 100 * second_price)

    def test_producers_fan_out_past_the_largest_tick(self):
        per_tick = self.settings["max_events_per_tick"]
        one = model.estimate(self.m, per_tick / 60, "packed", self.settings, self.p)
        self.assertIn("1 producer(s)", next(line.basis for line in one.lines if line.service == "lambda"))
        many = model.estimate(self.m, 100_000, "packed", self.settings, self.p)
        self.assertIn(f"{-(-100_000 * 60 // per_tick)} producer(s)",
                      next(line.basis for line in many.lines if line.service == "lambda"))

    def test_more_rescan_days_cost_more_athena(self):
        one = model.estimate(self.m, 1_000, "packed", {**self.settings, "rescan_days": 1}, self.p)
        three = model.estimate(self.m, 1_000, "packed", {**self.settings, "rescan_days": 3}, self.p)
        self.assertGreater(self.line(three, "athena"), self.line(one, "athena"))


class Settings(unittest.TestCase):
    def test_read_from_the_template(self):
        s = model.settings_from_template()
        self.assertEqual(s["rescan_days"], 1)
        self.assertEqual(s["max_events_per_tick"], 100_000)
        self.assertGreater(s["pace_seconds"], 0)
        self.assertEqual(s["s3_buffer_bytes"] % (1024 * 1024), 0)


class Cli(unittest.TestCase):
    def test_prints_three_rates_and_json_rows(self):
        with tempfile.TemporaryDirectory() as d:
            write_lake(Path(d), events=4000, records=34)
            out = io.StringIO()
            with redirect_stdout(out):
                self.assertEqual(cost_cli.main(["--lake", d, "--json"]), 0)
            rows = json.loads(out.getvalue())
        self.assertEqual(len(rows), 6)
        self.assertEqual({r["design"] for r in rows}, {"packed", "one-per-record"})
        self.assertEqual(sorted({r["events_per_second"] for r in rows})[1:], [1_000.0, 100_000.0])

    def test_a_missing_lake_exits_2_with_the_reason(self):
        err = io.StringIO()
        with tempfile.TemporaryDirectory() as d, unittest.mock.patch("sys.stderr", err):
            self.assertEqual(cost_cli.main(["--lake", d]), 2)
        self.assertIn("make cost: no ledger", err.getvalue())


if __name__ == "__main__":
    unittest.main()
