"""The local stand-in for Athena: DuckDB over a local lake, with the stack's
tables and views, running the stack's SQL as written.

Where it sits: the last step of the data flow on this machine, used by
`make query`, `make curate`, `make demo` and the end-to-end tests (through
tools/lake_sql.py).

- `chat_events` and `chat_events_failed`: the Glue tables over the raw
  lake (tools/raw_table.py);
- `chat_events_curated`: the Iceberg table (tools/curated.py). Each
  reference to it in a statement is replaced by a read of the data files
  Iceberg plans for the predicates on its columns in that statement's WHERE
  clause, so a query opens what Athena's engine would open;
- the named queries' views (`create-recent-view`), created from their SQL;
- every statement translated by tools/dialect.py.

`Curation` walks the curation state machine of template.yaml with the same
SQL and the same lock and watermark logic (see curated.py for what stands in
for which AWS service).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from pyiceberg import expressions as ice
from pyiceberg.types import TimestampType
from sqlglot import exp

import cfn_template
import curated
import dialect
import raw_table

NAMED_QUERY_TYPE = "AWS::Athena::NamedQuery"


class EngineError(Exception):
    """A statement this engine cannot run as Athena would; the message says why."""


@dataclass
class NamedQuery:
    logical_id: str
    name: str
    description: str
    sql: str

    @property
    def creates_view(self) -> bool:
        return bool(re.match(r"\s*CREATE\s+(OR\s+REPLACE\s+)?VIEW\b", self.sql, flags=re.IGNORECASE))


def named_queries(template: dict) -> list[NamedQuery]:
    """The stack's named queries, views first (the others may use them)."""
    out = [
        NamedQuery(k, r["Properties"]["Name"], r["Properties"].get("Description", "").strip(), r["Properties"]["QueryString"])
        for k, r in cfn_template.resources_of_type(template, NAMED_QUERY_TYPE).items()
    ]
    return sorted(out, key=lambda q: not q.creates_view)


@dataclass
class Profile:
    """What a query opened, from DuckDB's profiler: files per reader, and
    the bytes DuckDB read from them."""

    json_files: int = 0
    parquet_files: int = 0
    bytes_read: int = 0

    @property
    def files(self) -> int:
        return self.json_files + self.parquet_files


_COMPARISONS = {exp.GTE: ">=", exp.GT: ">", exp.LTE: "<=", exp.LT: "<", exp.EQ: "="}
_FLIPPED = {">=": "<=", ">": "<", "<=": ">=", "<": ">", "=": "="}
_ICEBERG_OPS = {
    ">=": ice.GreaterThanOrEqual,
    ">": ice.GreaterThan,
    "<=": ice.LessThanOrEqual,
    "<": ice.LessThan,
    "=": ice.EqualTo,
}


def _conjuncts(node: exp.Expression | None) -> list[exp.Expression]:
    if node is None:
        return []
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


class Lake:
    """A DuckDB connection over one local lake, with the stack's tables and views."""

    def __init__(self, lake: Path, parameters: dict[str, str] | None = None, prune: bool = True):
        # prune=False reads every data file of the curated table (tests
        # compare the two: pruning must never change an answer).
        self.prune = prune
        self.dir = lake.resolve()
        self.template = cfn_template.load()
        self.parameters = cfn_template.parameter_values(self.template, parameters)
        self.raw = raw_table.Table.from_template(self.template, self.parameters)
        self.glue_tables = raw_table.Table.all_from_template(self.template, self.parameters)
        self.workflow = curated.Workflow.from_template(self.template, self.parameters, raw_table.BUCKET)
        self.definition = curated.TableDefinition.from_ddl(self.workflow.query("CreateTable"))
        self.catalog = curated.CuratedTable(self.dir, raw_table.BUCKET)
        self.con = duckdb.connect()
        self.queries = named_queries(self.template)
        self.refresh()

    def refresh(self):
        """(Re)defines the raw table's view and the named queries' views over
        the lake as it is now (objects may have landed since)."""
        self.refresh_raw()
        self.create_views()

    def refresh_raw(self):
        """The raw table's view reads its files at query time, but a lake with
        no objects yet has an empty view: define it again once they land."""
        for table in self.glue_tables:
            for statement in table.setup_sql(self.dir):
                self.con.execute(statement)

    # ------------------------------------------------------- translation --
    def create_views(self):
        for q in self.queries:
            if q.creates_view:
                for statement in self.translate(q.sql):
                    self.con.execute(statement)

    def translate(self, sql: str, parameters: list[str] | None = None) -> list[str]:
        """Athena SQL as the DuckDB statements that answer it here."""
        out = []
        for tree in dialect.parse(sql, parameters):
            self.unqualify(tree)
            self.resolve_curated(tree)
            out.append(dialect.to_duckdb(tree))
        return out

    def stack_tables(self) -> set[str]:
        views = {m.group(1) for q in self.queries if q.creates_view
                 for m in [re.search(r"VIEW\s+(\w+)", q.sql, flags=re.IGNORECASE)] if m}
        return {t.name for t in self.glue_tables} | {self.definition.name} | views

    def unqualify(self, tree: exp.Expression):
        """`chat_pipeline_staging.chat_events_curated` (or with the catalog,
        `awsdatacatalog.<database>.<table>`) as Athena names the stack's tables
        in its Glue database: here there is one database, so the qualifier
        goes."""
        tables = self.stack_tables()
        for ref in tree.find_all(exp.Table):
            if ref.name in tables and ref.args.get("db") is not None:
                ref.set("db", None)
                ref.set("catalog", None)

    def resolve_curated(self, tree: exp.Expression):
        """Replaces every read of the curated table in `tree` with a read of
        the data files Iceberg plans for it (none while it does not exist)."""
        name = self.definition.name
        table = self.catalog.load(name)
        for ref in list(tree.find_all(exp.Table)):
            if ref.name != name or isinstance(ref.parent, exp.Insert) or (
                isinstance(ref.parent, exp.Schema) and isinstance(ref.parent.parent, exp.Insert)
            ):
                continue
            row_filter = self.row_filter(ref)
            files = curated.plan(table, row_filter) if table is not None else []
            ref.replace(self.scan(files, ref.alias_or_name))

    def scan(self, files: list[curated.PlannedFile], alias: str) -> exp.Expression:
        columns = [f.name for f in self.definition.schema.fields]
        if files:
            paths = ", ".join(raw_table.sql_string(f.path) for f in files)
            source = f"SELECT {', '.join(columns)} FROM read_parquet([{paths}])"
        else:
            # The table does not exist yet (or holds nothing): no rows, its columns.
            source = "SELECT " + ", ".join(
                f"CAST(NULL AS {curated.duckdb_type(f.field_type)}) AS {f.name}" for f in self.definition.schema.fields
            ) + " WHERE false"
        select = sqlglot.parse_one(f"SELECT * FROM ({source}) AS {alias}", read="duckdb")
        return select.args["from_"].this

    def row_filter(self, ref: exp.Table) -> ice.BooleanExpression:
        """Iceberg's row filter for one read of the curated table: the
        conjuncts of the enclosing SELECT's WHERE that compare one of its
        columns with a constant. Anything else is left to the query, which
        still applies it: pruning only ever skips files that cannot match."""
        select = ref.find_ancestor(exp.Select)
        if select is None or not self.prune:
            return ice.AlwaysTrue()
        sources = [select.args["from_"].this] if select.args.get("from_") else []
        sources += [j.this for j in select.args.get("joins") or []]
        alone = len(sources) == 1
        alias = ref.alias_or_name
        columns = {f.name: f for f in self.definition.schema.fields}
        result: ice.BooleanExpression = ice.AlwaysTrue()
        where = select.args.get("where")
        for c in _conjuncts(where.this if where is not None else None):
            for column, op, value in self._comparisons(c):
                if column.name not in columns or (column.table and column.table != alias) or (not column.table and not alone):
                    continue
                literal = self._constant(value, columns[column.name].field_type)
                if literal is None:
                    continue
                result = ice.And(result, _ICEBERG_OPS[op](column.name, literal))
        return result

    def _comparisons(self, node: exp.Expression):
        if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
            yield node.this, ">=", node.args["low"]
            yield node.this, "<=", node.args["high"]
            return
        op = _COMPARISONS.get(type(node))
        if op is None:
            return
        left, right = node.left, node.right
        if isinstance(left, exp.Column) and not right.find(exp.Column, exp.Subquery, exp.Select):
            yield left, op, right
        elif isinstance(right, exp.Column) and not left.find(exp.Column, exp.Subquery, exp.Select):
            yield right, _FLIPPED[op], left

    def _constant(self, value: exp.Expression, field_type):
        """A constant expression's value, as Iceberg literals of the column's
        type take it (a date compared with a timestamp is its midnight, as
        the engines compare them)."""
        try:
            ((result,),) = self.con.execute(dialect.to_duckdb(exp.select(value.copy()))).fetchall()
        except duckdb.Error:
            return None
        if isinstance(result, dt.date) and not isinstance(result, dt.datetime) and isinstance(field_type, TimestampType):
            result = dt.datetime.combine(result, dt.time())
        if isinstance(result, dt.datetime):
            if result.tzinfo is not None:
                result = result.astimezone(dt.timezone.utc).replace(tzinfo=None)
            if isinstance(field_type, TimestampType):
                return result.isoformat()
            # A date column against a time of day: the engines compare the
            # date's midnight, which no date literal states for every
            # operator; leave it to the query (no pruning, never a wrong one).
            return result.date().isoformat() if result.time() == dt.time() else None
        if isinstance(result, dt.date):
            return result.isoformat()
        if isinstance(result, (int, str)):
            return result
        return None

    # ----------------------------------------------------------- running --
    def run(self, sql: str, parameters: list[str] | None = None) -> tuple[list[str], list[tuple]]:
        """Runs `sql` (one or more statements); the last one's answer."""
        statements = self.translate(sql, parameters)
        if not statements:
            raise EngineError("no SQL statement was given")
        for statement in statements[:-1]:
            self.con.execute(statement)
        cur = self.con.execute(statements[-1])
        columns = [d[0] for d in cur.description or []]
        return columns, cur.fetchall()

    def profile(self, sql: str) -> Profile:
        """What answering `sql` opened (DuckDB's own profile)."""
        (statement,) = self.translate(sql)
        # With statistics propagation on, DuckDB 2.0 answers count(*) of a
        # single Parquet file from its footer, and its JSON profile of such a
        # plan is {"result": "error"}; off, it opens the file and says so.
        self.con.execute("SET disabled_optimizers = 'statistics_propagation'")
        self.con.execute("PRAGMA enable_profiling = 'json'")
        try:
            tree = json.loads(self.con.execute(f"EXPLAIN ANALYZE {statement}").fetchall()[0][1])
        finally:
            self.con.execute("PRAGMA disable_profiling")
            self.con.execute("RESET disabled_optimizers")
        if tree.get("result") == "error":
            raise EngineError("DuckDB's profiler could not describe this query's plan")
        out = Profile(bytes_read=int(tree.get("io", {}).get("total_bytes_read", 0)))

        def walk(node: dict):
            info = node.get("extra_info", {})
            files = int(info.get("Total Files Read", 0) or 0)
            if info.get("Function") == "READ_JSON":
                out.json_files += files
            elif info.get("Function") == "READ_PARQUET":
                out.parquet_files += files
            for child in node.get("operator", []) + node.get("children", []):
                walk(child)

        walk(tree)
        return out


# ------------------------------------------------------------- curation --
@dataclass
class StepReport:
    state: str
    detail: str


@dataclass
class CurationReport:
    ran: bool
    steps: list[StepReport] = field(default_factory=list)
    inserted: int = 0
    window_since: str | None = None

    def lines(self) -> list[str]:
        return [f"{s.state:28} {s.detail}" for s in self.steps]


class InjectedFailure(Exception):
    """A failure `--fail-at` asked for, to show what a retried run does."""


class Curation:
    """One run of the curation workflow over a local lake."""

    FAIL_POINTS = ("before-commit", "after-insert")

    def __init__(self, lake: Lake):
        self.lake = lake
        self.workflow = lake.workflow
        self.state = curated.RunState.load(lake.dir)

    def run(self, maintenance: bool = False, today: dt.date | None = None, fail_at: str | None = None) -> CurationReport:
        today = today or dt.datetime.now(dt.timezone.utc).date()
        self.lake.refresh_raw()
        report = CurationReport(ran=False)
        if not self._acquire(report):
            return report
        report.ran = True
        report.window_since = self.state.values["since"]
        try:
            self._create_table(report)
            self._insert(report, "InsertNewEvents", fail_at)
            if maintenance:
                self._insert(report, "InsertLateEvents", None)
                self._compact(report)
                self._vacuum(report)
            self.state.values["since"] = curated.yyyymmdd(today)
            if maintenance:
                self.state.values["late_since"] = curated.yyyymmdd(today)
            self.state.values.pop("holder", None)
            self.state.save()
            report.steps.append(StepReport("RecordWatermark", f"since = {self.state.values['since']}, lock released"))
        except BaseException as e:
            self.state.values.pop("holder", None)
            self.state.save()
            report.steps.append(StepReport("ReleaseLockAfterFailure", "lock released; the watermark did not move"))
            e.report = report  # what the run did before it failed, for the caller to print
            raise
        return report

    def _acquire(self, report: CurationReport) -> bool:
        values = self.state.values
        holder = values.get("holder")
        if holder and _process_alive(holder.get("pid")):
            report.steps.append(StepReport("SkipRun", f"process {holder['pid']} holds the lock and is running"))
            return False
        if holder:
            report.steps.append(StepReport("TakeOverLock", f"the holder (process {holder.get('pid')}) stopped"))
        start = self.lake.parameters["LakeStartDate"].replace("-", "")
        values.setdefault("since", start)
        values.setdefault("late_since", start)
        values["holder"] = {"pid": os.getpid(), "started": dt.datetime.now(dt.timezone.utc).isoformat()}
        self.state.save()
        report.steps.append(StepReport("AcquireLock", f"since = {values['since']}, late_since = {values['late_since']}"))
        return True

    def _create_table(self, report: CurationReport):
        _, created = self.lake.catalog.create_if_not_exists(self.lake.definition)
        report.steps.append(StepReport("CreateTable", "created" if created else "exists"))

    def _parameters(self, state: str) -> list[str]:
        lock = {"$.lock.since": self.state.values["since"], "$.lock.late_since": self.state.values["late_since"]}
        out = []
        for path in self.workflow.parameters(state):
            if path not in lock:
                raise EngineError(f"{state}: execution parameter {path} has no local value")
            out.append(lock[path])
        return out

    def _insert(self, report: CurationReport, state: str, fail_at: str | None):
        (tree,) = dialect.parse(self.workflow.query(state), self._parameters(state))
        if not isinstance(tree, exp.Insert):
            raise EngineError(f"{state}: expected INSERT INTO, found {tree.key}")
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if target.name != self.lake.definition.name:
            raise EngineError(f"{state}: inserts into {target.name}, not the curated table")
        source = tree.expression
        self.lake.resolve_curated(source)
        rows = self.lake.con.sql(dialect.to_duckdb(source)).to_arrow_table()
        table = self.lake.catalog.load(target.name)
        if rows.num_rows == 0:
            report.steps.append(StepReport(state, "0 rows inserted"))
            return
        transaction = table.transaction()
        transaction.append(curated.arrow_for(table, rows))
        if fail_at == "before-commit":
            raise InjectedFailure(f"{state}: failed after writing {rows.num_rows} rows' data files, before the commit")
        transaction.commit_transaction()
        report.inserted += rows.num_rows
        report.steps.append(StepReport(state, f"{rows.num_rows} rows inserted"))
        if fail_at == "after-insert":
            raise InjectedFailure(f"{state}: failed after the commit, before the watermark")

    def _compact(self, report: CurationReport):
        table = self.lake.catalog.load(self.lake.definition.name)
        by_partition = defaultdict(list)
        for task in table.scan().plan_files():
            by_partition[tuple(task.file.partition)].append(task.file.file_path.removeprefix("file://"))
        small = {p: files for p, files in by_partition.items() if len(files) > 1}
        if small:
            rows = pa.concat_tables([pq.read_table(f) for files in small.values() for f in files])
            # One commit that replaces those partitions' files with one file
            # each: the filter is the partitions' day ranges, so whole files
            # are dropped and no delete file is written (copy-on-write).
            table.overwrite(curated.arrow_for(table, rows), overwrite_filter=curated.partitions_filter(table, small))
        report.steps.append(
            StepReport("CompactSmallFiles", f"{sum(len(f) for f in small.values())} files in {len(small)} partitions rewritten")
        )

    def _vacuum(self, report: CurationReport):
        table = self.lake.catalog.load(self.lake.definition.name)
        age = int(self.lake.definition.properties.get("vacuum_max_snapshot_age_seconds", "432000"))
        expired, removed = curated.expire_and_remove_orphans(table, age)
        report.steps.append(StepReport("ExpireSnapshotsAndOrphans", f"{expired} snapshots expired, {removed} orphan files removed"))


def _process_alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
