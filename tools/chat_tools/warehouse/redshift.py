#!/usr/bin/env python3
"""Redshift's recipes (warehouse/redshift/) executed on DuckDB through
chat_tools.warehouse.redshift_duckdb, over a table standing in for the Kinesis stream;
their answers held to the transformer's and to the lake's.

Where it sits: `make warehouse-test`, after warehouse_inputs.py, in
.venv-query. Two inputs:

1. The transformer's own cases: every record of the golden samples in
   events/transformer/ (edge-cases.json holds the near misses), as the
   stream delivers them. The streaming views (02, 03) must keep exactly the
   records the transformer answers Ok or Dropped (a retry copy), with the
   transformer's values, and no record it refuses; each difference must be
   one of KNOWN_DIFFERENCES below (docs/warehouses.md explains each), and
   each known one must still happen, so the list stays true.
2. The lake of warehouse_inputs.py (retry copies, copies across midnight,
   reused ids), every raw line sent as the producer's record with its
   arrival time and Kinesis position: the de-duplicating view (04) must
   equal the curated table row for row, and the questions (06, written
   once over chat_events_unique) must answer as the stack's named queries
   twice: over the stream (chat_events_unique as 04 defines it) and over
   the curated table (as 05 defines it; the table loaded from its Parquet
   export).

What only an account can run (the external schema, the refresh, Redshift's
own parsers, SYS_STREAM_SCAN_ERRORS) is listed in docs/warehouses.md.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import gzip
import json
import re
import sys
from pathlib import Path

import duckdb

from chat_tools import samples, schema
from chat_tools.warehouse import redshift_duckdb
from chat_tools.warehouse.answers import ORDER_BY_KEY, Mismatch, cell, one_row_per_event_select, rows_equal, statements

from chat_tools.paths import REPO
RECIPES = REPO / "warehouse" / "redshift"
SAMPLES = REPO / "events" / "transformer"

# Where the view and the transformer differ on purpose or by Redshift's
# nature, by record (sample, the record's name in
# events/transformer/readable/): what differs and why. docs/warehouses.md
# ("Redshift and the transformer") lists the same.
DERIVED_ID = "no event_id sent: the view names the event kinesis:<shard>:<sequence>, the lake by a hash of that position"
KNOWN_DIFFERENCES = {
    **{(sample, name): DERIVED_ID for sample, name in [
        ("aws-sample-shapes", "arrival as ISO text"), ("aws-sample-shapes", "subsequence number as text"),
        ("aws-sample-shapes", "byte-order mark, plain event"), ("duplicates", "a plain event"),
        ("duplicates", "the plain event at another subsequence"), ("edge-cases", "no event_id"),
        *[("plain-python-producer", name) for name in samples.record_names("plain-python-producer")],
    ]},
    ("mixed-invalid", "over 1,000 KiB"): "kept: over Firehose's 1,000 KiB the transformer refuses a record; a Kinesis "
    "record may be larger, and the view keeps it",
    ("aws-sample-shapes", "subsequence number not a number"): "kept: the transformer refuses the Firehose envelope "
    "around it (subsequenceNumber 'not a number'); the stream record itself is valid",
    ("edge-cases", "a repeated field"): "kept: a repeated field; the transformer refuses it, JSON_PARSE keeps one of "
    "the values",
}
# The columns the view is held to, value for value: every column but those
# it fills from the stand-in stream rather than from the record (source, the
# arrival, the version it always writes).
COMPARED = [c.name for c in schema.load().columns if c.transformer not in ("kinesis-source", "arrival", "schema-version")]
TIMES = [c.name for c in schema.load().columns if c.kind == "timestamp"]


def arrival(value) -> dt.datetime:
    """approximateArrivalTimestamp: epoch milliseconds, or ISO 8601 as AWS's
    own sample events write it."""
    if isinstance(value, (int, float)):
        return dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(value))
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    # Not UTC on purpose: the view must not depend on the session's zone.
    con.execute("SET TimeZone = 'America/Los_Angeles'")
    redshift_duckdb.install(con)
    con.execute(
        f"CREATE TABLE {redshift_duckdb.STREAM_STAND_IN} (approximate_arrival_timestamp TIMESTAMP, "
        "partition_key VARCHAR, shard_id VARCHAR, sequence_number VARCHAR, refresh_time TIMESTAMP, kinesis_data BLOB)"
    )
    return con


def execute_recipe(con, name: str, now: dt.datetime | None = None) -> list[tuple[str, list, list]]:
    """Every statement of one recipe file; for each SELECT, its header
    comment's first word (the question's name), columns and rows."""
    text = (RECIPES / name).read_text()
    # DuckDB has no late-binding views: the clause only tells Redshift not
    # to check the external table when the view is created.
    text = re.sub(r"\s+WITH\s+NO\s+SCHEMA\s+BINDING", "", text, flags=re.IGNORECASE)
    answers = []
    for block in re.split(r";\s*\n", text):
        names = re.findall(r"^-- ([a-z0-9]+(?:-[a-z0-9]+)+)\b", block, re.MULTILINE)
        for statement in statements(block):
            if re.search(r"\b(sys_stream_scan_errors|EXTERNAL\s+SCHEMA)\b", statement, re.IGNORECASE):
                continue  # an account only (docs/warehouses.md)
            cur = con.execute(redshift_duckdb.translate(statement, now))
            if statement.lstrip().upper().startswith("SELECT"):
                columns = [d[0] for d in cur.description]
                answers.append((names[-1] if names else "?", columns, [[cell(v) for v in r] for r in cur.fetchall()]))
    return answers


def load_stream(con, rows: list[tuple]):
    con.executemany(
        f"INSERT INTO {redshift_duckdb.STREAM_STAND_IN} VALUES (?, ?, ?, ?, ?, ?)", rows)


# ------------------------------------------------------------ the corpus --
def corpus_rows() -> tuple[list[tuple], dict[str, tuple], int]:
    """Stream rows from every golden sample, and per row tag the sample,
    the record's name and the transformer's answer."""
    rows, answers, skipped = [], {}, 0
    for name in samples.names():
        event = json.loads((SAMPLES / f"{name}.json").read_text())
        expected = json.loads((SAMPLES / f"{name}.expected.json").read_text())["records"]
        record_names = samples.record_names(name)
        for i, (record, answer) in enumerate(zip(event["records"], expected)):
            try:
                data = base64.b64decode(record.get("data", ""), validate=True)
                when = arrival(record["approximateArrivalTimestamp"])
            except (binascii.Error, ValueError, KeyError, TypeError):
                skipped += 1  # a Firehose envelope the stream never holds
                continue
            meta = record.get("kinesisRecordMetadata") or {}
            tag = f"{name}#{i}"
            rows.append((when, tag, meta.get("shardId") or "shardId-direct-put",
                         meta.get("sequenceNumber") or record["recordId"], when, data))
            answers[tag] = (name, record_names[i], answer, data)
    return rows, answers, skipped


def compare_corpus(con) -> tuple[int, int, list[str]]:
    rows, answers, skipped = corpus_rows()
    load_stream(con, rows)
    execute_recipe(con, "02_streaming_view.sql")
    execute_recipe(con, "03_chat_events_view.sql")
    got = {}
    columns = ", ".join(COMPARED)
    for tag, shard, sequence, *values in con.execute(
        "SELECT json_extract_string(source, '$.partition_key'), json_extract_string(source, '$.shard_id'), "
        f"json_extract_string(source, '$.sequence_number'), {columns} FROM chat_events"
    ).fetchall():
        got[tag] = (shard, sequence, dict(zip(COMPARED, values)))
    found: dict[tuple[str, str], str] = {}
    for tag, (name, record, answer, data) in answers.items():
        view = got.get(tag)
        result = answer["result"]
        if result == "ProcessingFailed":
            if view is not None:
                found[(name, record)] = "kept by the view, refused by the transformer"
            continue
        if view is None:
            found[(name, record)] = f"transformer {result}, no row in the view: {data[:80]!r}"
            continue
        if result != "Ok":
            continue
        line = json.loads(base64.b64decode(answer["data"]))
        shard, sequence, mine = view
        mine = {k: (cell(v) + "Z" if k in TIMES else cell(v)) for k, v in mine.items()}
        theirs = {k: line[k] for k in mine}
        if mine["event_id"] == f"kinesis:{shard}:{sequence}":
            mine.pop("event_id"), theirs.pop("event_id")
            found[(name, record)] = "derived event_id"
        wrong = [f"{k}: view {mine[k]!r}, lake {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]
        if wrong:
            found[(name, record)] = "; ".join(wrong)
    unexpected = {k: v for k, v in found.items() if k not in KNOWN_DIFFERENCES}
    gone = [k for k in KNOWN_DIFFERENCES if k not in found]
    if unexpected or gone:
        lines = [f"{n}: {r!r}: {why}" for (n, r), why in sorted(unexpected.items())]
        lines += [f"{n}: {r!r}: listed in KNOWN_DIFFERENCES but no longer differs" for n, r in gone]
        raise Mismatch("03_chat_events_view.sql against the transformer:\n      " + "\n      ".join(lines))
    by_reason: dict[str, list[str]] = {}
    for (n, r), why in sorted(KNOWN_DIFFERENCES.items()):
        by_reason.setdefault(why, []).append(f"{n}: {r}")
    return len(rows), skipped, [f"{len(tags)} × {why} ({', '.join(tags)})" for why, tags in by_reason.items()]


# -------------------------------------------------------------- the lake --
def lake_rows(lake: Path) -> list[tuple]:
    """Every raw line of the lake as the record the producer sent, arriving
    when the lake says it arrived, at the Kinesis position it names."""
    rows = []
    for n, path in enumerate(sorted((lake / "events").rglob("*.gz"))):
        for k, line in enumerate(gzip.decompress(path.read_bytes()).decode().splitlines()):
            if not line:
                continue
            e = json.loads(line)
            record = {"event_id": e["event_id"], "event_time": e["occurred_at"], "event_name": e["event_type"].upper(),
                      "user": e["user_id"], "schema_version": 1}
            # The plain columns under their input names (chat_tools.schema).
            record.update({c.input_field: e.get(c.name) for c in schema.load().plain_columns})
            source = e.get("source") or {}
            when = arrival(e["received_at"])
            rows.append((when, source.get("partition_key") or str(e["user_id"]),
                         source.get("shard_id") or "shardId-000000000000",
                         source.get("sequence_number") or f"{n:06d}{k:06d}", when, json.dumps(record).encode()))
    return rows




def compare_lake(con, inputs: Path) -> list[str]:
    expected = json.loads((inputs / "expected.json").read_text())
    now = dt.datetime.fromisoformat(expected["answered_at"])
    rows = lake_rows(inputs / "lake")
    load_stream(con, rows)
    report = []
    for recipe in ("02_streaming_view.sql", "03_chat_events_view.sql", "04_deduplicated_view.sql"):
        execute_recipe(con, recipe)
    (loaded,) = con.execute("SELECT count(*) FROM chat_events").fetchone()
    if loaded != expected["raw_lines"]:
        raise Mismatch(f"03_chat_events_view.sql: {loaded} rows of {expected['raw_lines']} raw lines")
    report.append(f"02, 03: {len(rows)} stream records from the lake's raw lines, {loaded} rows in chat_events")
    # Every column, the SUPER source field by field (DuckDB holds it as JSON).
    every_column = one_row_per_event_select(lambda column, f: f"json_extract_string({column}, '$.{f}')")
    got = [[cell(v) for v in r] for r in con.execute(
        f"SELECT {every_column} FROM chat_events_deduplicated {ORDER_BY_KEY}").fetchall()]
    rows_equal("04_deduplicated_view.sql: chat_events_deduplicated against chat_events_curated", got, expected["curated"])
    report.append(f"04_deduplicated_view.sql: chat_events_deduplicated equals chat_events_curated, every column "
                  f"of {len(got)} rows")

    con.execute("CREATE SCHEMA chat_lake")
    con.execute(f"CREATE TABLE chat_lake.chat_events_curated AS SELECT * FROM read_parquet('{inputs / 'curated.parquet'}')")
    # The questions, written once, over each source in turn: 04 pointed
    # chat_events_unique at the stream's view; 05 points it at the table,
    # and the stream is emptied first, so a question still reading it
    # answers nothing and fails. retry-copies-per-day reads the raw copies,
    # which only the stream holds: asked over the stream only.
    for source, recipe in (("the stream", None), ("the curated table", "05_curated_table.sql")):
        wanted = sorted(expected["answers"])
        if recipe:
            # The streaming view's one refresh (redshift_duckdb makes it a table).
            con.execute("DELETE FROM chat_events_stream")
            execute_recipe(con, recipe)
            wanted.remove("retry-copies-per-day")
        answered = [a for a in execute_recipe(con, "06_questions.sql", now) if a[0] in wanted or not recipe]
        names = [name for name, _, _ in answered]
        if sorted(names) != wanted:
            raise Mismatch(f"06_questions.sql: questions {names}, expected {wanted}")
        for name, _, got_rows in answered:
            rows_equal(f"06_questions.sql over {source}: {name}", got_rows, expected["answers"][name]["rows"])
            report.append(f"06_questions.sql over {source}: {name} answers as the named query ({len(got_rows)} rows)")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True, help="the directory warehouse_inputs.py wrote")
    args = ap.parse_args()
    print("Redshift (its SQL on DuckDB, chat_tools.warehouse.redshift_duckdb):")
    try:
        records, skipped, known = compare_corpus(connect())
        print(f"  ok  02, 03 over the golden samples' {records} records ({skipped} Firehose envelopes without "
              f"stream data left out): the view keeps what the transformer keeps, with its values, "
              f"but for {len(KNOWN_DIFFERENCES)} known differences (docs/warehouses.md):")
        for line in known:
            print(f"        {line}")
        for line in compare_lake(connect(), Path(args.inputs)):
            print(f"  ok  {line}")
    except (Mismatch, redshift_duckdb.Untranslatable, duckdb.Error) as e:
        print(f"  FAILED  {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
