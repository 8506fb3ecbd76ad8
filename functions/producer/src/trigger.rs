//! What started this invocation, and what it asks for.
//!
//! * An EventBridge rule's scheduled event (`"detail-type": "Scheduled Event"`,
//!   `detail: {}`) or an EventBridge Scheduler default payload (`"source":
//!   "aws.scheduler"`, `detail` is the string `"{}"`): the window ends at the
//!   event's `time`, and the seed comes from the tick, `time` plus the rule or
//!   schedule ARN in `resources`. A retried delivery of the same tick (whose
//!   `id` may differ) regenerates the same events with the same ids.
//! * A direct invocation: the window ends now, and the seed comes from the
//!   Lambda request id, which Lambda keeps across the retries of an
//!   asynchronous invocation.
//!
//! Either may carry overrides, in `detail` or at the top level: `events`,
//! `seed`, `sink`, `dry_run`. Anything unknown or out of range is an error
//! naming the field.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chat_pipeline::timestamp::Timestamp;
use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::{Map, Value};
use xxhash_rust::xxh3::xxh3_64;

use chat_pipeline::destination::DestinationKind;

use crate::config::{MAX_EVENTS, MIN_EVENTS};

/// The top-level keys of an EventBridge event.
const ENVELOPE_KEYS: [&str; 10] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
    "replay-name",
];

/// An invocation payload the producer cannot act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid invocation payload: `{field}`: {message}")]
pub struct TriggerError {
    pub field: String,
    pub message: String,
}

impl TriggerError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        TriggerError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Overrides carried by the invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    pub events: Option<u64>,
    pub seed: Option<u64>,
    pub sink: Option<DestinationKind>,
    pub dry_run: Option<bool>,
}

/// The schedule tick that keys generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    pub time: Timestamp,
    /// The rule or schedule ARN, when the event names one.
    pub resource: Option<String>,
}

/// What to generate, decided from the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The end of the window the event times fall in.
    pub window_end: Timestamp,
    /// Present for EventBridge events.
    pub tick: Option<Tick>,
    /// The seed: an explicit override, else derived from the tick or the
    /// request id.
    pub seed: u64,
    pub overrides: Overrides,
}

/// Reads the invocation payload. `request_id` and `now` stand in for the tick
/// of a direct invocation.
pub fn parse_trigger(payload: &Value, request_id: &str, now: Timestamp) -> Result<Trigger, TriggerError> {
    let object = payload.as_object().ok_or_else(|| {
        TriggerError::new(
            "(payload)",
            format!(
                "expected a JSON object (an EventBridge scheduled event, or overrides such as {{\"events\": 10}}), found {}",
                kind(payload)
            ),
        )
    })?;
    let is_eventbridge = object.contains_key("detail-type") || object.contains_key("source");
    let mut overrides = Overrides::default();
    let (window_end, tick) = if is_eventbridge {
        let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone())
            .map_err(|e| TriggerError::new("(EventBridge event)", e.to_string()))?;
        let time = match event.time {
            Some(t) => {
                Timestamp::from_millis(t.timestamp_millis()).map_err(|e| TriggerError::new("time", e.to_string()))?
            }
            None => now,
        };
        let resource = event.resources.as_ref().and_then(|r| r.first().cloned());
        (time, Some(Tick { time, resource }))
    } else {
        (now, None)
    };
    // Overrides in `detail` first, then at the top level.
    if let Some(detail) = object.get("detail") {
        read_overrides(&detail_object(detail)?, "detail.", &mut overrides)?;
    }
    let top: Map<String, Value> = object
        .iter()
        .filter(|(k, _)| !(is_eventbridge && ENVELOPE_KEYS.contains(&k.as_str())) && k.as_str() != "detail")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    read_overrides(&top, "", &mut overrides)?;

    let seed = match (&overrides.seed, &tick) {
        (Some(seed), _) => *seed,
        (None, Some(tick)) => tick_seed(tick),
        (None, None) => xxh3_64(format!("request\0{request_id}").as_bytes()),
    };
    Ok(Trigger {
        window_end,
        tick,
        seed,
        overrides,
    })
}

/// The seed of a schedule tick: a hash of its time and rule/schedule ARN.
pub(crate) fn tick_seed(tick: &Tick) -> u64 {
    xxh3_64(format!("tick\0{}\0{}", tick.time, tick.resource.as_deref().unwrap_or("")).as_bytes())
}

/// `detail` as an object: an object, a string holding one (EventBridge
/// Scheduler sends `"{}"`), or null.
fn detail_object(detail: &Value) -> Result<Map<String, Value>, TriggerError> {
    match detail {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(other) => Err(TriggerError::new(
                "detail",
                format!("expected a JSON object in the string, found {}", kind(&other)),
            )),
            Err(e) => Err(TriggerError::new("detail", format!("the string is not JSON: {e}"))),
        },
        other => Err(TriggerError::new(
            "detail",
            format!("expected an object or a string holding one, found {}", kind(other)),
        )),
    }
}

/// The overrides as a direct invocation writes them: exactly these fields,
/// each checked as it is read (serde names the field of any error through
/// `serde_path_to_error`, an unknown one included).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideFields {
    #[serde(default, deserialize_with = "events_in_range")]
    events: Option<u64>,
    #[serde(default, deserialize_with = "non_negative_integer")]
    seed: Option<u64>,
    #[serde(default, deserialize_with = "sink_name")]
    sink: Option<DestinationKind>,
    #[serde(default, deserialize_with = "boolean")]
    dry_run: Option<bool>,
}

fn events_in_range<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(d)?;
    value
        .as_u64()
        .filter(|n| (MIN_EVENTS..=MAX_EVENTS).contains(n))
        .map(Some)
        .ok_or_else(|| {
            de::Error::custom(format!(
                "expected an integer from {MIN_EVENTS} to {MAX_EVENTS}, found {value}"
            ))
        })
}

fn non_negative_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let value = Value::deserialize(d)?;
    value
        .as_u64()
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected a non-negative integer, found {value}")))
}

fn sink_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DestinationKind>, D::Error> {
    let value = Value::deserialize(d)?;
    value
        .as_str()
        .and_then(DestinationKind::parse)
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected {}, found {value}", DestinationKind::NAMES)))
}

fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let value = Value::deserialize(d)?;
    value
        .as_bool()
        .map(Some)
        .ok_or_else(|| de::Error::custom(format!("expected true or false, found {value}")))
}

fn read_overrides(map: &Map<String, Value>, prefix: &str, out: &mut Overrides) -> Result<(), TriggerError> {
    let fields: OverrideFields = serde_path_to_error::deserialize(Value::Object(map.clone()))
        .map_err(|e| TriggerError::new(format!("{prefix}{}", e.path()), e.inner().to_string()))?;
    let twice = |key: &str| TriggerError::new(format!("{prefix}{key}"), "given both in `detail` and at the top level");
    merge(&mut out.events, fields.events).map_err(|()| twice("events"))?;
    merge(&mut out.seed, fields.seed).map_err(|()| twice("seed"))?;
    merge(&mut out.sink, fields.sink).map_err(|()| twice("sink"))?;
    merge(&mut out.dry_run, fields.dry_run).map_err(|()| twice("dry_run"))?;
    Ok(())
}

/// Sets `slot` from `value`; a value given twice is refused.
fn merge<T>(slot: &mut Option<T>, value: Option<T>) -> Result<(), ()> {
    match (slot.is_some(), value) {
        (true, Some(_)) => Err(()),
        (_, Some(v)) => {
            *slot = Some(v);
            Ok(())
        }
        (_, None) => Ok(()),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_iso8601("2026-11-21T12:00:30Z").unwrap()
    }

    fn rule_event() -> Value {
        json!({
            "version": "0",
            "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": "2026-11-21T12:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:123456789012:rule/chat-producer-schedule"],
            "detail": {}
        })
    }

    #[test]
    fn a_rule_tick_keys_on_time_and_rule_not_id() {
        let t = parse_trigger(&rule_event(), "req-1", now()).unwrap();
        assert_eq!(t.window_end.to_rfc3339(), "2026-11-21T12:00:00.000Z");
        let mut retried = rule_event();
        retried["id"] = json!("another-delivery-id");
        let again = parse_trigger(&retried, "req-2", now()).unwrap();
        assert_eq!(t.seed, again.seed, "a retried delivery regenerates the same events");
        let mut next = rule_event();
        next["time"] = json!("2026-11-21T12:01:00Z");
        assert_ne!(parse_trigger(&next, "req-1", now()).unwrap().seed, t.seed);
        let mut other_rule = rule_event();
        other_rule["resources"] = json!(["arn:aws:events:us-east-1:123456789012:rule/other"]);
        assert_ne!(parse_trigger(&other_rule, "req-1", now()).unwrap().seed, t.seed);
    }

    #[test]
    fn scheduler_detail_is_a_json_string() {
        let event = json!({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": "123456789012", "time": "2026-11-21T12:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/chat"],
            "detail": "{\"events\": 10}"
        });
        let t = parse_trigger(&event, "r", now()).unwrap();
        assert_eq!(t.overrides.events, Some(10));
        assert!(t.tick.unwrap().resource.unwrap().contains(":schedule/"));
    }

    #[test]
    fn direct_invocations_take_overrides_at_top_level_or_in_detail() {
        let t = parse_trigger(
            &json!({"events": 20, "seed": 7, "sink": "stdout", "dry_run": true}),
            "r",
            now(),
        )
        .unwrap();
        assert_eq!(
            t.overrides,
            Overrides {
                events: Some(20),
                seed: Some(7),
                sink: Some(DestinationKind::Stdout),
                dry_run: Some(true)
            }
        );
        assert_eq!(t.seed, 7);
        assert_eq!(t.window_end, now());
        let t = parse_trigger(&json!({"detail": {"events": 3}}), "r", now()).unwrap();
        assert_eq!(t.overrides.events, Some(3));
        let a = parse_trigger(&json!({}), "request-a", now()).unwrap();
        let b = parse_trigger(&json!({}), "request-a", now()).unwrap();
        let c = parse_trigger(&json!({}), "request-b", now()).unwrap();
        assert_eq!(a.seed, b.seed);
        assert_ne!(a.seed, c.seed);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({"events": 0}), "events"),
            (json!({"events": 100001}), "events"),
            (json!({"events": "10"}), "events"),
            (json!({"detail": {"events": -1}}), "detail.events"),
            (json!({"seed": 1.5}), "seed"),
            (json!({"sink": "s3"}), "sink"),
            (json!({"dry_run": "yes"}), "dry_run"),
            (json!({"count": 5}), "count"),
            (json!({"detail": {"speed": 5}}), "detail.speed"),
            (json!({"detail": 5}), "detail"),
            (json!({"detail": "not json"}), "detail"),
            (json!({"events": 5, "detail": {"events": 6}}), "events"),
            (json!([1, 2]), "(payload)"),
        ];
        for (payload, field) in cases {
            let e = parse_trigger(&payload, "r", now()).unwrap_err();
            assert_eq!(e.field, field, "{payload}: {e}");
        }
        let mut bad_time = rule_event();
        bad_time["time"] = json!("noon");
        assert_eq!(
            parse_trigger(&bad_time, "r", now()).unwrap_err().field,
            "(EventBridge event)"
        );
    }
}
