//! The Kinesis and Firehose sinks against mocked SDK clients
//! (`aws-smithy-mocks`): partial failures, throttling, 5xx and fatal errors,
//! driven through `delivery::deliver` as the functions use them.

use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_smithy_mocks::{RuleMode, mock};
use chat_pipeline::delivery::{DeliveryOptions, UndeliveredReason, deliver};
use chat_pipeline::retry::RetryPolicy;
use chat_pipeline::sink::{FirehoseSink, KinesisSink, SinkRecord};
use chat_pipeline::test_util::{Acceptances, firehose_reply, kinesis_reply, mock_firehose, mock_kinesis};

fn records(n: usize) -> Vec<SinkRecord> {
    (0..n)
        .map(|i| SinkRecord {
            data: format!("{{\"event_id\":\"e{i}\"}}").into_bytes(),
            partition_key: (i % 10).to_string(),
        })
        .collect()
}

fn fast_retry(max_attempts: u32) -> DeliveryOptions {
    DeliveryOptions {
        retry: RetryPolicy {
            max_attempts,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(5),
        },
        max_in_flight: 2,
        deadline: None,
    }
}

#[tokio::test]
async fn kinesis_partial_failure_then_success_delivers_each_record_once() {
    let accepted = Acceptances::default();
    let acc = accepted.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        // The first request of each batch refuses every third record.
        let call = acc.kinesis_request(req);
        let refuse = move |i: usize| call <= 2 && i.is_multiple_of(3);
        acc.accept_kinesis(req, refuse);
        kinesis_reply(req.records().len(), refuse, "ProvisionedThroughputExceededException")
    });
    let client = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let sink = KinesisSink::new(client, "chat-events");
    let input = records(700);
    let report = deliver(&sink, &input, &fast_retry(8)).await;
    assert!(report.is_complete(), "{report}");
    assert!(accepted.exactly_once(input.iter().map(|r| &r.data[..])));
    assert_eq!(report.batches, 2);
    assert_eq!(report.requests, 4);
    assert_eq!(report.retried_records, 167 + 67);
    assert_eq!(report.error_codes["ProvisionedThroughputExceededException"], 234);
}

#[tokio::test]
async fn kinesis_throttling_and_5xx_are_retried() {
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .sequence()
        .error(|| chat_pipeline::test_util::kinesis_throttled("Rate exceeded"))
        .http_status(503, None)
        .output(|| kinesis_reply(3, |_| false, ""))
        .build();
    let client = mock_kinesis(RuleMode::Sequential, &[&rule]);
    let report = deliver(&KinesisSink::new(client, "chat-events"), &records(3), &fast_retry(5)).await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(report.error_codes["ProvisionedThroughputExceededException"], 3);
    assert_eq!(report.retried_records, 6);
}

#[tokio::test]
async fn kinesis_missing_stream_is_not_retried() {
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_error(|| {
        PutRecordsError::ResourceNotFoundException(
            aws_sdk_kinesis::types::error::ResourceNotFoundException::builder()
                .message("Stream chat-events under account 123 not found.")
                .build(),
        )
    });
    let client = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let report = deliver(&KinesisSink::new(client, "chat-events"), &records(4), &fast_retry(8)).await;
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(report.delivered, 0);
    assert_eq!(report.undelivered.len(), 4);
    match &report.undelivered[0].reason {
        UndeliveredReason::Fatal(e) => {
            assert_eq!(e.code, "ResourceNotFoundException");
            assert!(e.message.contains("not found"));
        }
        other => panic!("unexpected reason {other:?}"),
    }
}

#[tokio::test]
async fn kinesis_persistent_refusal_reports_exact_count() {
    let rule = mock!(aws_sdk_kinesis::Client::put_records)
        .then_compute_output(|req| kinesis_reply(req.records().len(), |i| i < 2, "InternalFailure"));
    let client = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let report = deliver(&KinesisSink::new(client, "s"), &records(5), &fast_retry(4)).await;
    // Every attempt refuses the first two records of the request.
    assert_eq!(report.delivered, 3);
    assert_eq!(report.undelivered.len(), 2);
    assert_eq!(rule.num_calls(), 4);
    assert_eq!(report.failure_summary(), "2 InternalFailure after the last attempt");
}

#[tokio::test]
async fn firehose_partial_failure_and_throttling_deliver_each_record_once() {
    let accepted = Acceptances::default();
    let acc = accepted.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_response(move |req| {
        let call = acc.firehose_request(req);
        if call == 1 {
            return aws_smithy_mocks::MockResponse::Error(chat_pipeline::test_util::firehose_unavailable());
        }
        let last = req.records().len() - 1;
        let refuse = move |i: usize| call == 2 && (i == 0 || i == last);
        acc.accept_firehose(req, refuse);
        aws_smithy_mocks::MockResponse::Output(firehose_reply(
            req.records().len(),
            refuse,
            "ServiceUnavailableException",
        ))
    });
    let client = mock_firehose(RuleMode::MatchAny, &[&rule]);
    let sink = FirehoseSink::new(client, "chat-delivery");
    let input = records(40);
    let mut options = fast_retry(8);
    options.max_in_flight = 1;
    let report = deliver(&sink, &input, &options).await;
    assert!(report.is_complete(), "{report}");
    assert!(accepted.exactly_once(input.iter().map(|r| &r.data[..])));
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(report.error_codes["ServiceUnavailableException"], 42);
}

#[tokio::test]
async fn requests_respect_count_and_byte_limits_as_the_services_see_them() {
    let sent = Acceptances::default();
    let s = sent.clone();
    let rule = mock!(aws_sdk_firehose::Client::put_record_batch).then_compute_output(move |req| {
        s.firehose_request(req);
        firehose_reply(req.records().len(), |_| false, "")
    });
    let client = mock_firehose(RuleMode::MatchAny, &[&rule]);
    // 900 KiB records: four fit the 4 MiB request limit, five do not.
    let big: Vec<SinkRecord> = (0..9)
        .map(|i| SinkRecord {
            data: vec![b'a' + i as u8; 900 * 1024],
            partition_key: String::new(),
        })
        .collect();
    let report = deliver(&FirehoseSink::new(client, "d"), &big, &fast_retry(2)).await;
    assert!(report.is_complete(), "{report}");
    let mut seen = sent.requests();
    seen.sort();
    assert_eq!(seen, [(1, 900 * 1024), (4, 4 * 900 * 1024), (4, 4 * 900 * 1024)]);

    let sent = Acceptances::default();
    let s = sent.clone();
    let rule = mock!(aws_sdk_kinesis::Client::put_records).then_compute_output(move |req| {
        s.kinesis_request(req);
        kinesis_reply(req.records().len(), |_| false, "")
    });
    let client = mock_kinesis(RuleMode::MatchAny, &[&rule]);
    let report = deliver(&KinesisSink::new(client, "s"), &records(1_234), &fast_retry(2)).await;
    assert!(report.is_complete());
    let mut seen: Vec<usize> = sent.requests().iter().map(|(records, _)| *records).collect();
    seen.sort();
    assert_eq!(seen, [234, 500, 500]);
}
