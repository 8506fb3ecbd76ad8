//! Payloads that are not Firehose transformation events are invocation
//! errors with a message that says what is wrong (Firehose retries them).

use std::sync::Arc;

use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::MemorySink;
use chat_pipeline::test_util::MemorySinks;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::value::RawValue;
use transformer::firehose::{TransformationEvent, parse_event};
use transformer::handler::TransformerError;
use transformer::synthetic::{Format, Source, transformation_event};
use transformer::{Config, Transformer, handle};

/// The message `handle` gives for a body that is JSON but not an event.
fn parse_error(payload: &str) -> String {
    match parse_event(payload) {
        Ok(e) => panic!("parsed: {e:?}"),
        Err(message) => message,
    }
}

/// The body as lambda_runtime hands it to the handler.
fn raw(event: &TransformationEvent<'_>) -> Box<RawValue> {
    serde_json::value::to_raw_value(event).unwrap()
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
    // Any other field that cannot be read fails only its record (see
    // tests/envelope_tolerance.rs).
    let one: TransformationEvent<'_> = serde_json::from_str(
        r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":-5,"data":""}]}"#,
    )
    .unwrap();
    let why = one.records[0].envelope_error.as_deref().unwrap();
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

#[tokio::test]
async fn repeated_or_empty_record_ids_are_refused_whole() {
    let state = Transformer::new(
        Config::default(),
        MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
    );
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
    assert_eq!(err, TransformerError::EmptyRecordId { index: 1 });
}

#[tokio::test]
async fn a_body_that_is_not_an_event_is_an_invocation_error_naming_the_place() {
    let state = Transformer::new(
        Config::default(),
        MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))),
    );
    let body = RawValue::from_string(
        r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","data":""},{"recordId":2,"data":""}]}"#.to_owned(),
    )
    .unwrap();
    let err = handle(&state, LambdaEvent::new(body, Context::default()))
        .await
        .unwrap_err();
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "InvalidTransformationEvent");
    assert!(
        diagnostic
            .error_message
            .starts_with("not a valid Firehose transformation event: records[1].recordId: invalid type: integer `2`, expected a string"),
        "{}",
        diagnostic.error_message
    );
    // A document that is not an object at all has no path to name.
    assert_eq!(
        parse_error("\"hello\""),
        "invalid type: string \"hello\", expected a Firehose data-transformation event: an object with deliveryStreamArn and records at line 1 column 7"
    );
}
