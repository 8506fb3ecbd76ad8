//! The 6 MB response limit: answers past the budget are re-ingested into the
//! source (mocked Kinesis and Firehose SDK clients, with partial failures and
//! throttling) and marked `Dropped`, or `ProcessingFailed` when they cannot be.

use crate::support::answered;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_smithy_mocks::{MockResponse, RuleMode, mock};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::AwsSinks;
use chat_pipeline::input::parse_input_event;
use chat_pipeline::test_util::{firehose_reply, mock_firehose, mock_kinesis};
use testkit::synthetic::{Format, Source, transformation_event};
use transformer::firehose::{RESPONSE_BUDGET, RecordResult, TransformationResponse};
use transformer::{Config, Transformer};

fn fast(mut config: Config) -> Config {
    config.retry.base_delay = std::time::Duration::from_millis(1);
    config.retry.max_delay = std::time::Duration::from_millis(2);
    config
}

fn ok_line(data: &str) -> serde_json::Value {
    serde_json::from_slice(&STANDARD.decode(data).unwrap()).unwrap()
}

fn results(resp: &TransformationResponse) -> HashMap<RecordResult, usize> {
    let mut m = HashMap::new();
    for r in &resp.records {
        *m.entry(r.result).or_default() += 1;
    }
    m
}

/// What a mocked service accepted: (partition key, data) per record.
type Accepted = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

#[tokio::test]
async fn kinesis_source_overflow_is_reingested_with_partial_failures_and_throttling() {
    let event = transformation_event(Format::Plain, Source::KinesisStream, 20_000);
    let accepted: Accepted = Arc::default();
    let calls = Arc::new(Mutex::new(0usize));
    let (acc, n) = (accepted.clone(), calls.clone());
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_response(move |req| {
        let mut call = n.lock().unwrap();
        *call += 1;
        if *call == 2 {
            return MockResponse::Error(chat_pipeline::test_util::kinesis_throttled("Rate exceeded"));
        }
        let entries = req.records();
        let entries_out = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                // The first request refuses every other record.
                if *call == 1 && i % 2 == 0 {
                    PutRecordsResultEntry::builder()
                        .error_code("ProvisionedThroughputExceededException")
                        .build()
                } else {
                    acc.lock().unwrap().push((
                        e.partition_key().unwrap_or_default().to_owned(),
                        e.data().as_ref().to_vec(),
                    ));
                    PutRecordsResultEntry::builder()
                        .sequence_number("1")
                        .shard_id("shardId-000000000000")
                        .build()
                }
            })
            .collect();
        let failed = if *call == 1 {
            entries.len().div_ceil(2) as i32
        } else {
            0
        };
        MockResponse::Output(
            PutRecordsOutput::builder()
                .failed_record_count(failed)
                .set_records(Some(entries_out))
                .build()
                .unwrap(),
        )
    });
    let kinesis = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let state = Transformer::new(
        fast(Config::default()),
        AwsSinks::new(LazyClients::with_clients(Some(kinesis), None)),
    );
    let original = event.clone();
    let (response, summary) = answered(&state, event, None).await;

    let serialized = serde_json::to_vec(&response).unwrap();
    assert!(serialized.len() <= RESPONSE_BUDGET, "{} bytes", serialized.len());
    assert_eq!(serialized.len(), summary.response_bytes);
    // Compact answers are reserved at the size of `ProcessingFailed` (the
    // longer result), so up to 9 bytes per overflow record stay unused.
    assert!(
        serialized.len() + 9 * summary.reingested + 1_000 > RESPONSE_BUDGET,
        "the budget is used, not wasted: {} bytes",
        serialized.len()
    );
    let counts = results(&response);
    assert_eq!(counts.get(&RecordResult::ProcessingFailed), None);
    assert_eq!(summary.ok + summary.reingested, 20_000);
    assert!(summary.reingested > 5_000, "{summary:?}");

    // Every overflow record was accepted exactly once, with its original
    // partition key, as a canonical event that keeps its derived event_id.
    let accepted = accepted.lock().unwrap().clone();
    assert_eq!(accepted.len(), summary.reingested);
    let mut seen = std::collections::HashSet::new();
    let first_overflow = summary.ok;
    for (pk, data) in accepted.iter() {
        let e = parse_input_event(data).unwrap();
        assert!(
            seen.insert(e.event_id.clone().unwrap().into_owned()),
            "re-ingested twice"
        );
        let _ = pk;
    }
    for (i, (record, answer)) in original.records.iter().zip(&response.records).enumerate() {
        assert_eq!(record.record_id, answer.record_id);
        if i >= first_overflow {
            assert_eq!(answer.result, RecordResult::Dropped);
            assert!(answer.data.is_empty());
        } else {
            assert_eq!(answer.result, RecordResult::Ok);
        }
    }
    // Keys and ids line up with the original records.
    let by_key: HashMap<String, usize> = accepted.iter().fold(HashMap::new(), |mut m, (pk, _)| {
        *m.entry(pk.clone()).or_default() += 1;
        m
    });
    let mut expected_keys: HashMap<String, usize> = HashMap::new();
    for r in &original.records[first_overflow..] {
        *expected_keys
            .entry(r.kinesis_record_metadata.as_ref().unwrap().partition_key.to_string())
            .or_default() += 1;
    }
    assert_eq!(by_key, expected_keys);
    // Reprocessing a re-ingested record yields the event_id the original would have had.
    let last = &original.records[19_999];
    let (reprocessed, _) = answered(
        &Transformer::new(Config::default(), AwsSinks::default()),
        transformer::firehose::TransformationEvent {
            records: vec![last.clone()],
            ..original.clone()
        },
        None,
    )
    .await;
    let expected_id = ok_line(&reprocessed.records[0].data)["event_id"].clone();
    assert!(
        accepted
            .iter()
            .any(|(_, d)| { parse_input_event(d).unwrap().event_id.as_deref() == expected_id.as_str() })
    );
}

#[tokio::test]
async fn persistent_refusal_marks_exactly_the_unaccepted_records_processing_failed() {
    let event = transformation_event(Format::Producer, Source::KinesisStream, 3_000);
    let mut config = fast(Config::default());
    config.response_budget = 1_000_000;
    config.retry.max_attempts = 3;
    // Every attempt refuses the first record of each request.
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(|req| {
        let out = (0..req.records().len())
            .map(|i| {
                if i == 0 {
                    PutRecordsResultEntry::builder().error_code("InternalFailure").build()
                } else {
                    PutRecordsResultEntry::builder()
                        .sequence_number("1")
                        .shard_id("s")
                        .build()
                }
            })
            .collect();
        PutRecordsOutput::builder()
            .failed_record_count(1)
            .set_records(Some(out))
            .build()
            .unwrap()
    });
    let kinesis = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let state = Transformer::new(config, AwsSinks::new(LazyClients::with_clients(Some(kinesis), None)));
    let (response, summary) = answered(&state, event, None).await;
    assert!(serde_json::to_vec(&response).unwrap().len() <= 1_000_000);
    // Each batch keeps refusing one record until the attempts run out.
    let batches = (3_000 - summary.ok).div_ceil(500);
    assert_eq!(summary.reingest_failed, batches);
    assert_eq!(results(&response)[&RecordResult::ProcessingFailed], batches);
    assert_eq!(summary.ok + summary.reingested + summary.reingest_failed, 3_000);
}

#[tokio::test]
async fn direct_put_overflow_goes_back_into_the_delivery_stream() {
    let event = transformation_event(Format::Producer, Source::DirectPut, 2_000);
    let accepted: Accepted = Arc::default();
    let acc = accepted.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch)
        .match_requests(|req| req.delivery_stream_name() == Some("chat-events-delivery"))
        .then_compute_output(move |req| {
            for r in req.records() {
                acc.lock().unwrap().push((String::new(), r.data().as_ref().to_vec()));
            }
            firehose_reply(req.records().len(), |_| false, "")
        });
    let firehose = mock_firehose(RuleMode::MatchAny, &[&rule]);
    let mut config = fast(Config::default());
    config.response_budget = 500_000;
    let state = Transformer::new(config, AwsSinks::new(LazyClients::with_clients(None, Some(firehose))));
    let (response, summary) = answered(&state, event, None).await;
    assert!(serde_json::to_vec(&response).unwrap().len() <= 500_000);
    assert!(summary.reingested > 0);
    assert_eq!(accepted.lock().unwrap().len(), summary.reingested);
    assert_eq!(summary.ok + summary.reingested, 2_000);
}

#[tokio::test]
async fn without_reingestion_overflow_is_processing_failed_and_no_client_is_built() {
    let event = transformation_event(Format::Plain, Source::DirectPut, 1_000);
    let config = Config {
        reingest: false,
        response_budget: 300_000,
        ..Config::default()
    };
    let state = Transformer::new(config, AwsSinks::default());
    let (response, summary) = answered(&state, event, None).await;
    assert!(serde_json::to_vec(&response).unwrap().len() <= 300_000);
    assert_eq!(summary.ok + summary.failed, 1_000);
    assert!(summary.failed > 0);
    assert_eq!(summary.reingested, 0);
    assert!(
        !state.sinks.clients().any_built(),
        "no SDK client for a batch without re-ingestion"
    );
}

#[tokio::test]
async fn a_normal_batch_builds_no_sdk_client() {
    let state = Transformer::new(Config::default(), AwsSinks::default());
    let event = transformation_event(Format::Producer, Source::KinesisStream, 500);
    let (_, summary) = answered(&state, event, None).await;
    assert_eq!(summary.ok, 500);
    assert!(!state.sinks.clients().any_built());
}

// On tokio's paused clock: the backoff and the deadline are virtual time, so
// the assertion on when it stopped cannot flake on a loaded machine.
#[tokio::test(start_paused = true)]
async fn reingestion_stops_at_the_deadline() {
    let event = transformation_event(Format::Plain, Source::KinesisStream, 1_000);
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .then_error(|| chat_pipeline::test_util::kinesis_throttled("Rate exceeded"));
    let kinesis = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let mut config = Config {
        response_budget: 300_000,
        ..Config::default()
    };
    config.retry.max_attempts = 20;
    config.retry.base_delay = std::time::Duration::from_millis(40);
    let state = Transformer::new(config, AwsSinks::new(LazyClients::with_clients(Some(kinesis), None)));
    let started = tokio::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(300);
    let (response, summary) = answered(&state, event, Some(deadline)).await;
    // Stopped at the deadline, well before the 20 attempts' worth of backoff
    // (virtual time: only sleeps advance it).
    assert!(
        tokio::time::Instant::now() <= deadline,
        "{:?} past the deadline",
        tokio::time::Instant::now() - deadline
    );
    assert!(rule.num_calls() >= 2, "it retried before giving up");
    assert_eq!(summary.reingested, 0);
    assert_eq!(summary.reingest_failed, 1_000 - summary.ok);
    assert_eq!(
        results(&response)[&RecordResult::ProcessingFailed],
        summary.reingest_failed
    );
}
