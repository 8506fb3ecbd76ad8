"""One line per check and the count at the end: how the offline checks
report (chat_tools.checks.sql, chat_tools.stack.deploy). Standard library only,
since each of those runs in its own virtualenv."""

from __future__ import annotations


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = ""):
        if ok:
            self.passed += 1
            print(f"  ok    {name}")
        else:
            self.failed += 1
            print(f"  FAIL  {name}{': ' + detail if detail else ''}")

    def equal(self, name: str, actual, expected):
        self.check(name, actual == expected, f"expected {expected!r}, found {actual!r}")

    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"
