"""What the stack costs a month at a given rate, packed or one event a
record, priced from a run's measurements (`Measured`) and the list prices
in prices.json.

Where it sits: after `make demo` (or `make load`): the lake's ledger says how
many events went in how many records of how many bytes and how many
transformer invocations they took, and the lake's objects how many bytes
land per event; template.yaml says the buffers, schedules and memory. Each
service is priced on what it bills (`Line.basis` says it):

- Kinesis (provisioned, the template's default): shards for the records and
  bytes a second (a shard takes 1,000 records/s or 1 MiB/s), and PUT payload
  units of 25 KB per record; on-demand, shown beside it: stream hours, data
  in rounded to 1 KiB per record, data out;
- Firehose ingestion: per GB, each record rounded up to 5 KB, tiered;
- dynamic partitioning: per GB of the events processed, and per 1,000
  objects (a buffer of 64 MB or 60 s per active partition: five event types);
- Lambda: the transformer (an invocation per processor buffer of
  de-aggregated events, its measured invocations per event) and the
  producer (a tick a minute paced over PACE_SECONDS, one schedule per
  EventsPerInvocation's MaxValue events a minute);
- S3: the objects written, and a month of landed and curated data stored;
- Athena: the curation's scans of the raw lake: each hourly run's plan and
  INSERT read its window (the watermark's day and the RescanDays before
  it), the daily run's plan, INSERT and reconciliation its
  LateArrivalWindowDays + RescanDays;
- Step Functions: the runs' state transitions.

A month is 730 hours. Units: GB is 2^30 bytes, TB 2^40, as the pricing pages
bill.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chat_tools import cfn_template

PRICES = Path(__file__).with_name("prices.json")
SECONDS = 730 * 3600
GB = 1 << 30
TB = 1 << 40
# Firehose's de-aggregation cap and the packing's record size
# (chat_pipeline::packing::PackingLimits::DEFAULT).
MAX_EVENTS_PER_RECORD = 500
MAX_PACKED_BYTES = 25_000
# Kinesis: one shard takes 1,000 records/s or 1 MiB/s.
SHARD_RECORDS = 1_000
SHARD_BYTES = 1 << 20
# Firehose's S3 buffer (template.yaml BufferingHints) and its event types'
# partitions (one dt a day).
EVENT_TYPES = 5
# State transitions of a curation run (make curate prints each execution's
# history: about 90 events for an hourly run, three a transition; a daily
# run with maintenance about 150).
HOURLY_TRANSITIONS = 30
DAILY_TRANSITIONS = 50
# Athena reads of the raw window per run: an hourly run's plan and INSERT
# over RescanDays whole days and today's part; the daily run's plan, INSERT
# and reconciliation over LateArrivalWindowDays + RescanDays.
HOURLY_SCANS = 2
DAILY_SCANS = 3
# Transformer duration per invocation: measured by its criterion benchmark
# (`cargo bench -p transformer`: a full 0.25 MiB buffer of events in a few
# milliseconds); rounded up to 10 ms with the runtime's overhead.
TRANSFORMER_MS_PER_INVOCATION = 10.0


class CostError(Exception):
    """The lake lacks what the model needs; the message says what."""


@dataclass
class Measured:
    """A run's figures, per event."""

    events: int
    records: int
    event_bytes: float  # an event's JSON, as the producer sends it
    landed_gz_bytes: float  # per event, under events/ (GZIP)
    output_bytes: float  # per event, the transformer's output line
    curated_bytes: float  # per event, the curated table's Parquet
    invocations_per_event: float
    source: str = ""

    @property
    def events_per_record(self) -> float:
        return self.events / max(self.records, 1)


@dataclass
class Line:
    service: str
    dollars: float
    basis: str


@dataclass
class Estimate:
    events_per_second: float
    design: str
    lines: list[Line] = field(default_factory=list)
    alternatives: list[Line] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(line.dollars for line in self.lines)

    def row(self) -> dict:
        return {
            "events_per_second": self.events_per_second,
            "design": self.design,
            "services": {line.service: round(line.dollars, 2) for line in self.lines},
            "alternatives": {line.service: round(line.dollars, 2) for line in self.alternatives},
            "total": round(self.total, 2),
        }


def prices() -> dict:
    return json.loads(PRICES.read_text())


def price(p: dict, name: str) -> float:
    return p[name]["price"]


def tiered(p: dict, gb: float) -> float:
    """Firehose ingestion's tiers: the first 500 TB at one price, and so on."""
    out, left, floor_tb = 0.0, gb, 0.0
    for ceiling_tb, per_gb in p["firehose_ingestion_per_gb"]["tiers"]:
        span = left if ceiling_tb is None else min(left, (ceiling_tb - floor_tb) * 1024)
        out += span * per_gb
        left -= span
        if left <= 0 or ceiling_tb is None:
            break
        floor_tb = ceiling_tb
    return out


def record_shape(m: Measured, design: str) -> tuple[float, float]:
    """(events a record, bytes a record) at scale: packed records fill to
    500 events or 25,000 bytes; one event a record is the event."""
    if design == "one-per-record":
        return 1.0, m.event_bytes
    per = min(MAX_EVENTS_PER_RECORD, math.floor((MAX_PACKED_BYTES + 1) / (m.event_bytes + 1)))
    return float(per), per * (m.event_bytes + 1) - 1


def estimate(m: Measured, rate: float, design: str, settings: dict, p: dict | None = None) -> Estimate:
    p = p or prices()
    per_record, record_bytes = record_shape(m, design)
    events = rate * SECONDS
    records = events / per_record
    records_s = rate / per_record
    out = Estimate(events_per_second=rate, design=design)

    shards = max(1, math.ceil(records_s / SHARD_RECORDS), math.ceil(records_s * record_bytes / SHARD_BYTES))
    units = math.ceil(record_bytes / p["kinesis_put_payload_units_per_million"]["unit_bytes"])
    out.lines.append(Line(
        "kinesis_provisioned",
        shards * 730 * price(p, "kinesis_shard_hour") + records * units / 1e6 * price(p, "kinesis_put_payload_units_per_million"),
        f"{shards} shard(s) for {records_s:,.0f} records/s of {record_bytes:,.0f} B; {units} PUT unit(s) a record"))
    rounded_in = records * math.ceil(record_bytes / 1024) * 1024
    out.alternatives.append(Line(
        "kinesis_on_demand",
        730 * price(p, "kinesis_on_demand_stream_hour") + rounded_in / GB * price(p, "kinesis_on_demand_data_in_per_gb")
        + records * record_bytes / GB * price(p, "kinesis_on_demand_data_out_per_gb"),
        "stream hours, data in rounded to 1 KiB a record, data out to Firehose"))

    rounding = p["firehose_ingestion_per_gb"]["rounding_bytes"]
    billed_gb = records * math.ceil(record_bytes / rounding) * rounding / GB
    out.lines.append(Line("firehose_ingestion", tiered(p, billed_gb),
                          f"{billed_gb:,.0f} GB billed (each record rounded up to 5 KB) for {events * m.event_bytes / GB:,.0f} GB of events"))

    processed_gb = events * m.output_bytes / GB
    per_partition_min = rate * m.output_bytes * 60 / EVENT_TYPES
    objects = EVENT_TYPES * max(1, math.ceil(per_partition_min / settings["s3_buffer_bytes"])) * 60 * 730
    out.lines.append(Line(
        "firehose_dynamic_partitioning",
        processed_gb * price(p, "firehose_dynamic_partitioning_per_gb") + objects / 1000 * price(p, "firehose_dynamic_partitioning_per_1000_objects"),
        f"{processed_gb:,.0f} GB processed, {objects:,.0f} objects"))

    invocations = events * m.invocations_per_event
    transformer_gbs = invocations * TRANSFORMER_MS_PER_INVOCATION / 1000 * settings["transformer_memory_mb"] / 1024
    # One schedule ticks a minute (the shortest rate EventBridge takes) with
    # at most EventsPerInvocation's MaxValue events; a higher rate takes
    # more schedules (docs/producer.md, "Scaling out").
    producers = max(1, math.ceil(rate * 60 / settings["max_events_per_tick"]))
    ticks = producers * 60 * 730
    producer_gbs = ticks * max(settings["pace_seconds"], 1) * settings["producer_memory_mb"] / 1024
    out.lines.append(Line(
        "lambda",
        (invocations + ticks) / 1e6 * price(p, "lambda_requests_per_million")
        + (transformer_gbs + producer_gbs) * price(p, "lambda_arm64_gb_second"),
        f"{invocations:,.0f} transformer invocations, {producers} producer(s) paced {settings['pace_seconds']} s a tick"))

    landed_gb = events * m.landed_gz_bytes / GB
    curated_gb = events * m.curated_bytes / GB
    out.lines.append(Line(
        "s3",
        objects / 1000 * price(p, "s3_put_per_1000") + (landed_gb + curated_gb) * price(p, "s3_storage_gb_month"),
        f"{objects:,.0f} PUTs; a month of data: {landed_gb:,.0f} GB raw, {curated_gb:,.0f} GB curated"))

    daily_raw = rate * 86_400 * m.landed_gz_bytes
    hourly_days = settings["rescan_days"] + 0.5
    late_days = settings["late_window_days"] + settings["rescan_days"]
    scanned = 30.4 * (24 * HOURLY_SCANS * hourly_days + DAILY_SCANS * late_days) * daily_raw
    out.lines.append(Line("athena", scanned / TB * price(p, "athena_per_tb_scanned"),
                          f"{scanned / TB:,.1f} TB scanned by the curation runs (raw lake, GZIP)"))

    transitions = 30.4 * (23 * HOURLY_TRANSITIONS + DAILY_TRANSITIONS)
    out.lines.append(Line("step_functions", transitions / 1000 * price(p, "step_functions_per_1000_transitions"),
                          f"{transitions:,.0f} state transitions"))
    return out


def settings_from_template() -> dict:
    t = cfn_template.load()
    res = t["Resources"]
    memory = t["Globals"]["Function"]["MemorySize"]
    dest = res["DeliveryStream"]["Properties"]["ExtendedS3DestinationConfiguration"]
    producer_env = res["ProducerFunction"]["Properties"]["Environment"]["Variables"]
    return {
        "transformer_memory_mb": res["TransformerFunction"]["Properties"].get("MemorySize", memory),
        "producer_memory_mb": res["ProducerFunction"]["Properties"].get("MemorySize", memory),
        "pace_seconds": int(producer_env["PACE_SECONDS"]),
        "max_events_per_tick": int(t["Parameters"]["EventsPerInvocation"]["MaxValue"]),
        "s3_buffer_bytes": dest["BufferingHints"]["SizeInMBs"] * 1024 * 1024,
        "late_window_days": int(t["Parameters"]["LateArrivalWindowDays"]["Default"]),
        "rescan_days": int(t["Parameters"]["RescanDays"]["Default"]),
    }


def measure(lake: Path) -> Measured:
    """The figures of the run that wrote `lake` (its ledger and objects)."""
    import gzip

    ledger_path = lake / "_demo" / "ledger.json"
    if not ledger_path.exists():
        raise CostError(f"no ledger at {ledger_path}: run `make demo` (or `make load`) first, or pass LAKE=")
    ledger = json.loads(ledger_path.read_text())
    events, records, sent = ledger["accepted"], ledger.get("accepted_records", 0), ledger.get("accepted_bytes", 0)
    if not events or not records or not sent:
        raise CostError(f"{ledger_path} has no record counts or bytes: run `make demo` again with this version")
    objects = sorted((lake / "events").rglob("*.gz"))
    if not objects:
        raise CostError(f"no objects under {lake / 'events'}")
    gz = sum(o.stat().st_size for o in objects)
    lines = plain = 0
    for o in objects:
        body = gzip.decompress(o.read_bytes())
        plain += len(body)
        lines += body.count(b"\n")
    curated = sum(f.stat().st_size for f in (lake / "curated").rglob("*.parquet")) if (lake / "curated").exists() else 0
    return Measured(
        events=events,
        records=records,
        # The records' bytes less the delimiters between packed events.
        event_bytes=(sent - (events - records)) / events,
        landed_gz_bytes=gz / lines,
        output_bytes=plain / lines,
        curated_bytes=curated / lines if curated else gz / lines,
        invocations_per_event=ledger.get("invocations", 0) / max(ledger.get("split", events), 1),
        source=str(lake),
    )


def asdict_measured(m: Measured) -> dict:
    return {**asdict(m), "events_per_record": round(m.events_per_record, 1)}
