"""The curated table on this machine: chat_events_curated as a real Apache
Iceberg table (format 2, Parquet, partitioned by day(occurred_at)), built by
running the stack's own curation workflow over a local lake.

Where it sits: after the raw lake. In AWS, the state machine
CurationStateMachine (statemachine/curation.asl.yaml) runs Athena queries on a schedule;
here `make curate` runs that state machine's own definition on moto's Step
Functions interpreter (chat_tools.curation.workflow), its Athena queries in
chat_tools.curation.local_athena, with the same SQL translated by chat_tools.lake.dialect, and
DuckDB and pyiceberg standing in for Athena:

- the Glue Data Catalog is pyiceberg's SQL catalog in `<lake>/.glue-catalog.sqlite`;
- the table lives where CREATE TABLE's LOCATION puts it in the bucket,
  `<lake>/curated/chat_events_curated/` (data/ and metadata/, as Iceberg
  lays them out);
- the DynamoDB item of the lock and watermarks is kept between runs in
  `<lake>/.curation-state.json` (in moto's DynamoDB while a run runs);
- an INSERT runs its SELECT in DuckDB and appends the rows in one Iceberg
  commit (a snapshot), as Athena's INSERT does;
- OPTIMIZE rewrites every partition that has more than one data file into
  one (pyiceberg's dynamic partition overwrite; Athena bin-packs by size);
  VACUUM expires snapshots older than the table's
  vacuum_max_snapshot_age_seconds and deletes data files no snapshot
  references that are older than that.

This module holds the table (its definition from the DDL, the local catalog,
planning) and the workflow as template.yaml declares it.

Reading it: `plan()` is Iceberg's own scan planning (partition pruning and
column statistics, as Athena's engine plans it), so a query reads the files
Athena would read. `lake_sql.py` replaces each reference to the table in a
query with a read of exactly those files, planned from the predicates on the
table's columns in that query's WHERE clause.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from pyiceberg import expressions as ice
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform, IdentityTransform, MonthTransform, YearTransform
from pyiceberg.types import (
    LongType,
    BooleanType,
    DateType,
    DoubleType,
    IntegerType,
    NestedField,
    StringType,
    StructType,
    TimestampType,
)
from sqlglot import exp

from chat_tools import cfn_template
from chat_tools.lake import dialect

STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
NAMESPACE = "stack"


class CurationError(Exception):
    """The workflow or the table cannot be run here as the stack defines it;
    the message says what and where."""


# ------------------------------------------------------------ workflow --
@dataclass
class Workflow:
    """The stack's curation state machine, as template.yaml declares it: its
    definition (statemachine/curation.asl.yaml) and substitutions."""

    definition: dict
    substitutions: dict[str, str]

    @property
    def states(self) -> dict:
        return self.definition["States"]

    @staticmethod
    def from_template(template: dict, parameters: dict[str, str], bucket: str) -> "Workflow":
        machines = cfn_template.resources_of_type(template, STATE_MACHINE_TYPE)
        if len(machines) != 1:
            raise CurationError(f"template.yaml: expected one {STATE_MACHINE_TYPE}, found {sorted(machines)}")
        (logical, resource), = machines.items()
        props = resource["Properties"]
        local = {
            "DataBucket": bucket,
            "Database": NAMESPACE,
            "WorkGroup": "local",
            "LockTable": "local",
            "StackName": "local",
            "LakeStartDay": parameters["LakeStartDate"].replace("-", ""),
            "LateArrivalWindowDays": str(parameters["LateArrivalWindowDays"]),
            "MaxArrivalDaysPerRun": str(parameters["MaxArrivalDaysPerRun"]),
            "RescanDays": str(parameters["RescanDays"]),
        }
        # The substitutions the template writes as they are (the column lists
        # generated from the schema) are the same here; the others name the
        # stack's resources, which are local ones here.
        for key, value in props.get("DefinitionSubstitutions", {}).items():
            if isinstance(value, str) and key not in local:
                local[key] = value
        missing = set(props.get("DefinitionSubstitutions", {})) - set(local)
        if missing:
            raise CurationError(f"{logical}: no local value for DefinitionSubstitutions {sorted(missing)}")
        return Workflow(definition=cfn_template.state_machine_definition(resource), substitutions=local)

    def definition_json(self) -> str:
        """The state machine's definition as CloudFormation hands it to Step
        Functions: JSON, with every ${Name} of DefinitionSubstitutions
        replaced (here by the local values)."""
        text = json.dumps(self.definition)
        unknown = sorted(set(re.findall(r"\$\{(\w+)\}", text)) - set(self.substitutions))
        if unknown:
            raise CurationError(f"the curation definition uses ${{...}} without a substitution: {unknown}")
        return re.sub(r"\$\{(\w+)\}", lambda m: self.substitutions[m.group(1)], text)

    def query(self, state: str) -> str:
        """The SQL of an Athena task (or of the Pass state that writes a
        task's request, as PrepareInsert does), with the definition's
        substitutions."""
        task = self.states.get(state) or {}
        parameters = task.get("Parameters") or {}
        if "athena:startQueryExecution" in task.get("Resource", "") and "QueryString" in parameters:
            sql = parameters["QueryString"]
        elif task.get("Type") == "Pass" and "sql" in parameters:
            sql = parameters["sql"]
        else:
            raise CurationError(f"statemachine/curation.asl.yaml has no Athena query in state {state!r}")
        return re.sub(r"\$\{(\w+)\}", lambda m: self.substitutions[m.group(1)], sql)


# --------------------------------------------------------------- table --
_ICEBERG_TYPES = {
    exp.DataType.Type.TEXT: StringType,
    exp.DataType.Type.VARCHAR: StringType,
    exp.DataType.Type.BIGINT: LongType,
    exp.DataType.Type.INT: IntegerType,
    exp.DataType.Type.DATE: DateType,
    exp.DataType.Type.TIMESTAMP: TimestampType,
    exp.DataType.Type.BOOLEAN: BooleanType,
    exp.DataType.Type.DOUBLE: DoubleType,
}
_TRANSFORMS = {"day": DayTransform, "month": MonthTransform, "year": YearTransform}


class _Ids:
    def __init__(self):
        self.next = 0

    def __call__(self) -> int:
        self.next += 1
        return self.next


def _iceberg_type(kind: exp.DataType, ids: _Ids):
    if kind.this == exp.DataType.Type.STRUCT:
        fields = [NestedField(ids(), c.name, _iceberg_type(c.args["kind"], ids), required=False) for c in kind.expressions]
        return StructType(*fields)
    if kind.this not in _ICEBERG_TYPES:
        raise CurationError(f"CREATE TABLE: column type {kind.sql('athena')} is not translated in chat_tools.curation.curated")
    return _ICEBERG_TYPES[kind.this]()


@dataclass
class TableDefinition:
    """What an Athena `CREATE TABLE ... TBLPROPERTIES ('table_type'='ICEBERG')` declares."""

    name: str
    schema: Schema
    spec: PartitionSpec
    location: str  # s3://bucket/prefix/
    properties: dict[str, str]

    @staticmethod
    def from_ddl(ddl: str) -> "TableDefinition":
        (tree,) = dialect.parse(ddl)
        if not isinstance(tree, exp.Create) or tree.kind != "TABLE":
            raise CurationError(f"expected CREATE TABLE, found {ddl[:60]!r}")
        schema_node = tree.this
        ids = _Ids()
        columns = [
            NestedField(ids(), c.name, _iceberg_type(c.args["kind"], ids), required=False)
            for c in schema_node.expressions
        ]
        # Field ids as Athena numbers them: top-level columns first.
        top = {c.name: c for c in columns}
        schema = Schema(*columns)
        props = {}
        location = None
        spec_fields = []
        for prop in tree.args["properties"].expressions:
            if isinstance(prop, exp.LocationProperty):
                location = prop.this.this
            elif isinstance(prop, exp.PartitionedByProperty):
                for i, part in enumerate(prop.this.expressions):
                    transform, column = _partition_transform(part)
                    source = top.get(column)
                    if source is None:
                        raise CurationError(f"PARTITIONED BY names {column!r}, which is not a column")
                    spec_fields.append(
                        PartitionField(
                            source_id=source.field_id,
                            field_id=1000 + i,
                            transform=transform(),
                            name=f"{column}_{transform.__name__.replace('Transform', '').lower()}"
                            if transform is not IdentityTransform
                            else column,
                        )
                    )
            elif isinstance(prop, exp.Property):
                props[prop.name] = prop.text("value")
        if props.get("table_type", "").upper() != "ICEBERG":
            raise CurationError("CREATE TABLE without 'table_type' = 'ICEBERG' is not the curated table")
        if not location:
            raise CurationError("CREATE TABLE without LOCATION")
        return TableDefinition(
            name=schema_node.this.name, schema=schema, spec=PartitionSpec(*spec_fields), location=location, properties=props
        )

    def iceberg_properties(self) -> dict[str, str]:
        """Athena's table properties as the Iceberg properties they set."""
        out = {"format-version": "2"}
        if self.properties.get("format", "parquet").lower() != "parquet":
            raise CurationError("only 'format' = 'parquet' is translated")
        if "write_compression" in self.properties:
            out["write.parquet.compression-codec"] = self.properties["write_compression"].lower()
        if "vacuum_max_snapshot_age_seconds" in self.properties:
            out["history.expire.max-snapshot-age-ms"] = str(int(self.properties["vacuum_max_snapshot_age_seconds"]) * 1000)
        return out


def _partition_transform(node: exp.Expression):
    """`day(occurred_at)` (sqlglot reads it as Day(TsOrDsToDate(col))) or a bare column."""
    if isinstance(node, (exp.Column, exp.Identifier)):
        return IdentityTransform, node.name
    names = {exp.Day: "day", exp.Month: "month", exp.Year: "year"}
    for cls, name in names.items():
        if isinstance(node, cls):
            column = node.find(exp.Column)
            return _TRANSFORMS[name], column.name
    if isinstance(node, exp.Anonymous) and node.name.lower() in _TRANSFORMS:
        return _TRANSFORMS[node.name.lower()], node.expressions[0].name
    raise CurationError(f"partition transform {node.sql('athena')} is not translated in chat_tools.curation.curated")


@dataclass
class PlannedFile:
    path: str
    size: int
    # The field ids the file holds values of (its column statistics): a
    # column added after the file was written is not among them.
    field_ids: frozenset[int] = frozenset()


class CuratedTable:
    """The local catalog and the curated table in it."""

    def __init__(self, lake: Path, bucket: str):
        self.lake = lake.resolve()
        self.bucket = bucket
        self.catalog = SqlCatalog(
            "glue", uri=f"sqlite:///{self.lake}/.glue-catalog.sqlite", warehouse=f"file://{self.lake}"
        )

    def local_location(self, s3_location: str) -> str:
        prefix = f"s3://{self.bucket}/"
        if not s3_location.startswith(prefix):
            raise CurationError(f"LOCATION {s3_location!r} is not in the data bucket")
        return f"file://{self.lake}/{s3_location[len(prefix):].rstrip('/')}"

    def load(self, name: str) -> Table | None:
        try:
            return self.catalog.load_table((NAMESPACE, name))
        except NoSuchTableError:
            return None

    def create_if_not_exists(self, definition: TableDefinition) -> tuple[Table, bool]:
        existing = self.load(definition.name)
        if existing is not None:
            return existing, False
        self.catalog.create_namespace_if_not_exists(NAMESPACE)
        table = self.catalog.create_table(
            (NAMESPACE, definition.name),
            schema=definition.schema,
            partition_spec=definition.spec,
            location=self.local_location(definition.location),
            properties=definition.iceberg_properties(),
        )
        return table, True


def iceberg_type_to_duckdb(t) -> str:
    """An Iceberg type as DuckDB names it."""
    if isinstance(t, StructType):
        return "STRUCT(" + ", ".join(f'"{f.name}" {iceberg_type_to_duckdb(f.field_type)}' for f in t.fields) + ")"
    names = {
        StringType: "VARCHAR",
        LongType: "BIGINT",
        IntegerType: "INTEGER",
        DateType: "DATE",
        TimestampType: "TIMESTAMP",
        BooleanType: "BOOLEAN",
        DoubleType: "DOUBLE",
    }
    for kind, name in names.items():
        if isinstance(t, kind):
            return name
    raise CurationError(f"Iceberg type {t} has no DuckDB name in chat_tools.curation.curated")


def plan(table: Table, row_filter: ice.BooleanExpression = ice.AlwaysTrue(),
         snapshot_id: int | None = None) -> list[PlannedFile]:
    """The data files a scan with `row_filter` reads (of the current
    snapshot, or of `snapshot_id`): Iceberg's own planning."""
    return [
        PlannedFile(path=task.file.file_path.removeprefix("file://"), size=task.file.file_size_in_bytes,
                    field_ids=frozenset((task.file.value_counts or {}).keys()) | frozenset((task.file.column_sizes or {}).keys()))
        for task in table.scan(row_filter=row_filter, snapshot_id=snapshot_id).plan_files()
    ]


def partitions_filter(table: Table, partitions) -> ice.BooleanExpression:
    """The rows of these partitions (tuples of partition values, one per
    field of the table's spec) as a row filter on the source columns."""
    epoch = dt.datetime(1970, 1, 1)
    fields = table.spec().fields
    schema = table.schema()
    result: ice.BooleanExpression = ice.AlwaysFalse()
    for values in partitions:
        clause: ice.BooleanExpression = ice.AlwaysTrue()
        for spec_field, value in zip(fields, values):
            column = schema.find_field(spec_field.source_id).name
            if isinstance(spec_field.transform, DayTransform):
                start = epoch + dt.timedelta(days=value)
                clause = ice.And(
                    clause,
                    ice.And(
                        ice.GreaterThanOrEqual(column, start.isoformat()),
                        ice.LessThan(column, (start + dt.timedelta(days=1)).isoformat()),
                    ),
                )
            elif isinstance(spec_field.transform, IdentityTransform):
                clause = ice.And(clause, ice.EqualTo(column, value))
            else:
                raise CurationError(f"compaction of a {spec_field.transform} partition is not translated")
        result = ice.Or(result, clause)
    return result


def arrow_for(table: Table, rows: pa.Table) -> pa.Table:
    """`rows` (from DuckDB) in the table's Arrow schema, column by column."""
    target = table.schema().as_arrow()
    if rows.column_names != target.names:
        raise CurationError(f"the insert's columns {rows.column_names} are not the table's {target.names}")
    # In a fixed order, so the same rows always make the same file (DuckDB's
    # parallel plans return them in any order; Athena's order is its own).
    order = [(name, "ascending") for name in ("occurred_at", "event_id") if name in target.names]
    return rows.cast(target).sort_by(order) if order else rows.cast(target)


# ------------------------------------------------------------ run state --
@dataclass
class RunState:
    """The lock item of CurationLockTable, kept as a file beside the lake."""

    path: Path
    values: dict = field(default_factory=dict)

    @staticmethod
    def load(lake: Path) -> "RunState":
        path = lake / ".curation-state.json"
        values = json.loads(path.read_text()) if path.exists() else {}
        return RunState(path, values)

    def save(self):
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.values, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.path)


def expire_and_remove_orphans(table: Table, max_age_seconds: int, now: float | None = None) -> tuple[int, int]:
    """VACUUM: expire snapshots older than the age (keeping the current one),
    then delete data files under the table's data/ that no remaining
    snapshot references and that are older than the age."""
    now = time.time() if now is None else now
    cutoff_ms = int((now - max_age_seconds) * 1000)
    current = table.current_snapshot()
    old = [s.snapshot_id for s in table.snapshots() if s.timestamp_ms < cutoff_ms and current and s.snapshot_id != current.snapshot_id]
    if old:
        table.maintenance.expire_snapshots().by_ids(old).commit()
        table = table.refresh()
    referenced = set()
    manifests = {}
    for snapshot in table.snapshots():
        for manifest in snapshot.manifests(table.io):
            manifests[manifest.manifest_path] = manifest
    for manifest in manifests.values():
        for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
            referenced.add(entry.data_file.file_path.removeprefix("file://"))
    data = Path(table.location().removeprefix("file://")) / "data"
    removed = 0
    for path in data.rglob("*.parquet") if data.exists() else []:
        if str(path) not in referenced and path.stat().st_mtime < now - max_age_seconds:
            path.unlink()
            removed += 1
    return len(old), removed
