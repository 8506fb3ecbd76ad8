"""The pins of one job's virtualenv, from tools/pyproject.toml (the one
place they live), one requirement a line: what the Makefile hands to pip.

    python3 -m chat_tools.pins query

Standard library only (tomllib), so it runs before any virtualenv exists.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def groups() -> dict[str, list[str]]:
    """Each job's pinned requirements, by virtualenv name."""
    with open(PYPROJECT, "rb") as f:
        return tomllib.load(f)["project"]["optional-dependencies"]


def main(argv: list[str]) -> int:
    known = groups()
    if len(argv) != 1 or argv[0] not in known:
        print(f"usage: python3 -m chat_tools.pins {{{','.join(sorted(known))}}}", file=sys.stderr)
        return 2
    print("\n".join(known[argv[0]]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
