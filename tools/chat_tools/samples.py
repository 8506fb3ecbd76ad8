"""The transformer's golden samples, edited as readable JSON: each
`events/transformer/readable/<name>.json` is written out as the Firehose
request `events/transformer/<name>.json` (what `cargo lambda invoke` and the
tests read), every record's data base64-encoded as Firehose sends it.

Where it sits: `make generate` writes the requests (chat_tools.codegen lists
them as targets), `make check` fails on a stale one, and `make samples`
writes them and regenerates each `<name>.expected.json` (the transformer's
answer, `UPDATE_EXPECTED=1 cargo test -p transformer --test integration
sample_events::`).

A readable sample is the request with a `description`, and in each record a
`name` (how the tests and the warehouse recipes' known differences refer to
it) and, instead of `data`, one of:

- `event`: any JSON value, written compactly (`{"event_name":"JOIN",...}`);
  an object `{"$repeat": "x", "$times": 300}` inside it stands for that
  string repeated (for the oversized cases);
- `text`: the record's exact text, when its spacing, key order or syntax
  matters (a repeated key, two values, not JSON);
- `base64`: the record's bytes, when they are not UTF-8;
- `data`: Firehose's field as it stands, when it is not even base64 (the
  transformer must refuse it).

Standard library only.
"""

from __future__ import annotations

import base64
import json
import re
import sys

from chat_tools.paths import REPO

SAMPLES = REPO / "events" / "transformer"
READABLE = SAMPLES / "readable"
PAYLOADS = ("event", "text", "base64", "data")


class SampleError(Exception):
    """A readable sample cannot be written out; the message names the record."""


def _expand(value, where: str):
    if isinstance(value, dict):
        if set(value) == {"$repeat", "$times"}:
            if not isinstance(value["$repeat"], str) or not isinstance(value["$times"], int):
                raise SampleError(f"{where}: $repeat takes a string and $times a whole number")
            return value["$repeat"] * value["$times"]
        return {k: _expand(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    return value


def record_data(record: dict, where: str) -> str:
    """The record's `data`, as Firehose sends it."""
    given = [k for k in PAYLOADS if k in record]
    if len(given) != 1:
        raise SampleError(f"{where}: give exactly one of {', '.join(PAYLOADS)}, found {given or 'none'}")
    kind = given[0]
    if kind == "data":
        return record["data"]
    if kind == "base64":
        try:
            base64.b64decode(record["base64"], validate=True)
        except ValueError as e:
            raise SampleError(f"{where}: base64 is not base64 ({e}); use `data` for an invalid value") from e
        return record["base64"]
    if kind == "text":
        raw = record["text"].encode()
    else:
        raw = json.dumps(_expand(record["event"], where), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.b64encode(raw).decode()


def request_of(readable: dict, name: str) -> dict:
    """The Firehose request a readable sample stands for."""
    out = {k: v for k, v in readable.items() if k not in ("description", "records")}
    records = []
    for i, record in enumerate(readable.get("records", [])):
        where = f"events/transformer/readable/{name}.json, record {i} ({record.get('name', 'no name')!r})"
        if not record.get("name"):
            raise SampleError(f"{where}: every record needs a `name`")
        written = {}
        for key, value in record.items():
            if key == "name":
                continue
            if key in PAYLOADS:
                written["data"] = record_data(record, where)
            else:
                written[key] = value
        records.append(written)
    out["records"] = records
    return out


def render(name: str) -> str:
    """events/transformer/<name>.json, as written by `make generate`."""
    readable = json.loads((READABLE / f"{name}.json").read_text())
    return json.dumps(request_of(readable, name), indent=2, ensure_ascii=False) + "\n"


_DATA = re.compile(r'"data": "([A-Za-z0-9+/]*={0,2})"')


def _with_added_columns(data: str, columns: list[str]) -> str:
    """An answer's `data` (base64 of one output line) with the columns the
    schema has gained since it was written appended as null, or unchanged
    when its keys are not a prefix of `columns` that ends at or after
    `schema_version` (an input echoed back, or a line written otherwise)."""
    try:
        text = base64.b64decode(data, validate=True).decode("utf-8")
        keys = [k for k, _ in json.loads(text, object_pairs_hook=lambda pairs: pairs)]
    except (ValueError, TypeError):
        return data
    if (not text.endswith("}\n") or "schema_version" not in keys
            or len(keys) >= len(columns) or keys != columns[: len(keys)]):
        return data
    added = "".join(f',"{c}":null' for c in columns[len(keys):])
    return base64.b64encode((text[:-2] + added + "}\n").encode("utf-8")).decode("ascii")


def complete_expected(name: str, columns: list[str]) -> str:
    """`<name>.expected.json` with each answered line given the columns the
    schema has gained since (null: the sample's events do not carry them).
    Text is replaced in place, so the file keeps the form the golden tests
    write. A sample whose events carry a new column answers it with a value:
    its golden test then fails until `make samples` regenerates the file."""
    path = SAMPLES / f"{name}.expected.json"
    text = path.read_text()
    return _DATA.sub(lambda m: f'"data": "{_with_added_columns(m.group(1), columns)}"', text)


def expected_names() -> list[str]:
    return sorted(p.name.removesuffix(".expected.json") for p in SAMPLES.glob("*.expected.json"))


def names() -> list[str]:
    return sorted(p.stem for p in READABLE.glob("*.json"))


def record_names(name: str) -> list[str]:
    """The names of a sample's records, in order (the expected answers are in
    the same order)."""
    readable = json.loads((READABLE / f"{name}.json").read_text())
    return [r["name"] for r in readable["records"]]


def main(argv: list[str]) -> int:
    for name in names():
        (SAMPLES / f"{name}.json").write_text(render(name))
        print(f"wrote events/transformer/{name}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
