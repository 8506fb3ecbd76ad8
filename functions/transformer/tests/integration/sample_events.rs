//! Golden tests: each sample event in `events/transformer/` is answered
//! exactly as its checked-in `*.expected.json` says, and both sides of the
//! contract parse with `aws_lambda_events`' independent Firehose types.
//!
//! After an intended change of output, regenerate the expected files with
//! `UPDATE_EXPECTED=1 cargo test -p transformer --test integration sample_events` and
//! review the diff.

use std::path::PathBuf;
use std::sync::Arc;

use aws_lambda_events::event::firehose::{KinesisFirehoseEvent, KinesisFirehoseResponse};
use bytes::Bytes;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::MemorySink;
use chat_pipeline::test_util::MemorySinks;
use lambda_runtime::{Context, LambdaEvent};
use transformer::firehose::TransformationEvent;
use transformer::{Config, Transformer, handle, respond};

const SAMPLES: [&str; 7] = [
    "aws-sample-shapes",
    "direct-put",
    "kinesis-source",
    "plain-python-producer",
    "mixed-invalid",
    "duplicates",
    // What the warehouses must agree on (make warehouse-test feeds it to
    // Redshift's views and Snowflake's pipe): every spelling the transformer
    // accepts, and the near misses it refuses.
    "edge-cases",
];

fn sample_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../events/transformer")
        .join(name)
}

async fn answer(name: &str) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(sample_path(&format!("{name}.json"))).unwrap();
    // What the runtime received, as `transformer::runtime` hands it to the handler.
    let body = Bytes::from(bytes);
    let state = Transformer::new(
        Config::default(),
        MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
    );
    let summary = respond(&state, &body, None).await.unwrap().summary;
    let response = handle(&state, LambdaEvent::new(body, Context::default()))
        .await
        .unwrap();
    let serialized = serde_json::to_vec(&response).unwrap();
    assert_eq!(
        serialized.len(),
        summary.response_bytes,
        "{name}: size accounting is exact"
    );
    (serde_json::from_slice(&serialized).unwrap(), serialized)
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_response() {
    for name in SAMPLES {
        let (actual, _) = answer(name).await;
        let expected_path = sample_path(&format!("{name}.expected.json"));
        if std::env::var_os("UPDATE_EXPECTED").is_some() {
            let mut text = serde_json::to_string_pretty(&actual).unwrap();
            text.push('\n');
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&expected_path).unwrap_or_else(|e| panic!("{}: {e}", expected_path.display())),
        )
        .unwrap();
        assert_eq!(
            actual,
            expected,
            "{name}: response differs from {}",
            expected_path.display()
        );
    }
}

#[tokio::test]
async fn responses_parse_as_aws_lambda_events_types_with_every_record_id_once_in_order() {
    for name in SAMPLES {
        let request: serde_json::Value =
            serde_json::from_slice(&std::fs::read(sample_path(&format!("{name}.json"))).unwrap()).unwrap();
        let (_, serialized) = answer(name).await;
        let response: KinesisFirehoseResponse = serde_json::from_slice(&serialized).unwrap();
        let ids_in: Vec<&str> = request["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["recordId"].as_str().unwrap())
            .collect();
        let ids_out: Vec<&str> = response
            .records
            .iter()
            .map(|r| r.record_id.as_deref().unwrap())
            .collect();
        assert_eq!(ids_in, ids_out, "{name}");
        for r in &response.records {
            let result = r.result.as_deref().unwrap();
            assert!(
                ["Ok", "Dropped", "ProcessingFailed"].contains(&result),
                "{name}: {result}"
            );
            if result == "Ok" {
                assert_eq!(r.data.last(), Some(&b'\n'), "{name}: Ok data ends with a newline");
                let keys: Vec<_> = {
                    let mut k: Vec<_> = r.metadata.partition_keys.keys().cloned().collect();
                    k.sort();
                    k
                };
                assert_eq!(keys, ["dt", "event_type"]);
            }
        }
    }
}

/// AWS's own sample events (the Lambda console's and SAM CLI's test events)
/// spell the envelope loosely; each record is still answered on its own.
#[tokio::test]
async fn aws_sample_envelope_shapes_are_answered_per_record() {
    let (actual, _) = answer("aws-sample-shapes").await;
    let results: Vec<&str> = actual["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "ProcessingFailed",
            "Ok",
            "Ok",
            "Ok",
            "ProcessingFailed",
            "ProcessingFailed"
        ],
        "not JSON; ISO arrival and empty subsequence; string subsequence; byte-order mark; unreadable subsequence; unreadable arrival"
    );
    let line = |i: usize| -> serde_json::Value {
        use base64::Engine;
        let b64 = actual["records"][i]["data"].as_str().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap()
    };
    assert_eq!(line(1)["received_at"], "2026-11-22T00:00:01.250Z");
    assert_eq!(actual["records"][1]["metadata"]["partitionKeys"]["dt"], "2026-11-22");
    assert_eq!(line(3)["event_type"], "leave");
    // An old event lands under the day it arrived, where a query finds it.
    assert_eq!(line(3)["occurred_at"], "2023-12-12T10:00:00.123Z");
    assert_eq!(actual["records"][3]["metadata"]["partitionKeys"]["dt"], "2026-11-22");
}

#[test]
fn valid_sample_events_parse_as_aws_lambda_events_types() {
    // mixed-invalid is left out on purpose: it holds a record whose data is
    // not base64, which aws_lambda_events rejects for the whole event.
    for name in ["direct-put", "kinesis-source", "plain-python-producer", "duplicates"] {
        let bytes = std::fs::read(sample_path(&format!("{name}.json"))).unwrap();
        let theirs: KinesisFirehoseEvent = serde_json::from_slice(&bytes).unwrap();
        let ours: TransformationEvent<'_> = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(theirs.records.len(), ours.records.len());
        assert_eq!(theirs.source_kinesis_stream_arn, ours.source_kinesis_stream_arn);
        for (t, o) in theirs.records.iter().zip(&ours.records) {
            assert_eq!(t.record_id.as_deref(), Some(&*o.record_id));
            // aws_lambda_events converts through f64 and can lose a millisecond
            // (1795305600007 becomes ...006); ours keeps the integer.
            let diff = t.approximate_arrival_timestamp.timestamp_millis() - o.approximate_arrival_timestamp.0.millis();
            assert!((-1..=0).contains(&diff), "{name}: {diff} ms apart");
            assert_eq!(
                t.kinesis_firehose_record_metadata
                    .as_ref()
                    .and_then(|m| m.sequence_number.clone()),
                o.kinesis_record_metadata
                    .as_ref()
                    .map(|m| m.sequence_number.clone().into_owned())
            );
        }
    }
}
