//! The sample events in `events/producer/` parse and run against an in-memory
//! sink, and what the producer writes, split as Firehose's de-aggregation
//! splits a packed record, is exactly what the transformer reads.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use chat_pipeline::input::parse_input_event;
use chat_pipeline::packing;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::{MemorySink, MemorySinks};
use lambda_runtime::{Context, LambdaEvent};
use producer::{Config, Producer, handle};

fn sample(name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/producer")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// The events of `records`, each with its record's partition key and
/// whether it is its record's first.
fn events(records: &[chat_pipeline::sink::SinkRecord]) -> Vec<(&str, bool, &[u8])> {
    records
        .iter()
        .flat_map(|r| {
            packing::unpack(&r.data)
                .enumerate()
                .map(move |(i, e)| (r.partition_key.as_str(), i == 0, e))
        })
        .collect()
}

async fn run(name: &str) -> (producer::handler::Summary, Vec<chat_pipeline::sink::SinkRecord>) {
    let sink = Arc::new(MemorySink::new(BatchLimits::KINESIS));
    let state = Producer::new(Config::default(), MemorySinks(sink.clone()));
    let summary = handle(&state, LambdaEvent::new(sample(name), Context::default()))
        .await
        .unwrap();
    (summary, sink.accepted())
}

#[tokio::test]
async fn every_sample_runs_and_delivers_what_it_generates() {
    for (name, expected) in [
        ("scheduled-rule.json", 500),
        ("scheduler.json", 500),
        ("override.json", 25),
    ] {
        let (summary, accepted) = run(name).await;
        assert_eq!(summary.generated, expected, "{name}");
        assert_eq!(summary.delivered, expected, "{name}");
        assert_eq!(accepted.len(), summary.records, "{name}");
        assert!(
            summary.records < expected,
            "{name}: packed, {} records",
            summary.records
        );
        assert!(!summary.dry_run);
        let unpacked = events(&accepted);
        assert_eq!(unpacked.len(), expected, "{name}");
        let ids: HashSet<String> = unpacked
            .iter()
            .map(|(key, first, data)| {
                let e = parse_input_event(data).unwrap_or_else(|e| panic!("{name}: {e}"));
                if *first {
                    assert_eq!(
                        *key,
                        e.user_id.to_string(),
                        "a record is keyed by its first event's user"
                    );
                }
                e.event_id.unwrap().into_owned()
            })
            .collect();
        assert_eq!(ids.len(), expected, "{name}: event ids are unique");
    }
}

#[tokio::test]
async fn scheduled_events_fall_in_the_window_ending_at_the_tick() {
    let (summary, accepted) = run("scheduled-rule.json").await;
    assert_eq!(summary.window_end, "2026-11-21T12:00:00.000Z");
    assert_eq!(summary.window_start, "2026-11-21T11:59:00.000Z");
    for (_, _, data) in events(&accepted) {
        let e = parse_input_event(data).unwrap();
        let t = e.occurred_at.to_rfc3339();
        assert!(
            t.as_str() >= "2026-11-21T11:59:00.000Z" && t.as_str() < "2026-11-21T12:00:00.000Z",
            "{t}"
        );
    }
}

#[tokio::test]
async fn a_retried_tick_regenerates_the_same_event_ids() {
    let mut retried = sample("scheduled-rule.json");
    retried["id"] = serde_json::json!("a-different-delivery-id");
    let sink = Arc::new(MemorySink::new(BatchLimits::KINESIS));
    let state = Producer::new(Config::default(), MemorySinks(sink.clone()));
    let first = handle(
        &state,
        LambdaEvent::new(sample("scheduled-rule.json"), Context::default()),
    )
    .await
    .unwrap();
    let mut ctx = Context::default();
    ctx.request_id = "another-request".into();
    let second = handle(&state, LambdaEvent::new(retried, ctx)).await.unwrap();
    assert_eq!(first.seed, second.seed);
    let accepted = sink.accepted();
    assert_eq!(accepted.len(), 2 * first.records);
    assert_eq!(
        accepted[..first.records],
        accepted[first.records..],
        "byte-identical records, event ids included"
    );
}

#[tokio::test]
async fn dry_run_plans_batches_without_sending() {
    let sink = Arc::new(MemorySink::new(BatchLimits::KINESIS));
    let state = Producer::new(Config::default(), MemorySinks(sink.clone()));
    let payload = serde_json::json!({"events": 1200, "dry_run": true});
    let summary = handle(&state, LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    assert!(summary.dry_run);
    assert_eq!(summary.generated, 1200);
    assert_eq!(summary.delivered, 0);
    // 1,200 events of about 230 bytes: about a dozen packed records, one
    // request.
    assert!(summary.records < 20, "{summary:?}");
    assert_eq!(summary.batches, 1);
    assert!(sink.accepted().is_empty());
}

#[tokio::test]
async fn an_unconfigured_sink_override_is_refused() {
    let state = Producer::new(
        Config::default(),
        MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
    );
    let err = handle(
        &state,
        LambdaEvent::new(serde_json::json!({"sink": "kinesis"}), Context::default()),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("`sink`: kinesis is not configured"), "{err}");
    assert!(err.to_string().contains("STREAM_NAME"), "{err}");
}
