//! Proptest strategies shared by the property tests: record payloads and
//! envelope field values, from valid to hostile.

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

/// A record's decoded data: a chat event in many spellings (some invalid), or
/// arbitrary bytes, or JSON-ish text.
pub(crate) fn payload() -> impl Strategy<Value = Vec<u8>> {
    let event = (
        prop_oneof![
            Just("JOIN"),
            Just("leave"),
            Just("Open_Chat"),
            Just("SUBSCRIBE"),
            Just("send_message"),
            Just("DANCE"),
            Just("")
        ],
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
    )
        .prop_map(|(name, time, user, id)| {
            let id = id
                .map(|i| format!(",\"event_id\":{}", serde_json::to_string(&i).unwrap()))
                .unwrap_or_default();
            format!(r#"{{"event_name":"{name}","event_time":{time},"user":{user}{id}}}"#).into_bytes()
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
