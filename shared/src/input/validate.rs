//! What each field of an event must hold: from the loosely read fields to an
//! [`InputEvent`], or an [`InputError`] naming the field and what it expected.
//! The fields with a rule of their own are checked here by hand; the plain
//! columns by their rule in the schema (`RawEvent::plain_columns`, generated
//! in [`crate::model`]), which calls [`plain_string`] and [`plain_integer`].

use std::borrow::Cow;

use super::{InputError, InputEvent, MAX_ID_LEN, MAX_INTEGER};
use crate::event::{EventType, INPUT_SCHEMA_VERSION};
use crate::json::{Loose, floor_char_boundary};
use crate::model::RawEvent;
use crate::timestamp::{TimeError, Timestamp};

const EXPECT_EVENT_NAME: &str = "a string";
const EXPECT_EVENT_TIME: &str = "an RFC 3339 / ISO-8601 date-time string (e.g. \"2023-12-12T10:00:00.123Z\"; no offset means UTC) or epoch milliseconds";
const EXPECT_USER: &str = "an integer from 0 to 9223372036854775807 (2^63-1), or a string of such decimal digits";
const EXPECT_ID: &str = "a string of 1 to 256 characters, or null";
const EXPECT_SCHEMA: &str = "1 (the only input schema version) or null";

fn invalid(field: &'static str, expected: &'static str, found: &Loose<'_>) -> InputError {
    InputError::InvalidField {
        field,
        expected,
        found: found.to_string(),
    }
}

/// Whether `s` holds `min` to `max` characters (Unicode scalar values, as
/// JSON Schema's minLength and maxLength count them), counting them only when
/// its length in bytes cannot decide.
fn chars_within(s: &str, min: usize, max: usize) -> bool {
    // A character is 1 to 4 bytes of UTF-8.
    let bytes = s.len();
    let at_least_min = bytes >= min.saturating_mul(4) || s.chars().count() >= min;
    let at_most_max = bytes <= max || s.chars().count() <= max;
    at_least_min && at_most_max
}

/// A plain string column: absent or null, or a string of `min` to `max`
/// characters; anything else is refused, naming `field` and `expected`.
pub(crate) fn plain_string<'a>(
    field: &'static str,
    v: Option<Loose<'a>>,
    min: usize,
    max: usize,
    expected: &'static str,
) -> Result<Option<Cow<'a, str>>, InputError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Str(s)) if chars_within(&s, min, max) => Ok(Some(s)),
        Some(other) => Err(invalid(field, expected, &other)),
    }
}

/// A plain integer column: absent or null, or a JSON integer from `min` to
/// `max`; anything else (a string, a fraction) is refused, naming `field`
/// and `expected`.
pub(crate) fn plain_integer(
    field: &'static str,
    v: Option<Loose<'_>>,
    min: i128,
    max: i128,
    expected: &'static str,
) -> Result<Option<i128>, InputError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Int(i)) if (min..=max).contains(&i) => Ok(Some(i)),
        Some(other) => Err(invalid(field, expected, &other)),
    }
}

impl<'a> RawEvent<'a> {
    pub(super) fn validate(mut self) -> Result<InputEvent<'a>, InputError> {
        if let Some(field) = self.duplicate {
            return Err(InputError::DuplicateField { field });
        }
        let event_type = match self.event_name.take() {
            None => return Err(InputError::MissingField { field: "event_name" }),
            Some(Loose::Str(name)) => EventType::parse(&name).ok_or_else(|| InputError::UnknownEventType {
                name: name[..floor_char_boundary(&name, 64)].to_owned(),
            })?,
            Some(other) => return Err(invalid("event_name", EXPECT_EVENT_NAME, &other)),
        };
        let occurred_at = match self.event_time.take() {
            None => return Err(InputError::MissingField { field: "event_time" }),
            Some(v) => {
                let parsed = match &v {
                    Loose::Str(s) => Timestamp::parse_iso8601(s),
                    Loose::Int(i) => Timestamp::from_epoch_millis_int(*i),
                    Loose::Float(x) => Timestamp::from_epoch_millis_float(*x),
                    _ => Err(TimeError::Syntax("wrong JSON type")),
                };
                parsed.map_err(|e| InputError::InvalidField {
                    field: "event_time",
                    expected: EXPECT_EVENT_TIME,
                    found: match e {
                        TimeError::Syntax("wrong JSON type") => v.to_string(),
                        e => format!("{v} ({e})"),
                    },
                })?
            }
        };
        let user_id = match self.user.take() {
            None => return Err(InputError::MissingField { field: "user" }),
            Some(Loose::Int(i)) if (0..=i128::from(MAX_INTEGER)).contains(&i) => i as u64,
            Some(Loose::Str(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= MAX_INTEGER)
                .ok_or_else(|| invalid("user", EXPECT_USER, &Loose::Str(s.clone())))?,
            Some(other) => return Err(invalid("user", EXPECT_USER, &other)),
        };
        match self.schema_version.take() {
            None | Some(Loose::Null) => {}
            Some(Loose::Int(v)) if v == i128::from(INPUT_SCHEMA_VERSION) => {}
            Some(other) => return Err(invalid("schema_version", EXPECT_SCHEMA, &other)),
        }
        let event_id = match self.event_id.take() {
            None | Some(Loose::Null) => None,
            Some(Loose::Str(s)) if chars_within(&s, 1, MAX_ID_LEN) => Some(s),
            Some(other) => return Err(invalid("event_id", EXPECT_ID, &other)),
        };
        Ok(InputEvent {
            event_id,
            event_type,
            occurred_at,
            user_id,
            columns: self.plain_columns()?,
        })
    }
}
