//! The 6 MB response limit: answers past the budget are re-ingested into the
//! source (mocked Kinesis and Firehose SDK clients, with partial failures and
//! throttling) and marked `Dropped`, or `ProcessingFailed` when they cannot be.

use crate::support::answered;

use std::collections::HashMap;

use aws_smithy_mocks::{MockResponse, RuleMode, mock};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::AwsSinks;
use chat_pipeline::input::parse_input_event;
use chat_pipeline::test_util::{Acceptances, firehose_reply, kinesis_reply, mock_firehose, mock_kinesis};
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

#[tokio::test]
async fn kinesis_source_overflow_is_reingested_with_partial_failures_and_throttling() {
    let event = transformation_event(Format::Plain, Source::KinesisStream, 20_000);
    let service = Acceptances::default();
    let s = service.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_response(move |req| {
        let call = s.kinesis_request(req);
        if call == 2 {
            return MockResponse::Error(chat_pipeline::test_util::kinesis_throttled("Rate exceeded"));
        }
        // The first request refuses every other record.
        let refuse = move |i: usize| call == 1 && i.is_multiple_of(2);
        s.accept_kinesis(req, refuse);
        MockResponse::Output(kinesis_reply(
            req.records().len(),
            refuse,
            "ProvisionedThroughputExceededException",
        ))
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
    let accepted = service.accepted();
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
        *m.entry(pk.clone().unwrap_or_default()).or_default() += 1;
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
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .then_compute_output(|req| kinesis_reply(req.records().len(), |i| i == 0, "InternalFailure"));
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
    let service = Acceptances::default();
    let s = service.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch)
        .match_requests(|req| req.delivery_stream_name() == Some("chat-events-delivery"))
        .then_compute_output(move |req| {
            s.firehose_request(req);
            s.accept_firehose(req, |_| false);
            firehose_reply(req.records().len(), |_| false, "")
        });
    let firehose = mock_firehose(RuleMode::MatchAny, &[&rule]);
    let mut config = fast(Config::default());
    config.response_budget = 500_000;
    let state = Transformer::new(config, AwsSinks::new(LazyClients::with_clients(None, Some(firehose))));
    let (response, summary) = answered(&state, event, None).await;
    assert!(serde_json::to_vec(&response).unwrap().len() <= 500_000);
    assert!(summary.reingested > 0);
    assert!(service.each_once(summary.reingested));
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
