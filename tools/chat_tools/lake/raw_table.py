"""The stack's Glue tables over the raw lake on this machine: `chat_events`
(what landed) and `chat_events_failed` (Firehose's error records), each as
template.yaml defines it (columns, SerDe timestamp format, partition
projection, location template), as a DuckDB view over the local lake.

Where it sits: Firehose (locally, the stand-in) writes GZIP NDJSON under
events/event_type=.../dt=.../; in AWS Athena reads it through the Glue table;
here DuckDB reads the same files through a view of the same name:

- columns and types from the table's StorageDescriptor.Columns, partition
  columns from PartitionKeys, the timestamp format from the SerDe's
  `timestamp.formats`;
- files from `storage.location.template`, with the bucket replaced by the
  local lake directory;
- rows only from partitions the projection enumerates (an enum's values, a
  date range up to NOW in the projection's format): Athena silently returns
  nothing for an object outside the projection, so neither does this view;
- JSON keys matched to columns ignoring case, as the Hive JSON SerDe does
  (Athena's reader lower-cases both: trino-hive-formats JsonDeserializer,
  getFieldPosition): Firehose writes `attemptsMade`, `errorCode`, ... into
  the error records, and they fill the columns `attemptsmade`, `errorcode`.
  For `chat_events` the faster typed reader is used instead, which matches
  keys exactly: its one writer, the transformer, writes the column names as
  they are (tests/tests/integration/schema_agreement.rs).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from chat_tools import cfn_template
from chat_tools.lake.dialect import DialectError, glue_type_to_duckdb, strftime_pattern

TABLE_TYPE = "AWS::Glue::Table"
# The table of what landed; its keys are written exactly as its columns.
EVENTS_TABLE = "EventsTable"
# Matches a JSON key to a column name ignoring case, as the Hive JSON SerDe.
HIVE_JSON_FIELD_MACRO = (
    "CREATE OR REPLACE MACRO hive_json_field(j, name) AS json_extract_string(j, '$.\"' || "
    "coalesce(list_filter(json_keys(j), lambda k: lower(k) = name)[1], name) || '\"')"
)
# The data bucket's name in s3:// locations, standing for the local lake directory.
BUCKET = "__bucket__"


@dataclass
class Projection:
    """One partition column's projection: the values Athena enumerates."""

    column: str
    kind: str  # "enum" or "date"
    values: list[str] | None = None
    strftime: str | None = None
    start: str | None = None
    end: str | None = None  # "NOW" or a date in the format

    def predicate(self) -> str:
        col = f'"{self.column}"'
        if self.kind == "enum":
            values = ", ".join(sql_string(v) for v in self.values or [])
            return f"{col} IN ({values})"
        fmt = sql_string(self.strftime or "")
        # Only values the projection could have generated: well formed in the
        # format, from the start to the end (NOW: today, UTC).
        parsed = f"try_strptime({col}, {fmt})"
        end = "current_date" if self.end == "NOW" else f"CAST(strptime({sql_string(self.end or '')}, {fmt}) AS DATE)"
        return (
            f"strftime({parsed}, {fmt}) = {col}"
            f" AND CAST({parsed} AS DATE) BETWEEN CAST(strptime({sql_string(self.start or '')}, {fmt}) AS DATE) AND {end}"
        )


@dataclass
class Table:
    """The Glue table as template.yaml defines it."""

    name: str
    columns: list[tuple[str, str]]  # (name, Glue type), data columns
    partitions: list[tuple[str, str]]
    timestamp_format: str | None
    location_template: str  # with ${column} placeholders
    bucket_prefix: str  # "s3://<bucket>/"
    projections: list[Projection]
    # True when every object's keys are exactly the column names, so the
    # typed reader (exact keys) answers as the SerDe (any case) would.
    exact_keys: bool = False

    @staticmethod
    def from_template(template: dict, parameters: dict[str, str]) -> "Table":
        """The table of what landed, chat_events."""
        tables = cfn_template.resources_of_type(template, TABLE_TYPE)
        if EVENTS_TABLE not in tables:
            raise DialectError(f"template.yaml: no {TABLE_TYPE} {EVENTS_TABLE}, found {sorted(tables)}")
        return Table.from_resource(EVENTS_TABLE, tables[EVENTS_TABLE], parameters)

    @staticmethod
    def all_from_template(template: dict, parameters: dict[str, str]) -> list["Table"]:
        """Every Glue table of the stack, chat_events first."""
        tables = cfn_template.resources_of_type(template, TABLE_TYPE)
        return [Table.from_resource(k, r, parameters) for k, r in sorted(tables.items(), key=lambda kv: kv[0] != EVENTS_TABLE)]

    @staticmethod
    def from_resource(logical: str, resource: dict, parameters: dict[str, str]) -> "Table":
        ti = resource["Properties"]["TableInput"]
        sd = ti["StorageDescriptor"]
        bucket = BUCKET
        params = {k: cfn_template.sub(v, parameters, {"DataBucket": bucket}) for k, v in ti["Parameters"].items()}
        if params.get("projection.enabled") != "true":
            raise DialectError(f"{logical}: only tables with partition projection are supported")
        partitions = [(p["Name"], p["Type"]) for p in ti.get("PartitionKeys", [])]
        projections = []
        for name, _ in partitions:
            kind = params.get(f"projection.{name}.type")
            if kind == "enum":
                projections.append(Projection(name, "enum", values=params[f"projection.{name}.values"].split(",")))
            elif kind == "date":
                start, _, end = params[f"projection.{name}.range"].partition(",")
                unit = params.get(f"projection.{name}.interval.unit", "DAYS")
                if params.get(f"projection.{name}.interval", "1") != "1" or unit != "DAYS":
                    raise DialectError(f"{logical}: projection of {name}: only 1-DAYS intervals are translated")
                if end.strip() != "NOW" and "NOW" in end:
                    raise DialectError(f"{logical}: projection of {name}: NOW with an offset is not translated")
                projections.append(
                    Projection(name, "date", strftime=strftime_pattern(params[f"projection.{name}.format"]),
                               start=start.strip(), end=end.strip())
                )
            else:
                raise DialectError(f"{logical}: projection type {kind!r} of {name} is not translated")
        formats = sd.get("SerdeInfo", {}).get("Parameters", {}).get("timestamp.formats")
        if formats and "," in formats:
            raise DialectError(f"{logical}: DuckDB reads one timestamp format; the SerDe lists {formats!r}")
        location = params["storage.location.template"]
        return Table(
            name=ti["Name"],
            columns=[(c["Name"], c["Type"]) for c in sd["Columns"]],
            partitions=partitions,
            timestamp_format=formats,
            location_template=location,
            bucket_prefix=f"s3://{bucket}/",
            projections=projections,
            exact_keys=logical == EVENTS_TABLE,
        )

    def glob(self, lake: Path) -> str:
        """The local files Athena would read: the location template with every
        partition value a wildcard (the projection filters the values)."""
        if not self.location_template.startswith(self.bucket_prefix):
            raise DialectError(f"storage.location.template {self.location_template!r} is not in the data bucket")
        relative = re.sub(r"\$\{[^}]+\}", "*", self.location_template[len(self.bucket_prefix):])
        return f"{lake}/{relative}*"

    def hive_style(self) -> bool:
        """Whether every partition value sits in the path as `name=value`
        (DuckDB's hive partitioning reads those, and prunes by them);
        otherwise (errors/${error_type}/dt=${dt}/) each value is read from
        the object's path by its place in the location template."""
        relative = self.location_template[len(self.bucket_prefix):]
        return all(f"{c}=${{{c}}}" in relative for c, _ in self.partitions)

    def path_values(self, lake: Path) -> list[str]:
        """Each partition column read from the object's path (`filename`),
        by its place in the location template."""
        relative = self.location_template[len(self.bucket_prefix):]
        pattern = re.escape(f"{lake}/")
        names = []
        for part in re.split(r"(\$\{[^}]+\})", relative):
            m = re.fullmatch(r"\$\{([^}]+)\}", part)
            if m:
                names.append(m.group(1))
                pattern += "([^/]+)"
            else:
                pattern += re.escape(part)
        types = dict(self.partitions)
        return [
            f"CAST(regexp_extract(filename, {sql_string('^' + pattern)}, {names.index(c) + 1}) AS {glue_type_to_duckdb(types[c])}) AS \"{c}\""
            for c, _ in self.partitions
        ]

    def setup_sql(self, lake: Path) -> list[str]:
        """The statements that define the view over `lake`."""
        typed = [f'CAST(NULL AS {glue_type_to_duckdb(t)}) AS "{c}"' for c, t in self.columns + self.partitions]
        files = self.glob(lake)
        where = " AND ".join(f"({p.predicate()})" for p in self.projections) or "true"
        hive_types = "{" + ", ".join(f"{sql_string(c)}: {sql_string(glue_type_to_duckdb(t))}" for c, t in self.partitions) + "}"
        if self.hive_style():
            partitioning = f"hive_partitioning = true, hive_types = {hive_types}"
            partitions = [f'"{c}"' for c, _ in self.partitions]
        else:
            partitioning = "hive_partitioning = false, filename = true"
            partitions = self.path_values(lake)
        if glob.glob(files) and not self.exact_keys:
            fields = [
                f"CAST(hive_json_field(json, {sql_string(c.lower())}) AS {glue_type_to_duckdb(t)}) AS \"{c}\"" for c, t in self.columns
            ]
            source = (
                f"SELECT {', '.join(fields + partitions)} FROM read_ndjson_objects({sql_string(files)}, "
                f"compression = 'gzip', {partitioning})"
            )
        elif glob.glob(files):
            struct = "{" + ", ".join(f"{sql_string(c)}: {sql_string(glue_type_to_duckdb(t))}" for c, t in self.columns) + "}"
            options = [
                "format = 'newline_delimited'",
                "compression = 'gzip'",
                f"columns = {struct}",
                partitioning,
            ]
            if self.timestamp_format:
                options.append(f"timestampformat = {sql_string(strftime_pattern(self.timestamp_format))}")
            names = ", ".join([f'"{c}"' for c, _ in self.columns] + partitions)
            source = f"SELECT {names} FROM read_json({sql_string(files)}, {', '.join(options)})"
        else:
            # No objects yet: an empty view of the same columns (read_json
            # refuses a pattern that matches nothing).
            source = f"SELECT {', '.join(typed)} WHERE false"
        return [
            # Athena's NOW and current_date are UTC; so are ours.
            "SET TimeZone = 'UTC'",
            HIVE_JSON_FIELD_MACRO,
            f'CREATE OR REPLACE VIEW "{self.name}" AS SELECT * FROM ({source}) WHERE {where}',
        ]


def sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"

