//! Delivery through the real Kinesis and Firehose clients, with responses
//! from `aws-smithy-mocks`: partial failures, throttling, persistent failure,
//! batch limits and the Lambda deadline, one event a record
//! (`PACK_EVENTS=false`) and packed (the default). Every delivered event is
//! counted by its event_id, each record split as Firehose's de-aggregation
//! splits it.

use std::collections::HashMap;
use std::time::Duration;

use aws_smithy_mocks::{MockResponse, RuleMode, mock};
use chat_pipeline::aws::LazyClients;
use chat_pipeline::destination::{AwsSinks, DestinationKind};
use chat_pipeline::input::parse_input_event;
use chat_pipeline::packing;
use chat_pipeline::test_util::{Acceptances, firehose_reply, kinesis_reply, mock_firehose, mock_kinesis};
use chat_pipeline::timestamp::Timestamp;
use producer::handler::{ProducerError, run};
use producer::trigger::parse_trigger;
use producer::{Config, Producer};

/// Every event the service accepted exactly once (`n` of them), a record
/// keyed by its first event's user where the service has keys (Kinesis).
fn each_event_once(service: &Acceptances, n: usize) -> bool {
    let mut times: HashMap<String, usize> = HashMap::new();
    for (key, data) in service.accepted() {
        for (i, piece) in packing::unpack(&data).enumerate() {
            let event = parse_input_event(piece).unwrap();
            if let (Some(key), 0) = (&key, i) {
                assert_eq!(
                    *key,
                    event.user_id.to_string(),
                    "partition key is the first event's user"
                );
            }
            *times.entry(event.event_id.unwrap().into_owned()).or_default() += 1;
        }
    }
    times.len() == n && times.values().all(|&t| t == 1)
}

/// One event a record: the counts below are per event.
fn config(sink: DestinationKind, events: u64) -> Config {
    let mut c = Config {
        sink,
        stream_name: Some("chat-events".into()),
        delivery_stream_name: Some("chat-events-delivery".into()),
        events_per_invocation: events,
        pack_events: false,
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

/// Packed: 5,000 events of about 230 bytes go in some 50 records of at most
/// 25,000 bytes; the service refuses one record in three on the first
/// requests; each refused record is resent whole, and every event lands
/// exactly once.
#[tokio::test]
async fn a_refused_packed_record_is_resent_whole_and_every_event_lands_once() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        let call = s.kinesis_request(req);
        let refuse = move |i: usize| call == 1 && i.is_multiple_of(3);
        s.accept_kinesis(req, refuse);
        kinesis_reply(req.records().len(), refuse, "ProvisionedThroughputExceededException")
    });
    let mut state = kinesis_producer(&rule, 5_000);
    state.config.pack_events = true;
    let summary = run(&state, &trigger(6), None).await.unwrap();
    assert!(each_event_once(&svc, 5_000));
    assert_eq!((summary.generated, summary.delivered), (5_000, 5_000));
    assert!(
        summary.records < 5_000 / 100 && summary.records == summary.delivered_records,
        "{summary:?}"
    );
    assert_eq!(summary.retried_records, summary.records.div_ceil(3));
    for (records, bytes) in svc.requests() {
        assert!(records <= 500 && bytes <= 5 * 1024 * 1024);
    }
    for (_, data) in svc.accepted() {
        assert!(data.len() <= 25_000 && packing::unpack(&data).count() <= 500);
    }
}

/// Packed, a record refused every time: the invocation fails with the
/// events of that record, not one.
#[tokio::test]
async fn a_packed_record_never_accepted_fails_its_events() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        s.kinesis_request(req);
        s.accept_kinesis(req, |i| i == 0);
        kinesis_reply(req.records().len(), |i| i == 0, "InternalFailure")
    });
    let mut state = kinesis_producer(&rule, 2_000);
    state.config.pack_events = true;
    state.config.retry.max_attempts = 2;
    let err = run(&state, &trigger(7), None).await.unwrap_err();
    let ProducerError::Undelivered {
        undelivered, generated, ..
    } = err
    else {
        panic!("unexpected {err:?}")
    };
    assert_eq!(generated, 2_000);
    assert!(
        undelivered > 1 && undelivered <= 500,
        "{undelivered} events in the refused record"
    );
    assert!(each_event_once(&svc, 2_000 - undelivered));
}

/// PACE_SECONDS: the records go a slice a second, evenly, not in one burst
/// (tokio's paused clock: the seconds are virtual).
#[tokio::test(start_paused = true)]
async fn a_paced_tick_spreads_its_records_over_its_seconds() {
    let svc = Acceptances::default();
    let s = svc.clone();
    let started = tokio::time::Instant::now();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let times = seen.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        times.lock().unwrap().push(started.elapsed().as_millis() / 1000);
        s.kinesis_request(req);
        s.accept_kinesis(req, |_| false);
        kinesis_reply(req.records().len(), |_| false, "")
    });
    let mut state = kinesis_producer(&rule, 400);
    state.config.pace = Duration::from_secs(4);
    let summary = run(&state, &trigger(8), None).await.unwrap();
    assert!(each_event_once(&svc, 400));
    assert_eq!(summary.delivered, 400);
    // 400 records (one event each) in 4 slices of 100, a second apart.
    assert_eq!(*seen.lock().unwrap(), [0, 1, 2, 3]);
    assert_eq!(summary.batches, 4);
}
