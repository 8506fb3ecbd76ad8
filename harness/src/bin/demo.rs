//! `make demo`: the whole pipeline on this machine. Starts the AWS emulator
//! and `cargo lambda watch`, creates the stream, bucket and delivery streams,
//! invokes the producer for a few schedule ticks, slips in malformed records,
//! drives everything through the transformer with the local Firehose
//! stand-in, and prints what landed where (and why each failed record
//! failed). Then it reconciles every stage's count (`harness::ledger`) and
//! fails, naming the stage, on any difference no stage explains.
//! `--faults` injects a fault at every hop and shows each as it happens.
//! Everything it started is stopped at the end, and on Ctrl-C.
//! (`make demo` then curates the lake, checks the curated table holds every
//! landed event once, and runs the stack's named queries, with
//! chat_tools.lake.)
//!
//! Each numbered step is one function below; `run` reads as the list of
//! steps.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Seek};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_config::SdkConfig;
use chat_pipeline::destination::DestinationKind;
use chat_pipeline::timestamp::{TimeError, Timestamp};
use clap::Parser;
use harness::emulator::{Emulator, EmulatorError, EmulatorOptions, s3_client};
use harness::host::repo;
use harness::lake::{self, LakeError, LocalLakeError};
use harness::lambda_watch::{LambdaWatch, WatchError, WatchInvoker};
use harness::ledger::{Gap, Ledger};
use harness::local_firehose::{DeliveryStats, LocalFirehose, StandInError};
use harness::progress;
use harness::replay::{self, ErrorRecord, Unreadable};
use harness::resources::{self, Names, ResourceError};
use harness::scenario::{self, PutRawError};
use harness::template::{DeliverySettings, Template, TemplateError};
use harness::verdict;

/// The whole pipeline on this machine: producer -> Kinesis -> Firehose and
/// the transformer -> S3, on the moto emulator, then the lake copied to a
/// local directory for `make query`. Run it with `make demo` (which also
/// curates the lake and runs the stack's named queries).
#[derive(Debug, Parser)]
#[command(name = "demo", version)]
struct Args {
    /// Schedule ticks to invoke the producer for, one minute apart, ending now.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..=1440))]
    ticks: i64,
    /// Events the producer generates per tick (its EVENTS_PER_INVOCATION).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    events: u32,
    /// Where to copy the lake (the bucket's keys become paths).
    #[arg(long, default_value = "out")]
    lake: PathBuf,
    /// Add to the lake instead of replacing it, so days accumulate (the
    /// curated table and its watermark are kept too).
    #[arg(long)]
    keep: bool,
    /// Inject a fault at every hop (throttled and partially failed
    /// PutRecords, a transformer invocation that fails past Firehose's
    /// retries, a failed S3 write), each shown as it happens.
    #[arg(long)]
    faults: bool,
}

/// Why the demo stopped; each step's own error, with its context.
#[derive(Debug, thiserror::Error)]
enum DemoError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Resources(#[from] ResourceError),
    #[error("{0} (see {1})")]
    Watch(WatchError, String),
    #[error("the producer's answer: {0}")]
    Answer(#[from] serde_json::Error),
    #[error(transparent)]
    Time(#[from] TimeError),
    #[error(transparent)]
    PutRaw(#[from] PutRawError),
    #[error(transparent)]
    Firehose(#[from] StandInError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    LocalLake(#[from] LocalLakeError),
    #[error(
        "tick {tick}: the producer generated {generated} events, but the demo expects {expected} ids \
         (its copy of the producer's configuration differs from the function's)"
    )]
    ExpectedIds {
        tick: String,
        generated: u64,
        expected: usize,
    },
    #[error("writing the ledger {path}: {message}")]
    Ledger { path: String, message: String },
    #[error("the counts do not reconcile: {0}")]
    Unreconciled(Gap),
    #[error("interrupted")]
    Interrupted,
}

/// `path` relative to the repository, for display.
fn shown(path: &Path) -> String {
    path.strip_prefix(repo()).unwrap_or(path).display().to_string()
}

fn step(n: usize, text: &str) {
    println!("\n[{n}/7] {text}");
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let outcome = tokio::select! {
        result = run(&args) => result,
        _ = tokio::signal::ctrl_c() => Err(DemoError::Interrupted),
    };
    // Leaving `run` dropped the emulator and cargo lambda watch, which stops them.
    match outcome {
        Ok(()) => println!("\nStopped the emulator and cargo lambda watch. Done."),
        Err(e) => {
            eprintln!("\ndemo failed: {e}\n(the emulator and cargo lambda watch were stopped)");
            std::process::exit(1);
        }
    }
}

async fn run(args: &Args) -> Result<(), DemoError> {
    let started = Instant::now();
    println!(
        "chat-pipeline: local demo (producer -> Kinesis -> Firehose/transformer -> S3), all on this machine: \
         {} tick(s) of {} events{}",
        args.ticks,
        args.events,
        if args.faults {
            ", with a fault injected at every hop"
        } else {
            ""
        }
    );
    let faults = Arc::new(FaultFeed::new(args.faults));
    let emulator = start_emulator(&faults).await?;
    let config = emulator.sdk_config().await;
    let (names, settings) = create_resources(&config).await?;
    let (watch, log) = start_functions(&emulator, &names, args.events).await?;
    let mut ledger = run_producer(&watch, &log, args, &config, &names, &faults).await?;
    ledger.put_directly = put_malformed(&config, &names).await? as u64;
    let stats = run_firehose(&config, &names, &settings, &watch, &faults).await?;
    let landed = read_lake(&config, &names, &args.lake, args.keep, args.ticks).await?;
    account(&mut ledger, &stats, &landed);
    print_landed(&landed, &log);
    print_where_it_landed(&names, &landed);
    let rows = ledger.reconcile();
    write_ledger(&ledger, &landed.out)?;
    print_reconciliation(&ledger, rows.as_ref().ok().map(Vec::as_slice));
    let _ = rows.map_err(DemoError::Unreconciled)?;
    println!("Finished in {:.1} s.", started.elapsed().as_secs_f64());
    drop(watch);
    drop(emulator);
    Ok(())
}

/// The emulator's log of injected faults, printed as the run goes: each
/// step prints what was injected since the last one.
struct FaultFeed {
    path: Option<PathBuf>,
    read: Mutex<u64>,
}

impl FaultFeed {
    fn new(enabled: bool) -> Self {
        let path = enabled.then(|| repo().join("target/demo-faults.log"));
        if let Some(path) = &path {
            let _ = std::fs::write(path, "");
        }
        FaultFeed {
            path,
            read: Mutex::new(0),
        }
    }

    /// Prints the faults the emulator injected since the last call.
    fn print_new(&self) {
        let Some(path) = &self.path else { return };
        let Ok(mut file) = std::fs::File::open(path) else {
            return;
        };
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if file.seek(std::io::SeekFrom::Start(*read)).is_err() {
            return;
        }
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            *read += line.len() as u64 + 1;
            let fault: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let detail: Vec<String> = fault
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| !matches!(k.as_str(), "at" | "hop" | "fault"))
                .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            println!(
                "      fault injected ({}): {} [{}]",
                fault["hop"].as_str().unwrap_or("?"),
                fault["fault"].as_str().unwrap_or("?"),
                detail.join(", ")
            );
        }
    }
}

/// 1. The emulator (moto, through chat_tools.emulator) on a free port.
async fn start_emulator(faults: &FaultFeed) -> Result<Emulator, DemoError> {
    step(1, "Starting the AWS emulator (moto, through chat_tools.emulator)");
    let options = EmulatorOptions {
        faults: faults.path.is_some(),
        fault_log: faults.path.clone(),
    };
    let emulator = Emulator::start_with(&options).await?;
    println!("      listening on {}", emulator.endpoint);
    if let Some(path) = &faults.path {
        println!(
            "      faults on: PutRecords throttled and partially failed, the first S3 write under events/ refused 3 times (log: {})",
            shown(path)
        );
    }
    Ok(emulator)
}

/// 2. The stream, bucket and delivery streams, with template.yaml's prefixes.
async fn create_resources(config: &SdkConfig) -> Result<(Names, DeliverySettings), DemoError> {
    step(
        2,
        "Creating the Kinesis stream, S3 bucket and Firehose delivery streams",
    );
    let settings = Template::repository()?.delivery_settings()?;
    let names = Names::with_prefix("chat-pipeline-local");
    resources::create(config, &names, &settings).await?;
    println!(
        "      stream {}  bucket {}  delivery stream {}",
        names.stream, names.bucket, names.delivery_stream
    );
    println!("      prefixes from template.yaml: {}", settings.prefix);
    Ok((names, settings))
}

/// 3. Both functions under `cargo lambda watch`, pointed at the emulator.
async fn start_functions(
    emulator: &Emulator,
    names: &Names,
    events_per_tick: u32,
) -> Result<(LambdaWatch, PathBuf), DemoError> {
    step(
        3,
        "Starting both functions under `cargo lambda watch` (the real Lambda runtime path)",
    );
    let mut env = emulator.function_env();
    let events = events_per_tick.to_string();
    for (k, v) in [
        ("SINK", "kinesis"),
        ("STREAM_NAME", names.stream.as_str()),
        ("EVENTS_PER_INVOCATION", events.as_str()),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let log = repo().join("target/demo-cargo-lambda-watch.log");
    let watch = LambdaWatch::start(&env, &log)
        .await
        .map_err(|e| DemoError::Watch(e, shown(&log)))?;
    println!(
        "      Invoke API on 127.0.0.1:{} (function output in {})",
        watch.port,
        shown(&log)
    );
    Ok((watch, log))
}

/// 4. One producer invocation per schedule tick.
///
/// The ledger's first stages: produced, accepted, and the ids the producer
/// generated (it is deterministic, so the demo knows them).
async fn run_producer(
    watch: &LambdaWatch,
    log: &Path,
    args: &Args,
    config: &SdkConfig,
    names: &Names,
    faults: &FaultFeed,
) -> Result<Ledger, DemoError> {
    step(4, "Producer: one invocation per schedule tick, through the Invoke API");
    let now = Timestamp::now().millis() / 60_000 * 60_000;
    let expected = scenario::producer(config, names, DestinationKind::Kinesis, u64::from(args.events));
    let mut ledger = Ledger::default();
    for i in (0..args.ticks).rev() {
        let tick = Timestamp::from_millis(now - i * 60_000)?;
        let event = scenario::scheduled_event(tick);
        let body = watch
            .invoke("producer", serde_json::to_vec(&event)?)
            .await
            .map_err(|e| DemoError::Watch(e, shown(log)))?;
        faults.print_new();
        let s: serde_json::Value = serde_json::from_slice(&body)?;
        println!(
            "      tick {}: {} generated, {} delivered to {} in {} request(s), {} resent, {:.0} ms",
            tick,
            s["generated"],
            s["delivered"],
            s["sink"].as_str().unwrap_or("?"),
            s["attempts"],
            s["retried_records"],
            s["duration_ms"].as_f64().unwrap_or(0.0)
        );
        let generated = s["generated"].as_u64().unwrap_or(0);
        let ids = scenario::expected_ids(&expected, &event);
        if ids.len() as u64 != generated {
            return Err(DemoError::ExpectedIds {
                tick: tick.to_string(),
                generated,
                expected: ids.len(),
            });
        }
        ledger.produced += generated;
        ledger.accepted += s["delivered"].as_u64().unwrap_or(0);
        ledger.produced_ids.extend(ids);
    }
    Ok(ledger)
}

/// 5. Malformed records straight into the stream; returns how many.
async fn put_malformed(config: &SdkConfig, names: &Names) -> Result<usize, DemoError> {
    step(
        5,
        "A misbehaving producer writes malformed records straight into the stream",
    );
    let malformed = scenario::malformed_records();
    scenario::put_raw(config, &names.stream, &malformed).await?;
    for (kind, data) in &malformed {
        println!("      {kind:<20} {}", String::from_utf8_lossy(data));
    }
    Ok(malformed.len())
}

/// 6. The local Firehose: read the stream, invoke the transformer, write objects.
///
/// Drained until the stream has nothing new (re-ingested records come back
/// through it).
async fn run_firehose(
    config: &SdkConfig,
    names: &Names,
    settings: &DeliverySettings,
    watch: &LambdaWatch,
    faults: &Arc<FaultFeed>,
) -> Result<DeliveryStats, DemoError> {
    step(
        6,
        "Firehose (local stand-in): read the stream, invoke the transformer, write partitioned GZIP objects",
    );
    let mut firehose = LocalFirehose::new(config, names.clone(), settings.clone(), WatchInvoker(watch));
    if faults.path.is_some() {
        firehose.fail_invocations([1]);
        let feed = Arc::clone(faults);
        firehose.on_fault(move |line| {
            feed.print_new();
            println!("      fault: {line}");
        });
    }
    // A big run spends a while here (moto serves GetRecords and PutObject
    // one by one): a line every few seconds says how far it has got.
    let started = Instant::now();
    let every = Mutex::new(progress::Every::new(progress::INTERVAL));
    firehose.on_progress(move |p| {
        if every.lock().is_ok_and(|mut e| e.due()) {
            let seconds = started.elapsed().as_secs_f64();
            if p.reading {
                println!(
                    "      ... reading the stream: {} records so far, {seconds:.0} s",
                    p.read
                );
            } else {
                println!(
                    "      ... {} of {} records delivered, {} invocation(s), {seconds:.0} s",
                    p.delivered, p.read, p.invocations
                );
            }
        }
    });
    let stats = firehose.drain_all().await?;
    faults.print_new();
    println!(
        "      {} records read in {} invocation(s); largest request {:.2} MB, largest response {:.2} MB",
        stats.records_read,
        stats.invocations,
        stats.largest_request_bytes as f64 / 1e6,
        stats.largest_response_bytes as f64 / 1e6
    );
    if stats.failed_invocations > 0 || stats.s3_retries > 0 {
        println!(
            "      {} failed invocation attempt(s), {} S3 write(s) retried",
            stats.failed_invocations, stats.s3_retries
        );
    }
    Ok(stats)
}

/// What landed, read back, and its copy in the local lake.
struct Landed {
    events: Vec<lake::Object>,
    errors: Vec<lake::Object>,
    /// Firehose's error records in `errors`, parsed once (as the replay
    /// reads them), and the lines that are not one.
    error_records: Vec<ErrorRecord>,
    unreadable: Vec<Unreadable>,
    out: PathBuf,
    copied: usize,
}

/// 7. The lake read back, and copied to the local lake for `make query`.
async fn read_lake(
    config: &SdkConfig,
    names: &Names,
    lake_dir: &Path,
    keep: bool,
    ticks: i64,
) -> Result<Landed, DemoError> {
    step(7, "Reading back the data lake");
    let s3 = s3_client(config);
    let out = if lake_dir.is_absolute() {
        lake_dir.to_path_buf()
    } else {
        repo().join(lake_dir)
    };
    // With --keep, the events earlier runs left in the local lake: this
    // run's events among them are counted and explained below.
    let earlier = if keep {
        println!("      adding to {} (--keep): earlier runs' objects stay", shown(&out));
        let objects = lake::local_objects(&out, "events/")?;
        let ids = objects.iter().flat_map(lake::lines).filter_map(lake::event_id);
        ids.map(str::to_owned).collect::<HashSet<_>>()
    } else {
        let _ = std::fs::remove_dir_all(&out);
        HashSet::new()
    };
    // Each object is fetched once: written to the local lake and read here.
    let started = Instant::now();
    let mut every = progress::Every::new(progress::INTERVAL);
    let all = lake::download_and_read(&s3, &names.bucket, &out, |done, of| {
        if every.due() {
            println!(
                "      ... {done} of {of} objects copied, {:.0} s",
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await?;
    let copied = all.len();
    let (events, rest): (Vec<_>, Vec<_>) = all.into_iter().partition(|o| o.key.starts_with("events/"));
    let errors: Vec<_> = rest.into_iter().filter(|o| o.key.starts_with("errors/")).collect();
    if keep {
        let again = events
            .iter()
            .flat_map(lake::lines)
            .filter(|line| lake::event_id(line).is_some_and(|id| earlier.contains(id)))
            .count();
        if again == 0 {
            println!("      none of this run's events were in {} before", shown(&out));
        } else {
            println!(
                "      {again} of this run's events were already in {} from an earlier run: the producer derives \
                 a tick's events from its minute, and this run's {ticks} tick(s) reach back to minutes an earlier \
                 run produced. The raw table counts them as retry copies; the curated table keeps each event once.",
                shown(&out)
            );
        }
    }
    let (error_records, unreadable) = replay::read_error_records(&errors);
    Ok(Landed {
        events,
        errors,
        error_records,
        unreadable,
        out,
        copied,
    })
}

/// The ledger's later stages, from the stand-in's answers and what was read
/// back from S3.
fn account(ledger: &mut Ledger, stats: &DeliveryStats, landed: &Landed) {
    ledger.read = stats.records_read as u64;
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
fn write_ledger(ledger: &Ledger, out: &Path) -> Result<(), DemoError> {
    let path = out.join("_demo/ledger.json");
    let fail = |message: String| DemoError::Ledger {
        path: shown(&path),
        message,
    };
    std::fs::create_dir_all(out.join("_demo")).map_err(|e| fail(e.to_string()))?;
    let json = serde_json::to_vec(ledger).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| fail(e.to_string()))
}

fn print_reconciliation(ledger: &Ledger, rows: Option<&[harness::ledger::Row]>) {
    println!("\n========================= Every event accounted for =========================");
    match rows {
        Some(rows) => {
            for row in rows {
                println!("  {row}");
            }
            if ledger.produced_in_errors > 0 {
                println!(
                    "  {} produced events wait under errors/processing-failed/: `make replay` re-sends them, then `make curate`",
                    ledger.produced_in_errors
                );
            }
        }
        None => println!("  (the stages do not reconcile: see the error below; the ledger is in _demo/ledger.json)"),
    }
}

fn print_landed(landed: &Landed, log: &Path) {
    let reasons = failure_reasons(log);
    print_partition_table(&landed.events);
    if let Some(object) = landed.events.first()
        && let Some(line) = lake::lines(object).next()
    {
        println!(
            "\nSample output line ({}):\n  {}",
            object.key,
            String::from_utf8_lossy(line)
        );
    }
    println!(
        "\nFailure demo: Firehose's error records under errors/ (the table chat_events_failed; `make replay` re-sends them):"
    );
    let mut by_code: BTreeMap<&str, Vec<&ErrorRecord>> = BTreeMap::new();
    for record in &landed.error_records {
        by_code.entry(&record.error_code).or_default().push(record);
    }
    for (code, records) in &by_code {
        println!("  {code}: {} record(s)", records.len());
        for record in records.iter().take(ERROR_RECORDS_SHOWN) {
            let raw = &record.data;
            println!("    rawData: {}", String::from_utf8_lossy(&raw[..raw.len().min(100)]));
            match reasons.iter().find(|r| raw.starts_with(r.excerpt.as_bytes())) {
                Some(r) => println!("      why: {} ({})", r.reason, r.code),
                None => println!("      why: {} (Firehose's errorMessage)", record.error_message),
            }
        }
        if records.len() > ERROR_RECORDS_SHOWN {
            println!("    ... and {} more", records.len() - ERROR_RECORDS_SHOWN);
        }
    }
    for u in &landed.unreadable {
        println!("  not an error record: {}:{}: {}", u.object, u.line, u.reason);
    }
}

/// Error records printed in full per error code; the rest are counted.
const ERROR_RECORDS_SHOWN: usize = 3;
/// Object paths listed; the rest are counted.
const OBJECTS_LISTED: usize = 8;

/// Why a record failed, as the transformer logged it ("record failed
/// processing": a stable code, the reason naming the field, the payload's
/// first 256 bytes). Firehose's error records carry only the raw data, so
/// the reason is matched to the record by that excerpt.
struct FailureReason {
    code: String,
    reason: String,
    excerpt: String,
}

fn failure_reasons(log: &Path) -> Vec<FailureReason> {
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

fn print_where_it_landed(names: &Names, landed: &Landed) {
    println!(
        "\nWhere it landed: s3://{}/ on the emulator, copied to {}/ ({} objects, GZIP; open with `zcat`):",
        names.bucket,
        shown(&landed.out),
        landed.copied
    );
    let all: Vec<&lake::Object> = landed.events.iter().chain(&landed.errors).collect();
    for object in all.iter().take(OBJECTS_LISTED) {
        println!("  {}/{}", shown(&landed.out), object.key);
    }
    if all.len() > OBJECTS_LISTED {
        println!(
            "  ... and {} more (ls -R {})",
            all.len() - OBJECTS_LISTED,
            shown(&landed.out)
        );
    }
}

/// Objects (and records) per event type and arrival day (`dt`).
fn print_partition_table(events: &[lake::Object]) {
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
    println!("\nObjects (records) per partition, event_type by arrival day:");
    print!("  {:<14}", "event_type");
    for d in &days {
        print!("{d:>18}");
    }
    println!();
    for (event_type, row) in &table {
        print!("  {event_type:<14}");
        for d in &days {
            match row.get(d) {
                Some((objects, records)) => print!("{:>18}", format!("{objects} ({records})")),
                None => print!("{:>18}", "-"),
            }
        }
        println!();
    }
}
