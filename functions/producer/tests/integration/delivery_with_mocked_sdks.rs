//! Delivery through the real Kinesis and Firehose clients, with responses
//! from `aws-smithy-mocks`: partial failures, throttling, persistent failure,
//! batch limits and the Lambda deadline. Every delivered event is counted by
//! its event_id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchOutput;
use aws_sdk_firehose::types::PutRecordBatchResponseEntry;
use aws_smithy_mocks::{MockResponse, RuleMode, mock};
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::{AwsSinks, DestinationKind};
use chat_pipeline::input::parse_input_event;
use chat_pipeline::test_util::{kinesis_reply, mock_firehose, mock_kinesis};
use chat_pipeline::timestamp::Timestamp;
use producer::handler::{ProducerError, run};
use producer::trigger::parse_trigger;
use producer::{Config, Producer};

/// Per event_id, how many times a mocked service accepted it; and the size
/// of every request.
#[derive(Clone, Default)]
struct Service {
    accepted: Arc<Mutex<HashMap<String, usize>>>,
    requests: Arc<Mutex<Vec<(usize, usize)>>>,
    calls: Arc<Mutex<usize>>,
}

impl Service {
    fn accept(&self, data: &[u8], key: Option<&str>) {
        let e = parse_input_event(data).unwrap();
        if let Some(key) = key {
            assert_eq!(key, e.user_id.to_string(), "partition key is the user");
        }
        *self
            .accepted
            .lock()
            .unwrap()
            .entry(e.event_id.unwrap().into_owned())
            .or_default() += 1;
    }
    fn call(&self, records: usize, bytes: usize) -> usize {
        self.requests.lock().unwrap().push((records, bytes));
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        *calls
    }
    fn each_exactly_once(&self, n: usize) -> bool {
        let a = self.accepted.lock().unwrap();
        a.len() == n && a.values().all(|&c| c == 1)
    }
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
    let svc = Service::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        let bytes: usize = req
            .records()
            .iter()
            .map(|r| r.data().as_ref().len() + r.partition_key().map_or(0, str::len))
            .sum();
        let call = s.call(req.records().len(), bytes);
        // First requests refuse every fourth record for throughput.
        let refuse = |i: usize| call <= 3 && i.is_multiple_of(4);
        for (i, r) in req.records().iter().enumerate() {
            if !refuse(i) {
                s.accept(r.data().as_ref(), r.partition_key());
            }
        }
        kinesis_reply(req.records().len(), refuse, "ProvisionedThroughputExceededException")
    });
    let state = kinesis_producer(&rule, 1_200);
    let summary = run(&state, &trigger(1), None).await.unwrap();
    assert!(svc.each_exactly_once(1_200));
    assert_eq!(summary.generated, 1_200);
    assert_eq!(summary.delivered, 1_200);
    assert_eq!(summary.batches, 3);
    assert_eq!(summary.retried_records, 125 + 125 + 50);
    assert_eq!(summary.sink, "kinesis:chat-events");
    for (records, bytes) in svc.requests.lock().unwrap().iter() {
        assert!(*records <= 500 && *bytes <= 5 * 1024 * 1024);
    }
}

#[tokio::test]
async fn kinesis_throttling_exceptions_are_retried() {
    let svc = Service::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_response(move |req| {
        if s.call(req.records().len(), 0) <= 2 {
            return MockResponse::Error(chat_pipeline::test_util::kinesis_throttled(
                "Rate exceeded for stream chat-events",
            ));
        }
        for r in req.records() {
            s.accept(r.data().as_ref(), r.partition_key());
        }
        MockResponse::Output(kinesis_reply(req.records().len(), |_| false, ""))
    });
    let state = kinesis_producer(&rule, 300);
    let summary = run(&state, &trigger(2), None).await.unwrap();
    assert!(svc.each_exactly_once(300));
    assert_eq!(summary.attempts, 3);
    assert_eq!(summary.retried_records, 600);
}

#[tokio::test]
async fn persistent_refusal_fails_the_invocation_with_the_exact_count() {
    let svc = Service::default();
    let s = svc.clone();
    // Every request refuses its first 7 records, every time.
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        s.call(req.records().len(), 0);
        for (i, r) in req.records().iter().enumerate() {
            if i >= 7 {
                s.accept(r.data().as_ref(), None);
            }
        }
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
    assert_eq!(svc.accepted.lock().unwrap().len(), 986);
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
    let svc = Service::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_response(move |req| {
        let bytes: usize = req.records().iter().map(|r| r.data().as_ref().len()).sum();
        let call = s.call(req.records().len(), bytes);
        if call == 1 {
            return MockResponse::Error(chat_pipeline::test_util::firehose_unavailable());
        }
        let refuse = |i: usize| call == 2 && i % 3 == 1;
        let entries: Vec<_> = req
            .records()
            .iter()
            .enumerate()
            .map(|(i, r)| {
                if refuse(i) {
                    PutRecordBatchResponseEntry::builder()
                        .error_code("ServiceUnavailableException")
                        .build()
                } else {
                    s.accept(r.data().as_ref(), None);
                    PutRecordBatchResponseEntry::builder().record_id("r").build()
                }
            })
            .collect();
        let failed = (0..req.records().len()).filter(|&i| refuse(i)).count() as i32;
        MockResponse::Output(
            PutRecordBatchOutput::builder()
                .failed_put_count(failed)
                .set_request_responses(Some(entries))
                .build()
                .unwrap(),
        )
    });
    let client = mock_firehose(RuleMode::MatchAny, &[&rule]);
    let mut cfg = config(DestinationKind::Firehose, 700);
    cfg.max_in_flight = 1;
    let state = Producer::new(cfg, AwsSinks::new(LazyClients::with_clients(None, Some(client))));
    let summary = run(&state, &trigger(5), None).await.unwrap();
    assert!(svc.each_exactly_once(700));
    assert_eq!(summary.sink, "firehose:chat-events-delivery");
    for (records, bytes) in svc.requests.lock().unwrap().iter() {
        assert!(*records <= 500 && *bytes <= 4 * 1024 * 1024);
    }
}
