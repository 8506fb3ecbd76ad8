"""What a newcomer's first hour ran into (issue 35), each tried as they tried
it: a lake path with a space, `make curate` through a pipe, a parse error
into a pipe, a bad number, `make help`, the README's decoder, `make clean`
and `make deploy` without credentials.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from chat_tools.paths import REPO
from chat_tools.lake import synthetic_lake

PYTHON = str(REPO / ".venv-query" / "bin" / "python")
ENV = {**os.environ, "PYTHONPATH": str(REPO / "tools")}


def make(*args: str, cwd: Path = REPO, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, env=env or ENV, capture_output=True,
                          text=True, timeout=timeout)


class Lake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="newcomer lake ")  # a space in the path
        cls.lake = Path(cls.dir.name) / "my lake"
        today = dt.datetime.now(dt.timezone.utc).date()
        for obj in synthetic_lake.objects_of(today, 60, seed=3):
            synthetic_lake.write(cls.lake, obj)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_a_lake_path_with_a_space_works(self):
        done = make("query", f"LAKE={self.lake}", "SQL=SELECT count(*) AS n FROM chat_events")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("data scanned", done.stdout)

    def test_curate_prints_each_state_as_it_ends_through_a_pipe(self):
        started = time.monotonic()
        with subprocess.Popen([PYTHON, "-m", "chat_tools.lake", "--lake", str(self.lake), "curate", "--maintenance"],
                              env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            first_state = None
            for line in proc.stdout:
                if line.startswith("  AcquireLock"):
                    first_state = time.monotonic() - started
                    self.assertIsNone(proc.poll(), "the run had ended before its first state was printed")
                    break
            rest = proc.stdout.read()
            errors = proc.stderr.read()
            proc.wait(timeout=300)
        ended = time.monotonic() - started
        self.assertIsNotNone(first_state)
        self.assertEqual(proc.returncode, 0, errors)
        self.assertIn("history:", rest)
        self.assertLess(first_state, ended)

    def test_a_parse_error_into_a_pipe_has_no_terminal_codes(self):
        done = make("query", f"LAKE={self.lake}", "SQL=SELEC 1")
        self.assertNotEqual(done.returncode, 0)
        self.assertNotIn("\x1b[", done.stderr)
        self.assertIn("SELEC", done.stderr)

    def test_the_failed_tables_report_the_files_they_read(self):
        errors = self.lake / "errors" / "processing-failed" / "dt=2026-12-01"
        errors.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"attemptsMade": 1, "arrivalTimestamp": 0, "errorCode": "x", "errorMessage": "m",
                           "attemptEndingTimestamp": 0, "rawData": "YQ==", "lambdaArn": "arn"})
        (errors / "a.gz").write_bytes(gzip.compress((line + "\n").encode()))
        done = make("query", f"LAKE={self.lake}", "SQL=SELECT count(*) AS n FROM chat_events_failed")
        self.assertEqual(done.returncode, 0, done.stderr)
        scanned = re.search(r"data scanned: ([\d,]+) bytes in (\d+) files?", done.stdout)
        self.assertIsNotNone(scanned, done.stdout)
        self.assertGreater(int(scanned.group(2)), 0, done.stdout)


class MakeVariables(unittest.TestCase):
    def test_a_bad_number_names_the_make_variable(self):
        for variable, value in (("EVENTS", "abc"), ("EVENTS", "1"), ("TICKS", "-2")):
            done = make("demo", f"{variable}={value}")
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertIn(f"{variable}={value}: expected a whole number", done.stderr)
            self.assertNotIn("--events", done.stderr)
            self.assertNotIn("cargo", done.stdout + done.stderr, "nothing was built")

    def test_help_says_which_values_are_defaults(self):
        done = make("help")
        (line,) = [l for l in done.stdout.splitlines() if l.strip().startswith("demo ")]
        defaults = re.search(r"defaults ([^;)]*)", line).group(1)
        self.assertEqual(defaults, "TICKS=3 EVENTS=500 LAKE=out")
        self.assertIn("add KEEP=1", line)


class ReadmeDecoder(unittest.TestCase):
    def test_the_decoder_one_liner_reads_a_response_with_non_utf8_records(self):
        readme = (REPO / "README.md").read_text()
        (command,) = re.findall(r"\| \.venv-query/bin/python -c '([^']+)'", readme)
        response = (REPO / "events" / "transformer" / "mixed-invalid.expected.json").read_text()
        done = subprocess.run([PYTHON, "-c", command], input=response, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(len(done.stdout.splitlines()), len(json.loads(response)["records"]))


class CleanAndDeploy(unittest.TestCase):
    def test_clean_keeps_each_environments_first_deploy_mark(self):
        with tempfile.TemporaryDirectory(prefix="make-clean-") as d:
            root = Path(d)
            shutil.copy(REPO / "Makefile", root)
            (root / ".aws-sam" / "build").mkdir(parents=True)
            (root / ".aws-sam" / "deployed-staging").write_text("")
            (root / "target").mkdir()
            done = make("clean", cwd=root)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(sorted(p.name for p in (root / ".aws-sam").iterdir()), ["deployed-staging"])
            self.assertFalse((root / "target").exists())

    def test_deploy_without_credentials_stops_before_building(self):
        env = {k: v for k, v in ENV.items() if not k.startswith("AWS_")}
        env.update(AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null", AWS_EC2_METADATA_DISABLED="true")
        started = time.monotonic()
        done = make("deploy", env=env)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("no AWS credentials", done.stderr)
        self.assertNotIn("sam build", done.stdout)
        self.assertLess(time.monotonic() - started, 60)


if __name__ == "__main__":
    unittest.main()
