#!/usr/bin/env python3
"""Snowflake's recipes (warehouse/snowflake/) executed, on fakesnow, over
the lake chat_tools.warehouse.inputs wrote; their answers held to the lake's.

Where it sits: `make warehouse-test`, after warehouse_inputs.py, in
.venv-warehouse (fakesnow: Snowflake's SQL on DuckDB, behind the real
snowflake-connector-python API). What runs, and how:

- 03_table.sql: as written;
- 04_pipe.sql, over the transformer's own output first: every Ok line of
  the golden samples (events/transformer/*.expected.json) loads with the
  line's values;
- 04_pipe.sql: its COPY's column list and SELECT list, taken from the
  recipe's text, over the staged lines (fakesnow cannot read `$1:field` or
  METADATA$FILENAME from files: `$1` becomes the line parsed as VARIANT,
  METADATA$FILENAME the object's key, METADATA$START_SCAN_TIME the load's
  start);
- 05_deduplicated_view.sql: the view as written, then held to the curated
  table row for row (by (event_id, occurred_at), with type and user), and
  chat_events_unique over it;
- 07_questions.sql, written once over chat_events_unique: every query,
  each held to the stack's named query of the same name (`make query`'s
  answer over the same lake), twice: over the pipe's table (as 05 defines
  chat_events_unique) and over the curated table (as
  06_curated_iceberg_table.sql defines it; the table is the lake's, exported
  to Parquet by chat_tools.warehouse.inputs).

What only an account can run (the integration, the stage's S3 URL, pipe
status and copy history, the Iceberg table through Glue) is listed in
docs/warehouses.md, with the statement to run for each.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import gzip
import json
import re
import sys
from pathlib import Path

from chat_tools import schema
from chat_tools.warehouse.answers import ORDER_BY_KEY, Mismatch, cell, one_row_per_event_select, rows_equal, statements

from chat_tools.paths import REPO
RECIPES = REPO / "warehouse" / "snowflake"
SAMPLES = REPO / "events" / "transformer"
# The columns a loaded line is held to, value for value: every scalar column
# of the schema.
FIELDS = [c.name for c in schema.load().columns if c.kind != "struct"]
TIMES = [c.name for c in schema.load().columns if c.kind == "timestamp"]



def pipe_load(pipe_sql: str) -> tuple[str, str]:
    """The COPY's column list and the SELECT list of 04_pipe.sql, as the
    columns of an INSERT ... SELECT over the table `staged` (line, file_name,
    started)."""
    m = re.search(r"COPY\s+INTO\s+chat_events\s*\((.*?)\)\s*FROM\s*\(\s*SELECT(.*?)FROM\s+@chat_events_stage",
                  pipe_sql, re.IGNORECASE | re.DOTALL)
    if not m:
        raise Mismatch("04_pipe.sql: no COPY INTO chat_events (...) FROM (SELECT ... FROM @chat_events_stage)")
    columns, select = m.group(1), m.group(2)
    select = select.replace("$1", "PARSE_JSON(staged.line)")
    select = select.replace("METADATA$FILENAME", "staged.file_name").replace("METADATA$START_SCAN_TIME", "staged.started")
    return columns, select






def run(inputs: Path) -> list[str]:
    import fakesnow
    import snowflake.connector

    expected = json.loads((inputs / "expected.json").read_text())
    now = dt.datetime.fromisoformat(expected["answered_at"]).astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    lake = inputs / "lake"
    report = []
    with fakesnow.patch():
        con = snowflake.connector.connect(database="chat", schema="public")
        cur = con.cursor()
        # Snowflake's default session time zone (TIMEZONE parameter:
        # America/Los_Angeles): the recipes must not depend on it.
        # SYSDATE() is UTC; CURRENT_TIMESTAMP() is in this zone, and
        # comparing it with the UTC wall clock of a TIMESTAMP_NTZ shifts
        # every window by the offset. fakesnow 0.12.1 does not implement
        # ALTER SESSION SET TIMEZONE, so the zone is set on its DuckDB
        # connection, which is what that statement would change.
        cur._duck_conn.execute("SET TimeZone = 'America/Los_Angeles'")
        for statement in statements((RECIPES / "03_table.sql").read_text()):
            cur.execute(statement)
        report.append("03_table.sql: executed as written")

        cur.execute("CREATE TEMPORARY TABLE staged (line VARCHAR, file_name VARCHAR, started TIMESTAMP_LTZ)")
        columns, select = pipe_load((RECIPES / "04_pipe.sql").read_text())

        # The transformer's own cases first: every line it writes for the
        # golden samples (events/transformer/), loaded by the pipe's SELECT,
        # holds the line's values.
        lines = {}
        for path in sorted(SAMPLES.glob("*.expected.json")):
            for i, answer in enumerate(json.loads(path.read_text())["records"]):
                if answer["result"] == "Ok":
                    lines[f"{path.name.split('.')[0]}#{i}"] = base64.b64decode(answer["data"]).decode().rstrip("\n")
        cur.executemany("INSERT INTO staged (line, file_name, started) VALUES (%s, %s, CURRENT_TIMESTAMP())",
                        [(line, tag) for tag, line in lines.items()])
        cur.execute(f"INSERT INTO chat_events ({columns}) SELECT {select} FROM staged")
        cur.execute(f"SELECT file_name, {', '.join(FIELDS)} FROM chat_events")
        loaded = {tag: [cell(v) for v in values] for tag, *values in cur.fetchall()}
        for tag, line in lines.items():
            want = json.loads(line)
            want = [want[f][:-1] if f in TIMES else want[f] for f in FIELDS]
            if loaded.get(tag) != want:
                raise Mismatch(f"04_pipe.sql: the transformer's line {tag} loads as {loaded.get(tag)}, not {want}")
        report.append(f"04_pipe.sql: its COPY's SELECT over the transformer's {len(lines)} Ok lines of the golden "
                      "samples (events/transformer/): every value as the line holds it")
        cur.execute("DELETE FROM chat_events")
        cur.execute("DELETE FROM staged")

        staged = []
        for path in sorted((lake / "events").rglob("*.gz")):
            key = path.relative_to(lake).as_posix()
            staged += [(line, key) for line in gzip.decompress(path.read_bytes()).decode().splitlines() if line]
        cur.executemany("INSERT INTO staged (line, file_name, started) VALUES (%s, %s, CURRENT_TIMESTAMP())", staged)
        cur.execute(f"INSERT INTO chat_events ({columns}) SELECT {select} FROM staged")
        cur.execute("SELECT count(*), count(loaded_at), count(DISTINCT file_name) FROM chat_events")
        loaded, stamped, files = cur.fetchone()
        if loaded != expected["raw_lines"] or stamped != loaded:
            raise Mismatch(f"04_pipe.sql: {loaded} rows loaded ({stamped} with loaded_at) of {expected['raw_lines']} lines")
        report.append(f"04_pipe.sql: its COPY's SELECT over {len(staged)} staged lines of {files} objects: {loaded} rows")

        view, unique, *monitoring = statements((RECIPES / "05_deduplicated_view.sql").read_text())
        cur.execute(view)
        every_column = one_row_per_event_select(lambda column, f: f"{column}:{f}::VARCHAR")
        cur.execute(f"SELECT {every_column} FROM chat_events_deduplicated {ORDER_BY_KEY}")
        rows_equal("05_deduplicated_view.sql: chat_events_deduplicated against chat_events_curated",
                   [[cell(v) for v in r] for r in cur.fetchall()], expected["curated"])
        report.append(f"05_deduplicated_view.sql: chat_events_deduplicated equals chat_events_curated, every column "
                      f"of {len(expected['curated'])} rows ({len(monitoring)} monitoring statements need an account)")

        # The questions, written once, over each source in turn; before the
        # curated table's turn the pipe's table is emptied, so a question
        # still reading it answers nothing and fails. retry-copies-per-day
        # reads the raw copies, which only the pipe's table holds: asked over
        # it only.
        questions = (RECIPES / "07_questions.sql").read_text()
        for source in ("the pipe's table", "the curated table"):
            if source == "the pipe's table":
                cur.execute(unique)
            else:
                cur.execute("DELETE FROM chat_events")
                # The Iceberg table as its rows: the lake's curated table,
                # exported by chat_tools.warehouse.inputs (the catalog
                # integration and the external volume need an account).
                cur._duck_conn.execute("CREATE TABLE chat.public.chat_events_curated AS "
                                       f"SELECT * FROM read_parquet('{inputs / 'curated.parquet'}')")
                *_, curated_unique = statements((RECIPES / "06_curated_iceberg_table.sql").read_text())
                if "chat_events_unique" not in curated_unique:
                    raise Mismatch("06_curated_iceberg_table.sql: its last statement is not chat_events_unique's view")
                cur.execute(curated_unique)
            for name, want in expected["answers"].items():
                if source == "the curated table" and name == "retry-copies-per-day":
                    continue
                m = re.search(rf"^-- {re.escape(name)}\b.*?\n(.*?);", questions, re.MULTILINE | re.DOTALL)
                if not m:
                    raise Mismatch(f"07_questions.sql has no query headed '-- {name}'")
                sql = "\n".join(line for line in m.group(1).splitlines() if not line.strip().startswith("--"))
                # The lake answered at `answered_at`: the same instant here.
                cur.execute(sql.replace("SYSDATE()", f"'{now}'::TIMESTAMP_NTZ"))
                got = [[cell(v) for v in r] for r in cur.fetchall()]
                rows_equal(f"07_questions.sql over {source}: {name}", got, want["rows"])
                report.append(f"07_questions.sql over {source}: {name} answers as the named query ({len(got)} rows)")
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", required=True, help="the directory warehouse_inputs.py wrote")
    args = ap.parse_args()
    print("Snowflake (fakesnow), over the lake of warehouse_inputs.py:")
    try:
        for line in run(Path(args.inputs)):
            print(f"  ok  {line}")
    except Mismatch as e:
        print(f"  FAILED  {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
