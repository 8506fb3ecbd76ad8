"""Every copy of the event model, and what renders it: the one list `make
generate` writes and `make check` compares. A copy that cannot be generated
(the hand-written rules of a column, the Redshift view's reading of event
times) is held by its own test instead (docs/schema-changes.md lists each).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from chat_tools import samples
from chat_tools.codegen import docs, rust, sql
from chat_tools.schema import Model


@dataclass(frozen=True)
class Whole:
    """A file generated whole."""

    path: str
    render: Callable[[Model], str]


@dataclass(frozen=True)
class Regions:
    """Generated regions of a hand-written file, by region name."""

    path: str
    regions: dict[str, Callable[[Model], list[str]]]
    # What the regions are derived from (the event model, unless said).
    source: str = "schema/output-v1.schema.json"


TARGETS = [
    Whole("shared/src/model.rs", rust.render),
    Regions("template.yaml", {
        "glue-columns": sql.glue_columns,
        "glue-event-types": sql.glue_event_types,
        "curated-columns": sql.curated_substitutions,
        "columns": sql.column_names,
        "columns-continued": sql.column_names_continued,
    }),
    Regions("warehouse/redshift/03_chat_events_view.sql", {
        "redshift-casts": sql.redshift_casts,
        "redshift-plain-values": sql.redshift_plain_values,
        "redshift-plain-checks": sql.redshift_plain_checks,
        "redshift-conditions": sql.redshift_conditions,
    }),
    Regions("warehouse/redshift/04_deduplicated_view.sql", {
        "columns-and-dt": sql.column_names_and_dt,
        "columns": sql.column_names,
    }),
    Regions("warehouse/redshift/05_curated_table.sql", {"columns": sql.column_names}),
    Regions("warehouse/snowflake/03_table.sql", {"snowflake-table-columns": sql.snowflake_table_columns}),
    Regions("warehouse/snowflake/04_pipe.sql", {
        "snowflake-copy-columns": sql.snowflake_copy_columns,
        "snowflake-copy-select": sql.snowflake_copy_select,
    }),
    Regions("warehouse/snowflake/05_deduplicated_view.sql", {
        "columns-and-dt": sql.column_names_and_dt,
        "columns": sql.column_names,
    }),
    Regions("warehouse/snowflake/06_curated_iceberg_table.sql", {"columns": sql.column_names}),
    Regions("docs/transformer.md", {"input-table": docs.input_table, "columns-table": docs.columns_table}),
    # Not the event model's: template.yaml's parameters, derived the same way.
    Regions("docs/operations.md", {"parameters-table": docs.parameters_table}, source="template.yaml"),
]

# The golden samples' requests, written out from their readable form
# (chat_tools.samples): derived files too, held current the same way.
TARGETS += [
    Whole(f"events/transformer/{name}.json", lambda _model, name=name: samples.render(name))
    for name in samples.names()
]

# The golden answers, for the one change derivable without running the
# transformer: a column added to the schema, which each answered line of a
# sample without it writes as null. Anything else needs `make samples`.
TARGETS += [
    Whole(f"events/transformer/{name}.expected.json",
          lambda model, name=name: samples.complete_expected(name, model.names))
    for name in samples.expected_names()
]
