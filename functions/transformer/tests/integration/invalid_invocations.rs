//! Payloads that are not Firehose transformation events are invocation
//! errors with a message that says what is wrong (Firehose retries them).

use std::sync::Arc;

use bytes::Bytes;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::MemorySink;
use chat_pipeline::test_util::MemorySinks;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use testkit::synthetic::{Format, Source, transformation_event};
use transformer::firehose::{TransformationEvent, parse_event};
use transformer::handler::TransformerError;
use transformer::{Config, Transformer, handle};

/// The message `handle` gives for a body that is JSON but not an event.
fn parse_error(payload: &str) -> String {
    match parse_event(payload) {
        Ok(e) => panic!("parsed: {e:?}"),
        Err(error) => error.to_string(),
    }
}

fn state() -> Transformer<MemorySinks> {
    Transformer::new(
        Config::default(),
        MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
    )
}

/// The body as the runtime received it (`transformer::runtime` hands it over).
fn raw(event: &TransformationEvent<'_>) -> Bytes {
    Bytes::from(serde_json::to_vec(event).unwrap())
}

#[test]
fn other_event_shapes_name_the_missing_field() {
    assert!(parse_error(r#"{"Records":[{"kinesis":{}}]}"#).contains("missing field `deliveryStreamArn`"));
    assert!(
        parse_error(r#"{"deliveryStreamArn":"arn:aws:firehose:us-east-1:1:deliverystream/x"}"#)
            .contains("missing field `records`")
    );
    assert!(parse_error("[]").contains("expected a Firehose data-transformation event"));
    assert!(parse_error("\"hello\"").contains("expected a Firehose data-transformation event"));
    // Without a readable recordId no record can be answered: the whole
    // invocation fails, naming the field.
    let e = parse_error(r#"{"deliveryStreamArn":"a","records":[{"approximateArrivalTimestamp":1,"data":""}]}"#);
    assert!(e.contains("missing field `recordId`"), "{e}");
    let e = parse_error(r#"{"deliveryStreamArn":"a","records":[{"recordId":7,"data":""}]}"#);
    assert!(e.contains("expected a string"), "{e}");
    let e = parse_error(r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","recordId":"2","data":""}]}"#);
    assert!(e.contains("duplicate field `recordId`"), "{e}");
    // Any other field that cannot be read fails only its record (the
    // property `properties.rs` holds for every envelope value).
    let one: TransformationEvent<'_> = serde_json::from_str(
        r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":-5,"data":""}]}"#,
    )
    .unwrap();
    let why = one.records[0].envelope_error.as_ref().unwrap().to_string();
    assert!(
        why.starts_with("approximateArrivalTimestamp: expected epoch milliseconds"),
        "{why}"
    );
    // A fractional arrival time is accepted (aws_lambda_events panics on it).
    let ok: TransformationEvent<'_> = serde_json::from_str(
        r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1795305600000.5,"data":""}]}"#,
    )
    .unwrap();
    assert_eq!(
        ok.records[0].approximate_arrival_timestamp.0.millis(),
        1_795_305_600_000
    );
}

/// Someone invoking the transformer with another event is told what was
/// expected, where the samples are, and what they sent when it is a
/// well-known other event.
#[tokio::test]
async fn other_events_are_told_what_was_expected() {
    let cases = [
        (
            r#"{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}"#,
            Some("an S3 event notification"),
        ),
        (
            r#"{"Records":[{"kinesis":{"data":"e30="},"eventSource":"aws:kinesis"}]}"#,
            Some("a Kinesis event"),
        ),
        (
            r#"{"event_name":"JOIN","event_time":"2026-11-21T12:00:00Z","user":7}"#,
            Some("a single chat event"),
        ),
        (r#"{"hello":"world"}"#, None),
    ];
    for (body, looks_like) in cases {
        let err = handle(&state(), LambdaEvent::new(Bytes::from(body), Context::default()))
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("missing field `deliveryStreamArn`"), "{message}");
        assert!(message.contains("events/transformer/"), "{message}");
        assert!(message.contains(r#""records": [{"recordId""#), "{message}");
        match looks_like {
            Some(kind) => assert!(message.contains(&format!("(this looks like {kind}")), "{message}"),
            None => assert!(!message.contains("this looks like"), "{message}"),
        }
    }
}

#[tokio::test]
async fn repeated_or_empty_record_ids_are_refused_whole() {
    let state = state();
    let mut event = transformation_event(Format::Plain, Source::DirectPut, 3);
    event.records[2].record_id = event.records[0].record_id.clone();
    let err = handle(&state, LambdaEvent::new(raw(&event), Context::default()))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        TransformerError::DuplicateRecordId {
            first: 0,
            second: 2,
            ..
        }
    ));
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "InvalidTransformationEvent");
    assert!(diagnostic.error_message.contains("appears at records 0 and 2"));

    event.records[1].record_id = "".into();
    let err = handle(&state, LambdaEvent::new(raw(&event), Context::default()))
        .await
        .unwrap_err();
    assert!(matches!(err, TransformerError::EmptyRecordId { index: 1 }), "{err}");
}

#[tokio::test]
async fn a_body_that_is_not_an_event_is_an_invocation_error_naming_the_place() {
    let state = state();
    let body = Bytes::from_static(
        br#"{"deliveryStreamArn":"a","records":[{"recordId":"1","data":""},{"recordId":2,"data":""}]}"#,
    );
    assert_invocation_error(
        &state,
        body,
        "records[1].recordId: invalid type: integer `2`, expected a string",
    )
    .await;
    // A document that is not an object at all has no path to name.
    assert_eq!(
        parse_error("\"hello\""),
        "invalid type: string \"hello\", expected a Firehose data-transformation event: an object with deliveryStreamArn and records at line 1 column 7"
    );
}

/// lambda_runtime no longer parses the body (see `transformer::runtime`): the handler
/// refuses what it used to refuse, with the reason.
#[tokio::test]
async fn a_body_that_is_not_json_or_not_utf8_is_an_invocation_error_saying_so() {
    let state = state();
    let cases: [(&'static [u8], &str); 5] = [
        (b"", "the request body is not JSON: EOF while parsing a value at line 1 column 0"),
        (b"{\"records\":[", "the request body is not JSON: EOF while parsing a list"),
        (b"{\"deliveryStreamArn\":\"a\",\"records\":[]} {}", "the request body is not JSON: trailing characters"),
        // A raw control character inside a string: the envelope scanner alone
        // would accept it, JSON does not.
        (
            b"{\"deliveryStreamArn\":\"a\",\"records\":[{\"recordId\":\"1\t\",\"approximateArrivalTimestamp\":1,\"data\":\"\"}]}",
            "the request body is not JSON: control character (\\u0000-\\u001F) found while parsing a string",
        ),
        (b"{\"deliveryStreamArn\":\"\xff\",\"records\":[]}", "the request body is not UTF-8: invalid utf-8 sequence"),
    ];
    for (body, expected) in cases {
        assert_invocation_error(&state, Bytes::from_static(body), expected).await;
    }
}

/// `handle` refuses `body` as an invalid event, its message starting with
/// `expected` after the common prefix.
async fn assert_invocation_error(state: &Transformer<MemorySinks>, body: Bytes, expected: &str) {
    let shown = String::from_utf8_lossy(&body).into_owned();
    let err = handle(state, LambdaEvent::new(body, Context::default()))
        .await
        .unwrap_err();
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "InvalidTransformationEvent", "{shown}");
    assert!(
        diagnostic
            .error_message
            .starts_with(&format!("not a valid Firehose transformation event: {expected}")),
        "{shown}: {}",
        diagnostic.error_message
    );
}
