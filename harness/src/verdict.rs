//! What the transformer's own code says of one record's bytes, outside an
//! invocation: the event it would land (its id) or why it fails. The demo's
//! reconciliation uses it to name the event behind a dropped or failed
//! record, and the replay uses it to report what would still fail, and why,
//! before sending anything. It calls the deployed transformer's per-record
//! step (`BatchState::transform`) with the default configuration, so its
//! answer is the function's, not a second reading of the rules.

use std::borrow::Cow;

use base64_simd::STANDARD;
use chat_pipeline::input::parse_input_event;
use chat_pipeline::timestamp::Timestamp;
use transformer::firehose::{EpochMillis, FirehoseRecord};
use transformer::record::{BatchState, Outcome};

/// The transformer's answer for one record on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It would be answered `Ok`: the event's id, and whether the id was in
    /// the record (`false`: derived from the record's place in the source,
    /// which a replay changes).
    Lands { event_id: String, id_in_record: bool },
    /// It would be answered `ProcessingFailed`: the stable code and the reason
    /// naming the field, as the transformer logs them.
    Fails { code: &'static str, reason: String },
    /// It would be answered `Dropped` (a filtered event type).
    Dropped,
}

/// The verdict on `data` (the record's bytes, before base64) arriving at
/// `arrival`.
pub fn verdict(data: &[u8], arrival: Timestamp) -> Verdict {
    let record = FirehoseRecord {
        record_id: Cow::Borrowed("verdict"),
        approximate_arrival_timestamp: EpochMillis(arrival),
        data: Cow::Owned(STANDARD.encode_to_string(data)),
        kinesis_record_metadata: None,
        envelope_error: None,
    };
    match BatchState::new().transform(&record, &transformer::Config::default()) {
        Outcome::Ok(transformed) => {
            let event_id = serde_json::from_slice::<serde_json::Value>(&transformed.line)
                .ok()
                .and_then(|v| v["event_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            // As the transformer read it (a leading byte-order mark, an
            // explicit null), not a second reading of the JSON.
            let id_in_record = parse_input_event(data).is_ok_and(|event| event.event_id.is_some());
            Verdict::Lands { event_id, id_in_record }
        }
        Outcome::Failed(failure) => Verdict::Fails {
            code: failure.code(),
            reason: failure.to_string(),
        },
        Outcome::Dropped(_) => Verdict::Dropped,
    }
}

/// The id of the event `data` holds, if the transformer would land it.
pub fn event_id(data: &[u8]) -> Option<String> {
    match verdict(data, Timestamp::now()) {
        Verdict::Lands { event_id, .. } => Some(event_id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_producer_event_lands_with_its_own_id_and_a_malformed_one_says_why() {
        let now = Timestamp::now();
        let good = br#"{"event_id":"0b7e6a52-2f4c-4c59-9a43-0d2f8a9f1c11","event_name":"JOIN","event_time":"2026-11-21T12:00:00Z","user":7}"#;
        assert_eq!(
            verdict(good, now),
            Verdict::Lands {
                event_id: "0b7e6a52-2f4c-4c59-9a43-0d2f8a9f1c11".to_owned(),
                id_in_record: true
            }
        );
        match verdict(
            br#"{"event_name":"DANCE","event_time":"2026-11-21T12:00:00Z","user":7}"#,
            now,
        ) {
            Verdict::Fails { code, reason } => {
                assert_eq!(code, "unknown_event_type");
                assert!(reason.contains("event_name"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(
                br#"{"event_name":"JOIN","event_time":"2026-11-21T12:00:00Z","user":7}"#,
                now
            ),
            Verdict::Lands {
                id_in_record: false,
                ..
            }
        ));
    }
}
