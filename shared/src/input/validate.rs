//! What each field of an event must hold: from the loosely read fields to an
//! [`InputEvent`], or an [`InputError`] naming the field and what it expected.

use std::borrow::Cow;

use super::fields::RawEvent;
use super::{InputError, InputEvent, MAX_ID_LEN, MAX_INTEGER};
use crate::event::{EventType, INPUT_SCHEMA_VERSION};
use crate::json::{Loose, floor_char_boundary};
use crate::timestamp::{TimeError, Timestamp};

const EXPECT_EVENT_NAME: &str = "a string";
const EXPECT_EVENT_TIME: &str = "an RFC 3339 / ISO-8601 date-time string (e.g. \"2023-12-12T10:00:00.123Z\"; no offset means UTC) or epoch milliseconds";
const EXPECT_USER: &str = "an integer from 0 to 9223372036854775807 (2^63-1), or a string of such decimal digits";
const EXPECT_ID: &str = "a non-empty string of at most 256 bytes, or null";
const EXPECT_SEQ: &str = "an integer from 0 to 9223372036854775807 (2^63-1), or null";
const EXPECT_SCHEMA: &str = "1 (the only input schema version) or null";

fn invalid(field: &'static str, expected: &'static str, found: &Loose<'_>) -> InputError {
    InputError::InvalidField {
        field,
        expected,
        found: found.to_string(),
    }
}

fn optional_id<'a>(field: &'static str, v: Option<Loose<'a>>) -> Result<Option<Cow<'a, str>>, InputError> {
    match v {
        None | Some(Loose::Null) => Ok(None),
        Some(Loose::Str(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => Ok(Some(s)),
        Some(other) => Err(invalid(field, EXPECT_ID, &other)),
    }
}

impl<'a> RawEvent<'a> {
    pub(super) fn validate(self) -> Result<InputEvent<'a>, InputError> {
        if let Some(field) = self.duplicate {
            return Err(InputError::DuplicateField { field });
        }
        let event_type = match self.event_name {
            None => return Err(InputError::MissingField { field: "event_name" }),
            Some(Loose::Str(name)) => EventType::parse(&name).ok_or_else(|| InputError::UnknownEventType {
                name: name[..floor_char_boundary(&name, 64)].to_owned(),
            })?,
            Some(other) => return Err(invalid("event_name", EXPECT_EVENT_NAME, &other)),
        };
        let occurred_at = match self.event_time {
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
        let user_id = match self.user {
            None => return Err(InputError::MissingField { field: "user" }),
            Some(Loose::Int(i)) if (0..=i128::from(MAX_INTEGER)).contains(&i) => i as u64,
            Some(Loose::Str(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= MAX_INTEGER)
                .ok_or_else(|| invalid("user", EXPECT_USER, &Loose::Str(s.clone())))?,
            Some(other) => return Err(invalid("user", EXPECT_USER, &other)),
        };
        let seq = match self.seq {
            None | Some(Loose::Null) => None,
            Some(Loose::Int(i)) if (0..=i128::from(MAX_INTEGER)).contains(&i) => Some(i as u64),
            Some(other) => return Err(invalid("seq", EXPECT_SEQ, &other)),
        };
        match self.schema_version {
            None | Some(Loose::Null) => {}
            Some(Loose::Int(v)) if v == i128::from(INPUT_SCHEMA_VERSION) => {}
            Some(other) => return Err(invalid("schema_version", EXPECT_SCHEMA, &other)),
        }
        Ok(InputEvent {
            event_id: optional_id("event_id", self.event_id)?,
            event_type,
            occurred_at,
            user_id,
            session_id: optional_id("session_id", self.session_id)?,
            seq,
        })
    }
}
