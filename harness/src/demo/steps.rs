//! The demo's steps, each doing its work and returning what happened; none
//! prints (the lines are [`super::report`]'s). Long steps take a callback
//! for the lines they say while they run (progress, injected faults).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chat_pipeline::destination::DestinationKind;
use chat_pipeline::timestamp::Timestamp;

use super::DemoError;
use crate::emulator::EmulatorOptions;
use crate::host::repo;
use crate::lake::{self, Object};
use crate::lambda_watch::{LambdaWatch, WatchInvoker};
use crate::ledger::Ledger;
use crate::local_firehose::{DeliveryStats, Progress};
use crate::pipeline::LocalPipeline;
use crate::replay::{self, ErrorRecord, Unreadable};
use crate::scenario;
use crate::verdict;

/// The prefix of the demo's resource names.
pub const NAMES: &str = "chat-pipeline-local";

/// `path` relative to the repository, for display.
pub fn shown(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}

/// One fault the emulator injected, as its log line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Where: `kinesis`, `s3`.
    pub hop: String,
    /// What was injected.
    pub fault: String,
    /// The rest of the line, `key=value`.
    pub detail: Vec<(String, String)>,
}

impl Fault {
    /// One line of the emulator's fault log (a JSON object), or `None`.
    pub fn parse(line: &str) -> Option<Fault> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let object = value.as_object()?;
        let text = |v: &serde_json::Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        let mut detail: Vec<(String, String)> = object
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "at" | "hop" | "fault"))
            .map(|(k, v)| (k.clone(), text(v)))
            .collect();
        // By name: serde_json's map iterates in key order, or in the line's
        // order when another crate of the build turns on its
        // `preserve_order` feature (cargo unifies features), so the order
        // is set here, the same in every build.
        detail.sort();
        Some(Fault {
            hop: object.get("hop").map_or_else(|| "?".to_owned(), text),
            fault: object.get("fault").map_or_else(|| "?".to_owned(), text),
            detail,
        })
    }
}

/// The emulator's log of injected faults, read as the run goes: each step
/// takes what was injected since the last one.
pub struct FaultFeed {
    path: Option<PathBuf>,
    read: Mutex<u64>,
}

impl FaultFeed {
    /// A feed for a run with faults injected (`enabled`), or none.
    pub fn new(enabled: bool) -> Self {
        let path = enabled.then(|| repo().join("target/demo-faults.log"));
        if let Some(path) = &path {
            let _ = std::fs::write(path, "");
        }
        FaultFeed {
            path,
            read: Mutex::new(0),
        }
    }

    /// The fault log, when faults are injected.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The faults the emulator injected since the last call.
    pub fn take_new(&self) -> Vec<Fault> {
        let Some(path) = &self.path else { return Vec::new() };
        let Ok(mut file) = std::fs::File::open(path) else {
            return Vec::new();
        };
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if file.seek(std::io::SeekFrom::Start(*read)).is_err() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            *read += line.len() as u64 + 1;
            out.extend(Fault::parse(&line));
        }
        out
    }
}

/// Steps 1 and 2: the emulator (moto, through `python -m chat_tools.emulator`, with
/// faults when asked) and the stream, bucket and delivery streams, with
/// template.yaml's settings.
pub async fn start_pipeline(faults: &FaultFeed) -> Result<LocalPipeline, DemoError> {
    let options = EmulatorOptions {
        faults: faults.path.is_some(),
        fault_log: faults.path.clone(),
    };
    Ok(LocalPipeline::start_with(NAMES, &options).await?)
}

/// Step 3: both functions under `cargo lambda watch`, pointed at the emulator;
/// the watch and its log.
pub async fn start_functions(
    pipeline: &LocalPipeline,
    events_per_tick: u32,
) -> Result<(LambdaWatch, PathBuf), DemoError> {
    let mut env = pipeline.function_env();
    let events = events_per_tick.to_string();
    for (k, v) in [
        ("SINK", "kinesis"),
        ("STREAM_NAME", pipeline.names.stream.as_str()),
        ("EVENTS_PER_INVOCATION", events.as_str()),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let log = repo().join("target/demo-cargo-lambda-watch.log");
    let watch = LambdaWatch::start(&env, &log)
        .await
        .map_err(|e| DemoError::Watch(e, shown(&log)))?;
    Ok((watch, log))
}

/// The schedule ticks of a run: `ticks` minutes, one apart, ending with the
/// minute of `now`.
pub fn tick_times(ticks: i64, now: Timestamp) -> Result<Vec<Timestamp>, DemoError> {
    let minute = now.millis() / 60_000 * 60_000;
    (0..ticks)
        .rev()
        .map(|i| Ok(Timestamp::from_millis(minute - i * 60_000)?))
        .collect()
}

/// What one producer invocation answered.
#[derive(Clone, Debug, PartialEq)]
pub struct Tick {
    pub at: Timestamp,
    pub generated: u64,
    pub delivered: u64,
    /// The records the delivered events went in (packed: many a record).
    pub records: u64,
    /// Their bytes.
    pub bytes: u64,
    pub sink: String,
    /// PutRecords requests, resends included.
    pub requests: u64,
    /// Records sent again after a partial failure.
    pub resent: u64,
    pub duration_ms: f64,
    /// The ids the tick's events carry (the producer is deterministic).
    pub ids: Vec<String>,
}

/// Step 4: one producer invocation for the tick at `at`, through the Invoke API;
/// its answer, with the ids its events carry.
pub async fn invoke_producer(
    watch: &LambdaWatch,
    log: &Path,
    expected: &producer::Producer,
    at: Timestamp,
) -> Result<Tick, DemoError> {
    let event = scenario::scheduled_event(at);
    let body = watch
        .invoke("producer", serde_json::to_vec(&event)?)
        .await
        .map_err(|e| DemoError::Watch(e, shown(log)))?;
    let s: serde_json::Value = serde_json::from_slice(&body)?;
    let generated = s["generated"].as_u64().unwrap_or(0);
    let ids = scenario::expected_ids(expected, &event);
    if ids.len() as u64 != generated {
        return Err(DemoError::ExpectedIds {
            tick: at.to_string(),
            generated,
            expected: ids.len(),
        });
    }
    Ok(Tick {
        at,
        generated,
        delivered: s["delivered"].as_u64().unwrap_or(0),
        records: s["delivered_records"].as_u64().unwrap_or(0),
        bytes: s["bytes"].as_u64().unwrap_or(0),
        sink: s["sink"].as_str().unwrap_or("?").to_owned(),
        requests: s["attempts"].as_u64().unwrap_or(0),
        resent: s["retried_records"].as_u64().unwrap_or(0),
        duration_ms: s["duration_ms"].as_f64().unwrap_or(0.0),
        ids,
    })
}

/// The producer as the demo's functions run it: its configuration gives the
/// ids a tick must produce.
pub fn expected_producer(pipeline: &LocalPipeline, events_per_tick: u32) -> producer::Producer {
    pipeline.producer(DestinationKind::Kinesis, u64::from(events_per_tick))
}

/// Step 5: malformed records straight into the stream, as a misbehaving producer
/// writes them; what was put.
pub async fn put_malformed(pipeline: &LocalPipeline) -> Result<Vec<(&'static str, Vec<u8>)>, DemoError> {
    let malformed = scenario::malformed_records();
    scenario::put_raw(&pipeline.config, &pipeline.names.stream, &malformed).await?;
    Ok(malformed)
}

/// Step 6: the local Firehose: read the stream, invoke the transformer (under
/// `watch`), write objects, until the stream has nothing new (re-ingested
/// records come back through it). With `faults`, the first invocation fails
/// every attempt; `say` is told each fault and progress as it happens.
pub async fn run_firehose(
    pipeline: &LocalPipeline,
    watch: &LambdaWatch,
    faults: bool,
    say_fault: impl Fn(&str) + Send + Sync + 'static,
    say_progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<DeliveryStats, DemoError> {
    let mut firehose = pipeline.firehose(WatchInvoker(watch));
    if faults {
        firehose.fail_invocations([1]);
        firehose.on_fault(say_fault);
    }
    firehose.on_progress(say_progress);
    Ok(firehose.drain_all().await?)
}

/// What landed, read back, and its copy in the local lake.
pub struct Landed {
    pub events: Vec<Object>,
    pub errors: Vec<Object>,
    /// Firehose's error records in `errors`, parsed once (as the replay
    /// reads them), and the lines that are not one.
    pub error_records: Vec<ErrorRecord>,
    pub unreadable: Vec<Unreadable>,
    /// The local lake.
    pub out: PathBuf,
    /// Objects copied into it.
    pub copied: usize,
    /// With `--keep`: this run's events the lake already held from an
    /// earlier run.
    pub already_there: Option<usize>,
}

/// Step 7: the lake read back, and copied to the local lake `lake_dir` for `make
/// query` (added to it with `keep`); `say_progress(done, of)` as objects are
/// copied.
pub async fn read_lake(
    pipeline: &LocalPipeline,
    lake_dir: &Path,
    keep: bool,
    say_progress: impl FnMut(usize, usize),
) -> Result<Landed, DemoError> {
    let out = if lake_dir.is_absolute() {
        lake_dir.to_path_buf()
    } else {
        repo().join(lake_dir)
    };
    // With --keep, the events earlier runs left in the local lake: this
    // run's events among them are counted.
    let earlier = if keep {
        let objects = lake::local_objects(&out, "events/")?;
        let ids = objects.iter().flat_map(lake::lines).filter_map(lake::event_id);
        ids.map(str::to_owned).collect::<HashSet<_>>()
    } else {
        let _ = std::fs::remove_dir_all(&out);
        HashSet::new()
    };
    // Each object is fetched once: written to the local lake and read here.
    let all = lake::download_and_read(&pipeline.s3(), &pipeline.names.bucket, &out, say_progress).await?;
    let copied = all.len();
    let (events, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|o| o.key.starts_with("events/"));
    let errors: Vec<_> = rest.into_iter().filter(|o| o.key.starts_with("errors/")).collect();
    let already_there = keep.then(|| {
        events
            .iter()
            .flat_map(lake::lines)
            .filter(|line| lake::event_id(line).is_some_and(|id| earlier.contains(id)))
            .count()
    });
    let (error_records, unreadable) = replay::read_error_records(&errors);
    Ok(Landed {
        events,
        errors,
        error_records,
        unreadable,
        out,
        copied,
        already_there,
    })
}

/// The ledger's later stages, from the stand-in's answers and what was read
/// back from S3.
pub fn account(ledger: &mut Ledger, stats: &DeliveryStats, landed: &Landed) {
    ledger.read = stats.records_read as u64;
    ledger.split = stats.records_deaggregated as u64;
    ledger.invocations = stats.invocations as u64;
    ledger.ok = stats.ok as u64;
    ledger.dropped = stats.dropped as u64;
    ledger.failed = stats.processing_failed as u64;
    ledger.in_failed_invocations = stats.in_failed_invocations as u64;
    let mut landed_ids = HashSet::new();
    for object in &landed.events {
        for line in lake::lines(object) {
            ledger.lines_landed += 1;
            if let Some(id) = lake::event_id(line) {
                landed_ids.insert(id.to_owned());
            }
        }
    }
    ledger.error_records = (landed.error_records.len() + landed.unreadable.len()) as u64;
    let error_ids: HashSet<String> = landed
        .error_records
        .iter()
        .filter_map(|record| verdict::event_id(&record.data))
        .collect();
    ledger.dropped_copies = stats
        .dropped_records
        .iter()
        .filter(|data| verdict::event_id(data).is_some_and(|id| landed_ids.contains(&id)))
        .count() as u64;
    ledger.locate_produced(&landed_ids, &error_ids);
}

/// The ledger beside the lake, for the curated stage (`make reconcile`).
pub fn write_ledger(ledger: &Ledger, out: &Path) -> Result<(), DemoError> {
    let path = out.join("_demo/ledger.json");
    let fail = |message: String| DemoError::Ledger {
        path: shown(&path),
        message,
    };
    std::fs::create_dir_all(out.join("_demo")).map_err(|e| fail(e.to_string()))?;
    let json = serde_json::to_vec(ledger).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| fail(e.to_string()))
}

/// Why a record failed, as the transformer logged it ("record failed
/// processing": a stable code, the reason naming the field, the payload's
/// first 256 bytes). Firehose's error records carry only the raw data, so
/// the reason is matched to the record by that excerpt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReason {
    pub code: String,
    pub reason: String,
    pub excerpt: String,
}

/// The failure reasons the functions logged under `cargo lambda watch`.
pub fn failure_reasons(log: &Path) -> Vec<FailureReason> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|v| v["message"] == "record failed processing")
        .map(|v| FailureReason {
            code: v["code"].as_str().unwrap_or("?").to_owned(),
            reason: v["reason"].as_str().unwrap_or("?").to_owned(),
            excerpt: v["excerpt"].as_str().unwrap_or_default().to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_end_with_the_current_minute_one_minute_apart() {
        let now = Timestamp::parse_iso8601("2026-12-03T14:18:42.500Z").unwrap();
        let ticks: Vec<String> = tick_times(3, now).unwrap().iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            ticks,
            [
                "2026-12-03T14:16:00.000Z",
                "2026-12-03T14:17:00.000Z",
                "2026-12-03T14:18:00.000Z"
            ]
        );
    }

    #[test]
    fn a_fault_line_keeps_its_details_by_name_and_skips_the_rest() {
        let fault = Fault::parse(
            r#"{"at": 1.5, "hop": "kinesis", "fault": "PutRecords refused whole", "stream": "s", "call": 2}"#,
        )
        .unwrap();
        assert_eq!(
            (fault.hop.as_str(), fault.fault.as_str()),
            ("kinesis", "PutRecords refused whole")
        );
        assert_eq!(
            fault.detail,
            [
                ("call".to_owned(), "2".to_owned()),
                ("stream".to_owned(), "s".to_owned())
            ]
        );
        assert_eq!(Fault::parse("not json"), None);
    }
}
