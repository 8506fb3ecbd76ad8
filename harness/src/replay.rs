//! Replay: re-sending the records Firehose wrote under its error prefix
//! (`errors/processing-failed/`, records that failed transformation, and
//! `errors/partitioning-failed/`, records it could not partition) back
//! through the pipeline, from a local lake (`make replay`) or from the
//! stack's bucket (`replay --bucket`).
//!
//! Where it sits: after a failure, before curation. The steps, each a
//! function below:
//!
//! 1. [`read_error_records`]: parse Firehose's error records (one JSON object
//!    a line: `rawData` is the record as it arrived, base64). A line that
//!    cannot be read is kept as [`Unreadable`] with the reason, never skipped.
//!    A record of several newline-delimited events (a packed record that
//!    reached the transformer whole: over Firehose's de-aggregation cap of
//!    500, or sent while de-aggregation was off) is split into its events,
//!    as de-aggregation would have split it.
//! 2. [`plan`]: ask the transformer's own code ([`crate::verdict`]) what each
//!    record would become. Records that would land are re-sent once per event
//!    id; records that would fail again are not re-sent (they would only be
//!    written under `errors/` once more) and are reported with the
//!    transformer's code and reason.
//! 3. [`send`]: deliver the re-sent records with the producer's batching,
//!    retry and accounting (`chat_pipeline::delivery::deliver`): to the
//!    source Kinesis stream (`PutRecords`) or to a Direct PUT delivery stream
//!    (`PutRecordBatch`). A Kinesis-sourced delivery stream refuses
//!    `PutRecordBatch` (Firehose API Reference, PutRecordBatch: "if the
//!    delivery stream's source is a Kinesis data stream, this operation
//!    fails"), so the stack's default source takes the stream.
//!
//! 4. [`Manifest`]: what a replay sent is written down under
//!    `errors/replayed/` (the error objects it read); the next replay leaves
//!    those objects out unless forced, so replaying the same day twice does
//!    not land a second raw copy of each record.
//!
//! A replay is idempotent where it matters: replayed events carry the
//! `event_id` they had, so the curated table, which keys on `(event_id,
//! occurred_at)`, holds each once however often they are replayed; and the
//! manifest keeps a second replay of the same objects from landing another
//! raw copy (a forced one does, as any retry would). An event
//! sent without an `event_id` gets one derived from its place in the source
//! (`transformer::record::derived_event_id`), which a replay changes: such
//! records are counted in [`Plan::without_event_id`] and the report says a
//! second replay would land them again.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;

use base64_simd::STANDARD;
use chat_pipeline::delivery::{DeliveryOptions, DeliveryReport, deliver};
use chat_pipeline::sink::{RecordSink, SinkRecord};
use chat_pipeline::timestamp::Timestamp;

use crate::lake::{LakeError, LocalLakeError, Object};
use crate::verdict::{Verdict, verdict};

/// The folders under the error prefix (`!{firehose:error-output-type}`)
/// that hold records to replay: those that failed transformation, and those
/// Firehose could not partition (Firehose Developer Guide, "Handle failure
/// in data transformation" and "Troubleshoot dynamic partitioning errors").
pub const ERROR_PREFIXES: [&str; 2] = ["errors/processing-failed/", "errors/partitioning-failed/"];

/// Where replays write down what they sent: outside both error types'
/// folders, so the failed-records table does not read it.
pub const MANIFESTS: &str = "errors/replayed/";

/// One of Firehose's error records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecord {
    /// Where it was read: the object's key and the line (from 1).
    pub object: String,
    pub line: usize,
    /// Firehose's `errorCode` (`Lambda.ProcessingFailedStatus`,
    /// `Lambda.FunctionError`, ...).
    pub error_code: String,
    /// Firehose's `errorMessage`.
    pub error_message: String,
    /// When the record first reached Firehose.
    pub arrival: Timestamp,
    /// The record as it arrived (`rawData`, decoded).
    pub data: Vec<u8>,
}

/// An error-record line that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub object: String,
    pub line: usize,
    pub reason: String,
}

/// Reading the error records failed before any could be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Local(#[from] LocalLakeError),
}

/// Every error object under each of [`ERROR_PREFIXES`] of `lake`,
/// gunzipped, by key relative to the lake.
pub fn local_error_objects(lake: &Path) -> Result<Vec<Object>, ReplayError> {
    let mut objects = Vec::new();
    for prefix in ERROR_PREFIXES {
        objects.extend(crate::lake::local_objects(lake, prefix)?);
    }
    Ok(objects)
}

/// The error objects of the stack's bucket for each of `days`
/// (`<error prefix>dt=<day>/` of each of [`ERROR_PREFIXES`]), gunzipped.
pub async fn s3_error_objects(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    days: &[String],
) -> Result<Vec<Object>, LakeError> {
    let mut objects = Vec::new();
    for prefix in ERROR_PREFIXES {
        for day in days {
            objects.extend(crate::lake::objects(s3, bucket, &format!("{prefix}dt={day}/")).await?);
        }
    }
    Ok(objects)
}

/// What one replay sent: the error objects it read (every record of each
/// was re-sent, or found to fail again), when, and how many records.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub replayed_at: String,
    pub records_sent: usize,
    pub objects: Vec<String>,
}

impl Manifest {
    pub fn new(objects: &[Object], records_sent: usize) -> Self {
        Manifest {
            replayed_at: Timestamp::now().to_rfc3339(),
            records_sent,
            objects: objects.iter().map(|o| o.key.clone()).collect(),
        }
    }

    /// Its key: under [`MANIFESTS`], named by when it was written.
    pub fn key(&self) -> String {
        format!("{MANIFESTS}{}.json", self.replayed_at.replace(':', "-"))
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

/// The error objects earlier replays sent, from their manifests (a manifest
/// that cannot be read is an error, named: skipping it would replay twice).
pub fn replayed_before(manifests: &[Object]) -> Result<HashSet<String>, String> {
    let mut out = HashSet::new();
    for m in manifests {
        let manifest: Manifest =
            serde_json::from_slice(&m.bytes).map_err(|e| format!("replay manifest {}: {e}", m.key))?;
        out.extend(manifest.objects);
    }
    Ok(out)
}

/// `objects` less those an earlier replay sent (unless `force`), and how
/// many were left out.
pub fn not_replayed(objects: Vec<Object>, before: &HashSet<String>, force: bool) -> (Vec<Object>, usize) {
    if force {
        return (objects, 0);
    }
    let total = objects.len();
    let kept: Vec<Object> = objects.into_iter().filter(|o| !before.contains(&o.key)).collect();
    let skipped = total - kept.len();
    (kept, skipped)
}

/// Every day from `since` to `until` (both `YYYY-MM-DD`, inclusive).
pub fn days_between(since: &str, until: &str) -> Result<Vec<String>, String> {
    let parse = |flag: &str, s: &str| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|e| format!("{flag} {s:?}: expected a day as YYYY-MM-DD ({e})"))
    };
    let (first, last) = (parse("--since", since)?, parse("--until", until)?);
    if last < first {
        return Err(format!("--until {until} is before --since {since}"));
    }
    Ok(first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect())
}

/// Step 1: Firehose's error records in `objects`, and the lines that are
/// not one.
pub fn read_error_records(objects: &[Object]) -> (Vec<ErrorRecord>, Vec<Unreadable>) {
    let mut records = Vec::new();
    let mut unreadable = Vec::new();
    for object in objects {
        for (i, line) in object.bytes.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match parse_error_record(&object.key, i + 1, line) {
                Ok(record) => records.extend(split_packed(record)),
                Err(reason) => unreadable.push(Unreadable {
                    object: object.key.clone(),
                    line: i + 1,
                    reason,
                }),
            }
        }
    }
    (records, unreadable)
}

/// A packed record's events, each an error record of its own (a record
/// without a newline is itself).
fn split_packed(record: ErrorRecord) -> Vec<ErrorRecord> {
    if !record.data.contains(&chat_pipeline::packing::DELIMITER) {
        return vec![record];
    }
    chat_pipeline::packing::unpack(&record.data)
        .filter(|piece| !piece.is_empty())
        .map(|piece| ErrorRecord {
            data: piece.to_vec(),
            ..record.clone()
        })
        .collect()
}

/// One error record, its keys read in any case (as the Hive JSON SerDe
/// reads them), `rawData` decoded.
fn parse_error_record(object_key: &str, line_number: usize, line: &[u8]) -> Result<ErrorRecord, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not a JSON error record: {e}"))?;
    let object = value.as_object().ok_or_else(|| "not a JSON object".to_owned())?;
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let raw = field("rawData")
        .and_then(|v| v.as_str())
        .ok_or_else(|| "field `rawData`: missing or not a string".to_owned())?;
    let data = STANDARD
        .decode_to_vec(raw)
        .map_err(|e| format!("field `rawData`: not base64: {e}"))?;
    let text = |name: &str| field(name).and_then(|v| v.as_str()).unwrap_or("(none)").to_owned();
    let arrival = field("arrivalTimestamp")
        .and_then(serde_json::Value::as_i64)
        .and_then(|ms| Timestamp::from_millis(ms).ok())
        .unwrap_or_else(Timestamp::now);
    Ok(ErrorRecord {
        object: object_key.to_owned(),
        line: line_number,
        error_code: text("errorCode"),
        error_message: text("errorMessage"),
        arrival,
        data,
    })
}

/// What a replay will do with each error record.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Records to re-send, one per event: the record and its event id.
    pub resend: Vec<(ErrorRecord, String)>,
    /// Records that would fail again: not re-sent. Each with the
    /// transformer's code and reason.
    pub still_failing: Vec<(ErrorRecord, &'static str, String)>,
    /// Records whose event is already in `resend` (the same event failed
    /// twice): not re-sent.
    pub duplicates: usize,
    /// Records the transformer would drop (a filtered event type).
    pub dropped: usize,
    /// Re-sent records whose event id is derived from the record's place in
    /// the source, not carried in the record: a second replay lands them
    /// again under a new id.
    pub without_event_id: usize,
}

/// Step 2: what the transformer would answer for each record, and so what
/// to send.
pub fn plan(records: Vec<ErrorRecord>) -> Plan {
    let mut out = Plan::default();
    let mut seen = HashSet::new();
    for record in records {
        match verdict(&record.data, record.arrival) {
            Verdict::Lands { event_id, id_in_record } => {
                if !seen.insert(event_id.clone()) {
                    out.duplicates += 1;
                    continue;
                }
                if !id_in_record {
                    out.without_event_id += 1;
                }
                out.resend.push((record, event_id));
            }
            Verdict::Fails { code, reason } => out.still_failing.push((record, code, reason)),
            Verdict::Dropped => out.dropped += 1,
        }
    }
    out
}

/// Step 3: sends the plan's records with the producer's batching, retries
/// and accounting. The partition key is the event id, which spreads events
/// over shards as the producer's user ids do.
pub async fn send<S: RecordSink>(sink: &S, plan: &Plan, options: &DeliveryOptions) -> DeliveryReport {
    let records: Vec<SinkRecord> = plan
        .resend
        .iter()
        .map(|(record, event_id)| SinkRecord {
            data: record.data.clone(),
            partition_key: event_id.clone(),
        })
        .collect();
    deliver(sink, &records, options).await
}

/// What a replay did, for people.
pub struct Report<'a> {
    pub plan: &'a Plan,
    pub unreadable: &'a [Unreadable],
    pub error_records: usize,
    /// `None` for a dry run.
    pub delivery: Option<&'a DeliveryReport>,
    pub destination: String,
    /// Error objects left out because an earlier replay sent them.
    pub skipped_objects: usize,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.plan;
        if self.skipped_objects > 0 {
            writeln!(
                f,
                "{} error objects left out: an earlier replay sent them ({MANIFESTS}; FORCE=1, --force, sends them again)",
                self.skipped_objects
            )?;
        }
        writeln!(f, "{} error records read", self.error_records)?;
        match self.delivery {
            Some(d) => writeln!(
                f,
                "  replayed      {:>6} records (one per event) to {}: {d}",
                p.resend.len(),
                self.destination
            )?,
            None => writeln!(
                f,
                "  would replay  {:>6} records (one per event) to {} (dry run: nothing sent)",
                p.resend.len(),
                self.destination
            )?,
        }
        if p.duplicates > 0 {
            writeln!(
                f,
                "  not re-sent   {:>6} copies of an event re-sent once above",
                p.duplicates
            )?;
        }
        if p.dropped > 0 {
            writeln!(
                f,
                "  not re-sent   {:>6} records the transformer drops (filtered event type)",
                p.dropped
            )?;
        }
        if p.without_event_id > 0 {
            writeln!(
                f,
                "  note: {} replayed records carry no event_id; their id is derived from where they sit in the source, so a second replay would land them again",
                p.without_event_id
            )?;
        }
        writeln!(
            f,
            "  still failing {:>6} records: not re-sent, they would fail again",
            p.still_failing.len()
        )?;
        let mut reasons: BTreeMap<(&str, &str), (usize, &ErrorRecord)> = BTreeMap::new();
        for (record, code, reason) in &p.still_failing {
            reasons.entry((code, reason)).or_insert((0, record)).0 += 1;
        }
        for ((code, reason), (n, first)) in reasons {
            writeln!(
                f,
                "    {n:>5} x {code}: {reason}\n          e.g. {}:{} rawData {}",
                first.object,
                first.line,
                String::from_utf8_lossy(&first.data[..first.data.len().min(100)])
            )?;
        }
        if !self.unreadable.is_empty() {
            writeln!(f, "  unreadable    {:>6} error-record lines:", self.unreadable.len())?;
            for u in self.unreadable.iter().take(10) {
                writeln!(f, "    {}:{}: {}", u.object, u.line, u.reason)?;
            }
        }
        if let Some(d) = self.delivery
            && !d.is_complete()
        {
            writeln!(
                f,
                "  NOT DELIVERED {:>6} records: {}",
                d.undelivered.len(),
                d.failure_summary()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(lines: &[String]) -> Object {
        Object {
            key: "errors/processing-failed/dt=2026-12-03/x.gz".to_owned(),
            bytes: lines.join("\n").into_bytes(),
        }
    }

    fn error_line(code: &str, data: &[u8]) -> String {
        serde_json::json!({
            "attemptsMade": 4,
            "arrivalTimestamp": 1_764_754_200_000_i64,
            "errorCode": code,
            "errorMessage": "m",
            "attemptEndingTimestamp": 1_764_754_201_000_i64,
            "rawData": STANDARD.encode_to_string(data),
            "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:transformer",
        })
        .to_string()
    }

    #[test]
    fn the_plan_resends_each_event_once_and_reports_what_would_fail_again() {
        let good = br#"{"event_id":"0b7e6a52-2f4c-4c59-9a43-0d2f8a9f1c11","event_name":"JOIN","event_time":"2025-12-03T09:00:00Z","user":7}"#;
        let lines = vec![
            error_line("Lambda.FunctionError", good),
            error_line("Lambda.FunctionError", good),
            error_line("Lambda.ProcessingFailedStatus", b"event_name=JOIN user=7"),
            "{not json".to_owned(),
            r#"{"errorCode":"x","rawData":"%%%"}"#.to_owned(),
        ];
        let (records, unreadable) = read_error_records(&[object(&lines)]);
        assert_eq!(records.len(), 3);
        assert_eq!(unreadable.len(), 2);
        assert!(unreadable[1].reason.contains("rawData"), "{:?}", unreadable[1]);
        let plan = plan(records);
        assert_eq!(plan.resend.len(), 1);
        assert_eq!(plan.resend[0].1, "0b7e6a52-2f4c-4c59-9a43-0d2f8a9f1c11");
        assert_eq!(plan.duplicates, 1);
        assert_eq!(plan.still_failing.len(), 1);
        assert_eq!(plan.still_failing[0].1, "not_json");
        let report = Report {
            plan: &plan,
            unreadable: &unreadable,
            error_records: 5,
            delivery: None,
            destination: "kinesis:s".to_owned(),
            skipped_objects: 0,
        }
        .to_string();
        assert!(report.contains("still failing      1"), "{report}");
        assert!(report.contains("unreadable         2"), "{report}");
    }

    #[test]
    fn objects_a_replay_sent_are_left_out_of_the_next_unless_forced() {
        let a = Object {
            key: "errors/processing-failed/dt=2026-12-03/a.gz".to_owned(),
            bytes: Vec::new(),
        };
        let b = Object {
            key: "errors/partitioning-failed/dt=2026-12-03/b.gz".to_owned(),
            bytes: Vec::new(),
        };
        let manifest = Manifest::new(std::slice::from_ref(&a), 3);
        assert!(manifest.key().starts_with(MANIFESTS) && manifest.key().ends_with(".json"));
        let written = Object {
            key: manifest.key(),
            bytes: manifest.to_json(),
        };
        let before = replayed_before(&[written]).unwrap();
        let (kept, skipped) = not_replayed(vec![a.clone(), b.clone()], &before, false);
        assert_eq!(
            (kept.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(), skipped),
            (vec![b.key.as_str()], 1)
        );
        let (kept, skipped) = not_replayed(vec![a, b], &before, true);
        assert_eq!((kept.len(), skipped), (2, 0));
        let broken = Object {
            key: "errors/replayed/x.json".to_owned(),
            bytes: b"{".to_vec(),
        };
        assert!(
            replayed_before(&[broken])
                .unwrap_err()
                .contains("errors/replayed/x.json")
        );
    }

    #[test]
    fn a_packed_record_that_reached_the_transformer_whole_is_replayed_event_by_event() {
        let events: Vec<String> = (1..=3)
            .map(|i| {
                format!(r#"{{"event_id":"e{i}","event_name":"JOIN","event_time":"2025-12-03T09:00:00Z","user":{i}}}"#)
            })
            .collect();
        let packed = events.join("\n");
        let (records, unreadable) = read_error_records(&[object(&[error_line(
            "Lambda.ProcessingFailedStatus",
            packed.as_bytes(),
        )])]);
        assert!(unreadable.is_empty());
        assert_eq!(records.len(), 3);
        let plan = plan(records);
        let ids: Vec<&str> = plan.resend.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["e1", "e2", "e3"]);
    }

    #[test]
    fn days_are_listed_inclusively_and_bad_ones_named() {
        assert_eq!(
            days_between("2026-11-30", "2026-12-02").unwrap(),
            ["2026-11-30", "2026-12-01", "2026-12-02"]
        );
        assert!(days_between("2026-12-02", "2026-12-01").unwrap_err().contains("before"));
        assert!(
            days_between("2026-12-1x", "2026-12-01")
                .unwrap_err()
                .contains("--since")
        );
    }

    #[test]
    fn capitalised_keys_are_read_as_the_hive_serde_reads_them() {
        let line = r#"{"ErrorCode":"Lambda.FunctionError","RawData":"YQ==","ArrivalTimestamp":0}"#.to_owned();
        let (records, unreadable) = read_error_records(&[object(&[line])]);
        assert!(unreadable.is_empty(), "{unreadable:?}");
        assert_eq!(records[0].error_code, "Lambda.FunctionError");
        assert_eq!(records[0].data, b"a");
    }
}
