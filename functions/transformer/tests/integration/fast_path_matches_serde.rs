//! The differential test that makes the fast path safe to keep: for arbitrary
//! request bodies, what the function sends (the body taken from the runtime
//! as it came, checked to be JSON, parsed with borrowed strings, the response
//! written once and copied out verbatim) is byte for byte what the serde path sends (the body
//! deserialized into owned strings through `serde_path_to_error`, as
//! lambda_runtime does for an owned payload type, and the response model
//! serialized with `serde_json::to_vec`). Bodies the serde path refuses are
//! refused by the fast path too, broken JSON included: the runtime no longer
//! checks the body before the handler does.
//!
//! The request's first reader, `firehose::scan`, is checked on its own as
//! well: whatever it accepts, it reads exactly as serde does, and it accepts
//! what Firehose sends.

use crate::support::runtime;
use std::borrow::Cow;
use std::sync::Arc;

use crate::generators::{envelope_value, payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chat_pipeline::sink::BatchLimits;
use chat_pipeline::test_util::{MemorySink, MemorySinks};
use proptest::prelude::*;
use serde_json::json;
use testkit::synthetic::{DELIVERY_STREAM_ARN, Format, SOURCE_STREAM_ARN, Source, transformation_event};
use transformer::firehose::{TransformationEvent, parse_event, scan_only as scan};
use transformer::{Config, Transformer, process, respond};

/// The serde path: owned strings in, the response model serialized out.
///
/// What the function accepts is a UTF-8 JSON text holding one transformation
/// event and nothing after it but whitespace (RFC 8259: one value; section
/// 8.1: UTF-8, a leading byte-order mark may be ignored). The reference
/// states that contract by itself, rather than through a reader's defaults:
/// - the whole body must be UTF-8. serde_json checks UTF-8 only inside the
///   strings it reads, not inside those it skips (an unknown field's value),
///   so without this check the reference answered bodies with invalid bytes
///   in an ignored string, which the function refuses;
/// - nothing but whitespace may follow the event. `serde_path_to_error`
///   stops after the value, so without `Deserializer::end` the reference
///   answered `{...}"`, which the function refuses (issue 16).
fn serde_path(state: &Transformer<MemorySinks>, body: &[u8]) -> Option<Vec<u8>> {
    let body = body.strip_prefix(chat_pipeline::input::UTF8_BOM).unwrap_or(body);
    let text = std::str::from_utf8(body).ok()?;
    // A reader never lends, so every string is owned, as with a
    // `DeserializeOwned` payload.
    let de = &mut serde_json::Deserializer::from_reader(text.as_bytes());
    let event: TransformationEvent<'static> = serde_path_to_error::deserialize(&mut *de).ok()?;
    de.end().ok()?;
    let (answers, _) = runtime().block_on(process(state, event, None)).ok()?;
    Some(serde_json::to_vec(&answers.to_response()).unwrap())
}

/// The fast path, as the function runs it (`transformer::runtime` hands `handle` the
/// bytes the runtime received).
fn fast_path(state: &Transformer<MemorySinks>, body: &[u8]) -> Option<Vec<u8>> {
    let transformer::handler::Responded { response, summary, .. } =
        runtime().block_on(respond(state, body, None)).ok()?;
    let bytes = serde_json::to_vec(&response).unwrap();
    assert_eq!(bytes.len(), summary.response_bytes);
    Some(bytes)
}

/// Both paths refuse `body`, or send the same bytes for it.
fn both_paths_send_the_same(config: Config, body: &[u8]) -> Result<(), TestCaseError> {
    // Separate sinks, so that re-ingestion on one path cannot change the
    // other's answers.
    let expected = serde_path(&state(config.clone()), body);
    let actual = fast_path(&state(config), body);
    prop_assert_eq!(
        actual.as_deref().map(String::from_utf8_lossy),
        expected.as_deref().map(String::from_utf8_lossy),
        "body: {}",
        String::from_utf8_lossy(body)
    );
    Ok(())
}

fn state(config: Config) -> Transformer<MemorySinks> {
    Transformer::new(config, MemorySinks(Arc::new(MemorySink::new(BatchLimits::KINESIS))))
}

/// A record id: Firehose's digits, or any text (quotes, backslashes, control
/// characters and non-ASCII included, so some need escapes and are owned).
fn record_id() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[0-9]{20,60}",
        1 => any::<String>(),
        1 => "[a-z\"\\\\\u{0}-\u{1f}é😀]{1,8}",
    ]
}

/// The `data` field: base64 of a payload, or something that is not.
fn data_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        6 => payload().prop_map(|p| json!(STANDARD.encode(p))),
        1 => "[A-Za-z0-9+/=!\\- ]{0,40}".prop_map(|s| json!(s)),
        1 => envelope_value(),
    ]
}

fn kinesis_metadata() -> impl Strategy<Value = serde_json::Value> {
    (
        "shardId-[0-9]{12}",
        prop_oneof![json_string(), envelope_value()],
        "[0-9]{1,56}",
        envelope_value(),
        envelope_value(),
    )
        .prop_map(|(shard, key, seq, sub, arrival)| {
            json!({
                "shardId": shard,
                "partitionKey": key,
                "sequenceNumber": seq,
                "subsequenceNumber": sub,
                "approximateArrivalTimestamp": arrival,
            })
        })
}

fn json_string() -> impl Strategy<Value = serde_json::Value> {
    any::<String>().prop_map(|s| json!(s))
}

fn record() -> impl Strategy<Value = serde_json::Value> {
    (
        record_id(),
        prop_oneof![
            4 => (1_795_000_000_000i64..1_796_000_000_000).prop_map(|n| json!(n)),
            1 => envelope_value(),
        ],
        data_value(),
        proptest::option::of(kinesis_metadata()),
        any::<bool>(),
    )
        .prop_map(|(id, arrival, data, metadata, extra)| {
            let mut r = json!({"recordId": id, "approximateArrivalTimestamp": arrival, "data": data});
            if let Some(m) = metadata {
                r["kinesisRecordMetadata"] = m;
            }
            if extra {
                r["somethingNew"] = json!({"nested": [1, "two"]});
            }
            r
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(record(), 0..30),
        any::<bool>(),
        any::<bool>(),
        "[a-f0-9\\-]{0,36}",
    )
        .prop_map(|(mut records, kinesis, duplicate, invocation_id)| {
            // Ids must be unique for the batch to be answered; sometimes
            // they are not, and both paths must refuse it.
            if duplicate && records.len() > 1 {
                records[1]["recordId"] = records[0]["recordId"].clone();
            } else {
                for (i, r) in records.iter_mut().enumerate() {
                    let id = r["recordId"].as_str().unwrap_or_default().to_owned();
                    r["recordId"] = json!(format!("{id}{i}"));
                }
            }
            let mut event = json!({
                "invocationId": invocation_id,
                "deliveryStreamArn": DELIVERY_STREAM_ARN,
                "region": "us-east-1",
                "records": records,
            });
            if kinesis {
                event["sourceKinesisStreamArn"] = json!(SOURCE_STREAM_ARN);
            }
            serde_json::to_vec(&event).unwrap()
        })
}

/// A [`body`] broken in one to three places: a byte replaced, inserted or
/// removed (quotes, backslashes, brackets, separators, control characters,
/// bytes that are never UTF-8 or start a sequence).
fn broken_body() -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        any::<proptest::sample::Index>(),
        0u8..3,
        proptest::sample::select(b"\"\\{}[],: \t\n\x00\x01\x1f\xff\xc3e0-.".to_vec()),
    );
    (body(), proptest::collection::vec(edit, 1..4)).prop_map(|(mut broken, edits)| {
        for (at, kind, byte) in edits {
            let i = at.index(broken.len() + 1);
            match kind {
                0 if i < broken.len() => broken[i] = byte,
                1 => broken.insert(i, byte),
                _ if i < broken.len() => {
                    broken.remove(i);
                }
                _ => broken.push(byte),
            }
        }
        broken
    })
}

proptest! {
    #![proptest_config(crate::generators::config(300))]

    #[test]
    fn the_fast_path_sends_exactly_what_the_serde_path_sends(
        body in body(),
        budget in prop_oneof![Just(transformer::firehose::RESPONSE_BUDGET), 500usize..20_000],
        reingest in any::<bool>(),
    ) {
        let config = Config { reingest, response_budget: budget, ..Config::default() };
        both_paths_send_the_same(config, &body)?;
    }

    /// Bodies broken in a few places (bytes replaced, inserted or removed,
    /// control characters and invalid UTF-8 among them): both paths refuse
    /// them alike, or send the same bytes.
    #[test]
    fn broken_bodies_are_refused_or_answered_alike(broken in broken_body()) {
        both_paths_send_the_same(Config::default(), &broken)?;
    }

    /// The scanner reads the body before anything checks it is JSON: what it
    /// accepts, serde_json accepts, and reads the same way.
    #[test]
    fn the_scanner_accepts_only_json(broken in broken_body()) {
        if let Some(text) = std::str::from_utf8(&broken).ok()
            && let Some(scanned) = scan(text)
        {
            let parsed: Result<TransformationEvent<'_>, _> = serde_json::from_str(text);
            prop_assert_eq!(Some(scanned), parsed.ok(), "body: {}", text);
        }
    }

    /// What the scanner reads, it reads as serde does.
    #[test]
    fn the_scanner_reads_what_it_accepts_as_serde_does(body in body()) {
        let text = String::from_utf8(body).unwrap();
        if let Some(scanned) = scan(&text) {
            let parsed: TransformationEvent<'_> = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(scanned, parsed);
        }
    }

    /// Whatever the body, neither the parse nor the handler panics, and a body
    /// that is not JSON at all never reaches the handler.
    #[test]
    fn no_body_panics_the_fast_path(body in prop_oneof![
        body(),
        proptest::collection::vec(any::<u8>(), 0..200),
        "[{}\\[\\]\":,0-9a-zA-Z_ .\\-]{0,120}".prop_map(String::into_bytes),
    ]) {
        let _ = fast_path(&state(Config::default()), &body);
    }
}

#[test]
fn the_scanner_accepts_what_firehose_sends() {
    for source in [Source::DirectPut, Source::KinesisStream] {
        let event = transformation_event(Format::Producer, source, 50);
        let body = serde_json::to_string(&event).unwrap();
        assert_eq!(scan(&body), Some(event), "{source:?}");
    }
    // The repository's own sample events of both sources.
    for name in ["direct-put", "kinesis-source"] {
        let path = format!("{}/../../events/transformer/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let body = std::fs::read_to_string(path).unwrap();
        let parsed: TransformationEvent<'_> = serde_json::from_str(&body).unwrap();
        assert_eq!(scan(&body), Some(parsed), "{name}");
    }
}

#[test]
fn strings_without_escapes_are_borrowed_from_the_body() {
    let body = json!({
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "records": [
            {"recordId": "49546986683135544286507457936321625675700192471156785154",
             "approximateArrivalTimestamp": 1_795_305_600_000u64, "data": "e30=",
             "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": "7",
                "sequenceNumber": "4954", "subsequenceNumber": 0}},
            {"recordId": "with \"quotes\"", "approximateArrivalTimestamp": 1, "data": "e30="}
        ]
    })
    .to_string();
    let event = parse_event(&body).unwrap();
    let [plain, escaped] = &event.records[..] else {
        panic!("two records")
    };
    assert!(matches!(plain.record_id, Cow::Borrowed(_)));
    assert!(matches!(plain.data, Cow::Borrowed(_)));
    let m = plain.kinesis_record_metadata.as_ref().unwrap();
    assert!(matches!(m.partition_key, Cow::Borrowed(_)));
    assert!(matches!(m.sequence_number, Cow::Borrowed(_)));
    assert!(matches!(escaped.record_id, Cow::Owned(_)), "unescaping needs a copy");
    assert_eq!(escaped.record_id, "with \"quotes\"");
}

#[test]
fn rendered_responses_are_serialized_verbatim() {
    // lambda_runtime serializes the handler's answer with serde_json::to_vec;
    // the rendered bytes must come out unchanged, not quoted or re-escaped.
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/transformer/mixed-invalid.json"
    ))
    .unwrap();
    let response = runtime()
        .block_on(respond(&state(Config::default()), &body, None))
        .unwrap()
        .response;
    assert_eq!(serde_json::to_vec(&response).unwrap(), response.as_str().as_bytes());
}

#[test]
fn a_leading_byte_order_mark_is_skipped_and_nothing_else() {
    let body = serde_json::to_vec(&transformation_event(Format::Producer, Source::DirectPut, 3)).unwrap();
    let with_mark = [chat_pipeline::input::UTF8_BOM, body.as_slice()].concat();
    let parsed = transformer::firehose::parse_request(&body).unwrap();
    assert_eq!(transformer::firehose::parse_request(&with_mark).unwrap(), parsed);
    let config = Config::default();
    assert_eq!(
        fast_path(&state(config.clone()), &with_mark),
        serde_path(&state(config), &with_mark)
    );
    assert!(fast_path(&state(Config::default()), &with_mark).is_some());
    // Only at the start: inside a string it is text, anywhere else not JSON.
    let inside = "{\"invocationId\":\"\u{feff}\",\"deliveryStreamArn\":\"a\",\"records\":[]}";
    assert_eq!(
        transformer::firehose::parse_request(inside.as_bytes())
            .unwrap()
            .invocation_id,
        "\u{feff}"
    );
    let twice = [chat_pipeline::input::UTF8_BOM, with_mark.as_slice()].concat();
    let err = transformer::firehose::parse_request(&twice).unwrap_err();
    assert!(matches!(err, transformer::firehose::RequestError::NotJson(_)), "{err}");
    assert!(err.to_string().starts_with("the request body is not JSON"), "{err}");
}

/// The three divergences the broken-body property found on fresh seeds
/// (issue 16), each as a fixed case: what both paths do now, and why.
#[test]
fn the_divergences_found_by_fresh_seeds_stay_fixed() {
    let event = json!({
        "invocationId": "",
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "region": "us-east-1",
        "records": [],
    })
    .to_string();
    // 1. A transformation event followed by anything but whitespace is not a
    // transformation event: the function refused it, the reference answered
    // it (it never checked for trailing data). Both refuse it now.
    for trailing in ["\"", "x", "{}", "]"] {
        let body = format!("{event}{trailing}");
        assert_eq!(fast_path(&state(Config::default()), body.as_bytes()), None, "{body}");
        assert_eq!(serde_path(&state(Config::default()), body.as_bytes()), None, "{body}");
    }
    assert!(fast_path(&state(Config::default()), format!("{event} \n").as_bytes()).is_some());

    // 2. Bytes that are not UTF-8 inside a string the reader skips (an
    // unknown field's value): serde_json skips such strings without checking
    // them, so the reference answered what the function refuses as not UTF-8.
    // A body that is not UTF-8 is not JSON (RFC 8259, section 8.1): both refuse.
    let mut body = br#"{"deliveryStreamArn":"a","somethingNew":"two"#.to_vec();
    body.push(0xff);
    body.extend_from_slice(br#"","records":[]}"#);
    assert_eq!(fast_path(&state(Config::default()), &body), None);
    assert_eq!(serde_path(&state(Config::default()), &body), None);

    // 3. A record whose envelope cannot be read, with `data` that is not
    // base64 (here with a JSON escape, a carriage return once decoded): the
    // function echoed it unescaped, a response that is not JSON. Data that is
    // not base64 is never echoed now.
    let body = json!({
        "deliveryStreamArn": DELIVERY_STREAM_ARN,
        "records": [{"recordId": "1", "approximateArrivalTimestamp": [1], "data": "AAAA\rAAAA"}],
    })
    .to_string();
    both_paths_send_the_same(Config::default(), body.as_bytes()).unwrap();
    let sent = fast_path(&state(Config::default()), body.as_bytes()).unwrap();
    let response: serde_json::Value = serde_json::from_slice(&sent).unwrap();
    assert_eq!(response["records"][0]["result"], "ProcessingFailed");
    assert_eq!(response["records"][0]["data"], "");
}
