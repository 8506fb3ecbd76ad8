#!/usr/bin/env python3
"""Exactness and cost of the curated table, measured: `make curation-bench`.

Where it sits: a benchmark of the last step of the data flow. It writes a
synthetic raw lake day by day (chat_tools.lake.synthetic_lake: copies across
midnight, a replay ten days late, plain events dated 2023, an object written
after its day ended), runs the stack's curation workflow as the schedule
would (a midday run and a daily maintenance run each day; one run fails
after its insert and one before its commit, and both are retried), then:

- exactness: the curated table holds exactly one row per distinct event of
  the raw table, with the event's content; running the curation again
  changes nothing; the "last day" named query answers what the raw table,
  de-duplicated, answers;
- cost: the files and bytes DuckDB opens for that query on the curated
  table, against the last two arrival days of raw objects and against the
  whole-lake de-duplication the stack used before; for two lake ages, to
  show the cost does not follow the age.

Costs are counted, not timed: the files DuckDB's profile says its readers
opened, and the bytes the process read from the lake's files while DuckDB
answered (the kernel's read() count, footers included: engine.Profile).

Usage: curation_bench.py [--days 60 120] [--events-per-day 500] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from chat_tools.curation import curated
from chat_tools.lake import engine
from chat_tools.lake import synthetic_lake
from chat_tools.curation import workflow

LAST_DAY_QUERY = "events-per-type-and-hour"
# The whole-lake de-duplication the stack's example queries read before the
# curated table (its former view, chat_events_deduplicated).
RAW_DEDUPLICATED = (
    "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY received_at, dt) AS copy_number "
    "FROM chat_events) AS copies WHERE copy_number = 1)"
)
CONTENT = "event_id, event_type, user_id, session_id, seq, occurred_at, event_date"


class BenchError(Exception):
    """A check failed; the message says which and with what numbers."""


@dataclass
class Result:
    days: int
    events_per_day: int
    raw_objects: int
    raw_rows: int
    distinct_events: int
    curated_rows: int
    curated_files: int
    rerun_inserted: int
    last_day_rows_equal: bool
    curated_query_files: int
    curated_query_bytes: int
    raw_last_two_days_files: int
    raw_last_two_days_bytes: int
    raw_dedup_query_files: int
    raw_dedup_query_bytes: int
    # The daily run's late path: what it read of the curated table, against
    # the table's size (it looks up only the event days of its window's
    # rows, so it does not grow with the table).
    daily_run_curated_bytes: int
    curated_table_bytes: int


def curate(runner: workflow.Runner, day: dt.date, maintenance: bool, fail_at: str | None = None):
    """One scheduled run on `day`; with `fail_at`, a run that fails as asked,
    then its retry (a new execution)."""
    lake = runner.lake
    if fail_at:
        try:
            workflow.curate(lake, maintenance=maintenance, today=day, fail_at=fail_at, runner=runner)
        except workflow.InjectedFailure:
            pass
        else:
            raise BenchError(f"the injected failure {fail_at} did not happen")
    execution = workflow.curate(lake, maintenance=maintenance, today=day, runner=runner)
    if execution.status != "SUCCEEDED":
        raise BenchError(f"curation on {day} {execution.status}: {execution.error}: {execution.cause}")
    return execution


def build(directory: Path, days: int, per_day: int, seed: int, end: dt.date) -> tuple[engine.Lake, int]:
    """Writes the lake and curates it as the schedule would; returns it and
    the bytes of the curated table the last daily run read (its lookups of
    what the table holds, and its reconciliation)."""
    dates = [end - dt.timedelta(days=days - 1 - i) for i in range(days)]
    lake = engine.Lake(directory, {"LakeStartDate": dates[0].isoformat()})
    with workflow.Runner(lake) as runner:
        daily = _schedule(runner, directory, dates, per_day, seed, end)
        read = sum(runner.athena.queries[q].curated_bytes for arn, _, q in runner.started_queries if arn == daily.arn)
    return lake, read


def _schedule(runner: workflow.Runner, directory: Path, dates: list[dt.date], per_day: int, seed: int, end: dt.date):
    late: list[synthetic_lake.Object] = []
    for i, day in enumerate(dates):
        for obj in late:  # yesterday's late object lands after its day ended
            synthetic_lake.write(directory, obj)
        objects = synthetic_lake.objects_of(day, per_day, seed)
        late = [o for o in objects if o.late]
        on_time = [o for o in objects if not o.late]
        for obj in on_time[: len(on_time) // 2]:
            synthetic_lake.write(directory, obj)
        fail_at = {len(dates) // 3: "after-insert", 2 * len(dates) // 3: "before-commit"}.get(i)
        curate(runner, day, maintenance=False, fail_at=fail_at)
        for obj in on_time[len(on_time) // 2 :]:
            synthetic_lake.write(directory, obj)
        curate(runner, day, maintenance=True)
    for obj in late:
        synthetic_lake.write(directory, obj)
    curate(runner, end, maintenance=False)
    return curate(runner, end, maintenance=True)


def one(lake: engine.Lake, sql: str):
    return lake.run(sql)[1][0][0]


def measure(directory: Path, days: int, per_day: int, seed: int, end: dt.date) -> Result:
    lake, daily_read = build(directory, days, per_day, seed, end)
    lake.refresh()
    raw_objects = sum(1 for _ in (directory / "events").rglob("*.gz"))
    distinct = one(lake, "SELECT count(*) FROM (SELECT DISTINCT event_id FROM chat_events) AS d")
    curated_rows = one(lake, "SELECT count(*) FROM chat_events_curated")
    curated_ids = one(lake, "SELECT count(DISTINCT event_id) FROM chat_events_curated")
    if not (curated_rows == curated_ids == distinct):
        raise BenchError(f"{days} days: {curated_rows} curated rows, {curated_ids} distinct ids, {distinct} raw events")
    missing = one(lake, f"SELECT count(*) FROM (SELECT {CONTENT} FROM {RAW_DEDUPLICATED} AS r EXCEPT SELECT {CONTENT} FROM chat_events_curated) AS m")
    extra = one(lake, f"SELECT count(*) FROM (SELECT {CONTENT} FROM chat_events_curated EXCEPT SELECT {CONTENT} FROM {RAW_DEDUPLICATED} AS r) AS m")
    if missing or extra:
        raise BenchError(f"{days} days: the curated rows differ from the raw events: {missing} missing, {extra} extra")

    before = lake.run("SELECT * FROM chat_events_curated ORDER BY event_id")[1]
    with workflow.Runner(lake) as runner:
        again = curate(runner, end, maintenance=False).inserted + curate(runner, end, maintenance=True).inserted
    after = lake.run("SELECT * FROM chat_events_curated ORDER BY event_id")[1]
    if again or before != after:
        raise BenchError(f"{days} days: running the curation again inserted {again} rows or changed the table")

    query = next(q for q in lake.queries if q.name == LAST_DAY_QUERY).sql
    raw_query = query.replace("chat_events_curated", f"{RAW_DEDUPLICATED} AS deduplicated")
    curated_answer = sorted(lake.run(query)[1])
    raw_answer = sorted(lake.run(raw_query)[1])
    curated_cost = lake.profile(query)
    raw_dedup_cost = lake.profile(raw_query)

    last_two = [(end - dt.timedelta(days=1)).isoformat(), end.isoformat()]
    raw_files = [p for p in (directory / "events").rglob("*.gz") if any(f"dt={d}" in str(p) for d in last_two)]
    table = lake.catalog.load(lake.definition.name)
    return Result(
        days=days,
        events_per_day=per_day,
        raw_objects=raw_objects,
        raw_rows=one(lake, "SELECT count(*) FROM chat_events"),
        distinct_events=distinct,
        curated_rows=curated_rows,
        curated_files=len(list(table.scan().plan_files())),
        rerun_inserted=again,
        last_day_rows_equal=curated_answer == raw_answer,
        curated_query_files=curated_cost.files,
        curated_query_bytes=curated_cost.bytes_read,
        raw_last_two_days_files=len(raw_files),
        raw_last_two_days_bytes=sum(p.stat().st_size for p in raw_files),
        raw_dedup_query_files=raw_dedup_cost.files,
        raw_dedup_query_bytes=raw_dedup_cost.bytes_read,
        daily_run_curated_bytes=daily_read,
        curated_table_bytes=sum(f.size for f in curated.plan(table)),
    )


def check_cost(results: list[Result]):
    for r in results:
        if not r.last_day_rows_equal:
            raise BenchError(f"{r.days} days: the last-day query answers differently from the raw table, de-duplicated")
        if r.curated_query_bytes > r.raw_last_two_days_bytes:
            raise BenchError(
                f"{r.days} days: the last-day query read {r.curated_query_bytes} bytes, more than the last two "
                f"arrival days of raw objects ({r.raw_last_two_days_bytes})"
            )
    # The daily run's late path reads the event days of its window's rows,
    # not the table: between two lakes older than that window (its 30 + 3
    # arrival days and ten days of event time before them), what it reads
    # stays put while the table grows.
    aged = sorted((r for r in results if r.days > 45), key=lambda r: r.days)
    if len(aged) >= 2:
        young, old = aged[0], aged[-1]
        if old.daily_run_curated_bytes > 1.25 * young.daily_run_curated_bytes:
            raise BenchError(
                f"the daily run read {young.daily_run_curated_bytes} bytes of the curated table at {young.days} days "
                f"and {old.daily_run_curated_bytes} at {old.days} days: its late path grows with the table"
            )
    costs = {(r.curated_query_files, r.curated_query_bytes) for r in results}
    if len(costs) != 1:
        raise BenchError(f"the last-day query's cost changed with the lake's age: {sorted(costs)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--days", type=int, nargs="+", default=[60, 120])
    ap.add_argument("--events-per-day", type=int, default=500)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    end = dt.datetime.now(dt.timezone.utc).date()
    results = []
    for days in args.days:
        with tempfile.TemporaryDirectory(prefix=f"curation-bench-{days}-") as d:
            results.append(measure(Path(d), days, args.events_per_day, args.seed, end))
    try:
        check_cost(results)
        verdict = "ok"
    except BenchError as e:
        verdict = f"FAILED: {e}"
    if args.json:
        print(json.dumps({"results": [asdict(r) for r in results], "verdict": verdict}, indent=2))
    else:
        rows = [
            ("lake age (arrival days)", "days"),
            ("raw objects / rows", lambda r: f"{r.raw_objects} / {r.raw_rows}"),
            ("distinct events / curated rows", lambda r: f"{r.distinct_events} / {r.curated_rows}"),
            ("curated data files (after maintenance)", "curated_files"),
            ("rows a second run inserted", "rerun_inserted"),
            ("last-day query, curated: files / bytes", lambda r: f"{r.curated_query_files} / {r.curated_query_bytes}"),
            ("raw objects of the last two arrival days: files / bytes", lambda r: f"{r.raw_last_two_days_files} / {r.raw_last_two_days_bytes}"),
            ("last-day query, whole-lake dedup (before): files / bytes", lambda r: f"{r.raw_dedup_query_files} / {r.raw_dedup_query_bytes}"),
            ("same answer as the raw table, de-duplicated", "last_day_rows_equal"),
            ("daily run: bytes of the curated table it read / table", lambda r: f"{r.daily_run_curated_bytes} / {r.curated_table_bytes}"),
        ]
        for label, get in rows:
            values = [str(get(r) if callable(get) else getattr(r, get)) for r in results]
            print(f"  {label:58} " + "  ".join(f"{v:>16}" for v in values))
        print(f"  verdict: {verdict}")
    return 0 if verdict == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
