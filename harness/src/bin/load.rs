//! `load`: a sustained rate through the local pipeline (`make load RATE=
//! SECONDS= [LAKE=]`): events paced evenly at RATE events/s for SECONDS,
//! packed and delivered into the emulator's stream as the producer does,
//! the Firehose stand-in and the transformer draining it meanwhile; then
//! the achieved rate, the end-to-end latencies (event time to landed
//! object), and the ledger, which must reconcile (`harness::load`). The
//! lake is copied to LAKE with its ledger; `make load` then curates it and
//! reconciles the curated table.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chat_pipeline::delivery::DeliveryOptions;
use chat_pipeline::sink::KinesisSink;
use clap::Parser;
use harness::demo::steps;
use harness::ledger::Ledger;
use harness::load;
use harness::local_firehose::DeliveryStats;
use harness::pipeline::LocalPipeline;

/// Sustains RATE events/s for SECONDS through the local pipeline and says
/// what it achieved, how long events took to land, and whether every event
/// is there once.
#[derive(Debug, Parser)]
#[command(name = "load", version)]
struct Args {
    /// Events a second (make load's RATE).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    rate: u64,
    /// Seconds to sustain it (make load's SECONDS).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    seconds: u64,
    /// Where to copy the lake (make load's LAKE).
    #[arg(long, default_value = "out")]
    lake: PathBuf,
    /// One event a record instead of packed (PACK_EVENTS=false).
    #[arg(long)]
    one_per_record: bool,
}

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Pipeline(#[from] harness::pipeline::PipelineError),
    #[error(transparent)]
    Firehose(#[from] harness::local_firehose::StandInError),
    #[error(transparent)]
    Demo(#[from] harness::demo::DemoError),
    #[error(transparent)]
    Producer(#[from] producer::handler::ProducerError),
    #[error(transparent)]
    Lake(#[from] harness::lake::LakeError),
    #[error("the count does not reconcile: {0}")]
    Gap(harness::ledger::Gap),
    #[error("{0} events were not accepted by the stream after the delivery's retries")]
    Undelivered(usize),
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args).await {
        eprintln!("load failed: {e}");
        std::process::exit(1);
    }
}

async fn run(args: &Args) -> Result<(), Failure> {
    let plan = load::slots(args.rate, args.seconds);
    let total: usize = plan.iter().sum();
    println!(
        "Load: {} events/s for {} s ({total} events), {} in slots of {} ms, through the local pipeline",
        args.rate,
        args.seconds,
        if args.one_per_record {
            "one event a record"
        } else {
            "packed"
        },
        load::SLOT.as_millis()
    );
    // The in-process transformer's metric lines (EMF) go to a file, not
    // into this report.
    let metrics = args.lake.join("_load/transformer-metrics.jsonl");
    if let Some(parent) = metrics.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Failure::Gap(gap("the metrics file", &e.to_string())))?;
    }
    let file = std::fs::File::create(&metrics).map_err(|e| Failure::Gap(gap("the metrics file", &e.to_string())))?;
    chat_pipeline::metrics::send_to(Box::new(file));
    let pipeline = LocalPipeline::start("chat-pipeline-load").await?;
    let kinesis = pipeline.kinesis();
    let stream = pipeline.names.stream.clone();
    let sent_so_far = Arc::new(AtomicUsize::new(0));
    let counter = sent_so_far.clone();
    let pack = !args.one_per_record;
    let started = Instant::now();
    let sender = tokio::spawn(async move {
        let sink = KinesisSink::new(kinesis, &stream);
        let options = DeliveryOptions::default();
        load::send_paced(&sink, &plan, 10_000, pack, &options, |n| {
            counter.store(n, Ordering::Relaxed)
        })
        .await
    });
    let mut firehose = pipeline.firehose_in_process();
    let mut stats = DeliveryStats::default();
    let mut last_line = Instant::now();
    while !sender.is_finished() {
        let drained = firehose.drain().await?;
        stats.absorb(drained);
        if last_line.elapsed() >= Duration::from_secs(5) {
            let sent = sent_so_far.load(Ordering::Relaxed);
            println!(
                "  {:>4.0} s: {sent} events sent ({:.0}/s), {} landed",
                started.elapsed().as_secs_f64(),
                sent as f64 / started.elapsed().as_secs_f64(),
                stats.ok
            );
            last_line = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sent = sender
        .await
        .map_err(|e| Failure::Gap(gap("the sender", &e.to_string())))??;
    stats.absorb(firehose.drain_all().await?);
    let drained_at = started.elapsed();
    let achieved = sent.events as f64 / sent.elapsed.as_secs_f64();
    println!(
        "  achieved {achieved:.0} events/s ({:.1}% of {}): {} events in {} records ({:.1} a record, {} bytes) in {:.1} s; {} slot(s) started late",
        100.0 * achieved / args.rate as f64,
        args.rate,
        sent.events,
        sent.records,
        sent.events as f64 / sent.records.max(1) as f64,
        sent.bytes,
        sent.elapsed.as_secs_f64(),
        sent.late_slots
    );
    if sent.undelivered > 0 {
        return Err(Failure::Undelivered(sent.undelivered));
    }

    let s3 = pipeline.s3();
    let objects = harness::lake::objects(&s3, &pipeline.names.bucket, "events/").await?;
    let p = load::percentiles(load::latencies(&objects, firehose.landed_at()));
    println!(
        "  end-to-end latency (event time to its object written in S3), {} events: p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; the stream drained {:.1} s after the first event",
        p.count,
        p.p50,
        p.p90,
        p.p99,
        p.max,
        drained_at.as_secs_f64()
    );

    let landed = steps::read_lake(&pipeline, &args.lake, false, |_, _| {}).await?;
    let mut ledger = Ledger {
        produced: sent.events as u64,
        accepted: (sent.events - sent.undelivered) as u64,
        accepted_records: sent.records as u64,
        accepted_bytes: sent.bytes as u64,
        produced_ids: sent.ids,
        ..Ledger::default()
    };
    steps::account(&mut ledger, &stats, &landed);
    let rows = ledger.reconcile().map_err(Failure::Gap)?;
    for row in rows {
        println!("  {row}");
    }
    steps::write_ledger(&ledger, &args.lake)?;
    println!(
        "  every event landed once; the lake is in {} (make curate, make cost LAKE={})",
        args.lake.display(),
        args.lake.display()
    );
    Ok(())
}

fn gap(stage: &'static str, why: &str) -> harness::ledger::Gap {
    harness::ledger::Gap {
        stage,
        expected: 0,
        found: 1,
        why: why.to_owned(),
    }
}
