"""The Makefile's targets install only the virtualenvs they use: a
newcomer's first `make demo` builds .venv-tools and .venv-query, never
.venv-checkov (291 MB) or .venv-ministack, which only the template checks
and the emulator deployment use.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path

from chat_tools import pins
from chat_tools.paths import REPO


def venvs_installed_by(target: str) -> set[str]:
    """The virtualenvs `make -n TARGET` would create in a checkout that has none."""
    with tempfile.TemporaryDirectory(prefix="make-targets-") as d:
        shutil.copy(REPO / "Makefile", d)
        shutil.copytree(REPO / "tools", Path(d) / "tools", ignore=shutil.ignore_patterns("tests", "__pycache__"))
        out = subprocess.run(["make", "-n", target], cwd=d, capture_output=True, text=True, check=True).stdout
    return set(re.findall(r"-m venv (\.venv-[a-z]+)", out))


class VirtualenvsPerTarget(unittest.TestCase):
    def test_the_demo_installs_only_what_it_uses(self):
        self.assertEqual(venvs_installed_by("demo"), {".venv-tools", ".venv-query"})

    def test_a_query_needs_only_the_query_tools(self):
        self.assertEqual(venvs_installed_by("query"), {".venv-query"})

    def test_the_warehouse_test_needs_the_query_tools_and_fakesnow(self):
        self.assertEqual(venvs_installed_by("warehouse-test"), {".venv-query", ".venv-warehouse"})

    def test_the_test_target_installs_every_one(self):
        self.assertEqual(venvs_installed_by("test"),
                         {".venv-tools", ".venv-query", ".venv-checkov", ".venv-ministack", ".venv-warehouse"})

    def test_each_install_says_which_virtualenv_and_what_goes_into_it(self):
        # The installs were silent stretches between identical lines.
        with tempfile.TemporaryDirectory(prefix="make-targets-") as d:
            shutil.copy(REPO / "Makefile", d)
            shutil.copytree(REPO / "tools", Path(d) / "tools", ignore=shutil.ignore_patterns("tests", "__pycache__"))
            out = subprocess.run(["make", "--dry-run", "demo"], cwd=d, capture_output=True, text=True, check=True).stdout
            # The echo commands as the recipe's shell runs them (with the
            # PYTHONPATH the Makefile exports).
            env = {**os.environ, "PYTHONPATH": str(Path(d) / "tools")}
            lines = [subprocess.run(["bash", "-c", line], cwd=d, env=env, capture_output=True, text=True,
                                    check=True).stdout
                     for line in out.splitlines() if "Installing .venv-" in line]
        self.assertEqual(len(lines), 2, out)
        for venv, line in zip(("tools", "query"), lines):
            self.assertIn(f"Installing .venv-{venv} ", line)
            for requirement in pins.groups()[venv]:
                self.assertIn(requirement, line)


class InvokeMessages(unittest.TestCase):
    def run_make(self, *args: str) -> subprocess.CompletedProcess:
        # .venv-tools stands installed (touch), so only the recipe runs.
        return subprocess.run(["make", "-s", "--no-print-directory", "-o", ".venv-tools/.installed", *args],
                              cwd=REPO, capture_output=True, text=True)

    def test_a_missing_event_file_is_named(self):
        for target in ("invoke-transformer", "invoke-producer"):
            result = self.run_make(target, "EVENT=events/no-such-event.json")
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("No event file events/no-such-event.json", result.stderr)

    def test_cargo_lambdas_discussion_footer_is_left_out(self):
        out = subprocess.run(["make", "-n", "-o", ".venv-tools/.installed", "invoke-producer"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        self.assertIn("grep -v -e 'Was this behavior unexpected?'", out)


class YesNoVariables(unittest.TestCase):
    """KEEP, FAULTS and JSON are on for 1, yes or true; KEEP=0 once turned
    keeping on and JSON=0 printed JSON."""

    def recipe(self, *args: str) -> str:
        return subprocess.run(["make", "-n", "-o", ".venv-tools/.installed", "-o", ".venv-query/.installed", *args],
                              cwd=REPO, capture_output=True, text=True, check=True).stdout

    def test_on_for_1_yes_true_and_off_for_anything_else(self):
        for value, on in (("1", True), ("yes", True), ("true", True), ("0", False), ("no", False), ("", False)):
            with self.subTest(value=value):
                demo = self.recipe("demo", f"KEEP={value}", f"FAULTS={value}")
                self.assertEqual("--keep" in demo, on, demo)
                self.assertEqual("--faults" in demo, on, demo)
                query = self.recipe("query", "SQL=SELECT 1", f"JSON={value}")
                self.assertEqual("--json" in query, on, query)


if __name__ == "__main__":
    unittest.main()
