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
//! `python -m chat_tools.lake`.)
//!
//! This file is glue: the steps are `harness::demo::steps`, the lines they
//! print `harness::demo::report`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chat_pipeline::timestamp::Timestamp;
use clap::Parser;
use harness::demo::steps::{self, FaultFeed};
use harness::demo::{DemoError, report};
use harness::ledger::Ledger;
use harness::progress;

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
    println!("{}", report::header(args.ticks, args.events, args.faults));
    let faults = Arc::new(FaultFeed::new(args.faults));
    let print_faults = {
        let faults = Arc::clone(&faults);
        move || {
            for fault in faults.take_new() {
                println!("{}", report::fault(&fault));
            }
        }
    };

    println!(
        "{}",
        report::step(
            1,
            "Starting the AWS emulator (moto, through `python -m chat_tools.emulator`)"
        )
    );
    let pipeline = steps::start_pipeline(&faults).await?;
    println!("{}", report::emulator(&pipeline.emulator.endpoint, faults.path()));
    println!(
        "{}",
        report::step(
            2,
            "Creating the Kinesis stream, S3 bucket and Firehose delivery streams"
        )
    );
    println!("{}", report::resources(&pipeline.names, &pipeline.settings.prefix));

    println!(
        "{}",
        report::step(
            3,
            "Starting both functions under `cargo lambda watch` (the real Lambda runtime path)"
        )
    );
    let (watch, log) = steps::start_functions(&pipeline, args.events).await?;
    println!("{}", report::functions(watch.port, &log));

    println!(
        "{}",
        report::step(4, "Producer: one invocation per schedule tick, through the Invoke API")
    );
    let expected = steps::expected_producer(&pipeline, args.events);
    let mut ledger = Ledger::default();
    for at in steps::tick_times(args.ticks, Timestamp::now())? {
        let tick = steps::invoke_producer(&watch, &log, &expected, at).await?;
        print_faults();
        println!("{}", report::tick(&tick));
        ledger.produced += tick.generated;
        ledger.accepted += tick.delivered;
        ledger.accepted_records += tick.records;
        ledger.accepted_bytes += tick.bytes;
        ledger.produced_ids.extend(tick.ids);
    }

    println!(
        "{}",
        report::step(
            5,
            "A misbehaving producer writes malformed records straight into the stream"
        )
    );
    let malformed = steps::put_malformed(&pipeline).await?;
    for (kind, data) in &malformed {
        println!("{}", report::malformed(kind, data));
    }
    ledger.put_directly = malformed.len() as u64;

    println!(
        "{}",
        report::step(
            6,
            "Firehose (local stand-in): read the stream, invoke the transformer, write partitioned GZIP objects"
        )
    );
    // A big run spends a while here (moto serves GetRecords and PutObject
    // one by one): a line every few seconds says how far it has got.
    let step_started = Instant::now();
    let every = Mutex::new(progress::Every::new(progress::INTERVAL));
    let on_fault = {
        let print_faults = print_faults.clone();
        move |line: &str| {
            print_faults();
            println!("      fault: {line}");
        }
    };
    let stats = steps::run_firehose(&pipeline, &watch, args.faults, on_fault, move |p| {
        if every.lock().is_ok_and(|mut e| e.due()) {
            println!(
                "{}",
                report::firehose_progress(&p, step_started.elapsed().as_secs_f64())
            );
        }
    })
    .await?;
    print_faults();
    println!("{}", report::firehose(&stats));

    println!("{}", report::step(7, "Reading back the data lake"));
    if args.keep {
        println!(
            "      adding to {} (--keep): earlier runs' objects stay",
            steps::shown(&args.lake)
        );
    }
    let step_started = Instant::now();
    let mut every = progress::Every::new(progress::INTERVAL);
    let landed = steps::read_lake(&pipeline, &args.lake, args.keep, |done, of| {
        if every.due() {
            println!(
                "{}",
                report::copy_progress(done, of, step_started.elapsed().as_secs_f64())
            );
        }
    })
    .await?;
    if let Some(line) = report::kept(&landed, args.ticks) {
        println!("{line}");
    }

    steps::account(&mut ledger, &stats, &landed);
    println!("{}", report::partition_table(&landed.events));
    if let Some(sample) = report::sample(&landed.events) {
        println!("{sample}");
    }
    println!("{}", report::error_records(&landed, &steps::failure_reasons(&log)));
    println!("{}", report::where_it_landed(&pipeline.names, &landed));
    let rows = ledger.reconcile();
    steps::write_ledger(&ledger, &landed.out)?;
    println!(
        "{}",
        report::reconciliation(&ledger, rows.as_ref().ok().map(Vec::as_slice))
    );
    let _ = rows.map_err(DemoError::Unreconciled)?;
    println!("Finished in {:.1} s.", started.elapsed().as_secs_f64());
    drop(watch);
    drop(pipeline);
    Ok(())
}
