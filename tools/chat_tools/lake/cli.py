#!/usr/bin/env python3
"""SQL over the landed lake on this machine, as Athena runs it over the
stack's tables: the raw `chat_events`, the curated Iceberg table
`chat_events_curated` and the stack's views, in DuckDB.

Where it sits: the last step of the data flow, locally. The tables and the
SQL come from template.yaml as it stands (chat_tools.lake.raw_table,
chat_tools.curation.curated); Athena's dialect is translated in one place
(chat_tools.lake.dialect); chat_tools.lake.engine runs it.

Commands (the Makefile's `query`, `describe`, `curate`, `demo` use them):
  query      run SQL: --sql TEXT, --file PATH (- for standard input), or the
             text of the environment variable named by --sql-env; the SQL
             is run exactly as given. --json prints {columns, rows, files_read,
             bytes_read}
  describe   a table's or view's columns and DuckDB types
  named      create the named queries' views, run the others, print tables
  curate     run the stack's curation workflow over the lake
  reconcile  the last stage of `make demo`'s ledger: every produced event is
             in the curated table once, or waits under errors/ for a replay
  setup-sql  the DuckDB SQL that defines the raw table's view (checked by sqlfluff)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp as sqlglot_exp

from chat_tools import cfn_template
from chat_tools.curation import curated
from chat_tools.lake import dialect
from chat_tools.lake import engine
from chat_tools.lake import raw_table
from chat_tools.curation import workflow

from chat_tools.paths import REPO
DEFAULT_LAKE = REPO / "out"


class UsageError(Exception):
    """The command line asks for something impossible; the message says what to do."""


def plain(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


def print_table(columns: list[str], rows: list[tuple], limit: int = 50):
    cells = [
        [("NULL" if v is None else json.dumps(plain(v)) if isinstance(v, (dict, list)) else str(plain(v))) for v in row]
        for row in rows[:limit]
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print("  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for r in cells:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)))
    more = f", first {limit} shown" if len(rows) > limit else ""
    print(f"  ({len(rows)} row{'s' if len(rows) != 1 else ''}{more})")


def read_sql(args) -> str:
    """The query text, exactly as given: from --sql, --file, or the variable
    --sql-env names (how `make query SQL=...` passes it, so neither make nor
    the shell touches it)."""
    given = [x for x in (args.sql, args.file, args.sql_env) if x is not None]
    if len(given) != 1:
        raise UsageError("give the SQL once: --sql TEXT, --file PATH (- for standard input) or --sql-env NAME")
    if args.sql is not None:
        text = args.sql
    elif args.sql_env is not None:
        text = os.environ.get(args.sql_env, "")
    elif args.file == "-":
        text = sys.stdin.read()
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"no SQL file at {path}")
        text = path.read_text()
    if not text.strip():
        raise UsageError(
            'no SQL given. Try: make query SQL="SELECT count(*) FROM chat_events_curated", '
            "make query FILE=my.sql, or echo 'SELECT 1' | make query FILE=-"
        )
    return text


def open_lake(args) -> engine.Lake:
    lake = Path(args.lake)
    if not lake.is_dir():
        raise UsageError(f"no lake at {lake}: run `make demo` first (it copies the lake to out/), or pass LAKE=dir")
    return engine.Lake(lake, dict(p.split("=", 1) for p in args.param))


def command_query(args) -> int:
    sql = read_sql(args)
    statements = dialect.parse(sql)
    if len(statements) > 1:
        # Athena runs one statement per query execution (StartQueryExecution
        # takes one QueryString); so does make query, rather than answering
        # the last one only.
        raise UsageError(f"{len(statements)} statements given; Athena runs one per query: run them one at a time")
    lake = open_lake(args)
    try:
        columns, rows, profile = lake.run_profiled(sql)
    except duckdb.Error as e:
        raise engine.EngineError(engine.error_in_query(str(e), sql)) from None
    if reads_uncurated_table(lake, sql):
        print(f"lake_sql: {lake.definition.name} does not exist in {lake.dir} yet, so it answered no rows: "
              "run `make curate` (the stack's curation workflow) first", file=sys.stderr)
    if args.json:
        print(json.dumps({
            "columns": columns,
            "rows": plain(rows),
            "files_read": profile.files,
            "bytes_read": profile.bytes_read,
        }))
    else:
        print_table(columns, rows)
        # What Athena's console shows beside every answer, and bills by.
        print(f"  data scanned: {profile.bytes_read:,} bytes in {profile.files} file{'s' if profile.files != 1 else ''}")
    return 0


def reads_uncurated_table(lake: engine.Lake, sql: str) -> bool:
    """Whether `sql` reads the curated table of a lake where no curation run
    has created it (a local query then answers nothing)."""
    name = lake.definition.name
    reads = any(t.name == name for tree in dialect.parse(sql) for t in tree.find_all(sqlglot_exp.Table))
    return reads and lake.catalog.load(name) is None


def command_describe(args) -> int:
    lake = open_lake(args)
    name = args.table
    known = [t.name for t in lake.glue_tables] + [lake.definition.name] + list(lake.views)
    if name not in known:
        raise UsageError(f"no table or view {name!r} here; there are: {', '.join(dict.fromkeys(known))}")
    if name == lake.definition.name:
        described = [{"name": f.name, "type": curated.iceberg_type_to_duckdb(f.field_type)} for f in lake.definition.schema.fields]
    else:
        # A view is expanded where used (chat_tools.lake.engine): described
        # as a query over it, which reads no data (WHERE false).
        (select,) = lake.translate(f"SELECT * FROM {name} WHERE false")
        described = [{"name": r[0], "type": r[1]} for r in lake.con.execute(f"DESCRIBE {select}").fetchall()]
    if args.json:
        print(json.dumps(described))
    else:
        print_table(["column", "type"], [(d["name"], d["type"]) for d in described], limit=1000)
    return 0


def command_named(args) -> int:
    lake = open_lake(args)
    for nq in lake.queries:
        print(f"\n-- {nq.name}: {nq.description}")
        if nq.creates_view:
            print("  (view created)")
            continue
        print_table(*lake.run(nq.sql))
    return 0


def command_curate(args) -> int:
    lake = open_lake(args)
    today = dt.date.fromisoformat(args.today) if args.today else None
    print(f"Curating {lake.dir} into {lake.definition.name} (the stack's CurationStateMachine, its own definition, "
          "on moto's Step Functions interpreter), state by state as each ends:")
    try:
        since = dt.date.fromisoformat(args.since) if args.since else None
        execution = workflow.curate(lake, maintenance=args.maintenance, today=today, fail_at=args.fail_at, since=since,
                                    progress=print)
    except workflow.InjectedFailure as e:
        print(f"  {e}", file=sys.stderr)
        return 3
    if execution.window:
        print(f"  {execution.window}")
    if execution.status != "SUCCEEDED":
        print(f"  the run {execution.status}: {execution.error}: {execution.cause}", file=sys.stderr)
        return 1
    if execution.ran:
        table = lake.catalog.load(lake.definition.name)
        files = curated.plan(table)
        rows = lake.run(f"SELECT count(*) FROM {lake.definition.name}")[1][0][0]
        print(f"  {lake.definition.name}: {rows} rows in {len(files)} data files, "
              f"{len(table.snapshots())} snapshots, at {table.location().removeprefix('file://')}")
    return 0


class Unreconciled(Exception):
    """The curated stage does not account for every produced event."""


def command_reconcile(args) -> int:
    """The demo's ledger (<lake>/_demo/ledger.json, written by the demo with
    every stage up to the lake) closed with its last stage: each produced
    event is in chat_events_curated exactly once, or is not there yet
    because it waits under errors/ for `make replay`. Anything else (an
    event landed but not curated, curated twice, or nowhere) fails, naming
    the stage."""
    lake = open_lake(args)
    path = Path(args.ledger) if args.ledger else lake.dir / "_demo" / "ledger.json"
    if not path.is_file():
        raise UsageError(f"no ledger at {path}: `make demo` writes one")
    ledger = json.loads(path.read_text())
    ids = ledger.get("produced_ids", [])
    lake.con.register("produced_ids", pa.table({"event_id": pa.array(ids, pa.string())}))
    sql = """
        SELECT p.event_id,
               (SELECT count(*) FROM chat_events_curated AS c WHERE c.event_id = p.event_id) AS curated,
               EXISTS (SELECT 1 FROM chat_events AS r WHERE r.event_id = p.event_id) AS landed,
               EXISTS (SELECT 1 FROM chat_events_failed_decoded AS f WHERE f.event_id = p.event_id) AS in_errors
        FROM produced_ids AS p
    """
    _, rows = lake.run(sql)
    once = sum(1 for _, n, _, _ in rows if n == 1)
    twice = [i for i, n, _, _ in rows if n > 1]
    waiting = [i for i, n, landed, errors in rows if n == 0 and errors and not landed]
    not_curated = [i for i, n, landed, _ in rows if n == 0 and landed]
    nowhere = [i for i, n, landed, errors in rows if n == 0 and not landed and not errors]
    _, ((copies,),) = lake.run(
        "SELECT count(*) - count(DISTINCT (event_id, occurred_at)) FROM chat_events_curated")
    width = 44
    print(f"  {'curated once (chat_events_curated)':<{width}} {once:>8}  of {len(ids)} produced")
    if waiting:
        print(f"  {'waiting under errors/ (not curated yet)':<{width}} {len(waiting):>8}  `make replay`, then `make curate`")
    print(f"  {'rows of one event twice in the curated table':<{width}} {copies:>8}  = 0")
    problems = []
    if twice:
        problems.append(f"{len(twice)} produced events are in the curated table more than once (e.g. {twice[0]})")
    if copies:
        problems.append(f"the curated table holds {copies} extra rows of events it already has")
    if not_curated:
        problems.append(f"{len(not_curated)} events landed under events/ but are not curated (e.g. {not_curated[0]}): "
                        "did `make curate` run after they landed?")
    if nowhere:
        problems.append(f"{len(nowhere)} produced events are nowhere: not curated, not landed, not under errors/ "
                        f"(e.g. {nowhere[0]})")
    if waiting and args.require_curated:
        problems.append(f"{len(waiting)} produced events still wait under errors/ (e.g. {waiting[0]}): "
                        "`make replay` re-sends them, then `make curate`")
    if problems:
        raise Unreconciled("the counts do not reconcile at stage \"curated table\": " + "; ".join(problems))
    verdict = "every produced event is in the curated table once" if not waiting else \
        f"every produced event is curated once or waits under errors/ ({len(waiting)})"
    print(f"  Reconciled: {verdict}.")
    return 0


def command_setup_sql(args) -> int:
    template = cfn_template.load()
    table = raw_table.Table.from_template(template, cfn_template.parameter_values(template, dict(p.split("=", 1) for p in args.param)))
    print(";\n".join(table.setup_sql(Path("out"))) + ";")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m chat_tools.lake", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--lake", default=str(DEFAULT_LAKE), help="local copy of the bucket (default: out/, written by make demo)")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a template parameter's default")
    sub = ap.add_subparsers(dest="command", required=True)
    q = sub.add_parser("query", help="run SQL")
    q.add_argument("--sql", help="the SQL text")
    q.add_argument("--file", help="a file of SQL, or - for standard input")
    q.add_argument("--sql-env", help="the name of an environment variable holding the SQL")
    q.add_argument("--json", action="store_true", help="print {columns, rows, files_read, bytes_read}")
    d = sub.add_parser("describe", help="a table's or view's columns")
    d.add_argument("table", nargs="?", default="chat_events_curated")
    d.add_argument("--json", action="store_true")
    sub.add_parser("named", help="run the stack's named queries")
    c = sub.add_parser("curate", help="run the stack's curation workflow over the lake")
    c.add_argument("--maintenance", action="store_true", help="the daily run: late events, OPTIMIZE, VACUUM too")
    c.add_argument("--today", help="the run's day (YYYY-MM-DD, default today, UTC): it becomes the watermark")
    c.add_argument("--fail-at", choices=workflow.FAIL_POINTS, help="fail on purpose, to show a retried run")
    c.add_argument("--since", help="re-curate from this arrival day (YYYY-MM-DD), whatever the watermarks say")
    r = sub.add_parser("reconcile", help="check the curated table holds every event of make demo's ledger once")
    r.add_argument("--ledger", help="the ledger (default: <lake>/_demo/ledger.json)")
    r.add_argument("--require-curated", action="store_true",
                   help="also fail while produced events wait under errors/ (after make replay and make curate)")
    sub.add_parser("setup-sql", help="print the raw table's DuckDB SQL")
    return ap


COMMANDS = {
    "query": command_query,
    "describe": command_describe,
    "named": command_named,
    "curate": command_curate,
    "reconcile": command_reconcile,
    "setup-sql": command_setup_sql,
}


_TERMINAL_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def for_stream(message: str, stream) -> str:
    """`message` as `stream` shows it: sqlglot underlines the place of a
    parse error with terminal codes, which a pipe or a file would keep as
    text (`SELEC ^[[4m1^[[0m`); only a terminal gets them."""
    isatty = getattr(stream, "isatty", None)
    return message if isatty is not None and isatty() else _TERMINAL_CODES.sub("", message)


def main(argv: list[str] | None = None) -> int:
    # Each line as it is printed, through a pipe too (`make curate | tee`):
    # a run's states are printed as each ends.
    sys.stdout.reconfigure(line_buffering=True)
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(for_stream(f"lake_sql: {e}", sys.stderr), file=sys.stderr)
        return 2
    except (dialect.DialectError, engine.EngineError, curated.CurationError, duckdb.Error, Unreconciled) as e:
        print(for_stream(f"lake_sql: {e}", sys.stderr), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
