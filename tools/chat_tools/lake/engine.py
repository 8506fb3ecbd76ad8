"""The local stand-in for Athena: DuckDB over a local lake, with the stack's
tables and views, running the stack's SQL as written.

Where it sits: the last step of the data flow on this machine, used by
`make query`, `make curate`, `make demo` and the end-to-end tests (through
chat_tools.lake).

- `chat_events` and `chat_events_failed`: the Glue tables over the raw
  lake (chat_tools.lake.raw_table);
- `chat_events_curated`: the Iceberg table (chat_tools.curation.curated). Each
  reference to it in a statement is replaced by a read of the data files
  Iceberg plans for the predicates on its columns in that statement's WHERE
  clause, so a query opens what Athena's engine would open;
- the named queries' views (`create-recent-view`, `create-failed-view`),
  expanded where a statement names them, as Athena expands a view: the
  outer query's comparisons of a view column with a constant are pushed
  into each branch of the view that selects that column as it is, so a
  read of the curated table through a view is planned (pruned) too. A
  view is not created in DuckDB: DuckDB binds a view when it is created,
  and binding a read of every data file opens every file's footer (the
  regression of issue 35: 113 files opened on a 60-day lake for a
  last-day question);
- every statement translated by chat_tools.lake.dialect.

What a statement read is measured from the process (`run_profiled`): the
bytes of the read() calls made while DuckDB runs it (/proc/self/io rchar:
the data files, their footers included), and the files DuckDB's readers
opened, whichever reader (Parquet, JSON, JSON objects).

The curation state machine itself runs in chat_tools.curation.workflow (its own
definition, on moto's Step Functions interpreter), with Athena's side in
chat_tools.curation.local_athena.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from pyiceberg import expressions as ice
from pyiceberg.expressions.literals import literal as ice_literal
from pyiceberg.types import TimestampType
from sqlglot import exp

from chat_tools import cfn_template
from chat_tools.curation import curated
from chat_tools.lake import dialect
from chat_tools.lake import raw_table

NAMED_QUERY_TYPE = "AWS::Athena::NamedQuery"


class EngineError(Exception):
    """A statement this engine cannot run as Athena would; the message says why."""


def error_in_query(message: str, sql: str) -> str:
    """DuckDB's error about a translated statement, told about the query as
    given: DuckDB quotes the statement it ran (`LINE 1: SELECT nope FROM
    (SELECT event_id, ...`), which is this engine's rewrite (the curated
    table as a read of its files, Athena's functions in DuckDB's words), not
    the user's text. That quote goes; where the message names something the
    user's query contains (a misspelled column or table), the user's own
    line is shown with it marked, as Athena marks `line 1:8`."""
    head, quoted, _ = message.partition("\nLINE ")
    if not quoted:
        return message
    head = head.rstrip()
    first = head.splitlines()[0] if head else ""
    for name in re.findall(r'"([^"]+)"', first) + re.findall(r"\bname (\w+)", first):
        found = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", sql, flags=re.IGNORECASE)
        if found is None:
            continue
        line_no = sql.count("\n", 0, found.start()) + 1
        line_start = sql.rfind("\n", 0, found.start()) + 1
        line_end = sql.find("\n", found.start())
        line = sql[line_start:line_end if line_end != -1 else len(sql)]
        prefix = f"LINE {line_no}: "
        caret = " " * (len(prefix) + found.start() - line_start) + "^" * len(name)
        return f"{head}\n\n{prefix}{line}\n{caret}"
    return head


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
    """What answering a query read: the files DuckDB's readers opened (its
    profile, per reader), and the bytes the process read while DuckDB ran
    it (the kernel's count of read() bytes: footers and all)."""

    json_files: int = 0
    parquet_files: int = 0
    bytes_read: int = 0

    @property
    def files(self) -> int:
        return self.json_files + self.parquet_files


def process_read_bytes() -> int:
    """Bytes this process has read through read() calls (Linux
    /proc/self/io rchar, every thread of the process counted)."""
    return process_read_marks()[0]


def read_bytes_between(before: tuple[int, int], after: tuple[int, int]) -> int:
    """What was read between two `process_read_marks`."""
    return after[0] - before[0] - before[1]


def process_read_marks() -> tuple[int, int]:
    """(rchar as /proc/self/io says it, the bytes that read of
    /proc/self/io itself returned): rchar counts a read once it returns, so
    the next mark's rchar includes this mark's own read."""
    with open("/proc/self/io", "rb") as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith(b"rchar:"):
            return int(line.split()[1]), len(text)
    raise EngineError("/proc/self/io has no rchar line: read bytes cannot be measured on this system")


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


def _converts(value, field_type) -> bool:
    """Whether Iceberg can state `value` as a literal of `field_type` (its
    planner raises on `'x'` against a long column)."""
    try:
        ice_literal(value).to(field_type)
    except (ValueError, TypeError):
        return False
    return True


def _leaf_ids(field) -> set[int]:
    """A field's id and those of its nested fields (column statistics are
    kept per leaf)."""
    ids = {field.field_id}
    for child in getattr(field.field_type, "fields", ()):
        ids |= _leaf_ids(child)
    return ids


class Lake:
    """A DuckDB connection over one local lake, with the stack's tables and views."""

    def __init__(self, lake: Path, parameters: dict[str, str] | None = None, prune: bool = True):
        # prune=False reads every data file of the curated table (tests
        # compare the two: pruning must never change an answer).
        self.prune = prune
        # Bytes of the curated table's data files the queries planned to
        # read (what Athena would scan of it), summed until reset.
        self.curated_bytes_planned = 0
        self.dir = lake.resolve()
        self.template = cfn_template.load()
        self.parameters = cfn_template.parameter_values(self.template, parameters)
        self.glue_tables = raw_table.Table.all_from_template(self.template, self.parameters)
        self.workflow = curated.Workflow.from_template(self.template, self.parameters, raw_table.BUCKET)
        self.definition = curated.TableDefinition.from_ddl(self.workflow.query("CreateTable"))
        self.catalog = curated.CuratedTable(self.dir, raw_table.BUCKET)
        self.con = duckdb.connect()
        self.queries = named_queries(self.template)
        self._views: dict[str, exp.Expression] | None = None
        self.refresh()

    def refresh(self):
        """(Re)defines the raw tables' views over the lake as it is now
        (objects may have landed since)."""
        self.refresh_raw()

    def refresh_raw(self):
        """The raw table's view reads its files at query time, but a lake with
        no objects yet has an empty view: define it again once they land."""
        for table in self.glue_tables:
            for statement in table.setup_sql(self.dir):
                self.con.execute(statement)

    # ------------------------------------------------------- translation --
    @property
    def views(self) -> dict[str, exp.Expression]:
        """The stack's views (named queries that create one), by name: the
        SELECT each stands for."""
        if self._views is None:
            self._views = {}
            for q in self.queries:
                if q.creates_view:
                    (tree,) = dialect.parse(q.sql)
                    self._views[tree.this.name] = tree.expression
        return self._views

    def translate(self, sql: str, parameters: list[str] | None = None) -> list[str]:
        """Athena SQL as the DuckDB statements that answer it here. A
        statement creating one of the stack's views defines it (it is
        expanded where used) and runs nothing."""
        out = []
        for tree in dialect.parse(sql, parameters):
            if isinstance(tree, exp.Create) and tree.kind == "VIEW" and tree.this.name in self.views:
                self.views[tree.this.name] = tree.expression
                out.append("SELECT 1 WHERE false")
                continue
            self.unqualify(tree)
            self.expand_views(tree)
            self.resolve_information_schema(tree)
            self.resolve_curated(tree)
            out.append(dialect.to_duckdb(tree))
        return out

    def expand_views(self, tree: exp.Expression):
        """Each reference to one of the stack's views replaced by its SELECT
        (views within views too), with the enclosing query's comparisons of
        the view's columns with constants pushed into it (`push_down`)."""
        for _ in range(10):
            refs = [ref for ref in tree.find_all(exp.Table) if ref.name in self.views and not ref.args.get("db")]
            if not refs:
                return
            for ref in refs:
                body = self.views[ref.name].copy()
                self.push_down(ref, body)
                ref.replace(exp.Subquery(this=body, alias=exp.TableAlias(this=exp.to_identifier(ref.alias_or_name))))
        raise EngineError("views nested more than 10 deep")

    def push_down(self, ref: exp.Table, body: exp.Expression):
        """Athena's planner pushes a filter on a view's column into the
        view; here: every conjunct of the enclosing SELECT's WHERE that
        compares a column of this (lone) source with a constant is added to
        each SELECT of the view's UNION ALL that selects that column as it
        is, without aggregation, DISTINCT or window functions (where a
        filter changes nothing but the rows kept)."""
        select = ref.find_ancestor(exp.Select)
        if select is None or not select.args.get("where") or select.args.get("joins"):
            return
        from_ = select.args.get("from_")
        if from_ is None or from_.this is not ref:
            return
        branches = []

        def collect(node):
            if isinstance(node, exp.Union) and not node.args.get("distinct"):
                collect(node.left)
                collect(node.right)
            elif isinstance(node, exp.Select):
                branches.append(node)
            else:
                branches.append(None)

        collect(body)
        if None in branches:
            return
        alias = ref.alias_or_name
        for conjunct in _conjuncts(select.args["where"].this):
            for column, _, value in self._comparisons(conjunct):
                if column.table not in ("", alias) or value.find(exp.Column, exp.Subquery, exp.Select):
                    continue
                for branch in branches:
                    if branch.args.get("group") or branch.args.get("distinct") or branch.find(exp.Window) \
                            or any(isinstance(e, exp.AggFunc) for e in branch.find_all(exp.AggFunc)):
                        continue
                    plain = [e for e in branch.expressions
                             if isinstance(e, exp.Column) and e.name == column.name]
                    if not plain:
                        continue
                    pushed = conjunct.copy()
                    for c in pushed.find_all(exp.Column):
                        if c.name == column.name:
                            c.set("table", plain[0].args.get("table"))
                    branch.where(pushed, copy=False)

    def resolve_information_schema(self, tree: exp.Expression):
        """`information_schema.columns` as Athena answers it for the stack's
        database: a row per column of each of its tables (the curated
        table's as its Iceberg schema has them now, none before it exists)."""
        refs = [ref for ref in tree.find_all(exp.Table)
                if ref.name.lower() == "columns" and (ref.db or "").lower() == "information_schema"]
        if not refs:
            return
        rows = [(t.name, name) for t in self.glue_tables for name, _ in t.columns + t.partitions]
        table = self.catalog.load(self.definition.name)
        if table is not None:
            rows += [(self.definition.name, f.name) for f in table.schema().fields]
        for ref in refs:
            values = ", ".join(f"('{curated.NAMESPACE}', '{t}', '{c}')" for t, c in rows) or "(NULL, NULL, NULL)"
            select = sqlglot.parse_one(
                f"SELECT * FROM (SELECT * FROM (VALUES {values}) AS v (table_schema, table_name, column_name)"
                f"{'' if rows else ' WHERE false'}) AS {ref.alias_or_name}", read="duckdb")
            ref.replace(select.args["from_"].this)

    def stack_tables(self) -> set[str]:
        return {t.name for t in self.glue_tables} | {self.definition.name} | set(self.views)

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

    def resolve_curated(self, tree: exp.Expression, pinned: bool = False, snapshot_id: int | None = None):
        """Replaces every read of the curated table in `tree` with a read of
        the data files Iceberg plans for it (none while it does not exist):
        in its current snapshot, or, when `pinned`, in `snapshot_id` (None:
        before the first commit) for a query that started earlier."""
        name = self.definition.name
        table = self.catalog.load(name)
        if pinned and snapshot_id is None:
            table = None
        for ref in list(tree.find_all(exp.Table)):
            if ref.name != name or isinstance(ref.parent, exp.Insert) or (
                isinstance(ref.parent, exp.Schema) and isinstance(ref.parent.parent, exp.Insert)
            ):
                continue
            row_filter = self.row_filter(ref)
            files = curated.plan(table, row_filter, snapshot_id) if table is not None else []
            self.curated_bytes_planned += sum(f.size for f in files)
            ref.replace(self.scan(files, ref.alias_or_name, table.schema() if table is not None else None))

    def scan(self, files: list[curated.PlannedFile], alias: str, schema=None) -> exp.Expression:
        """A read of `files` with the table's columns: those of its schema as
        the catalog has it now (`schema`; a query sees the table, not the
        definition's CREATE TABLE), or the definition's before it exists."""
        fields = (schema or self.definition.schema).fields
        if files:
            # Iceberg reads a column a file was written without (added by
            # ALTER TABLE ... ADD COLUMNS later) as NULL: by name across the
            # files, and NULL where no file has it (field ids as the table's
            # own schema numbers them).
            held = frozenset().union(*(f.field_ids for f in files))
            columns = [
                f.name if _leaf_ids(f) & held else f"CAST(NULL AS {curated.iceberg_type_to_duckdb(f.field_type)}) AS {f.name}"
                for f in fields
            ]
            paths = ", ".join(raw_table.sql_string(f.path) for f in files)
            source = f"SELECT {', '.join(columns)} FROM read_parquet([{paths}], union_by_name = true)"
        else:
            # The table does not exist yet (or holds nothing): no rows, its columns.
            source = "SELECT " + ", ".join(
                f"CAST(NULL AS {curated.iceberg_type_to_duckdb(f.field_type)}) AS {f.name}" for f in fields
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
        if isinstance(result, (int, str)) and _converts(result, field_type):
            return result
        # Not a constant of the column's type (`user_id = 'x'`): the query
        # itself says so (Athena refuses bigint = varchar); never prune on it.
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

    def run_profiled(self, sql: str) -> tuple[list[str], list[tuple], Profile]:
        """Runs one statement, as `run`, and says what answering it opened
        (DuckDB's own profile of this very run: a query is run once)."""
        (statement,) = self.translate(sql)
        # With statistics propagation on, DuckDB 2.0 answers count(*) of a
        # single Parquet file from its footer, and its profile of such a plan
        # is {"result": "error"}; off, it opens the file and says so.
        self.con.execute("SET disabled_optimizers = 'statistics_propagation'")
        self.con.execute("PRAGMA enable_profiling = 'no_output'")
        try:
            before = process_read_marks()
            cur = self.con.execute(statement)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchall()
            read = read_bytes_between(before, process_read_marks())
            tree = json.loads(self.con.get_profiling_information(format="json"))
        finally:
            self.con.execute("PRAGMA disable_profiling")
            self.con.execute("RESET disabled_optimizers")
        profile = _profile_of(tree)
        profile.bytes_read = read
        return columns, rows, profile

    def profile(self, sql: str) -> Profile:
        """What answering `sql` opened."""
        return self.run_profiled(sql)[2]


def _profile_of(tree: dict) -> Profile:
    """The files a DuckDB JSON profile says a query's readers opened: the
    Parquet reader's, and every JSON reader's (read_json,
    read_ndjson_objects: the failed-records table)."""
    if tree.get("result") == "error":
        raise EngineError("DuckDB's profiler could not describe this query's plan")
    out = Profile()

    def walk(node: dict):
        info = node.get("extra_info", {})
        files = int(info.get("Total Files Read", 0) or 0)
        function = str(info.get("Function", ""))
        if function == "READ_PARQUET":
            out.parquet_files += files
        elif function.startswith("READ_") and "JSON" in function:
            out.json_files += files
        for child in node.get("operator", []) + node.get("children", []):
            walk(child)

    walk(tree)
    return out
