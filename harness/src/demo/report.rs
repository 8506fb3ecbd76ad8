//! What the demo prints, as text built from what its steps returned
//! ([`super::steps`]); nothing here runs anything, so each line is tested on
//! its own.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::steps::{FailureReason, Fault, Landed, Tick, shown};
use crate::lake::{self, Object};
use crate::ledger::{Ledger, Row};
use crate::local_firehose::{DeliveryStats, Progress};
use crate::replay::ErrorRecord;
use crate::resources::Names;
use crate::scenario;

/// How many steps the demo has.
pub const STEPS: usize = 7;
/// Error records printed in full per error code; the rest are counted.
const ERROR_RECORDS_SHOWN: usize = 3;
/// Object paths listed; the rest are counted.
const OBJECTS_LISTED: usize = 8;

/// The first line.
pub fn header(ticks: i64, events: u32, faults: bool) -> String {
    format!(
        "chat-pipeline: local demo (producer -> Kinesis -> Firehose/transformer -> S3), all on this machine: \
         {ticks} tick(s) of {events} events{}",
        if faults {
            ", with a fault injected at every hop"
        } else {
            ""
        }
    )
}

/// A step's heading.
pub fn step(n: usize, text: &str) -> String {
    format!("\n[{n}/{STEPS}] {text}")
}

/// An injected fault, as it happens.
pub fn fault(fault: &Fault) -> String {
    let detail: Vec<String> = fault.detail.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "      fault injected ({}): {} [{}]",
        fault.hop,
        fault.fault,
        detail.join(", ")
    )
}

/// Where the emulator listens, and which faults it injects.
pub fn emulator(endpoint: &str, fault_log: Option<&std::path::Path>) -> String {
    let mut out = format!("      listening on {endpoint}");
    if let Some(path) = fault_log {
        write!(
            out,
            "\n      faults on: PutRecords throttled and partially failed, the first S3 write under events/ refused 3 times (log: {})",
            shown(path)
        )
        .ok();
    }
    out
}

/// The resources created.
pub fn resources(names: &Names, prefix: &str) -> String {
    format!(
        "      stream {}  bucket {}  delivery stream {}\n      prefixes from template.yaml: {prefix}",
        names.stream, names.bucket, names.delivery_stream
    )
}

/// Where the functions' Invoke API listens.
pub fn functions(port: u16, log: &std::path::Path) -> String {
    format!(
        "      Invoke API on 127.0.0.1:{port} (function output in {})",
        shown(log)
    )
}

/// One producer tick.
pub fn tick(t: &Tick) -> String {
    format!(
        "      tick {}: {} generated, {} delivered to {} in {} records ({} request(s), {} records resent), {:.0} ms",
        t.at, t.generated, t.delivered, t.sink, t.records, t.requests, t.resent, t.duration_ms
    )
}

/// A malformed record put straight into the stream.
pub fn malformed(kind: &str, data: &[u8]) -> String {
    format!("      {kind:<20} {}", String::from_utf8_lossy(data))
}

/// How far the Firehose stand-in has got, `seconds` into the step.
pub fn firehose_progress(p: &Progress, seconds: f64) -> String {
    if p.reading {
        format!(
            "      ... reading the stream: {} records so far, {seconds:.0} s",
            p.read
        )
    } else {
        format!(
            "      ... {} of {} events delivered, {} invocation(s), {seconds:.0} s",
            p.delivered, p.read, p.invocations
        )
    }
}

/// What the Firehose stand-in did.
pub fn firehose(stats: &DeliveryStats) -> String {
    let mut out = format!(
        "      {} records read, split into {} events (de-aggregation), in {} invocation(s); largest request {:.2} MB, largest response {:.2} MB",
        stats.records_read,
        stats.records_deaggregated,
        stats.invocations,
        stats.largest_request_bytes as f64 / 1e6,
        stats.largest_response_bytes as f64 / 1e6
    );
    if stats.failed_invocations > 0 || stats.s3_retries > 0 {
        write!(
            out,
            "\n      {} failed invocation attempt(s), {} S3 write(s) retried",
            stats.failed_invocations, stats.s3_retries
        )
        .ok();
    }
    out
}

/// How far the copy of the lake has got.
pub fn copy_progress(done: usize, of: usize, seconds: f64) -> String {
    format!("      ... {done} of {of} objects copied, {seconds:.0} s")
}

/// With `--keep`: what the lake already held of this run's events.
pub fn kept(landed: &Landed, ticks: i64) -> Option<String> {
    let again = landed.already_there?;
    let lake = shown(&landed.out);
    Some(if again == 0 {
        format!("      none of this run's events were in {lake} before")
    } else {
        format!(
            "      {again} of this run's events were already in {lake} from an earlier run: the producer derives \
             a tick's events from its minute, and this run's {ticks} tick(s) reach back to minutes an earlier \
             run produced. The raw table counts them as retry copies; the curated table keeps each event once."
        )
    })
}

/// Objects (and records) per event type and arrival day (`dt`).
pub fn partition_table(events: &[Object]) -> String {
    let mut table: BTreeMap<String, BTreeMap<String, (usize, usize)>> = BTreeMap::new();
    let mut days: Vec<String> = Vec::new();
    for object in events {
        let p = scenario::partitions_of(&object.key);
        let get = |k: &str| p.get(k).cloned().unwrap_or_default();
        let day = format!("dt={}", get("dt"));
        if !days.contains(&day) {
            days.push(day.clone());
        }
        let cell = table.entry(get("event_type")).or_default().entry(day).or_default();
        cell.0 += 1;
        cell.1 += lake::lines(object).count();
    }
    days.sort();
    let mut out = String::from("\nObjects (records) per partition, event_type by arrival day:\n");
    write!(out, "  {:<14}", "event_type").ok();
    for d in &days {
        write!(out, "{d:>18}").ok();
    }
    out.push('\n');
    for (event_type, row) in &table {
        write!(out, "  {event_type:<14}").ok();
        for d in &days {
            match row.get(d) {
                Some((objects, records)) => write!(out, "{:>18}", format!("{objects} ({records})")).ok(),
                None => write!(out, "{:>18}", "-").ok(),
            };
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// The first line of the first object, as a sample.
pub fn sample(events: &[Object]) -> Option<String> {
    let object = events.first()?;
    let line = lake::lines(object).next()?;
    Some(format!(
        "\nSample output line ({}):\n  {}",
        object.key,
        String::from_utf8_lossy(line)
    ))
}

/// Firehose's error records by error code, each shown with why it failed
/// (the transformer's logged reason, matched by the record's first bytes).
pub fn error_records(landed: &Landed, reasons: &[FailureReason]) -> String {
    let mut out = String::from(
        "\nFailure demo: Firehose's error records under errors/ (the table chat_events_failed; `make replay` re-sends them):",
    );
    let mut by_code: BTreeMap<&str, Vec<&ErrorRecord>> = BTreeMap::new();
    for record in &landed.error_records {
        by_code.entry(&record.error_code).or_default().push(record);
    }
    for (code, records) in &by_code {
        write!(out, "\n  {code}: {} record(s)", records.len()).ok();
        for record in records.iter().take(ERROR_RECORDS_SHOWN) {
            let raw = &record.data;
            write!(
                out,
                "\n    rawData: {}",
                String::from_utf8_lossy(&raw[..raw.len().min(100)])
            )
            .ok();
            match reasons.iter().find(|r| raw.starts_with(r.excerpt.as_bytes())) {
                Some(r) => write!(out, "\n      why: {} ({})", r.reason, r.code),
                None => write!(out, "\n      why: {} (Firehose's errorMessage)", record.error_message),
            }
            .ok();
        }
        if records.len() > ERROR_RECORDS_SHOWN {
            write!(out, "\n    ... and {} more", records.len() - ERROR_RECORDS_SHOWN).ok();
        }
    }
    for u in &landed.unreadable {
        write!(out, "\n  not an error record: {}:{}: {}", u.object, u.line, u.reason).ok();
    }
    out
}

/// Where the objects landed, the first few listed.
pub fn where_it_landed(names: &Names, landed: &Landed) -> String {
    let lake = shown(&landed.out);
    let mut out = format!(
        "\nWhere it landed: s3://{}/ on the emulator, copied to {lake}/ ({} objects, GZIP; open with `zcat`):",
        names.bucket, landed.copied
    );
    let all: Vec<&Object> = landed.events.iter().chain(&landed.errors).collect();
    for object in all.iter().take(OBJECTS_LISTED) {
        write!(out, "\n  {lake}/{}", object.key).ok();
    }
    if all.len() > OBJECTS_LISTED {
        write!(out, "\n  ... and {} more (ls -R {lake})", all.len() - OBJECTS_LISTED).ok();
    }
    out
}

/// The reconciliation table, or why there is none.
pub fn reconciliation(ledger: &Ledger, rows: Option<&[Row]>) -> String {
    let mut out = String::from("\n========================= Every event accounted for =========================");
    match rows {
        Some(rows) => {
            for row in rows {
                write!(out, "\n  {row}").ok();
            }
            if ledger.produced_in_errors > 0 {
                write!(
                    out,
                    "\n  {} produced events wait under errors/processing-failed/: `make replay` re-sends them, then `make curate`",
                    ledger.produced_in_errors
                )
                .ok();
            }
        }
        None => {
            out.push_str("\n  (the stages do not reconcile: see the error below; the ledger is in _demo/ledger.json)")
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(key: &str, lines: &[&str]) -> Object {
        let mut bytes = lines.join("\n").into_bytes();
        bytes.push(b'\n');
        Object {
            key: key.to_owned(),
            bytes,
        }
    }

    #[test]
    fn the_partition_table_counts_objects_and_records_per_type_and_day() {
        let events = [
            object("events/event_type=join/dt=2026-12-03/a.gz", &["{}", "{}"]),
            object("events/event_type=join/dt=2026-12-03/b.gz", &["{}"]),
            object("events/event_type=leave/dt=2026-12-02/c.gz", &["{}"]),
        ];
        let table = partition_table(&events);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[1], "Objects (records) per partition, event_type by arrival day:");
        assert!(
            lines[2].starts_with("  event_type    ") && lines[2].ends_with("dt=2026-12-03"),
            "{table}"
        );
        assert_eq!(
            lines[3].split_whitespace().collect::<Vec<_>>(),
            ["join", "-", "2", "(3)"]
        );
        assert_eq!(
            lines[4].split_whitespace().collect::<Vec<_>>(),
            ["leave", "1", "(1)", "-"]
        );
    }

    #[test]
    fn a_fault_reads_as_what_where_and_its_details() {
        let f = Fault {
            hop: "s3".to_owned(),
            fault: "PutObject refused: 500 InternalError".to_owned(),
            detail: vec![
                ("attempt".to_owned(), "1".to_owned()),
                ("key".to_owned(), "events/x".to_owned()),
            ],
        };
        assert_eq!(
            fault(&f),
            "      fault injected (s3): PutObject refused: 500 InternalError [attempt=1, key=events/x]"
        );
    }

    #[test]
    fn firehose_lines_mention_retries_only_when_there_were_some() {
        let mut stats = DeliveryStats {
            records_read: 18,
            records_deaggregated: 1503,
            invocations: 2,
            largest_request_bytes: 690_000,
            largest_response_bytes: 810_000,
            ..DeliveryStats::default()
        };
        assert_eq!(
            firehose(&stats),
            "      18 records read, split into 1503 events (de-aggregation), in 2 invocation(s); largest request 0.69 MB, largest response 0.81 MB"
        );
        stats.failed_invocations = 4;
        assert!(firehose(&stats).ends_with("\n      4 failed invocation attempt(s), 0 S3 write(s) retried"));
    }

    #[test]
    fn progress_says_reading_then_delivering() {
        let mut p = Progress {
            reading: true,
            read: 10,
            delivered: 0,
            invocations: 0,
        };
        assert_eq!(
            firehose_progress(&p, 5.2),
            "      ... reading the stream: 10 records so far, 5 s"
        );
        p.reading = false;
        p.delivered = 4;
        p.invocations = 1;
        assert_eq!(
            firehose_progress(&p, 10.0),
            "      ... 4 of 10 events delivered, 1 invocation(s), 10 s"
        );
    }
}
