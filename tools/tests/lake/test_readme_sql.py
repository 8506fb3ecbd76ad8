"""Every SQL block of the README runs unchanged with `make query` (here:
the engine `make query` uses, over a lake curated by the stack's workflow),
or is marked `*Athena only:*` on the line before it, and then at least reads as Athena SQL.
The demo output the README quotes is taken from one run: docs/demo-output.txt.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import re
import tempfile
import unittest
from pathlib import Path

from chat_tools.paths import REPO
from chat_tools.lake import dialect
from chat_tools.lake import engine
from chat_tools.lake import synthetic_lake
from chat_tools.curation import workflow

README = REPO / "README.md"
TRANSCRIPT = REPO / "docs" / "demo-output.txt"


def sql_blocks(text: str) -> list[tuple[str, bool]]:
    """(sql, athena_only) for every ```sql block: Athena only when the line
    just before the block is `*Athena only:*`."""
    out = []
    for m in re.finditer(r"```sql\n(.*?)```", text, flags=re.DOTALL):
        before = text[: m.start()].rstrip().rsplit("\n", 1)[-1]
        out.append((m.group(1), before.strip() == "*Athena only:*"))
    return out


class ReadmeSql(unittest.TestCase):
    def test_every_sql_block_runs_here_or_says_it_is_for_athena(self):
        blocks = sql_blocks(README.read_text())
        # The guide's three: a first question, the last hour, what failed.
        self.assertGreaterEqual(len(blocks), 3)
        with tempfile.TemporaryDirectory(prefix="readme-sql-") as d:
            lake_dir = Path(d)
            # A lake as `make demo` leaves it: today's events only (a
            # README query of yesterday answered nothing after the demo).
            today = dt.datetime.now(dt.timezone.utc).date()
            for obj in synthetic_lake.objects_of(today, 50, seed=3):
                synthetic_lake.write(lake_dir, obj)
            # A failed record, for the troubleshooting queries.
            failed = lake_dir / "errors" / "processing-failed" / f"dt={today}" / "failed.gz"
            failed.parent.mkdir(parents=True)
            failed.write_bytes(gzip.compress(json.dumps({
                "attemptsMade": 1, "arrivalTimestamp": 0, "errorCode": "Lambda.ProcessingFailedStatus",
                "errorMessage": "ProcessingFailed status set for record", "attemptEndingTimestamp": 0,
                "rawData": base64.b64encode(b"event_name=JOIN user=7").decode(), "lambdaArn": "arn",
            }).encode() + b"\n"))
            lake = engine.Lake(lake_dir)
            workflow.curate(lake, maintenance=True)
            lake.refresh()
            for sql, athena_only in blocks:
                with self.subTest(sql=sql.splitlines()[0]):
                    if athena_only:
                        self.assertEqual(len(dialect.parse(sql)), 1)
                        continue
                    columns, rows = lake.run(sql)
                    self.assertTrue(columns)
                    self.assertTrue(rows, "the query answered nothing over a lake of today, as make demo leaves it")


class ReadmeDemoExcerpt(unittest.TestCase):
    def test_every_quoted_line_is_in_the_one_transcript(self):
        """The first-hour excerpt (the code block starting with `[4/7]`) is
        trimmed, never stitched: each line not marked as a trim (`...`) is a
        line of docs/demo-output.txt, up to trailing blanks and the
        alignment spaces the excerpt drops. `make demo-transcript`
        regenerates the transcript; then copy the excerpt from it."""
        text = README.read_text()
        m = re.search(r"```\n(\[4/7\].*?)```", text, flags=re.DOTALL)
        self.assertIsNotNone(m, "the README's demo excerpt (a block starting with [4/7])")
        squeeze = lambda line: " ".join(line.split())  # noqa: E731
        transcript = {squeeze(line) for line in TRANSCRIPT.read_text().splitlines()}
        quoted = [line for line in m.group(1).splitlines() if line.strip() and "..." not in line]
        self.assertGreaterEqual(len(quoted), 10)
        missing = [line for line in quoted if squeeze(line) not in transcript]
        self.assertEqual(missing, [], "README lines not in docs/demo-output.txt (one run)")


if __name__ == "__main__":
    unittest.main()
