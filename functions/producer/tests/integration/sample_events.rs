//! The sample events in `events/producer/` parse and run against an in-memory
//! sink, and what the producer writes is exactly what the transformer reads.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use chat_pipeline::input::parse_input_event;
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
        assert_eq!(accepted.len(), expected, "{name}");
        assert!(!summary.dry_run);
        let ids: HashSet<String> = accepted
            .iter()
            .map(|r| {
                let e = parse_input_event(&r.data).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(r.partition_key, e.user_id.to_string(), "keyed by user");
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
    for r in &accepted {
        let e = parse_input_event(&r.data).unwrap();
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
    assert_eq!(accepted.len(), 1000);
    assert_eq!(accepted[..500], accepted[500..], "byte-identical events, ids included");
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
    assert_eq!(summary.batches, 3);
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
