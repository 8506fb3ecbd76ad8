//! Invariants of the Firehose contract over arbitrary record bytes: every
//! recordId answered exactly once and in order, only valid results, valid
//! base64 data, `Ok` data exactly one JSON line, the response within budget
//! and its size accounted exactly, and no panic.

use crate::generators::{envelope_value, payload};
use crate::support::answered;
use crate::support::runtime;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::MemorySink;
use chat_pipeline::test_util::MemorySinks;
use proptest::prelude::*;
use testkit::synthetic::{DELIVERY_STREAM_ARN, SOURCE_STREAM_ARN, Source, record};
use transformer::firehose::{
    RecordResult, ResponseMetadata, ResponseRecord, TransformationEvent, TransformationResponse,
};
use transformer::{Config, Transformer};

/// A record's `data`: base64 of an event, or text that is not base64 (some
/// with characters JSON escapes), or another JSON type.
fn data_value() -> impl Strategy<Value = serde_json::Value> {
    let event = STANDARD.encode(br#"{"event_name":"JOIN","event_time":"2026-11-22T00:00:00Z","user":1}"#);
    prop_oneof![
        3 => Just(serde_json::json!(event)),
        1 => "[A-Za-z0-9+/=\\r\\n\\t\"\\\\\u{0}\u{1f}é]{0,40}".prop_map(|s| serde_json::json!(s)),
        1 => envelope_value(),
    ]
}

proptest! {
    #![proptest_config(crate::generators::config(200))]

    #[test]
    fn contract_holds_for_any_records(
        payloads in proptest::collection::vec(payload(), 0..40),
        kinesis in any::<bool>(),
        reingest in any::<bool>(),
        extra_budget in 0usize..20_000,
        drop_leave in any::<bool>(),
    ) {
        let source = if kinesis { Source::KinesisStream } else { Source::DirectPut };
        let records: Vec<_> = payloads.iter().enumerate().map(|(i, p)| record(source, i, p)).collect();
        let event = TransformationEvent {
            invocation_id: "i".into(),
            delivery_stream_arn: DELIVERY_STREAM_ARN.into(),
            source_kinesis_stream_arn: kinesis.then(|| SOURCE_STREAM_ARN.into()),
            region: "us-east-1".into(),
            records,
        };
        let ids: Vec<String> = event.records.iter().map(|r| r.record_id.to_string()).collect();
        // The response with every record answered in its compact form
        // (ProcessingFailed, no data), measured as serde writes it.
        let compact_total = serde_json::to_vec(&TransformationResponse {
            records: ids
                .iter()
                .map(|id| ResponseRecord {
                    record_id: id.clone(),
                    result: RecordResult::ProcessingFailed,
                    data: String::new(),
                    metadata: ResponseMetadata::NONE,
                })
                .collect(),
        })
        .unwrap()
        .len();
        let mut config = Config {
            reingest,
            response_budget: compact_total + extra_budget,
            ..Config::default()
        };
        if drop_leave {
            config.drop_event_types.insert(chat_pipeline::event::EventType::Leave);
        }
        let sink = Arc::new(MemorySink::new(BatchLimits::KINESIS));
        let state = Transformer::new(config, MemorySinks(sink.clone()));
        let (response, summary) = runtime().block_on(answered(&state, event, None));

        let answered: Vec<&str> = response.records.iter().map(|r| r.record_id.as_str()).collect();
        prop_assert_eq!(answered, ids.iter().map(String::as_str).collect::<Vec<_>>());
        let serialized = serde_json::to_vec(&response).unwrap();
        prop_assert_eq!(serialized.len(), response.json_len());
        prop_assert!(serialized.len() <= compact_total + extra_budget);
        let parsed: aws_lambda_events::event::firehose::KinesisFirehoseResponse =
            serde_json::from_slice(&serialized).unwrap();
        for (r, p) in response.records.iter().zip(&parsed.records) {
            let data = STANDARD.decode(&r.data).unwrap();
            prop_assert_eq!(&data, &p.data.0);
            match r.result {
                RecordResult::Ok => {
                    prop_assert_eq!(data.iter().filter(|&&b| b == b'\n').count(), 1);
                    prop_assert_eq!(data.last(), Some(&b'\n'));
                    let line: serde_json::Value = serde_json::from_slice(&data).unwrap();
                    prop_assert_eq!(line["schema_version"].as_u64(), Some(1));
                    prop_assert_eq!(p.metadata.partition_keys.len(), chat_pipeline::output::PARTITION_KEYS.len());
                }
                RecordResult::Dropped => prop_assert!(data.is_empty()),
                RecordResult::ProcessingFailed => {}
            }
        }
        prop_assert_eq!(summary.ok + summary.dropped + summary.failed, payloads.len());
        prop_assert_eq!(sink.accepted().len(), summary.reingested);
    }
}

proptest! {
    #![proptest_config(crate::generators::config(200))]

    /// With a readable, unique recordId per record, no envelope value fails
    /// the invocation: every record is answered once, in order, and one whose
    /// envelope cannot be read is ProcessingFailed on its own. Whatever `data`
    /// held (base64, text with characters JSON must escape, another type),
    /// every answer's data is base64 and the response is JSON.
    #[test]
    fn no_envelope_value_fails_the_invocation(
        fields in proptest::collection::vec(
            (envelope_value(), envelope_value(), envelope_value(), envelope_value(), any::<bool>(), data_value()),
            1..20,
        ),
    ) {
        let records: Vec<serde_json::Value> = fields
            .iter()
            .enumerate()
            .map(|(i, (arrival, subsequence, meta_arrival, shard, with_metadata, data))| {
                let mut r = serde_json::json!({
                    "recordId": format!("r-{i}"),
                    "approximateArrivalTimestamp": arrival,
                    "data": data,
                });
                if *with_metadata {
                    r["kinesisRecordMetadata"] = serde_json::json!({
                        "shardId": shard,
                        "partitionKey": "1",
                        "sequenceNumber": format!("{i}"),
                        "subsequenceNumber": subsequence,
                        "approximateArrivalTimestamp": meta_arrival,
                    });
                }
                r
            })
            .collect();
        let body = serde_json::json!({"deliveryStreamArn": DELIVERY_STREAM_ARN, "records": records});
        let body = body.to_string();
        let event: TransformationEvent<'_> = serde_json::from_str(&body).unwrap();
        let unreadable: Vec<bool> = event.records.iter().map(|r| r.envelope_error.is_some()).collect();
        let state = Transformer::new(
            Config::default(),
            MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
        );
        let (response, _) = runtime().block_on(answered(&state, event, None));
        prop_assert_eq!(response.records.len(), fields.len());
        let serialized = serde_json::to_vec(&response).unwrap();
        prop_assert!(serde_json::from_slice::<serde_json::Value>(&serialized).is_ok());
        for (i, (answer, unreadable)) in response.records.iter().zip(unreadable).enumerate() {
            prop_assert_eq!(&answer.record_id, &format!("r-{i}"));
            prop_assert!(STANDARD.decode(&answer.data).is_ok(), "data {:?} is not base64", answer.data);
            if unreadable {
                prop_assert_eq!(answer.result, RecordResult::ProcessingFailed);
            }
        }
    }
}
