//! Runs one large batch through the transformer many times, for profilers.
//!
//! `profile_batch FORMAT SOURCE ROUNDS RECORDS [PHASE]`, e.g.
//! `target/release/examples/profile_batch producer direct 100 8000`.
//! PHASE is `all` (default: request bytes -> response bytes), `de` (request
//! deserialization only), `handler` (`process` only, events cloned up front),
//! `handler-fresh` (`process` only, each event cloned just before its run, as
//! the criterion benchmark does) or `ser` (response serialization only), so
//! that `valgrind --tool=callgrind` can count each
//! phase's instructions (subtract a run with ROUNDS=0 for the set-up).

/// The allocator the deployed binary uses.
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

use chat_pipeline::destination::AwsSinks;
use transformer::firehose::TransformationEvent;
use transformer::synthetic::{Format, Source, event_json_bytes, transformation_event};
use transformer::{Config, Transformer, process};

fn main() {
    chat_pipeline::allocator::configure();
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let format = if arg(1) == "plain" {
        Format::Plain
    } else {
        Format::Producer
    };
    let source = if arg(2) == "kinesis" {
        Source::KinesisStream
    } else {
        Source::DirectPut
    };
    let rounds: usize = arg(3).parse().unwrap_or(100);
    let records: usize = arg(4).parse().unwrap_or(8_000);
    let phase = if arg(5).is_empty() { "all" } else { arg(5) };

    let event = transformation_event(format, source, records);
    let json_bytes = event_json_bytes(&event);
    let body = serde_json::to_vec(&event).unwrap_or_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        reingest: false,
        ..Config::default()
    };
    let state = Transformer::new(config, AwsSinks::default());
    let run = |event: TransformationEvent| rt.block_on(process(&state, event, None)).unwrap().0;

    let mut total = 0;
    let started;
    match phase {
        "de" => {
            started = std::time::Instant::now();
            for _ in 0..rounds {
                let e: TransformationEvent = serde_json::from_slice(&body).unwrap();
                total += e.records.len();
            }
        }
        "handler" => {
            let events: Vec<_> = (0..rounds).map(|_| event.clone()).collect();
            started = std::time::Instant::now();
            for e in events {
                total += run(e).records.len();
            }
        }
        "handler-fresh" => {
            // As criterion's iter_batched does: clone just before each run,
            // time only the run.
            let mut busy = std::time::Duration::ZERO;
            for _ in 0..rounds {
                let e = event.clone();
                let t = std::time::Instant::now();
                let response = run(e);
                busy += t.elapsed();
                total += response.records.len();
            }
            started = std::time::Instant::now() - busy;
        }
        "ser" => {
            let response = run(event.clone());
            started = std::time::Instant::now();
            for _ in 0..rounds {
                total += serde_json::to_vec(&response).unwrap().len();
            }
        }
        _ => {
            started = std::time::Instant::now();
            for _ in 0..rounds {
                let e: TransformationEvent = serde_json::from_slice(&body).unwrap();
                total += serde_json::to_vec(&run(e)).unwrap().len();
            }
        }
    }
    let per_round = started.elapsed().as_secs_f64() / rounds.max(1) as f64;
    println!(
        "{phase}: {records} records, {json_bytes} bytes of event JSON: {:.2} ms per batch, {:.0} MB/s of event JSON ({total})",
        per_round * 1e3,
        json_bytes as f64 / per_round / 1e6
    );
}
