"""How the warehouse tests read recipes and write and compare answers: one
module, imported by chat_tools.warehouse.inputs (the lake's answers,
.venv-query), .redshift (.venv-query) and .snowflake (.venv-warehouse), so
both sides of every comparison write a value the same way. Standard library
only, since it runs in both virtualenvs.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Callable

from chat_tools import schema


class Mismatch(Exception):
    """A recipe answered differently from the transformer or the lake."""


def statements(text: str) -> list[str]:
    """A recipe's statements, comments dropped (no recipe holds ';' or
    '--' in a string)."""
    body = "\n".join(re.sub(r"--.*$", "", line) for line in text.splitlines())
    return [s.strip() for s in body.split(";") if s.strip()]


def cell(value):
    """A value as the answers write it: times to the millisecond, dates in
    ISO form, whole decimals (Snowflake's NUMBER) as integers."""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return value


def rows_equal(name: str, got: list, want: list):
    """Raises Mismatch, naming a few rows of each side, unless equal."""
    if got != want:
        missing = [r for r in want if r not in got][:3]
        extra = [r for r in got if r not in want][:3]
        raise Mismatch(f"{name}: {len(got)} rows where the lake answers {len(want)}; "
                       f"the lake's, not here: {missing}; here, not the lake's: {extra}")


def one_row_per_event_select(struct_field: Callable[[str, str], str]) -> str:
    """The SELECT list that compares a one-row-per-event view with the
    curated table: every column of the schema, in order, a struct column as
    each of its fields (`struct_field(column, field)` reads one in the
    engine's dialect); ordered by the key, (event_id, occurred_at)."""
    items = []
    for c in schema.load().columns:
        if c.kind == "struct":
            items += [struct_field(c.name, f) for f, _ in c.fields]
        else:
            items.append(c.name)
    return ", ".join(items)


ORDER_BY_KEY = "ORDER BY event_id, occurred_at"
