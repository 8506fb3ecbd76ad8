//! The replay command's AWS path on the emulator: error objects read from
//! the bucket for a range of days (and only those), each event re-sent once
//! into the stream with the shared delivery code, what would fail again
//! reported and not sent, and the re-sent events landing through the
//! Firehose stand-in and the transformer.

use std::collections::HashSet;
use std::io::Write;

use base64_simd::STANDARD;
use chat_pipeline::delivery::DeliveryOptions;
use chat_pipeline::sink::KinesisSink;
use harness::lake;
use harness::pipeline::LocalPipeline;
use harness::replay;

fn event(i: u32) -> (String, Vec<u8>) {
    let id = format!("5f0c2c4e-8d1a-4b7e-9c3d-{i:012}");
    let data = format!(r#"{{"event_id":"{id}","event_name":"JOIN","event_time":"2026-12-01T12:00:00Z","user":{i}}}"#);
    (id, data.into_bytes())
}

fn error_object(records: &[&[u8]], code: &str) -> Vec<u8> {
    let mut text = String::new();
    for data in records {
        let line = serde_json::json!({
            "attemptsMade": 4,
            // 2026-12-01T12:00:00Z, the events' time: an event a day or
            // more ahead of its arrival fails (event_time_ahead).
            "arrivalTimestamp": 1_796_126_400_000_i64,
            "errorCode": code,
            "errorMessage": "The Lambda function was successfully invoked but it returned an error result.",
            "attemptEndingTimestamp": 1_796_126_401_000_i64,
            "rawData": STANDARD.encode_to_string(data),
            "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:transformer",
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the emulator (moto) from `make setup`; `make test` runs it"]
async fn replay_reads_the_days_asked_resends_each_event_once_and_they_land() {
    let pipeline = LocalPipeline::for_tests("e2e-replay").await;
    let names = &pipeline.names;
    let s3 = pipeline.s3();

    let (ids, events): (Vec<String>, Vec<Vec<u8>>) = (1..=3).map(event).unzip();
    let (outside_id, outside) = event(9);
    let bad: &[u8] = br#"{"event_name":"DANCE","event_time":"2026-12-01T12:00:00Z","user":7}"#;
    let [processing, partitioning] = replay::ERROR_PREFIXES;
    let objects = [
        (
            processing,
            "dt=2026-12-01/a.gz",
            error_object(&[&events[0], &events[1], bad], "Lambda.FunctionError"),
        ),
        // The same event failed twice: re-sent once. Under the other error
        // type's prefix: both are read.
        (
            partitioning,
            "dt=2026-12-02/b.gz",
            error_object(
                &[&events[2], &events[0]],
                "DynamicPartitioning.MetadataExtractionFailed",
            ),
        ),
        // Outside the days asked for: not read.
        (
            processing,
            "dt=2026-11-30/c.gz",
            error_object(&[&outside], "Lambda.FunctionError"),
        ),
    ];
    for (prefix, key, body) in objects {
        s3.put_object()
            .bucket(&names.bucket)
            .key(format!("{prefix}{key}"))
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    let days = replay::days_between("2026-12-01", "2026-12-02").unwrap();
    let read = replay::s3_error_objects(&s3, &names.bucket, &days).await.unwrap();
    assert_eq!(read.len(), 2);
    let (records, unreadable) = replay::read_error_records(&read);
    assert!(unreadable.is_empty(), "{unreadable:?}");
    let plan = replay::plan(records);
    assert_eq!(plan.resend.len(), 3);
    assert_eq!(plan.duplicates, 1);
    assert_eq!(plan.still_failing.len(), 1);
    assert_eq!(plan.still_failing[0].1, "unknown_event_type");

    let sink = KinesisSink::new(pipeline.kinesis(), &names.stream);
    let delivery = replay::send(&sink, &plan, &DeliveryOptions::default()).await;
    assert!(delivery.is_complete(), "{delivery}");

    let mut firehose = pipeline.firehose_in_process();
    let stats = firehose.drain().await.unwrap();
    assert_eq!((stats.records_read, stats.ok), (3, 3), "{stats:?}");
    let mut landed = HashSet::new();
    for object in lake::objects(&s3, &names.bucket, "events/").await.unwrap() {
        for line in lake::lines(&object) {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert!(
                landed.insert(v["event_id"].as_str().unwrap().to_owned()),
                "an event landed twice"
            );
        }
    }
    assert_eq!(landed, ids.into_iter().collect::<HashSet<_>>());
    assert!(!landed.contains(&outside_id));
}
