#!/usr/bin/env python3
"""The lake the warehouse recipes are executed over, and what the lake
answers, for `make warehouse-test`.

Where it sits: before chat_tools.warehouse.snowflake, which runs in its own
virtualenv (fakesnow pins a sqlglot this one cannot share). This side, with
the project's engine, writes a raw lake with everything that makes keys
hard, curates it with the stack's own workflow, and writes down what the
stack answers over it: the curated table's rows and the named queries'
answers. The warehouse side loads the same raw objects with the recipes and
must answer the same.

The lake: two arrival days of synthetic events (chat_tools.lake.synthetic_lake:
retry copies, copies across midnight, a dead-letter replay, clients whose
clock says 2023), plus two events that reuse an event_id at another event
time (two events by the curated table's key, (event_id, occurred_at)).
With --lake DIR (`make warehouse-test LAKE=out` after `make demo`), the
lake is DIR's raw objects instead, plus 50 retry copies of its lines and
the same two reused ids.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import shutil
import sys
from pathlib import Path

from chat_tools.lake import engine
from chat_tools.lake import synthetic_lake
from chat_tools.curation import workflow
from chat_tools.warehouse.answers import ORDER_BY_KEY, cell, one_row_per_event_select

# The stack's questions the warehouses answer too (template.yaml's named
# queries that read events; the failed-records ones are the lake's own).
QUESTIONS = ["events-per-type-and-hour", "active-users-per-day", "events-in-the-last-hour", "retry-copies-per-day"]




def frozen(sql: str, now: dt.datetime) -> str:
    """Athena SQL with its clock stopped at `now` (UTC)."""
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    sql = re.sub(r"\bcurrent_timestamp\b", f"TIMESTAMP '{stamp}'", sql, flags=re.IGNORECASE)
    return re.sub(r"\bcurrent_date\b", f"DATE '{stamp[:10]}'", sql, flags=re.IGNORECASE)


def write_lake(lake: Path, now: dt.datetime, per_day: int = 150, seed: int = 5):
    today = now.date()
    for day in (today - dt.timedelta(days=1), today):
        for obj in synthetic_lake.objects_of(day, per_day, seed):
            synthetic_lake.write(lake, obj)
    add_reused_ids(lake, now, synthetic_lake.events_of(today, per_day, seed)[0].event_id)


def copy_lake(source: Path, lake: Path, now: dt.datetime) -> dt.date:
    """A lake `make demo` landed, plus 50 retry copies (a second object
    holding 50 of its lines again, arriving a second later) and two events
    that reuse an id; returns its first arrival day."""
    objects = sorted((source / "events").rglob("*.gz"))
    if not objects:
        raise SystemExit(f"warehouse_inputs: no raw objects under {source}/events (run make demo first)")
    shutil.copytree(source / "events", lake / "events")
    copies = []
    for path in objects:
        for line in gzip.decompress(path.read_bytes()).decode().splitlines():
            if line and len(copies) < 50:
                copies.append((path.relative_to(source), json.loads(line)))
    by_prefix: dict[Path, list[dict]] = {}
    for relative, row in copies:
        received = dt.datetime.fromisoformat(row["received_at"].replace("Z", "+00:00")) + dt.timedelta(seconds=1)
        row["received_at"] = received.strftime("%Y-%m-%dT%H:%M:%S.") + f"{received.microsecond // 1000:03d}Z"
        by_prefix.setdefault(relative.parent, []).append(row)
    for prefix, rows in by_prefix.items():
        body = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in rows).encode()
        (lake / prefix / "retry-copies.gz").write_bytes(gzip.compress(body, mtime=0))
    add_reused_ids(lake, now, copies[0][1]["event_id"])
    return min(dt.date.fromisoformat(p.parent.name.removeprefix("dt=")) for p in objects)


def add_reused_ids(lake: Path, now: dt.datetime, event_id: str):
    """Two events that reuse `event_id` at other event times (a client that
    reuses ids): by the key they are two more events."""
    by_arrival_day: dict[dt.date, list[synthetic_lake.Landed]] = {}
    for minutes in (7, 19):
        occurred = now - dt.timedelta(minutes=minutes)
        event = synthetic_lake.Event(event_id, "send_message", 42, occurred.replace(tzinfo=None))
        landed = synthetic_lake.Landed(event, occurred.replace(tzinfo=None) + dt.timedelta(seconds=2))
        by_arrival_day.setdefault(landed.received_at.date(), []).append(landed)
    # Each under its own arrival day, as Firehose partitions (dt is the
    # arrival's UTC day): minutes after midnight, one lands the day before,
    # and the stream's side, which reads the arrival, puts it there too.
    for day, landed in by_arrival_day.items():
        key = f"events/event_type=send_message/dt={day.isoformat()}/synthetic-reused-ids.gz"
        synthetic_lake.write(lake, synthetic_lake.Object(key, landed))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory: lake/ and expected.json are written there")
    ap.add_argument("--lake", help="a lake `make demo` landed (its events/), instead of the synthetic one")
    args = ap.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    lake_dir = out / "lake"
    lake_dir.mkdir(parents=True)
    now = dt.datetime.now(dt.timezone.utc)
    if args.lake:
        start = copy_lake(Path(args.lake), lake_dir, now)
    else:
        write_lake(lake_dir, now)
        start = now.date() - dt.timedelta(days=1)
    lake = engine.Lake(lake_dir, {"LakeStartDate": start.isoformat()})
    execution = workflow.curate(lake, maintenance=True)
    if execution.status != "SUCCEEDED":
        print(f"warehouse_inputs: curating the lake {execution.status}: {execution.error}: {execution.cause}", file=sys.stderr)
        return 1
    # Both sides answer at the same instant: "now" is this run's, written
    # into the SQL (the warehouse side does the same with SYSDATE()), so an
    # event at a window's edge cannot fall in on one side and out on the
    # other while the seconds between them pass.
    for q in lake.queries:
        if q.creates_view:
            for statement in lake.translate(frozen(q.sql, now)):
                lake.con.execute(statement)
    every_column = one_row_per_event_select(lambda column, f: f"{column}.{f}")
    _, curated = lake.run(f"SELECT {every_column} FROM chat_events_curated {ORDER_BY_KEY}")
    answers = {}
    for name in QUESTIONS:
        query = next(q for q in lake.queries if q.name == name)
        columns, rows = lake.run(frozen(query.sql, now))
        answers[name] = {"columns": columns, "rows": [[cell(v) for v in r] for r in rows]}
    # The curated table as a Parquet file, for the warehouses' questions over
    # it (Redshift's 05_curated_table.sql reads it through Glue on AWS).
    export = lake.translate("SELECT * FROM chat_events_curated")[-1]
    lake.con.execute(f"COPY ({export}) TO '{out / 'curated.parquet'}' (FORMAT parquet)")
    lines = sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in (lake_dir / "events").rglob("*.gz"))
    expected = {
        "answered_at": now.isoformat(),
        "raw_lines": lines,
        "curated": [[cell(v) for v in r] for r in curated],
        "answers": answers,
    }
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    print(f"warehouse inputs: {lines} raw lines under {lake_dir}/events, {len(curated)} curated rows, "
          f"{len(QUESTIONS)} named queries answered ({out / 'expected.json'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
