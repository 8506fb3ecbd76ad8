"""The column lists and types of every SQL copy of the event model: the
Glue table and the curation workflow's substitutions (template.yaml), the
named queries, and the Redshift and Snowflake recipes. Each function returns
a region's lines, unindented."""

from __future__ import annotations

import json

from chat_tools.codegen.regions import wrap
from chat_tools.schema import Model

# ------------------------------------------------------------ template.yaml --


def glue_columns(model: Model) -> list[str]:
    """EventsTable's StorageDescriptor.Columns (the partitions are declared
    apart, as PartitionKeys)."""
    out = []
    for c in model.columns:
        if c.name == "event_type":
            continue  # a partition key of the raw table, not a data column
        out += [f"- Name: {c.name}", f"  Type: {c.glue_type()}"]
    return out


def glue_event_types(model: Model) -> list[str]:
    return [f"projection.event_type.values: {','.join(model.event_types)}"]


def curated_substitutions(model: Model) -> list[str]:
    """The curation workflow's column lists, as DefinitionSubstitutions: the
    statemachine's SQL names them ${CuratedColumns} and so on."""
    names = ", ".join(model.names)
    definitions = ", ".join(f"{c.name} {c.athena_ddl_type()}" for c in model.columns)
    return [
        f"CuratedColumns: {json.dumps(names)}",
        f"CuratedColumnDefinitions: {json.dumps(definitions)}",
    ]


def column_names(model: Model) -> list[str]:
    """The columns, comma-separated, as a SELECT list (no trailing comma)."""
    return wrap(model.names, width=72)


def column_names_continued(model: Model) -> list[str]:
    """The columns, comma-separated, as the start of a SELECT list that goes
    on (a trailing comma)."""
    lines = wrap(model.names, width=72)
    lines[-1] += ","
    return lines


def column_names_and_dt(model: Model) -> list[str]:
    """The columns and the raw table's arrival-day partition, one per line."""
    names = model.names + ["dt"]
    return [f"{n}," for n in names[:-1]] + [names[-1]]


# ----------------------------------------------------------------- Redshift --


def redshift_casts(model: Model) -> list[str]:
    """03_chat_events_view.sql's outer SELECT: every column cast to its type."""
    out = []
    for c in model.columns:
        source = "occurred_at" if c.transformer == "event-date" else c.name
        out.append(f"CAST({source} AS {c.redshift_type()}) AS {c.name},")
    dt = next(p for p in model.partitions if p.name == "dt")
    out.append(f"CAST(dt AS VARCHAR({dt.max_length})) AS dt")
    return out


def _payload(field: str) -> str:
    return f'payload."{field}"'


def redshift_plain_values(model: Model) -> list[str]:
    """03's inner SELECT for the plain columns: each read from its input
    field, as the transformer reads it (a value of another kind is refused
    by the column's check, below)."""
    out = []
    for c in model.plain_columns:
        p = _payload(c.input_field)
        if c.kind == "string":
            out.append(f"CAST({p} AS VARCHAR) AS {c.name},")
        else:
            out.append(f"CASE WHEN IS_BIGINT({p}) THEN CAST({p} AS BIGINT) END AS {c.name},")
    return out


def redshift_plain_checks(model: Model) -> list[str]:
    """03's checks of the plain columns, as the transformer makes them:
    absent or null, or a string of the column's length in characters (LEN
    counts characters, OCTET_LENGTH bytes), or an integer in its range."""
    out = []
    for c in model.plain_columns:
        p = _payload(c.input_field)
        out.append(f"{p} IS NULL")
        if c.kind == "string":
            low, high = c.min_length or 0, c.max_length
            length = f"LEN(CAST({p} AS VARCHAR))"
            bound = f"{length} BETWEEN {low} AND {high}" if high is not None else f"{length} >= {low}"
            out += ["OR (", f"    IS_VARCHAR({p})", f"    AND {bound}", f") AS {c.name}_ok,"]
        else:
            conditions = [f"IS_BIGINT({p})"]
            if c.minimum is not None:
                conditions.append(f"CAST({p} AS BIGINT) >= {c.minimum}")
            if c.maximum is not None and c.maximum < 2**63 - 1:
                conditions.append(f"CAST({p} AS BIGINT) <= {c.maximum}")
            out.append(f"OR ({' AND '.join(conditions)}) AS {c.name}_ok,")
    return out


def redshift_conditions(model: Model) -> list[str]:
    """03's WHERE: the known event types and every plain column's check."""
    types = ", ".join(f"'{t}'" for t in model.event_types)
    return [f"AND event_type IN ({types})"] + [f"AND {c.name}_ok" for c in model.plain_columns]


# ---------------------------------------------------------------- Snowflake --


def snowflake_table_columns(model: Model) -> list[str]:
    """03_table.sql: every column with its type and nullability, then dt."""
    out = [f"{c.name} {c.snowflake_type()}{'' if c.nullable else ' NOT NULL'}," for c in model.columns]
    dt = next(p for p in model.partitions if p.name == "dt")
    out.append(f"dt VARCHAR({dt.max_length}) NOT NULL,")
    return out


def snowflake_copy_columns(model: Model) -> list[str]:
    """04_pipe.sql's COPY column list: the columns and dt (the pipe's own
    columns follow)."""
    lines = wrap(model.names + ["dt"], width=72)
    lines[-1] += ","
    return lines


def snowflake_copy_select(model: Model) -> list[str]:
    """04_pipe.sql's SELECT: each column of the line, cast to its type."""
    return [f"$1:{c.name}::{c.snowflake_type()}," for c in model.columns]
