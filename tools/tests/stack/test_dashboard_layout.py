"""The picture of the dashboard in docs/operations.md is the one
chat_tools.stack.dashboard draws from template.yaml today, and the drawing
follows the template (the stream row only with a Kinesis source)."""

from __future__ import annotations

import unittest

from chat_tools.paths import REPO
from chat_tools.stack import dashboard as dashboard_layout

DOC = REPO / "docs" / "operations.md"


class DashboardPicture(unittest.TestCase):
    def test_the_documented_picture_is_current(self):
        text = DOC.read_text()
        start = text.index(dashboard_layout.BEGIN)
        end = text.index(dashboard_layout.END) + len(dashboard_layout.END)
        self.assertEqual(
            text[start:end], dashboard_layout.picture(True),
            "docs/operations.md: redraw with `.venv-query/bin/python chat_tools.stack.dashboard --write docs/operations.md`",
        )

    def test_the_stream_row_follows_the_source_type(self):
        self.assertIn("Iterator age", dashboard_layout.picture(True))
        self.assertNotIn("Iterator age", dashboard_layout.picture(False))

    def test_rows_fill_the_grid(self):
        for row in dashboard_layout.rows(dashboard_layout.body(True)["widgets"]):
            self.assertEqual(sum(w["width"] for w in row), 24, [w["properties"].get("title") for w in row])


if __name__ == "__main__":
    unittest.main()
