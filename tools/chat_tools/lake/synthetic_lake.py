"""A synthetic raw lake, written object by object as Firehose lands it, with
everything that makes exactness hard: for the curation benchmark
(chat_tools.curation.bench) and its tests.

Where it sits: beside the real pipeline, which writes the same layout
(events/event_type=<type>/dt=<arrival day>/<object>.gz, GZIP NDJSON in
output schema v1, `make demo`); this one writes many days quickly and
deterministically. Each arrival day's content depends only on its date and
the seed, so two lakes of different ages share their last days exactly.

What a day holds (`Day.objects`), for arrival day D:
- events that occurred on D and arrived within seconds, one object per type
  and hour (Firehose writes one per partition and buffer);
- events that occurred in the last seconds of D - 1 and arrived on D, so
  their copies sit on both sides of midnight;
- retry copies (same event_id and occurred_at, a later received_at) of about
  2 % of D's events, some arriving the next day;
- a replay ten days late: about 1 % of D - 10's events landing again on D
  (a dead-letter replay regenerates the same events);
- plain events whose client clock says 2023 (event time years before the
  arrival day; their id is derived, so a copy carries the same one);
- one object of D written only after D ended (`late=True`): the curation
  must still read it.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from chat_tools import schema

# The event types and the plain columns, from schema/output-v1.schema.json:
# a type or a column added there is in every synthetic lake.
MODEL = schema.load()
TYPES = list(MODEL.event_types)


def iso_ms(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Event:
    event_id: str
    event_type: str
    user_id: int
    occurred_at: dt.datetime
    # The plain columns' values, by name (absent: null), as a producer sent them.
    columns: tuple[tuple[str, object], ...] = ()

    def line(self, received_at: dt.datetime) -> str:
        """The transformer's output line (schema v1, in its column order)."""
        ruled = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "user_id": self.user_id,
            "occurred_at": iso_ms(self.occurred_at),
            "event_date": self.occurred_at.date().isoformat(),
            "received_at": iso_ms(received_at),
            # Read from a Kinesis stream (the stack's default source): each
            # copy at its own position, keyed by the user as the producer keys.
            "source": {
                "shard_id": "shardId-000000000000",
                "sequence_number": str(int(hashlib.sha256(f"{self.event_id}|{received_at}".encode()).hexdigest()[:15], 16)),
                "partition_key": str(self.user_id),
            },
            "schema_version": 1,
        }
        plain = dict(self.columns)
        return json.dumps({name: ruled[name] if name in ruled else plain.get(name) for name in MODEL.names},
                          separators=(",", ":"))


def plain_values(rng: random.Random) -> tuple[tuple[str, object], ...]:
    """A value for every plain column, within its rule: a string a random
    UUID long (cut to the column's length), an integer from its minimum (at
    least 1) up to 48 more."""
    out = []
    for c in MODEL.plain_columns:
        if c.kind == "string":
            value: object = str(uuid.UUID(int=rng.getrandbits(128), version=4))[:c.max_length]
        else:
            low = max(c.minimum if c.minimum is not None else 1, 1)
            value = rng.randrange(low, low + 49)
        out.append((c.name, value))
    return tuple(out)


@dataclass(frozen=True)
class Landed:
    """One copy of an event as it lands: the event and when it arrived."""

    event: Event
    received_at: dt.datetime


@dataclass
class Object:
    key: str
    rows: list[Landed]
    late: bool = False  # written after its arrival day ended


def _rng(seed: int, *parts) -> random.Random:
    digest = hashlib.sha256(repr((seed,) + parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def events_of(day: dt.date, per_day: int, seed: int) -> list[Event]:
    """The events that occurred on `day` (deterministic)."""
    rng = _rng(seed, "events", day.isoformat())
    start = dt.datetime.combine(day, dt.time())
    out = []
    for i in range(per_day):
        occurred = start + dt.timedelta(milliseconds=rng.randrange(86_400_000))
        out.append(
            Event(
                event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                event_type=rng.choice(TYPES),
                user_id=rng.randrange(100),
                occurred_at=occurred,
                columns=plain_values(rng),
            )
        )
    return out


def plain_events(day: dt.date, seed: int) -> list[Event]:
    """Two plain events a day from clients whose clock says 2023."""
    rng = _rng(seed, "plain", day.isoformat())
    out = []
    for i in range(2):
        occurred = dt.datetime(2023, 12, 12, 10, 0, 0) + dt.timedelta(days=rng.randrange(30), seconds=rng.randrange(86_400))
        derived = hashlib.sha256(f"plain:{day}:{i}".encode()).hexdigest()[:32]
        out.append(Event(str(uuid.UUID(derived)), rng.choice(TYPES), rng.randrange(100), occurred))
    return out


def landed_on(day: dt.date, per_day: int, seed: int) -> list[Landed]:
    """Every copy that arrives on `day`."""
    rng = _rng(seed, "arrivals", day.isoformat())
    rows: list[Landed] = []

    def arrive(event: Event, delay_ms: int) -> dt.datetime:
        return event.occurred_at + dt.timedelta(milliseconds=delay_ms)

    # Today's events, and yesterday's that arrive after midnight.
    for event in events_of(day, per_day, seed) + events_of(day - dt.timedelta(days=1), per_day, seed):
        received = arrive(event, _rng(seed, "delay", event.event_id).randrange(200, 90_000))
        if received.date() == day:
            rows.append(Landed(event, received))
    # Retry copies of today's and yesterday's events, landing today.
    for event in events_of(day, per_day, seed) + events_of(day - dt.timedelta(days=1), per_day, seed):
        r = _rng(seed, "retry", event.event_id)
        if r.random() < 0.02:
            received = arrive(event, r.randrange(60_000, 600_000))
            if received.date() == day:
                rows.append(Landed(event, received))
    # A dead-letter replay of events ten days old.
    old = day - dt.timedelta(days=10)
    for event in events_of(old, per_day, seed):
        if _rng(seed, "replay", event.event_id).random() < 0.01:
            rows.append(Landed(event, dt.datetime.combine(day, dt.time(6)) + dt.timedelta(seconds=rng.randrange(3600))))
    # Plain events dated 2023, each landing twice (a client retry).
    for event in plain_events(day, seed):
        received = dt.datetime.combine(day, dt.time(12)) + dt.timedelta(seconds=rng.randrange(3600))
        rows += [Landed(event, received), Landed(event, received + dt.timedelta(seconds=30))]
    return rows


def objects_of(day: dt.date, per_day: int, seed: int) -> list[Object]:
    """The day's objects: one per type and hour of arrival; the last hour's
    send_message object is written late."""
    by_key: dict[tuple[str, int], list[Landed]] = {}
    for row in landed_on(day, per_day, seed):
        by_key.setdefault((row.event.event_type, row.received_at.hour), []).append(row)
    out = []
    for (event_type, hour), rows in sorted(by_key.items()):
        key = f"events/event_type={event_type}/dt={day.isoformat()}/synthetic-{day:%Y-%m-%d}-{hour:02d}-{event_type}.gz"
        out.append(Object(key, rows, late=(hour == 23 and event_type == "send_message")))
    return out


def write(lake: Path, obj: Object):
    path = lake / obj.key
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(r.event.line(r.received_at) + "\n" for r in obj.rows).encode()
    # mtime=0: the same rows give the same bytes, so lakes of different ages
    # share their last days byte for byte.
    path.write_bytes(gzip.compress(body, mtime=0))


# Days in one of the curation's INSERT blocks (statemachine/curation.asl.yaml,
# PlanInserts: event days since 1970 divided by 100).
BLOCK_DAYS = 100


def far_apart(ranges: int, past: int, today: dt.date, seed: int = 3) -> list[Object]:
    """Events whose times lie in `ranges` distinct 100-day blocks of event
    days, one event each, `past` of the blocks before today's and the rest
    after it (the furthest about year 8700), all arriving today: the lake
    where a curation that made one INSERT per block in one execution would
    pass Step Functions' 25,000 history events, and where most events are
    dated in the future (the curation takes none of those; its daily run
    counts them)."""
    if not 0 <= past <= ranges:
        raise ValueError(f"past ({past}) must be between 0 and ranges ({ranges})")
    epoch = dt.date(1970, 1, 1)
    today_block = (today - epoch).days // BLOCK_DAYS
    if past > today_block:
        raise ValueError(f"only {today_block} blocks of 100 days lie before today")
    future = ranges - past
    step = max(1, min(25, (2_900_000 // BLOCK_DAYS - today_block) // max(future, 1)))
    blocks = [round(i * (today_block - 1) / max(past - 1, 1)) for i in range(past)]
    blocks += [today_block + 1 + i * step for i in range(future)]
    rng = _rng(seed, "far-apart", today.isoformat())
    rows = []
    arrival = dt.datetime.combine(today, dt.time(9))
    for n, block in enumerate(blocks):
        day = epoch + dt.timedelta(days=block * BLOCK_DAYS + rng.randrange(BLOCK_DAYS))
        occurred = dt.datetime.combine(day, dt.time()) + dt.timedelta(milliseconds=rng.randrange(86_400_000))
        event = Event(str(uuid.UUID(int=rng.getrandbits(128), version=4)), rng.choice(TYPES), rng.randrange(100),
                      occurred, plain_values(rng))
        rows.append(Landed(event, arrival + dt.timedelta(milliseconds=n)))
    by_type: dict[str, list[Landed]] = {}
    for row in rows:
        by_type.setdefault(row.event.event_type, []).append(row)
    return [Object(f"events/event_type={t}/dt={today.isoformat()}/far-apart-{today:%Y-%m-%d}-{t}.gz", r)
            for t, r in sorted(by_type.items())]


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m chat_tools.lake.synthetic_lake",
        description="Write a synthetic raw lake: `far-apart` writes events in distinct 100-day blocks of event time, "
                    "most of them in the future, all arriving today (then: make curate LAKE=<dir>, MAINTENANCE=1).")
    ap.add_argument("kind", choices=["far-apart"])
    ap.add_argument("lake", type=Path)
    ap.add_argument("--ranges", type=int, default=1000, help="distinct 100-day blocks (default 1000)")
    ap.add_argument("--past", type=int, default=25, help="of them before today's (default 25)")
    args = ap.parse_args(argv)
    today = dt.datetime.now(dt.timezone.utc).date()
    objects = far_apart(args.ranges, args.past, today)
    for obj in objects:
        write(args.lake, obj)
    print(f"wrote {sum(len(o.rows) for o in objects)} events in {args.ranges} distinct 100-day blocks "
          f"({args.past} before today's, {args.ranges - args.past} after), arriving {today}, under {args.lake}/events/")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
