"""Athena on this machine, for the curation workflow: StartQueryExecution
and GetQueryExecution over the local lake, with Athena's limits.

Where it sits: the curation state machine (statemachine/) runs on moto's ASL
interpreter (chat_tools.curation.workflow); each of its Athena tasks
(`athena:startQueryExecution.sync`) starts a query here and polls it until
it ends, as Step Functions polls Athena. A query runs on its own thread,
like Athena's, so a query whose task timed out keeps running; queries that
touch the curated table take one lock (DuckDB and pyiceberg stand in for one
engine), so two overlapping INSERTs run one after the other and both commit,
as two Athena INSERTs into an Iceberg table would (appends do not conflict).

The statements it runs, as Athena runs them (chat_tools.lake.engine has the SQL
translation and the table):

- `CREATE TABLE IF NOT EXISTS ... TBLPROPERTIES ('table_type'='ICEBERG')`:
  the table in the local Glue catalog;
- `INSERT INTO chat_events_curated SELECT ...`: the SELECT in DuckDB, the
  rows appended in one Iceberg commit (pyiceberg writes Iceberg's standard
  snapshot summary: added-records, changed-partition-count, ...);
- `OPTIMIZE ... REWRITE DATA USING BIN_PACK` and `VACUUM`.

Athena's limits, refused here as Athena refuses them (Athena User Guide):

- execution parameters (`?`) only in a WHERE clause ("Use parameterized
  queries", considerations);
- at most 100 partitions written by one INSERT INTO
  (HIVE_TOO_MANY_OPEN_PARTITIONS; "Use CTAS and INSERT INTO to work around
  the 100 partition limit"): checked before the commit, so nothing is
  written;
- a DML query running longer than the workgroup's timeout (30 minutes by
  default, "Service Quotas": DML query timeout) fails without committing;
  `dml_timeout_seconds` sets it for tests;
- a start with a ClientRequestToken already used returns that token's
  query ("another query is not created"), and is refused when its
  QueryString or parameters differ (Athena API Reference,
  StartQueryExecution);
- a column the engine cannot resolve fails the query with Athena's
  COLUMN_NOT_FOUND (DuckDB says "Binder Error: Referenced column ... not
  found").
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

from chat_tools.curation import curated
from chat_tools.lake import dialect

PARTITION_LIMIT = 100
# Rows in one page of GetQueryResults (its MaxResults' largest value).
PAGE_ROWS = 1000
DML_TIMEOUT_SECONDS = 30 * 60


class QueryFailed(Exception):
    """The query failed as Athena would fail it; the message is Athena's
    StateChangeReason."""


class InvalidRequest(Exception):
    """Athena refused the call itself (InvalidRequestException): an unknown
    query id, or the results of a query that did not succeed."""


class InternalServerError(Exception):
    """Athena's InternalServerException: here only injected, for a start
    whose answer is lost on its way back (`Injection.lose_answer`)."""


class Cancelled(Exception):
    """StopQueryExecution reached the query before its commit."""


@dataclass
class Query:
    id: str
    sql: str
    parameters: list[str]
    state: str = "QUEUED"  # QUEUED, RUNNING, SUCCEEDED, FAILED
    reason: str | None = None
    # What the query did, for the run's report ("1500 rows inserted").
    detail: str = ""
    # A SELECT's answer, for GetQueryResults.
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    rows_inserted: int = 0
    partitions_written: int = 0
    # Bytes of the curated table's data files the query read.
    curated_bytes: int = 0
    submitted: float = field(default_factory=time.time)
    ended: float | None = None
    # The curated table's snapshot when the query started: what its reads
    # see (Iceberg's snapshot isolation), whatever commits while it runs.
    snapshot_id: int | None = None
    stop_requested: bool = False


@dataclass
class Injection:
    """A fault for a test or `make demo FAULTS=1`: the queries whose SQL
    contains `marker` fail (after committing, when `after_commit`), or take
    `delay` seconds longer."""

    marker: str
    after_commit: bool = False
    delay: float = 0.0
    fail: bool = True
    times: int | None = None  # None: every time
    # The failure's StateChangeReason (default: "injected failure ...").
    reason: str | None = None
    # The start succeeds (the query runs) but its caller gets
    # InternalServerException, as when the answer is lost on the way back.
    lose_answer: bool = False


class LocalAthena:
    """The queries of one local lake (an `engine.Lake`)."""

    def __init__(self, lake, dml_timeout_seconds: float = DML_TIMEOUT_SECONDS):
        self.lake = lake
        self.dml_timeout_seconds = dml_timeout_seconds
        self.queries: dict[str, Query] = {}
        # ClientRequestToken -> query id.
        self.tokens: dict[str, str] = {}
        self.injections: list[Injection] = []
        self.engine_lock = threading.Lock()
        self.lock = threading.Lock()

    # ------------------------------------------------------------ the API --
    def start_query_execution(self, sql: str, parameters: list[str] | None = None, token: str | None = None) -> str:
        if token is not None:
            if not 32 <= len(token) <= 128:
                raise InvalidRequest(f"ClientRequestToken must be 32 to 128 characters, not {len(token)}")
            with self.lock:
                earlier = self.queries.get(self.tokens.get(token, ""))
            if earlier is not None:
                if earlier.sql != sql or earlier.parameters != list(parameters or []):
                    raise InvalidRequest(f"ClientRequestToken {token} was used by another request (its QueryString or parameters differ)")
                return self._answer(earlier)
        query = Query(id=str(uuid.uuid4()), sql=sql, parameters=list(parameters or []))
        table = self.lake.catalog.load(self.lake.definition.name)
        snapshot = table.current_snapshot() if table is not None else None
        query.snapshot_id = snapshot.snapshot_id if snapshot is not None else None
        with self.lock:
            self.queries[query.id] = query
            if token is not None:
                self.tokens[token] = query.id
        threading.Thread(target=self._run, args=(query,), daemon=True, name=f"athena-{query.id[:8]}").start()
        return self._answer(query)

    def _answer(self, query: Query) -> str:
        """StartQueryExecution's answer: the query's id, unless an injection
        loses it on the way back."""
        for inj in self.injections:
            if inj.lose_answer and inj.marker in query.sql and inj.times != 0:
                if inj.times is not None:
                    inj.times -= 1
                raise InternalServerError(f"injected: the answer to StartQueryExecution was lost (query {query.id} runs)")
        return query.id

    def _query(self, query_id: str) -> Query:
        q = self.queries.get(query_id)
        if q is None:
            raise InvalidRequest(f"QueryExecution {query_id} was not found")
        return q

    def stop_query_execution(self, query_id: str) -> dict:
        """StopQueryExecution: asynchronous, as in Athena. A query that has
        not committed yet ends CANCELLED without committing; one that has
        ends as it would have."""
        self._query(query_id).stop_requested = True
        return {}

    def get_query_execution(self, query_id: str) -> dict:
        """GetQueryExecution's answer."""
        q = self._query(query_id)
        status = {"State": q.state, "SubmissionDateTime": q.submitted}
        if q.reason:
            status["StateChangeReason"] = q.reason
        if q.ended:
            status["CompletionDateTime"] = q.ended
        return {
            "QueryExecution": {
                "QueryExecutionId": q.id,
                "Query": q.sql,
                "ExecutionParameters": q.parameters,
                "StatementType": _STATEMENT_TYPES.get(_statement(q.sql), "UTILITY"),
                "Status": status,
                "Statistics": {"EngineExecutionTimeInMillis": int(1000 * ((q.ended or time.time()) - q.submitted))},
                "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3", "EffectiveEngineVersion": "Athena engine version 3"},
            }
        }

    def get_query_results(self, query_id: str, next_token: str | None = None, max_results: int = PAGE_ROWS) -> dict:
        """GetQueryResults' answer: a header row, then each row, every value as
        text (VarCharValue), as Athena returns them, a page of at most
        `max_results` rows (1,000, the header counted in the first) and a
        NextToken when more follow (Athena API Reference, GetQueryResults)."""
        q = self._query(query_id)
        if q.state != "SUCCEEDED":
            raise InvalidRequest(f"query {query_id} is {q.state}, not SUCCEEDED")
        if not 1 <= max_results <= PAGE_ROWS:
            raise InvalidRequest(f"MaxResults must be 1 to {PAGE_ROWS}, not {max_results}")

        def row(values) -> dict:
            return {"Data": [{} if v is None else {"VarCharValue": str(v)} for v in values]}

        everything = [q.columns] + list(q.rows)
        start = 0
        if next_token is not None:
            prefix = f"{query_id}/"
            if not next_token.startswith(prefix) or not next_token[len(prefix):].isdigit():
                raise InvalidRequest(f"NextToken {next_token!r} is not one of this query's")
            start = int(next_token[len(prefix):])
        page = everything[start:start + max_results]
        out = {
            "ResultSet": {
                "Rows": [row(r) for r in page],
                "ResultSetMetadata": {"ColumnInfo": [{"Name": c, "Label": c, "Type": "varchar"} for c in q.columns]},
            },
            "UpdateCount": 0,
        }
        if start + max_results < len(everything):
            out["NextToken"] = f"{query_id}/{start + max_results}"
        return out

    # -------------------------------------------------------- the engine --
    def _run(self, query: Query):
        query.state = "RUNNING"
        try:
            check_parameters(query.sql, query.parameters)
            before = self._injection(query, after_commit=False)
            if before and before.fail and before.reason:
                raise QueryFailed(before.reason)
            if before and before.delay:
                # A long query: other queries run meanwhile, and its reads
                # stay at the snapshot it started with.
                time.sleep(before.delay)
            with self.engine_lock:
                self._execute(query, before)
            query.state = "SUCCEEDED"
        except Cancelled as e:
            query.state, query.reason = "CANCELLED", str(e)
        except (QueryFailed, dialect.DialectError, curated.CurationError) as e:
            query.state, query.reason = "FAILED", str(e)
        except duckdb.BinderException as e:
            query.state, query.reason = "FAILED", athena_binder_error(str(e))
        except Exception as e:  # noqa: BLE001 - any engine error fails the query, as in Athena
            query.state, query.reason = "FAILED", f"{type(e).__name__}: {e}"
        query.ended = time.time()

    def _injection(self, query: Query, after_commit: bool) -> Injection | None:
        for inj in self.injections:
            if inj.lose_answer:
                continue
            if inj.marker in query.sql and inj.after_commit == after_commit and inj.times != 0:
                if inj.times is not None:
                    inj.times -= 1
                return inj
        return None

    def _execute(self, query: Query, before: Injection | None):
        kind = _statement(query.sql)
        self.lake.curated_bytes_planned = 0
        try:
            self._statement(query, kind, before)
        finally:
            query.curated_bytes = self.lake.curated_bytes_planned
        after = self._injection(query, after_commit=True)
        if after and after.fail:
            raise QueryFailed(f"injected failure after the commit ({query.detail})")

    def _statement(self, query: Query, kind: str, before: Injection | None):
        if kind == "create":
            _, created = self.lake.catalog.create_if_not_exists(self.lake.definition)
            query.detail = "created" if created else "exists"
        elif kind == "insert":
            self._insert(query, before)
        elif kind == "alter":
            query.detail = self._add_columns(query.sql)
        elif kind == "optimize":
            query.detail = self._compact()
        elif kind == "vacuum":
            query.detail = self._vacuum()
        else:
            self.lake.refresh_raw()
            query.columns, query.rows = self.lake.run(query.sql, query.parameters)
            first = query.rows[0] if query.rows else ()
            query.detail = ", ".join(f"{c} = {v}" for c, v in zip(query.columns, first)) or f"{len(query.rows)} rows"

    def _insert(self, query: Query, injection: Injection | None):
        started = query.submitted
        (tree,) = dialect.parse(query.sql, query.parameters)
        if not isinstance(tree, exp.Insert):
            raise QueryFailed(f"expected INSERT INTO, found {tree.key}")
        target = tree.this.this if isinstance(tree.this, exp.Schema) else tree.this
        if target.name != self.lake.definition.name:
            raise QueryFailed(f"INSERT INTO {target.name}: only the curated table is written here")
        source = tree.expression
        self.lake.refresh_raw()
        self.lake.resolve_curated(source, pinned=True, snapshot_id=query.snapshot_id)
        rows = self.lake.con.sql(dialect.to_duckdb(source)).to_arrow_table()
        table = self.lake.catalog.load(target.name)
        if table is None:
            raise QueryFailed(f"TABLE_NOT_FOUND: {target.name}")
        if rows.num_rows == 0:
            query.detail = "0 rows inserted"
            return
        partitions = distinct_days(rows)
        if partitions > PARTITION_LIMIT:
            raise QueryFailed(
                f"HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of {PARTITION_LIMIT} open writers for "
                f"partitions/buckets ({partitions} event days in one INSERT)"
            )
        if injection and injection.fail and not injection.after_commit:
            raise QueryFailed(f"injected failure before the commit ({rows.num_rows} rows written, not committed)")
        if query.stop_requested:
            raise Cancelled(f"Query cancelled by user before its commit ({rows.num_rows} rows not written)")
        if time.time() - started > self.dml_timeout_seconds:
            raise QueryFailed(f"Query exhausted resources or timed out: ran past the DML timeout of {self.dml_timeout_seconds} s")
        transaction = table.transaction()
        transaction.append(curated.arrow_for(table, rows))
        transaction.commit_transaction()
        query.rows_inserted = rows.num_rows
        query.partitions_written = partitions
        query.detail = f"{rows.num_rows} rows inserted ({partitions} event days)"

    def _add_columns(self, sql: str) -> str:
        """`ALTER TABLE <table> ADD COLUMNS (name type, ...)`, as Athena runs
        it on an Iceberg table: a schema change in one commit, the existing
        rows reading NULL in the new columns (Athena User Guide, "Evolve
        Iceberg table schema")."""
        m = re.fullmatch(r"\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMNS\s*\((.*)\)\s*;?\s*", sql, re.IGNORECASE | re.DOTALL)
        if not m:
            raise QueryFailed("only ALTER TABLE <table> ADD COLUMNS (...) is run here")
        table = self.lake.catalog.load(m.group(1))
        if table is None:
            raise QueryFailed(f"TABLE_NOT_FOUND: {m.group(1)}")
        added = curated.TableDefinition.from_ddl(
            f"CREATE TABLE added ({m.group(2)}) LOCATION 's3://x/added/' TBLPROPERTIES ('table_type' = 'ICEBERG')")
        existing = {f.name for f in table.schema().fields}
        for column in added.schema.fields:
            if column.name in existing:
                raise QueryFailed(f"COLUMN_ALREADY_EXISTS: Column '{column.name}' already exists")
        with table.update_schema() as update:
            for column in added.schema.fields:
                update.add_column(column.name, column.field_type)
        return f"{len(added.schema.fields)} columns added"

    def _compact(self) -> str:
        table = self.lake.catalog.load(self.lake.definition.name)
        by_partition = defaultdict(list)
        for task in table.scan().plan_files():
            by_partition[tuple(task.file.partition)].append(task.file.file_path.removeprefix("file://"))
        small = {p: files for p, files in by_partition.items() if len(files) > 1}
        if small:
            rows = pa.concat_tables([pq.read_table(f) for files in small.values() for f in files])
            # One commit that replaces those partitions' files with one file
            # each: whole files are dropped, no delete file is written.
            table.overwrite(curated.arrow_for(table, rows), overwrite_filter=curated.partitions_filter(table, small))
        return f"{sum(len(f) for f in small.values())} files in {len(small)} partitions rewritten"

    def _vacuum(self) -> str:
        table = self.lake.catalog.load(self.lake.definition.name)
        age = int(self.lake.definition.properties.get("vacuum_max_snapshot_age_seconds", "432000"))
        expired, removed = curated.expire_and_remove_orphans(table, age)
        return f"{expired} snapshots expired, {removed} orphan files removed"


# Athena's StatementType of each statement this stand-in runs (OPTIMIZE and
# VACUUM are UTILITY).
_STATEMENT_TYPES = {"select": "DML", "insert": "DML", "create": "DDL"}


def _statement(sql: str) -> str:
    words = sql.strip().split(None, 1)
    return words[0].lower() if words else ""


def check_parameters(sql: str, parameters: list[str]):
    """Athena takes execution parameters in WHERE clauses only, and exactly
    as many as there are `?`."""
    if not parameters and "?" not in sql:
        return
    trees = dialect.parse(sql)
    placeholders = [p for tree in trees for p in tree.find_all(exp.Placeholder)]
    if len(placeholders) != len(parameters):
        raise QueryFailed(
            f"INVALID_PARAMETER_USAGE: {len(placeholders)} parameter markers (?) but {len(parameters)} ExecutionParameters"
        )
    for p in placeholders:
        if p.find_ancestor(exp.Where) is None:
            raise QueryFailed(
                "INVALID_PARAMETER_USAGE: an execution parameter (?) outside a WHERE clause "
                f"(near {p.parent.sql(dialect='trino')[:80]!r}); Athena takes them in WHERE only"
            )


def athena_binder_error(message: str) -> str:
    """DuckDB's binder error as Athena words it: a column it cannot resolve
    is COLUMN_NOT_FOUND ("line 1:8: Column 'x' cannot be resolved")."""
    found = re.search(r'Referenced column "([^"]+)" not found', message)
    if found:
        return f"COLUMN_NOT_FOUND: Column '{found.group(1)}' cannot be resolved ({message.splitlines()[0]})"
    return f"BinderException: {message}"


def distinct_days(rows: pa.Table) -> int:
    """The event days (the table's day(occurred_at) partitions) of `rows`."""
    return len(pc.unique(pc.cast(rows.column("occurred_at"), pa.date32())))
