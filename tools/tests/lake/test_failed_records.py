"""The failed-records table, chat_events_failed, holds every error record of
a lake: each line Firehose wrote under errors/processing-failed/ and
errors/partitioning-failed/ (its error_type), whatever the case of its keys
(the Hive JSON SerDe ignores it), with its rawData as written; the decoded
view names the events in it (NULL text for a record that is not UTF-8, as
the view must say on Athena, whose from_utf8 substitutes U+FFFD), and the
named query failures-by-reason counts all of them.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import tempfile
import unittest
from pathlib import Path

from chat_tools.lake import engine

TODAY = dt.datetime.now(dt.timezone.utc).date()
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:transformer"


def error_line(code: str, data: bytes, capitalised: bool = False) -> str:
    """One of Firehose's error records for `data`."""
    record = {
        "attemptsMade": 4,
        "arrivalTimestamp": 1_764_754_200_000,
        "errorCode": code,
        "errorMessage": f"message for {code}",
        "attemptEndingTimestamp": 1_764_754_201_000,
        "rawData": base64.b64encode(data).decode(),
        "lambdaArn": LAMBDA_ARN,
    }
    if capitalised:  # as Firehose writes its format-conversion errors
        record["ErrorCode"] = record.pop("errorCode")
        record["ErrorMessage"] = record.pop("errorMessage")
    return json.dumps(record)


def event(i: int) -> bytes:
    return json.dumps({
        "event_id": f"00000000-0000-4000-8000-{i:012d}",
        "event_name": "JOIN",
        "event_time": "2026-11-21T12:00:00Z",
        "user": i,
    }).encode()


class FailedRecordsTable(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="failed-records-")
        lake = Path(cls.dir.name)
        cls.written: list[str] = []
        cls.events = set()
        cls.not_utf8 = 0
        n = 0
        for age, objects in ((0, 3), (1, 2), (4, 1)):
            day = TODAY - dt.timedelta(days=age)
            for o in range(objects):
                lines = []
                for i in range(25):
                    n += 1
                    if i % 10 == 3:
                        data = b"event_name=JOIN user=7"  # not JSON
                    elif i % 10 == 7:
                        data = b"\xff\xfe not UTF-8"
                        cls.not_utf8 += 1
                    else:
                        data = event(n)
                        cls.events.add(f"00000000-0000-4000-8000-{n:012d}")
                    code = "Lambda.FunctionError" if o % 2 else "Lambda.ProcessingFailedStatus"
                    lines.append(error_line(code, data, capitalised=(i == 11)))
                cls.written += lines
                path = lake / "errors" / "processing-failed" / f"dt={day}" / f"delivery-1-{day}-{o}.gz"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
        # A record Firehose could not partition: under its own error type.
        other = lake / "errors" / "partitioning-failed" / f"dt={TODAY}" / "x.gz"
        other.parent.mkdir(parents=True)
        partitioning = error_line("DynamicPartitioning.MetadataExtractionFailed", event(n + 1))
        cls.events.add(f"00000000-0000-4000-8000-{n + 1:012d}")
        other.write_bytes(gzip.compress((partitioning + "\n").encode()))
        cls.written.append(partitioning)
        # What is not an error type of the projection is not read: a replay
        # manifest under errors/ (replay's record of what it sent).
        manifest = lake / "errors" / "replayed" / "x.json"
        manifest.parent.mkdir(parents=True)
        manifest.write_text('{"objects": []}\n')
        cls.lake = engine.Lake(lake)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_every_error_record_is_a_row_with_its_raw_data(self):
        _, rows = self.lake.run("SELECT rawdata, errorcode, attemptsmade, lambdaarn FROM chat_events_failed")
        self.assertEqual(len(rows), len(self.written))
        self.assertEqual(sorted(r[0] for r in rows), sorted(json.loads(w)["rawData"] for w in self.written))
        self.assertTrue(all(r[1] is not None for r in rows), "errorcode read whatever the key's case")
        self.assertTrue(all(r[2] == 4 and r[3] == LAMBDA_ARN for r in rows))
        _, types = self.lake.run("SELECT error_type, count(*) FROM chat_events_failed GROUP BY 1 ORDER BY 1")
        self.assertEqual(types, [("partitioning-failed", 1), ("processing-failed", len(self.written) - 1)])

    def test_the_decoded_view_names_every_event_and_keeps_the_rest(self):
        _, rows = self.lake.run(
            "SELECT event_id, raw_record, error_code, user_id FROM chat_events_failed_decoded")
        self.assertEqual(len(rows), len(self.written))
        self.assertEqual({r[0] for r in rows if r[0] is not None}, self.events)
        self.assertIn("event_name=JOIN user=7", {r[1] for r in rows})
        self.assertEqual(sum(1 for r in rows if r[1] is None), self.not_utf8, "not UTF-8: no text, still a row")
        self.assertFalse([r[1] for r in rows if r[1] is not None and "\ufffd" in r[1]], "no substituted text")
        self.assertEqual({r[3] for r in rows if r[0] is not None}, {str(int(e[-12:])) for e in self.events})

    def test_the_users_column_is_user_id_as_in_the_curated_table(self):
        # A column named `user` would read, where a query forgets the
        # table, as the engine's current user: Trino's `user` is a function.
        columns, _ = self.lake.run("SELECT * FROM chat_events_failed_decoded LIMIT 0")
        self.assertIn("user_id", columns)
        self.assertNotIn("user_field", columns)
        self.assertNotIn("user", columns)

    def test_failures_by_reason_counts_every_record_of_the_week(self):
        (query,) = [q for q in self.lake.queries if q.name == "failures-by-reason"]
        columns, rows = self.lake.run(query.sql)
        records = columns.index("records")
        self.assertEqual(sum(r[records] for r in rows), len(self.written))
        codes = {r[columns.index("error_code")] for r in rows}
        self.assertEqual(codes, {"Lambda.FunctionError", "Lambda.ProcessingFailedStatus",
                                 "DynamicPartitioning.MetadataExtractionFailed"})


if __name__ == "__main__":
    unittest.main()
