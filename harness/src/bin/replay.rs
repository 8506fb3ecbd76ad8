//! `replay`: re-sends the records Firehose wrote under
//! `errors/processing-failed/` and `errors/partitioning-failed/` through the
//! pipeline, and reports what was replayed and what still fails, with each
//! reason (`harness::replay`). What it sent is written down under
//! `errors/replayed/`, and a second replay of the same objects sends
//! nothing unless `--force`.
//!
//! ```text
//! replay --lake out                          # make replay: a local lake, through the local pipeline
//! replay --bucket B --since 2026-12-01 [--until 2026-12-02] --to kinesis:STREAM [--dry-run]
//! replay --bucket B --since 2026-12-01 --to firehose:DELIVERY_STREAM     # SourceType=DirectPut
//! ```
//!
//! On AWS it uses the default credential chain; the stack's
//! `ReplayPolicy` output names the managed policy that allows exactly what
//! it does (read the error objects, put to the stream or delivery stream).
//! Locally it starts the emulator, sends the records into its stream, runs
//! them through the Firehose stand-in and the transformer, and adds what
//! lands to the lake (`make curate` then curates them).

use std::path::{Path, PathBuf};

use chat_pipeline::aws::LazyClients;
use chat_pipeline::delivery::DeliveryOptions;
use chat_pipeline::destination::{AwsSinks, Destination, SinkProvider};
use chat_pipeline::sink::KinesisSink;
use clap::Parser;
use harness::lake::{self, LakeError};
use harness::local_firehose::StandInError;
use harness::pipeline::{LocalPipeline, PipelineError};
use harness::replay::{self, MANIFESTS, Manifest, Plan, ReplayError, Report};

/// Re-sends Firehose's failed records (`errors/processing-failed/`,
/// `errors/partitioning-failed/`) through the pipeline, from a local lake or
/// from the stack's S3 bucket, and says what was replayed and what still
/// fails, with the transformer's reason.
#[derive(Debug, Parser)]
#[command(name = "replay", version)]
#[command(group = clap::ArgGroup::new("from").required(true).multiple(false))]
struct Args {
    /// A local lake (`make demo` writes out/): replay through the local
    /// pipeline and add what lands to it.
    #[arg(long, group = "from")]
    lake: Option<PathBuf>,
    /// The stack's data bucket (the `DataBucketName` output).
    #[arg(long, group = "from", requires_all = ["since", "to"])]
    bucket: Option<String>,
    /// First error-object day to read (dt=YYYY-MM-DD under each error prefix).
    #[arg(long)]
    since: Option<String>,
    /// Last day to read (default: --since).
    #[arg(long)]
    until: Option<String>,
    /// Where to send: kinesis:STREAM (the stack's source stream, SourceType
    /// KinesisStream) or firehose:DELIVERY_STREAM (SourceType DirectPut).
    #[arg(long)]
    to: Option<String>,
    /// Read and classify, print the report, send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send again the error objects an earlier replay sent (errors/replayed/).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Read(#[from] ReplayError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error(transparent)]
    Firehose(#[from] StandInError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Manifest(String),
    #[error("not every replayable record was delivered (see the report above)")]
    Undelivered,
    #[error(
        "the local pipeline landed {landed} of the {sent} replayed records under events/ ({stats}); the rest are unaccounted for"
    )]
    NotLanded { sent: usize, landed: usize, stats: String },
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let outcome = match &args.lake {
        Some(lake) => replay_local(lake, args.dry_run, args.force).await,
        None => replay_aws(&args).await,
    };
    if let Err(e) = outcome {
        eprintln!("replay failed: {e}");
        std::process::exit(1);
    }
}

/// The error records of a local lake, through the local pipeline.
async fn replay_local(lake_dir: &Path, dry_run: bool, force: bool) -> Result<(), Failure> {
    if !lake_dir.is_dir() {
        return Err(Failure::Usage(format!(
            "no lake at {}: run `make demo` first, or pass LAKE=dir",
            lake_dir.display()
        )));
    }
    // The in-process transformer's metric lines (EMF, which Lambda's log
    // turns into metrics) go to a file, not into this report.
    let metrics = lake_dir.join("_replay/transformer-metrics.jsonl");
    if let Some(parent) = metrics.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Failure::Manifest(format!("{}: {e}", parent.display())))?;
    }
    let file = std::fs::File::create(&metrics).map_err(|e| Failure::Manifest(format!("{}: {e}", metrics.display())))?;
    chat_pipeline::metrics::send_to(Box::new(file));
    let before = lake::local_objects(lake_dir, MANIFESTS).map_err(|e| Failure::Manifest(e.to_string()))?;
    let before = replay::replayed_before(&before).map_err(Failure::Manifest)?;
    let (objects, skipped) = replay::not_replayed(replay::local_error_objects(lake_dir)?, &before, force);
    println!(
        "Replaying {} error objects under {}/errors/ (processing-failed/, partitioning-failed/)",
        objects.len(),
        lake_dir.display()
    );
    let (records, unreadable) = replay::read_error_records(&objects);
    let error_records = records.len() + unreadable.len();
    let plan = replay::plan(records);
    if dry_run || plan.resend.is_empty() {
        print!(
            "{}",
            report(&plan, &unreadable, error_records, None, "the local stream", skipped)
        );
        return Ok(());
    }
    let pipeline = LocalPipeline::start("chat-pipeline-replay").await?;
    let names = &pipeline.names;
    let sink = KinesisSink::new(pipeline.kinesis(), &names.stream);
    let delivery = replay::send(&sink, &plan, &DeliveryOptions::default()).await;
    let destination = format!("kinesis:{} (the local stream)", names.stream);
    print!(
        "{}",
        report(
            &plan,
            &unreadable,
            error_records,
            Some(&delivery),
            &destination,
            skipped
        )
    );
    if !delivery.is_complete() {
        return Err(Failure::Undelivered);
    }
    let mut firehose = pipeline.firehose_in_process();
    let stats = firehose.drain_all().await?;
    let s3 = pipeline.s3();
    let copied = lake::download_all(&s3, &names.bucket, lake_dir).await?;
    println!(
        "  through the local Firehose and the transformer: {} read, {} Ok, {} Dropped, {} failed; {copied} objects added to {}",
        stats.records_read,
        stats.ok,
        stats.dropped,
        stats.processing_failed + stats.in_failed_invocations,
        lake_dir.display()
    );
    if stats.ok != plan.resend.len() {
        return Err(Failure::NotLanded {
            sent: plan.resend.len(),
            landed: stats.ok,
            stats: format!("{stats:?}"),
        });
    }
    let manifest = Manifest::new(&objects, plan.resend.len());
    let path = lake_dir.join(manifest.key());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Failure::Manifest(format!("{}: {e}", parent.display())))?;
    }
    std::fs::write(&path, manifest.to_json()).map_err(|e| Failure::Manifest(format!("{}: {e}", path.display())))?;
    println!(
        "  written down in {}: a second replay leaves these {} objects out (FORCE=1 sends them again); the transformer's metric lines are in {}",
        path.display(),
        objects.len(),
        metrics.display()
    );
    println!(
        "  next: `make curate` curates them (the curated table keeps each event once, however often it is replayed)"
    );
    Ok(())
}

/// The error records of the stack's bucket, re-sent with the SDK's default
/// credentials.
async fn replay_aws(args: &Args) -> Result<(), Failure> {
    let (Some(bucket), Some(since), Some(to)) = (&args.bucket, &args.since, &args.to) else {
        return Err(Failure::Usage("--bucket needs --since and --to".to_owned()));
    };
    let destination = parse_destination(to)?;
    let days = replay::days_between(since, args.until.as_deref().unwrap_or(since)).map_err(Failure::Usage)?;
    let config = aws_config::load_from_env().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let before = lake::objects(&s3, bucket, MANIFESTS).await?;
    let before = replay::replayed_before(&before).map_err(Failure::Manifest)?;
    let (objects, skipped) =
        replay::not_replayed(replay::s3_error_objects(&s3, bucket, &days).await?, &before, args.force);
    println!(
        "Replaying {} error objects from s3://{bucket}/errors/ (processing-failed/, partitioning-failed/) dt={}..{}",
        objects.len(),
        days.first().map_or("", String::as_str),
        days.last().map_or("", String::as_str)
    );
    let (records, unreadable) = replay::read_error_records(&objects);
    let error_records = records.len() + unreadable.len();
    let plan = replay::plan(records);
    if args.dry_run || plan.resend.is_empty() {
        print!("{}", report(&plan, &unreadable, error_records, None, to, skipped));
        return Ok(());
    }
    let sinks = AwsSinks::new(LazyClients::new());
    let sink = sinks.sink_for(&destination).await;
    let delivery = replay::send(&sink, &plan, &DeliveryOptions::default()).await;
    print!(
        "{}",
        report(&plan, &unreadable, error_records, Some(&delivery), to, skipped)
    );
    if !delivery.is_complete() {
        return Err(Failure::Undelivered);
    }
    let manifest = Manifest::new(&objects, plan.resend.len());
    s3.put_object()
        .bucket(bucket)
        .key(manifest.key())
        .body(manifest.to_json().into())
        .content_type("application/json")
        .send()
        .await
        .map_err(|e| {
            Failure::Manifest(format!(
                "writing s3://{bucket}/{}: {}",
                manifest.key(),
                chat_pipeline::sink::describe_chain(&e)
            ))
        })?;
    println!(
        "  written down in s3://{bucket}/{}: a second replay leaves these {} objects out (--force sends them again)",
        manifest.key(),
        objects.len()
    );
    Ok(())
}

fn report(
    plan: &Plan,
    unreadable: &[replay::Unreadable],
    error_records: usize,
    delivery: Option<&chat_pipeline::delivery::DeliveryReport>,
    destination: &str,
    skipped_objects: usize,
) -> String {
    Report {
        plan,
        unreadable,
        error_records,
        delivery,
        destination: destination.to_owned(),
        skipped_objects,
    }
    .to_string()
}

fn parse_destination(to: &str) -> Result<Destination, Failure> {
    match to.split_once(':') {
        Some(("kinesis", name)) if !name.is_empty() => Ok(Destination::KinesisStream { name: name.to_owned() }),
        Some(("firehose", name)) if !name.is_empty() => Ok(Destination::DeliveryStream { name: name.to_owned() }),
        _ => Err(Failure::Usage(format!(
            "--to {to:?}: expected kinesis:STREAM_NAME (the stack's source stream) or firehose:DELIVERY_STREAM_NAME (a Direct PUT delivery stream)"
        ))),
    }
}
