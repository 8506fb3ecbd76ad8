//! `make demo`: the whole pipeline on this machine. Starts the AWS emulator
//! and `cargo lambda watch`, creates the stream, bucket and delivery streams,
//! invokes the producer for a few schedule ticks, slips in malformed records,
//! drives everything through the transformer with the local Firehose
//! stand-in, and prints what landed where (and why each failed record
//! failed). Everything it started is stopped at the end, and on Ctrl-C.
//! (`make demo` then curates the lake and runs the stack's named queries,
//! with tools/lake_sql.py.)
//!
//! Each numbered step is one function below; `run` reads as the list of
//! steps.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use aws_config::SdkConfig;
use base64_simd::STANDARD;
use chat_pipeline::timestamp::{TimeError, Timestamp};
use clap::Parser;
use harness::emulator::{Emulator, EmulatorError, s3_client};
use harness::host::repo;
use harness::lake::{self, LakeError};
use harness::lambda_watch::{LambdaWatch, WatchError, WatchInvoker};
use harness::local_firehose::{DeliveryStats, LocalFirehose, StandInError};
use harness::resources::{self, Names, ResourceError};
use harness::scenario::{self, PutRawError};
use harness::template::{DeliverySettings, Template, TemplateError};

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
         {} tick(s) of {} events",
        args.ticks, args.events
    );
    let emulator = start_emulator().await?;
    let config = emulator.sdk_config().await;
    let (names, settings) = create_resources(&config).await?;
    let (watch, log) = start_functions(&emulator, &names, args.events).await?;
    let (generated, delivered) = run_producer(&watch, &log, args.ticks).await?;
    let malformed = put_malformed(&config, &names).await?;
    let stats = run_firehose(&config, &names, &settings, &watch).await?;
    let landed = read_lake(&config, &names, &args.lake, args.keep).await?;
    print_summary(generated, delivered, &stats, &landed, malformed, &log)?;
    print_where_it_landed(&names, &landed);
    println!("Finished in {:.1} s.", started.elapsed().as_secs_f64());
    drop(watch);
    drop(emulator);
    Ok(())
}

/// 1. moto_server on a free port.
async fn start_emulator() -> Result<Emulator, DemoError> {
    step(1, "Starting the AWS emulator (moto_server)");
    let emulator = Emulator::start().await?;
    println!("      listening on {}", emulator.endpoint);
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

/// 4. One producer invocation per schedule tick; returns (generated, delivered).
async fn run_producer(watch: &LambdaWatch, log: &Path, ticks: i64) -> Result<(u64, u64), DemoError> {
    step(4, "Producer: one invocation per schedule tick, through the Invoke API");
    let now = Timestamp::now().millis() / 60_000 * 60_000;
    let (mut generated, mut delivered) = (0u64, 0u64);
    for i in (0..ticks).rev() {
        let tick = Timestamp::from_millis(now - i * 60_000)?;
        let event = scenario::scheduled_event(tick);
        let body = watch
            .invoke("producer", serde_json::to_vec(&event)?)
            .await
            .map_err(|e| DemoError::Watch(e, shown(log)))?;
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
        generated += s["generated"].as_u64().unwrap_or(0);
        delivered += s["delivered"].as_u64().unwrap_or(0);
    }
    Ok((generated, delivered))
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
async fn run_firehose(
    config: &SdkConfig,
    names: &Names,
    settings: &DeliverySettings,
    watch: &LambdaWatch,
) -> Result<DeliveryStats, DemoError> {
    step(
        6,
        "Firehose (local stand-in): read the stream, invoke the transformer, write partitioned GZIP objects",
    );
    let mut firehose = LocalFirehose::new(config, names.clone(), settings.clone(), WatchInvoker(watch));
    let stats = firehose.drain().await?;
    println!(
        "      {} records read in {} invocation(s); largest request {:.2} MB, largest response {:.2} MB",
        stats.records_read,
        stats.invocations,
        stats.largest_request_bytes as f64 / 1e6,
        stats.largest_response_bytes as f64 / 1e6
    );
    Ok(stats)
}

/// What landed, read back, and its copy in out/.
struct Landed {
    events: Vec<lake::Object>,
    errors: Vec<lake::Object>,
    out: PathBuf,
    copied: usize,
}

/// 7. The lake read back, and copied to the local lake for `make query`.
async fn read_lake(config: &SdkConfig, names: &Names, lake_dir: &Path, keep: bool) -> Result<Landed, DemoError> {
    step(7, "Reading back the data lake");
    let s3 = s3_client(config);
    let events = lake::objects(&s3, &names.bucket, "events/").await?;
    let errors = lake::objects(&s3, &names.bucket, "errors/").await?;
    let out = if lake_dir.is_absolute() {
        lake_dir.to_path_buf()
    } else {
        repo().join(lake_dir)
    };
    if keep {
        println!("      adding to {} (--keep): earlier runs' objects stay", shown(&out));
    } else {
        let _ = std::fs::remove_dir_all(&out);
    }
    let copied = lake::download_all(&s3, &names.bucket, &out).await?;
    Ok(Landed {
        events,
        errors,
        out,
        copied,
    })
}

fn print_summary(
    generated: u64,
    delivered: u64,
    stats: &DeliveryStats,
    landed: &Landed,
    malformed: usize,
    log: &Path,
) -> Result<(), DemoError> {
    let reasons = failure_reasons(log);
    println!("\n================================ Summary ================================");
    println!("  events produced            {generated:>6}");
    println!("  delivered to Kinesis       {delivered:>6}");
    println!("  transformed (Ok)           {:>6}", stats.ok);
    println!("  dropped (filter/duplicate) {:>6}", stats.dropped);
    println!("  failed (to error prefix)   {:>6}", stats.processing_failed);
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
    println!("\nFailure demo: the {malformed} malformed records, as Firehose's error records under errors/:");
    for object in &landed.errors {
        println!("  {}", object.key);
        for line in lake::lines(object) {
            let record: serde_json::Value = serde_json::from_slice(line)?;
            let raw = STANDARD
                .decode_to_vec(record["rawData"].as_str().unwrap_or_default())
                .unwrap_or_default();
            println!(
                "    {}  rawData: {}",
                record["errorCode"].as_str().unwrap_or("?"),
                String::from_utf8_lossy(&raw)
            );
            match reasons.iter().find(|r| raw.starts_with(r.excerpt.as_bytes())) {
                Some(r) => println!("      why: {} ({})", r.reason, r.code),
                None => println!(
                    "      why: not in {} (the transformer logs each failure there)",
                    shown(log)
                ),
            }
        }
    }
    Ok(())
}

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
    for object in landed.events.iter().chain(&landed.errors) {
        println!("  {}/{}", shown(&landed.out), object.key);
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
