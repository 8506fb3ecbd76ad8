//! The pieces of a local pipeline run that the demo and the end-to-end tests
//! share: producer state pointed at the emulator, scheduled events for given
//! ticks, the ids a tick must produce, malformed records, and parsing what
//! landed.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::{AwsSinks, DestinationKind};
use chat_pipeline::timestamp::Timestamp;
use producer::trigger::parse_trigger;

use crate::resources::Names;

/// A producer whose Kinesis and Firehose clients point at the emulator.
pub fn producer(config: &SdkConfig, names: &Names, sink: DestinationKind, events: u64) -> producer::Producer {
    let cfg = producer::Config {
        sink,
        stream_name: Some(names.stream.clone()),
        delivery_stream_name: Some(names.direct_put_stream.clone()),
        events_per_invocation: events,
        ..producer::Config::default()
    };
    let clients = LazyClients::with_clients(
        Some(aws_sdk_kinesis::Client::new(config)),
        Some(aws_sdk_firehose::Client::new(config)),
    );
    producer::Producer::new(cfg, AwsSinks::new(clients))
}

/// A transformer whose re-ingestion clients point at the emulator.
pub fn transformer(config: &SdkConfig) -> transformer::Transformer {
    let clients = LazyClients::with_clients(
        Some(aws_sdk_kinesis::Client::new(config)),
        Some(aws_sdk_firehose::Client::new(config)),
    );
    transformer::Transformer::new(transformer::Config::default(), AwsSinks::new(clients))
}

/// An EventBridge rule's scheduled event for the tick at `time`.
pub fn scheduled_event(time: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": format!("tick-{}", time.millis()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": crate::emulator::ACCOUNT,
        "time": time.to_rfc3339(),
        "region": crate::emulator::REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/chat-pipeline-local-producer-schedule"],
        "detail": {}
    })
}

/// The event ids the producer generates for `event` with `state`'s
/// configuration (generation is deterministic).
pub fn expected_ids(state: &producer::Producer, event: &serde_json::Value) -> Vec<String> {
    let trigger = parse_trigger(event, "expected", Timestamp::now()).unwrap_or_else(|e| panic!("{e}"));
    let plan = producer::handler::plan_for(&state.config, &trigger);
    producer::generator::generate(&plan)
        .iter()
        .map(|e| e.event_id.to_string())
        .collect()
}

/// Records that are not valid chat events, one per failure kind the demo
/// shows, with a partition key each.
pub fn malformed_records() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("not JSON", b"event_name=JOIN user=7".to_vec()),
        (
            "unknown event type",
            br#"{"event_name":"DANCE","event_time":"2026-11-21T12:00:00Z","user":7}"#.to_vec(),
        ),
        (
            "missing user",
            br#"{"event_name":"JOIN","event_time":"2026-11-21T12:00:00Z"}"#.to_vec(),
        ),
    ]
}

/// Putting a record straight into the stream failed.
#[derive(Debug, thiserror::Error)]
#[error("putting record {index} into {stream}: {message}")]
pub struct PutRawError {
    index: usize,
    stream: String,
    message: String,
}

/// Puts `records` straight into the stream, as a misbehaving producer would.
pub async fn put_raw(config: &SdkConfig, stream: &str, records: &[(&str, Vec<u8>)]) -> Result<(), PutRawError> {
    let kinesis = aws_sdk_kinesis::Client::new(config);
    for (index, (_, data)) in records.iter().enumerate() {
        kinesis
            .put_record()
            .stream_name(stream)
            .partition_key(format!("malformed-{index}"))
            .data(aws_sdk_kinesis::primitives::Blob::new(data.clone()))
            .send()
            .await
            .map_err(|e| PutRawError {
                index,
                stream: stream.to_owned(),
                message: chat_pipeline::sink::describe_chain(&e),
            })?;
    }
    Ok(())
}

/// Hive-style `key=value` pairs of an S3 key.
pub fn partitions_of(key: &str) -> BTreeMap<String, String> {
    key.split('/')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
