//! Proptest strategies shared by the property tests: record payloads and
//! envelope field values, from valid to hostile.

use chat_pipeline::event::EventType;
use chat_pipeline::model::PLAIN_COLUMNS;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// `cases` per property, unless `PROPTEST_CASES` is set: CI runs the default,
/// a long hunt sets it (`PROPTEST_CASES=100000 cargo test ...`). Proptest's
/// own default reads the variable, but an explicit `cases` would hide it.
pub(crate) fn config(cases: u32) -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

/// Every event type's name in the spellings producers send (upper case, the
/// output's lower case, and mixed), from the generated model, and two that
/// are not one.
fn event_names() -> Vec<String> {
    let mut names: Vec<String> = EventType::ALL
        .iter()
        .flat_map(|t| {
            let upper = t.input_name();
            let mixed: String = upper
                .chars()
                .enumerate()
                .map(|(i, c)| if i % 2 == 0 { c } else { c.to_ascii_lowercase() })
                .collect();
            [upper.to_owned(), t.output_name().to_owned(), mixed]
        })
        .collect();
    names.extend(["DANCE".to_owned(), String::new()]);
    names
}

/// A value for a plain column's input field: text (short, escaped, long),
/// integers, null, or another kind (refused).
fn plain_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9\\-\"\\\\é]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(serde_json::to_string(&"x".repeat(300)).unwrap()),
        (0u64..u64::MAX).prop_map(|n| n.to_string()),
        Just("-1".to_owned()),
        Just("null".to_owned()),
        Just("[1]".to_owned()),
    ]
}

/// A record's decoded data: a chat event in many spellings (some invalid),
/// with any of the schema's plain columns, or arbitrary bytes, or JSON-ish
/// text.
pub(crate) fn payload() -> impl Strategy<Value = Vec<u8>> {
    let event = (
        proptest::sample::select(event_names()),
        prop_oneof![
            Just("\"2023-12-12T10:00:00.123456\"".to_owned()),
            Just("\"2026-11-21T23:59:59.999+05:30\"".to_owned()),
            (100_000_000_000i64..253_402_300_799_999).prop_map(|n| n.to_string()),
            Just("\"not a time\"".to_owned()),
            Just("-1".to_owned()),
        ],
        prop_oneof![
            (0u64..u64::MAX).prop_map(|u| u.to_string()),
            Just("\"42\"".to_owned()),
            Just("-7".to_owned()),
            Just("1.5".to_owned())
        ],
        proptest::option::of("[a-z0-9\\-\"\\\\]{0,12}"),
        proptest::collection::vec(proptest::option::of(plain_value()), PLAIN_COLUMNS.len()),
    )
        .prop_map(|(name, time, user, id, plain)| {
            let id = id
                .map(|i| format!(",\"event_id\":{}", serde_json::to_string(&i).unwrap()))
                .unwrap_or_default();
            let plain: String = PLAIN_COLUMNS
                .iter()
                .zip(plain)
                .filter_map(|((_, field), value)| value.map(|v| format!(",\"{field}\":{v}")))
                .collect();
            format!(r#"{{"event_name":"{name}","event_time":{time},"user":{user}{id}{plain}}}"#).into_bytes()
        });
    prop_oneof![
        3 => event,
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => "[{}\\[\\]\":,0-9a-z_ .\\-]{0,60}".prop_map(String::into_bytes),
    ]
}

/// Any JSON value for an envelope field: what AWS's samples send, and worse.
pub(crate) fn envelope_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::json;
    prop_oneof![
        (0i64..253_402_300_799_999).prop_map(|n| json!(n)),
        Just(json!("2026-11-22T00:00:01.250Z")),
        Just(json!("")),
        Just(json!("17")),
        Just(json!("yesterday")),
        Just(json!(-5)),
        Just(json!(1.5e300)),
        Just(json!(null)),
        Just(json!(true)),
        Just(json!([1, {"a": 2}])),
        Just(json!({"x": [null]})),
    ]
}
