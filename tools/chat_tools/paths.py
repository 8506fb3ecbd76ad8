"""Where the repository's files are, for every tool: the one place that
knows the layout (tools/ inside the repository root)."""

from __future__ import annotations

from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
REPO = TOOLS.parent
TEMPLATE = REPO / "template.yaml"
SCHEMA = REPO / "schema" / "output-v1.schema.json"
README = REPO / "README.md"
DOCS = REPO / "docs"
