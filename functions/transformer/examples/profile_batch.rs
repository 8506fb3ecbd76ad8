//! Runs one large batch through the transformer many times, for profilers.
//!
//! `profile_batch FORMAT SOURCE ROUNDS RECORDS [PHASE]`, e.g.
//! `target/release/examples/profile_batch producer direct 100 8000`.
//! PHASE is `all` (default: request bytes -> response bytes, as
//! lambda_runtime and the handler do it), `de` (the request only: the
//! handler's JSON check and borrowed parse, `parse_request`), `handler` (`process` and
//! `render` from a parsed event) or `ser` (the runtime's serialization of the
//! rendered response), so that `perf` or `valgrind --tool=callgrind` can look
//! at each phase (subtract a run with ROUNDS=0 for the set-up).

/// The allocator the deployed binary uses.
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

use chat_pipeline::destination::AwsSinks;
use testkit::synthetic::{Format, Source, event_json_bytes, transformation_event};
use transformer::firehose::parse_request;
use transformer::{Config, Transformer, process, respond};

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

    let mut total = 0;
    let started = std::time::Instant::now();
    match phase {
        "de" => {
            for _ in 0..rounds {
                total += parse_request(&body).unwrap().records.len();
            }
        }
        "handler" => {
            let parsed = parse_request(&body).unwrap();
            let mut busy = std::time::Duration::ZERO;
            for _ in 0..rounds {
                let e = parsed.clone();
                let t = std::time::Instant::now();
                let (answers, _) = rt.block_on(process(&state, e, None)).unwrap();
                total += answers.render().len();
                busy += t.elapsed();
            }
            println!("(handler: set-up excluded)");
            total += 0;
            report(phase, records, json_bytes, busy, rounds, total);
            return;
        }
        "ser" => {
            let response = rt.block_on(respond(&state, &body, None)).unwrap().response;
            for _ in 0..rounds {
                total += serde_json::to_vec(&response).unwrap().len();
            }
        }
        _ => {
            for _ in 0..rounds {
                let response = rt.block_on(respond(&state, &body, None)).unwrap().response;
                total += serde_json::to_vec(&response).unwrap().len();
            }
        }
    }
    report(phase, records, json_bytes, started.elapsed(), rounds, total);
}

fn report(phase: &str, records: usize, json_bytes: usize, elapsed: std::time::Duration, rounds: usize, total: usize) {
    let per_round = elapsed.as_secs_f64() / rounds.max(1) as f64;
    println!(
        "{phase}: {records} records, {json_bytes} bytes of event JSON: {:.2} ms per batch, {:.0} MB/s of event JSON ({total})",
        per_round * 1e3,
        json_bytes as f64 / per_round / 1e6
    );
}
