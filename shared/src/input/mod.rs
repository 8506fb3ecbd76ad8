//! Reading one chat event as producers send it: the producer's own schema
//! (version 1) and the plain events of existing Python producers
//! (`{"event_time": "2023-12-12T10:00:00.123456", "event_name": "JOIN", "user": 42}`).
//!
//! Parsing is two steps. First the JSON object is read into loosely typed
//! fields ([`crate::json::Loose`]: any JSON value is accepted for each known
//! key; unknown keys are skipped), so that the second step, validation, can
//! say exactly which field is wrong and what it expected. Strings are
//! borrowed from the record bytes whenever they contain no escapes.
//!
//! * this file: the event, the errors, and the two ways in;
//! * `scan`: the fast path, a flat object read with [`crate::json::Cursor`];
//! * `fields`: serde's path into the fields (the fields by name are
//!   generated from the schema: [`crate::model`]);
//! * `validate`: what each field must hold, the plain columns by their rule
//!   in the schema.

mod fields;
mod scan;
mod validate;

use std::borrow::Cow;

use serde::de::Deserializer;

use crate::event::{EVENT_NAMES, EventType, INPUT_SCHEMA_VERSION};
use crate::model::Columns;
use crate::timestamp::Timestamp;
use fields::RawVisitor;
use scan::scan_flat_object;
pub(crate) use validate::{plain_integer, plain_string};

/// The longest accepted `event_id`, in characters (the schema's maxLength).
pub(crate) const MAX_ID_LEN: usize = 256;

/// The largest accepted `user` and `seq`: 2^63-1, the maximum of a signed
/// 64-bit integer, which is what every consumer stores them in (Athena and
/// Redshift `bigint`, Snowflake `NUMBER(19)`, DuckDB `BIGINT`). A larger value
/// is refused with a reason rather than landing where a query cannot read it;
/// `tests/tests/integration/template_agreement.rs` holds this and the Glue columns together.
pub const MAX_INTEGER: u64 = i64::MAX as u64;

/// One validated input event.
#[derive(Clone, Debug, PartialEq)]
pub struct InputEvent<'a> {
    /// `None` when the producer sent no id: the caller derives one.
    pub event_id: Option<Cow<'a, str>>,
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub user_id: u64,
    /// The plain columns (generated from the schema): each as its input
    /// field held it, `None` when absent.
    pub columns: Columns<'a>,
}

impl InputEvent<'_> {
    /// This event in the producer's schema (version 1) with `event_id` filled
    /// in: what the transformer re-ingests, so that reprocessing keeps the id
    /// even when the original carried none. Encoding strings and integers
    /// does not fail; if it ever did, the caller gets the error rather than
    /// an empty record to send.
    pub fn canonical_json(&self, event_id: &str) -> Result<Vec<u8>, serde_json::Error> {
        #[derive(serde::Serialize)]
        struct Canonical<'a> {
            event_id: &'a str,
            event_time: Timestamp,
            event_name: EventType,
            user: u64,
            // Under their input names, absent ones left out.
            #[serde(flatten)]
            columns: &'a Columns<'a>,
            schema_version: u32,
        }
        let canonical = Canonical {
            event_id,
            event_time: self.occurred_at,
            event_name: self.event_type,
            user: self.user_id,
            columns: &self.columns,
            schema_version: INPUT_SCHEMA_VERSION,
        };
        serde_json::to_vec(&canonical)
    }
}

/// Why a record is not a valid chat event. Each variant names what was wrong
/// and, for fields, what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InputError {
    #[error("record is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("record is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("record is not JSON: {detail}")]
    NotJson { detail: String },
    #[error("record is JSON but not an object: found {found}")]
    NotAnObject { found: &'static str },
    #[error("record holds more than one JSON value: trailing data at line {line} column {column}")]
    TrailingData { line: usize, column: usize },
    #[error("field `{field}` appears more than once")]
    DuplicateField { field: &'static str },
    #[error("missing field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}`: expected {expected}, found {found}")]
    InvalidField {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("field `event_name`: unknown event type {name:?}, expected one of {EVENT_NAMES}")]
    UnknownEventType { name: String },
    #[error(
        "field `event_time`: {event_time} is more than 24 hours after the record arrived ({arrival}); \
         an event dated that far ahead is refused (docs/transformer.md, \"Event times\")"
    )]
    EventTimeAhead { event_time: Timestamp, arrival: Timestamp },
}

/// How far after its record's arrival an event may be dated: a day. A
/// client's clock may run ahead (and time zones mislabelled as UTC put an
/// event up to 14 hours ahead), but an event a day or more in the future is
/// not one that happened. The curation workflow curates event days up to
/// two days after the run's day (statemachine/curation.asl.yaml,
/// PlanInserts), so every accepted event is curated; Redshift's streaming
/// view applies the same bound (warehouse/redshift/03_chat_events_view.sql).
pub const MAX_EVENT_TIME_AHEAD_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// Refuses an event dated more than [`MAX_EVENT_TIME_AHEAD_MILLIS`] after
/// its record's arrival.
pub fn check_event_time(occurred_at: Timestamp, arrival: Timestamp) -> Result<(), InputError> {
    if occurred_at.millis() > arrival.millis().saturating_add(MAX_EVENT_TIME_AHEAD_MILLIS) {
        return Err(InputError::EventTimeAhead {
            event_time: occurred_at,
            arrival,
        });
    }
    Ok(())
}

impl InputError {
    /// A short stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::TooLarge { .. } => "too_large",
            InputError::NotUtf8 { .. } => "not_utf8",
            InputError::NotJson { .. } => "not_json",
            InputError::NotAnObject { .. } => "not_an_object",
            InputError::TrailingData { .. } => "more_than_one_value",
            InputError::DuplicateField { .. } => "duplicate_field",
            InputError::MissingField { .. } => "missing_field",
            InputError::InvalidField { .. } => "invalid_field",
            InputError::UnknownEventType { .. } => "unknown_event_type",
            InputError::EventTimeAhead { .. } => "event_time_ahead",
        }
    }
}

/// The UTF-8 byte-order mark, which some producers (Windows tools, .NET's
/// `Encoding.UTF8`) write before a JSON text. RFC 8259 section 8.1 lets a
/// parser ignore it, so a record that starts with one is read without it.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses and validates one record's bytes.
pub fn parse_input_event(bytes: &[u8]) -> Result<InputEvent<'_>, InputError> {
    let (bom, bytes) = match bytes.strip_prefix(UTF8_BOM) {
        Some(rest) => (UTF8_BOM.len(), rest),
        None => (0, bytes),
    };
    // The SIMD check is several times faster than `std::str::from_utf8`;
    // the standard one only runs to find the offset of a bad byte.
    let text = match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            let offset = std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to());
            return Err(InputError::NotUtf8 { offset: bom + offset });
        }
    };
    match scan_flat_object(text) {
        Some(raw) => raw.validate(),
        None => parse_with_serde(text),
    }
}

/// The general path: serde_json reads the object (any JSON, escapes and
/// nesting included) and reports what is not JSON or not an object.
fn parse_with_serde(text: &str) -> Result<InputEvent<'_>, InputError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let raw = match de.deserialize_map(RawVisitor) {
        Ok(raw) => raw,
        Err(e) if e.is_data() => {
            return Err(InputError::NotAnObject { found: json_kind(text) });
        }
        Err(e) => return Err(InputError::NotJson { detail: e.to_string() }),
    };
    if let Err(e) = de.end() {
        return Err(InputError::TrailingData {
            line: e.line(),
            column: e.column(),
        });
    }
    raw.validate()
}

fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> InputError {
        parse_input_event(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn an_event_time_up_to_a_day_after_arrival_is_accepted_and_later_refused() {
        let arrival = Timestamp::from_millis(1_795_305_600_000).unwrap();
        let at = |ms: i64| Timestamp::from_millis(arrival.millis() + ms).unwrap();
        assert_eq!(check_event_time(at(MAX_EVENT_TIME_AHEAD_MILLIS), arrival), Ok(()));
        assert_eq!(check_event_time(Timestamp::MIN, arrival), Ok(()), "any past time");
        let refused = check_event_time(at(MAX_EVENT_TIME_AHEAD_MILLIS + 1), arrival).unwrap_err();
        assert_eq!(refused.code(), "event_time_ahead");
        assert_eq!(
            refused.to_string(),
            "field `event_time`: 2026-11-23T00:00:00.001Z is more than 24 hours after the record arrived \
             (2026-11-22T00:00:00.000Z); an event dated that far ahead is refused (docs/transformer.md, \"Event times\")"
        );
        // No overflow at the ends of the range.
        assert!(check_event_time(Timestamp::MAX, Timestamp::MIN).is_err());
        assert_eq!(check_event_time(Timestamp::MAX, Timestamp::MAX), Ok(()));
    }

    #[test]
    fn reads_the_producer_schema() {
        let e = parse_input_event(
            br#"{"event_id":"e1","event_time":"2023-12-12T10:00:00.123Z","event_name":"SEND_MESSAGE","user":7,"session_id":"s1","seq":3,"schema_version":1}"#,
        )
        .unwrap();
        assert_eq!(e.event_id.as_deref(), Some("e1"));
        assert_eq!(e.event_type, EventType::SendMessage);
        assert_eq!(e.occurred_at.millis(), 1_702_375_200_123);
        assert_eq!(e.user_id, 7);
        assert_eq!(e.columns.session_id.as_deref(), Some("s1"));
        assert_eq!(e.columns.seq, Some(3));
        assert!(
            matches!(e.event_id, Some(Cow::Borrowed(_))),
            "unescaped strings are borrowed"
        );
    }

    #[test]
    fn reads_plain_python_events() {
        let e = parse_input_event(br#"{"event_time": "2023-12-12T10:00:00.123456", "event_name": "join", "user": "42", "extra": [1, {"a": 2}]}"#).unwrap();
        assert_eq!(e.event_id, None);
        assert_eq!(e.event_type, EventType::Join);
        assert_eq!(e.user_id, 42);
        assert_eq!(e.columns.session_id, None);
        assert_eq!(e.columns.seq, None);
        let e = parse_input_event(br#"{"event_time": 1702375200123.7, "event_name": "Leave", "user": 0}"#).unwrap();
        assert_eq!(e.occurred_at.millis(), 1_702_375_200_123);
    }

    #[test]
    fn canonical_form_parses_back_to_the_same_event() {
        let e = parse_input_event(
            br#"{"event_time": "2023-12-12T10:00:00.123456", "event_name": "join", "user": "42", "x": 1}"#,
        )
        .unwrap();
        let json = e.canonical_json("id-1").unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"event_id":"id-1","event_time":"2023-12-12T10:00:00.123Z","event_name":"JOIN","user":42,"schema_version":1}"#
        );
        let back = parse_input_event(&json).unwrap();
        assert_eq!(back.event_id.as_deref(), Some("id-1"));
        assert_eq!(InputEvent { event_id: None, ..back }, e);
    }

    #[test]
    fn each_failure_names_what_was_wrong() {
        assert_eq!(
            parse_input_event(&[b'{', 0xff, b'}']).unwrap_err(),
            InputError::NotUtf8 { offset: 1 }
        );
        assert_eq!(err("{\"a\":").code(), "not_json");
        assert_eq!(err("").code(), "not_json");
        assert_eq!(err("[1,2]"), InputError::NotAnObject { found: "an array" });
        assert_eq!(err("\"x\""), InputError::NotAnObject { found: "a string" });
        assert_eq!(err("12"), InputError::NotAnObject { found: "a number" });
        assert_eq!(err("{} {}").code(), "more_than_one_value");
        assert_eq!(err("{}"), InputError::MissingField { field: "event_name" });
        assert_eq!(
            err(r#"{"event_name":"JOIN","user":1}"#),
            InputError::MissingField { field: "event_time" }
        );
        assert_eq!(
            err(r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z"}"#),
            InputError::MissingField { field: "user" }
        );
        assert_eq!(
            err(r#"{"event_name":"DANCE","event_time":"2023-12-12T10:00:00Z","user":1}"#),
            InputError::UnknownEventType { name: "DANCE".into() }
        );
        let e = err(r#"{"event_name":"JOIN","event_time":"yesterday","user":1}"#);
        assert!(
            e.to_string().starts_with("field `event_time`: expected an RFC 3339"),
            "{e}"
        );
        assert!(e.to_string().contains("found string \"yesterday\""), "{e}");
        assert_eq!(
            err(r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":-1}"#).to_string(),
            "field `user`: expected an integer from 0 to 9223372036854775807 (2^63-1), or a string of such decimal digits, found integer -1"
        );
        assert_eq!(
            err(r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":1,"user":2}"#),
            InputError::DuplicateField { field: "user" }
        );
        assert_eq!(
            err(r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":1,"schema_version":2}"#).code(),
            "invalid_field"
        );
        assert_eq!(
            err(r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":1,"event_id":""}"#).code(),
            "invalid_field"
        );
    }

    #[test]
    fn integers_stop_at_the_signed_64_bit_maximum() {
        let max = MAX_INTEGER.to_string();
        let over = (u128::from(MAX_INTEGER) + 1).to_string();
        let event = |user: &str, seq: &str| {
            format!(r#"{{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":{user},"seq":{seq}}}"#)
        };
        let at_max = event(&max, &max);
        let e = parse_input_event(at_max.as_bytes()).unwrap();
        assert_eq!((e.user_id, e.columns.seq), (MAX_INTEGER, Some(MAX_INTEGER)));
        let as_string = event(&format!("\"{max}\""), "0");
        assert_eq!(parse_input_event(as_string.as_bytes()).unwrap().user_id, MAX_INTEGER);
        for (user, seq, field) in [
            (over.as_str(), "1", "user"),
            (&format!("\"{over}\""), "1", "user"),
            ("18446744073709551615", "1", "user"),
            ("1", over.as_str(), "seq"),
        ] {
            match parse_input_event(event(user, seq).as_bytes()) {
                Err(InputError::InvalidField { field: f, expected, .. }) => {
                    assert_eq!(f, field);
                    assert!(expected.contains("9223372036854775807"), "{expected}");
                }
                other => panic!("{user}/{seq}: expected a range error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_leading_byte_order_mark_is_ignored() {
        let mut bytes = UTF8_BOM.to_vec();
        bytes.extend_from_slice(br#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":7}"#);
        assert_eq!(parse_input_event(&bytes).unwrap().user_id, 7);
        let mut bad = UTF8_BOM.to_vec();
        bad.extend_from_slice(b"{\xff}");
        assert_eq!(parse_input_event(&bad), Err(InputError::NotUtf8 { offset: 4 }));
    }

    #[test]
    fn the_fast_path_takes_producer_and_plain_events() {
        for text in [
            r#"{"event_id":"e1","event_time":"2023-12-12T10:00:00.123Z","event_name":"SEND_MESSAGE","user":7,"session_id":"s1","seq":3,"schema_version":1}"#,
            r#"{"event_time": "2023-12-12T10:00:00.123456", "event_name": "JOIN", "user": 42}"#,
            "{ }",
        ] {
            assert!(scan_flat_object(text).is_some(), "{text}");
        }
        for text in [
            r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":-0}"#,
            r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":0,"seq":-0}"#,
            r#"{"event_name":"JOIN","event_time":"2023-12-12T10:00:00Z","user":999999999999999999}"#,
        ] {
            assert_eq!(parse_input_event(text.as_bytes()), parse_with_serde(text), "{text}");
        }
        for text in [
            r#"{"a":1.5}"#,
            r#"{"a":"\n"}"#,
            r#"{"a":[1]}"#,
            "{} x",
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            "[1]",
        ] {
            assert!(scan_flat_object(text).is_none(), "{text}");
        }
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_serde_json(
            text in r#"[ ]?\{[ ]?("(event_id|event_time|event_name|user|session_id|seq|schema_version|x)"[ ]?:[ ]?("[a-zA-Z0-9:.\- _]{0,30}"|-?[0-9]{1,20}|-0|-?0[0-9]|null|true|false|1\.5|"2023-12-12T10:00:00Z"|"JOIN")[ ]?,?[ ]?){0,8}\}[ ]?[x]?"#,
        ) {
            if scan_flat_object(&text).is_some() {
                prop_assert_eq!(parse_input_event(text.as_bytes()), parse_with_serde(&text));
            }
        }

        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_input_event(&bytes);
        }

        #[test]
        fn never_panics_on_json_shaped_text(s in "[{}\\[\\]\":,0-9a-z_ .\\-]{0,80}") {
            let _ = parse_input_event(s.as_bytes());
        }
    }
}
