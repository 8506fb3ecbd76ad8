//! Throughput of the transformer, in bytes of event JSON (decoded record
//! data) per second. Run: `cargo bench -p transformer`.
//!
//! Two measures for each batch:
//!
//! * `handler/*`: the transformation itself, a parsed `TransformationEvent`
//!   in, the response JSON out (base64 decode, validate, reshape, budget,
//!   re-ingestion, the response written). This is the function's own work and
//!   the figure the 300 MB/s target is about.
//! * `invocation/*`: what Lambda bills, request bytes to response bytes:
//!   the body taken from the runtime (`transformer::runtime`: lambda_runtime then
//!   deserializes its payload from `null`), the handler's JSON check and
//!   borrowed parse (`parse_request`), the handler, and lambda_runtime's
//!   `serde_json::to_vec` of the rendered response.
//!
//! Batches: the largest answered without re-ingestion (found by search before
//! timing), Direct PUT and Kinesis source, producer and plain Python events;
//! and a 6 MB Kinesis-source request whose overflow is re-ingested through a
//! mocked Kinesis client.

/// The allocator the deployed binary uses (see main.rs).
#[global_allocator]
static GLOBAL: chat_pipeline::allocator::MiMalloc = chat_pipeline::allocator::MiMalloc;

use std::hint::black_box;
use std::time::Duration;

use aws_smithy_mocks::{RuleMode, mock};
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::{AwsSinks, SinkProvider};
use chat_pipeline::test_util::{kinesis_reply, mock_kinesis};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde::de::IgnoredAny;
use testkit::synthetic::{Format, Source, event_json_bytes, transformation_event};
use transformer::firehose::{LAMBDA_RESPONSE_LIMIT, RESPONSE_BUDGET, TransformationEvent, parse_request};
use transformer::{Config, Transformer, process, respond};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// What lambda_runtime does with the request body, then the handler, then
/// lambda_runtime's serialization of the response.
fn invoke<P: SinkProvider>(rt: &tokio::runtime::Runtime, state: &Transformer<P>, body: &[u8]) -> Vec<u8> {
    // The payload lambda_runtime deserializes once `transformer::runtime` took the body.
    let de = &mut serde_json::Deserializer::from_slice(b"null");
    let _: IgnoredAny = serde_path_to_error::deserialize(de).unwrap();
    let response = rt.block_on(respond(state, body, None)).unwrap().response;
    serde_json::to_vec(&response).unwrap()
}

/// The handler's own work on a parsed event: process, then write the response.
fn handler<P: SinkProvider>(
    rt: &tokio::runtime::Runtime,
    state: &Transformer<P>,
    event: TransformationEvent<'_>,
) -> usize {
    let (answers, _) = rt.block_on(process(state, event, None)).unwrap();
    answers.render().len()
}

/// The largest record count whose response fits the budget with nothing
/// re-ingested.
fn largest_without_reingestion(format: Format, source: Source) -> usize {
    let rt = runtime();
    // Without re-ingestion, overflow shows up as ProcessingFailed.
    let config = Config {
        reingest: false,
        ..Config::default()
    };
    let state = Transformer::new(config, AwsSinks::default());
    let (mut lo, mut hi) = (1usize, 40_000usize);
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let (_, summary) = rt
            .block_on(process(&state, transformation_event(format, source, mid), None))
            .unwrap();
        if summary.failed == 0 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

fn no_reingestion(c: &mut Criterion) {
    chat_pipeline::allocator::configure();
    let rt = runtime();
    let state = Transformer::new(Config::default(), AwsSinks::default());
    let mut group = c.benchmark_group("no_reingestion");
    group.sample_size(40).measurement_time(Duration::from_secs(10));
    for (format, fname) in [(Format::Producer, "producer_events"), (Format::Plain, "plain_events")] {
        for (source, sname) in [
            (Source::DirectPut, "direct_put"),
            (Source::KinesisStream, "kinesis_source"),
        ] {
            let n = largest_without_reingestion(format, source);
            let event = transformation_event(format, source, n);
            let json_bytes = event_json_bytes(&event);
            let body = serde_json::to_vec(&event).unwrap();
            let event = parse_request(&body).unwrap();
            let response = invoke(&rt, &state, &body);
            assert!(response.len() <= RESPONSE_BUDGET);
            eprintln!(
                "{sname}/{fname}: {n} records, {json_bytes} bytes of event JSON, request {} bytes, response {} bytes ({:.2}x the event JSON)",
                body.len(),
                response.len(),
                response.len() as f64 / json_bytes as f64
            );
            group.throughput(Throughput::Bytes(json_bytes as u64));
            group.bench_function(format!("handler/{sname}/{fname}/{n}_records"), |b| {
                b.iter_batched(
                    || event.clone(),
                    |e| black_box(handler(&rt, &state, e)),
                    BatchSize::LargeInput,
                )
            });
            group.bench_function(format!("invocation/{sname}/{fname}/{n}_records"), |b| {
                b.iter(|| black_box(invoke(&rt, &state, black_box(&body))))
            });
        }
    }
    group.finish();
}

fn reingestion(c: &mut Criterion) {
    chat_pipeline::allocator::configure();
    let rt = runtime();
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .then_compute_output(|req| kinesis_reply(req.records().len(), |_| false, ""));
    let kinesis = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let state = Transformer::new(
        Config::default(),
        AwsSinks::new(LazyClients::with_clients(Some(kinesis), None)),
    );
    // Grow the request to just under the 6 MB invocation limit.
    let mut n = 10_000;
    let mut event = transformation_event(Format::Producer, Source::KinesisStream, n);
    while serde_json::to_vec(&event).unwrap().len() < LAMBDA_RESPONSE_LIMIT - 20_000 {
        n += 500;
        event = transformation_event(Format::Producer, Source::KinesisStream, n);
    }
    let body = serde_json::to_vec(&event).unwrap();
    let json_bytes = event_json_bytes(&event);
    let event = parse_request(&body).unwrap();
    let (_, summary) = rt.block_on(process(&state, event.clone(), None)).unwrap();
    eprintln!(
        "6mb_request: {n} records, request {} bytes, {json_bytes} bytes of event JSON, {} answered Ok, {} re-ingested",
        body.len(),
        summary.ok,
        summary.reingested
    );
    let mut group = c.benchmark_group("reingestion");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(json_bytes as u64));
    group.bench_function("handler/6mb_request/kinesis_source/producer_events", |b| {
        b.iter_batched(
            || event.clone(),
            |e| black_box(handler(&rt, &state, e)),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("invocation/6mb_request/kinesis_source/producer_events", |b| {
        b.iter(|| black_box(invoke(&rt, &state, black_box(&body))))
    });
    group.finish();
}

criterion_group!(benches, no_reingestion, reingestion);
criterion_main!(benches);
