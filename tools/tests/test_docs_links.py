"""Every link of the README and docs/ reaches something: a relative link a
file of the checkout, a `#anchor` a heading of its page (GitHub's slugs:
lower case, punctuation dropped, spaces as hyphens). Two in-page links had
gone stale (issue 35)."""

from __future__ import annotations

import re
import unittest
from pathlib import Path

from chat_tools.paths import REPO

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    text = re.sub(r"`|\*\*|\*|_{2}", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    out, seen = set(), {}
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code:
            continue
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            out.add(s if n == 0 else f"{s}-{n}")
    return out


class Links(unittest.TestCase):
    def test_every_link_reaches_a_file_or_a_heading(self):
        broken = []
        for page in pages():
            text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
            for target in LINK.findall(text):
                if re.match(r"[a-z]+:", target):
                    continue  # https:, mailto:
                path, _, anchor = target.partition("#")
                goal = (page.parent / path).resolve() if path else page
                if not goal.exists():
                    broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
                    continue
                if anchor and goal.suffix == ".md" and anchor not in anchors(goal):
                    broken.append(f"{page.relative_to(REPO)}: {target} (no such heading in {goal.relative_to(REPO)})")
        self.assertEqual(broken, [])


if __name__ == "__main__":
    unittest.main()
