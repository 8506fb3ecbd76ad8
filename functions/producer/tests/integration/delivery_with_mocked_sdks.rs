//! Delivery through the real Kinesis and Firehose clients, with responses
//! from `aws-smithy-mocks`: partial failures, throttling, persistent failure,
//! batch limits and the Lambda deadline. Every delivered event is counted by
//! its event_id.

use std::collections::HashMap;
use std::time::Duration;

use aws_smithy_mocks::{MockResponse, RuleMode, mock};
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::{AwsSinks, DestinationKind};
use chat_pipeline::input::parse_input_event;
use chat_pipeline::test_util::{Acceptances, firehose_reply, kinesis_reply, mock_firehose, mock_kinesis};
use chat_pipeline::timestamp::Timestamp;
use producer::handler::{ProducerError, run};
use producer::trigger::parse_trigger;
use producer::{Config, Producer};

/// Every event the service accepted exactly once (`n` of them), each under
/// its user as partition key where the service has keys (Kinesis).
fn each_event_once(service: &Acceptances, n: usize) -> bool {
    let mut times: HashMap<String, usize> = HashMap::new();
    for (key, data) in service.accepted() {
        let event = parse_input_event(&data).unwrap();
        if let Some(key) = key {
            assert_eq!(key, event.user_id.to_string(), "partition key is the user");
        }
        *times.entry(event.event_id.unwrap().into_owned()).or_default() += 1;
    }
    times.len() == n && times.values().all(|&t| t == 1)
}

fn config(sink: DestinationKind, events: u64) -> Config {
    let mut c = Config {
        sink,
        stream_name: Some("chat-events".into()),
        delivery_stream_name: Some("chat-events-delivery".into()),
        events_per_invocation: events,
        ..Config::default()
    };
    c.retry.base_delay = Duration::from_millis(1);
    c.retry.max_delay = Duration::from_millis(4);
    c
}

fn trigger(seed: u64) -> producer::trigger::Trigger {
    parse_trigger(&serde_json::json!({ "seed": seed }), "req", Timestamp::now()).unwrap()
}

fn kinesis_producer(rule: &aws_smithy_mocks::Rule, events: u64) -> Producer {
    let client = mock_kinesis(RuleMode::MatchAny, &[rule]);
    Producer::new(
        config(DestinationKind::Kinesis, events),
        AwsSinks::new(LazyClients::with_clients(Some(client), None)),
    )
}

#[tokio::test]
async fn kinesis_partial_failure_then_success_delivers_every_event_once() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        let call = s.kinesis_request(req);
        // First requests refuse every fourth record for throughput.
        let refuse = move |i: usize| call <= 3 && i.is_multiple_of(4);
        s.accept_kinesis(req, refuse);
        kinesis_reply(req.records().len(), refuse, "ProvisionedThroughputExceededException")
    });
    let state = kinesis_producer(&rule, 1_200);
    let summary = run(&state, &trigger(1), None).await.unwrap();
    assert!(each_event_once(&svc, 1_200));
    assert_eq!(summary.generated, 1_200);
    assert_eq!(summary.delivered, 1_200);
    assert_eq!(summary.batches, 3);
    assert_eq!(summary.retried_records, 125 + 125 + 50);
    assert_eq!(summary.sink, "kinesis:chat-events");
    for (records, bytes) in svc.requests() {
        assert!(records <= 500 && bytes <= 5 * 1024 * 1024);
    }
}

#[tokio::test]
async fn kinesis_throttling_exceptions_are_retried() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_response(move |req| {
        if s.kinesis_request(req) <= 2 {
            return MockResponse::Error(chat_pipeline::test_util::kinesis_throttled(
                "Rate exceeded for stream chat-events",
            ));
        }
        s.accept_kinesis(req, |_| false);
        MockResponse::Output(kinesis_reply(req.records().len(), |_| false, ""))
    });
    let state = kinesis_producer(&rule, 300);
    let summary = run(&state, &trigger(2), None).await.unwrap();
    assert!(each_event_once(&svc, 300));
    assert_eq!(summary.attempts, 3);
    assert_eq!(summary.retried_records, 600);
}

#[tokio::test]
async fn persistent_refusal_fails_the_invocation_with_the_exact_count() {
    let svc = Acceptances::default();
    let s = svc.clone();
    // Every request refuses its first 7 records, every time.
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        s.kinesis_request(req);
        s.accept_kinesis(req, |i| i < 7);
        kinesis_reply(req.records().len(), |i| i < 7, "InternalFailure")
    });
    let mut state = kinesis_producer(&rule, 1_000);
    state.config.retry.max_attempts = 3;
    let err = run(&state, &trigger(3), None).await.unwrap_err();
    // Two batches of 500; each ends with 7 refused records after 3 attempts.
    match &err {
        ProducerError::Undelivered {
            undelivered, generated, ..
        } => {
            assert_eq!((*undelivered, *generated), (14, 1_000));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(each_event_once(&svc, 986));
    let message = err.to_string();
    assert!(
        message.starts_with("14 of 1000 events were not delivered to kinesis:chat-events"),
        "{message}"
    );
    assert!(
        message.contains("14 InternalFailure after the last attempt"),
        "{message}"
    );
    assert_eq!(lambda_runtime::Diagnostic::from(err).error_type, "UndeliveredEvents");
}

// On tokio's paused clock: backoff sleeps and the deadline are virtual time,
// so the elapsed-time assertions hold however loaded the machine is.
#[tokio::test(start_paused = true)]
async fn the_deadline_stops_delivery_and_reports_what_is_left() {
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .then_error(|| chat_pipeline::test_util::kinesis_throttled("Rate exceeded"));
    let mut state = kinesis_producer(&rule, 100);
    state.config.retry.max_attempts = 20;
    state.config.retry.base_delay = Duration::from_millis(50);
    state.config.retry.max_delay = Duration::from_millis(400);
    let started = tokio::time::Instant::now();
    let err = run(&state, &trigger(4), Some(started + Duration::from_millis(500)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1_500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        rule.num_calls() >= 2 && rule.num_calls() < 20,
        "{} calls",
        rule.num_calls()
    );
    assert!(
        matches!(err, ProducerError::Undelivered { undelivered: 100, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("out of time"), "{err}");
}

#[tokio::test]
async fn firehose_throttling_and_partial_failure_deliver_every_event_once() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_response(move |req| {
        let call = s.firehose_request(req);
        if call == 1 {
            return MockResponse::Error(chat_pipeline::test_util::firehose_unavailable());
        }
        let refuse = move |i: usize| call == 2 && i % 3 == 1;
        s.accept_firehose(req, refuse);
        MockResponse::Output(firehose_reply(
            req.records().len(),
            refuse,
            "ServiceUnavailableException",
        ))
    });
    let client = mock_firehose(RuleMode::MatchAny, &[&rule]);
    let mut cfg = config(DestinationKind::Firehose, 700);
    cfg.max_in_flight = 1;
    let state = Producer::new(cfg, AwsSinks::new(LazyClients::with_clients(None, Some(client))));
    let summary = run(&state, &trigger(5), None).await.unwrap();
    assert!(each_event_once(&svc, 700));
    assert_eq!(summary.sink, "firehose:chat-events-delivery");
    for (records, bytes) in svc.requests() {
        assert!(records <= 500 && bytes <= 4 * 1024 * 1024);
    }
}
