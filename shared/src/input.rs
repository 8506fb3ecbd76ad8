//! Reading one chat event as producers send it: the producer's own schema
//! (version 1) and the plain events of existing Python producers
//! (`{"event_time": "2023-12-12T10:00:00.123456", "event_name": "JOIN", "user": 42}`).
//!
//! Parsing is two steps. First the JSON object is read into loosely typed
//! fields (any JSON value is accepted for each known key; unknown keys are
//! skipped), so that the second step, validation, can say exactly which field
//! is wrong and what it expected. Strings are borrowed from the record bytes
//! whenever they contain no escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::event::{EVENT_NAMES, EventType, INPUT_SCHEMA_VERSION};
use crate::timestamp::{TimeError, Timestamp};

/// The longest accepted `event_id` / `session_id`, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// The largest accepted `user` and `seq`: 2^63-1, the maximum of a signed
/// 64-bit integer, which is what every consumer stores them in (Athena and
/// Redshift `bigint`, Snowflake `NUMBER(19)`, DuckDB `BIGINT`). A larger value
/// is refused with a reason rather than landing where a query cannot read it;
/// `tests/tests/template_agreement.rs` holds this and the Glue columns together.
pub const MAX_INTEGER: u64 = i64::MAX as u64;

/// One validated input event.
#[derive(Clone, Debug, PartialEq)]
pub struct InputEvent<'a> {
    /// `None` when the producer sent no id: the caller derives one.
    pub event_id: Option<Cow<'a, str>>,
    pub event_type: EventType,
    pub occurred_at: Timestamp,
    pub user_id: u64,
    pub session_id: Option<Cow<'a, str>>,
    pub seq: Option<u64>,
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
            #[serde(skip_serializing_if = "Option::is_none")]
            session_id: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
            schema_version: u32,
        }
        let canonical = Canonical {
            event_id,
            event_time: self.occurred_at,
            event_name: self.event_type,
            user: self.user_id,
            session_id: self.session_id.as_deref(),
            seq: self.seq,
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
        }
    }
}

const EXPECT_EVENT_NAME: &str = "a string";
const EXPECT_EVENT_TIME: &str = "an RFC 3339 / ISO-8601 date-time string (e.g. \"2023-12-12T10:00:00.123Z\"; no offset means UTC) or epoch milliseconds";
const EXPECT_USER: &str = "an integer from 0 to 9223372036854775807 (2^63-1), or a string of such decimal digits";
const EXPECT_ID: &str = "a non-empty string of at most 256 bytes, or null";
const EXPECT_SEQ: &str = "an integer from 0 to 9223372036854775807 (2^63-1), or null";
const EXPECT_SCHEMA: &str = "1 (the only input schema version) or null";

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

/// The fast path: a flat JSON object whose values are unescaped strings,
/// integers of up to 18 digits, `null`, `true` or `false`, which is what
/// producers send. Anything else (escapes, nesting, floats, long integers,
/// syntax errors, trailing data) returns `None` and goes through serde_json,
/// which then also produces the error. For every input it accepts, the result
/// is the one serde_json would give (a property test checks this).
fn scan_flat_object(text: &str) -> Option<RawEvent<'_>> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    let mut raw = RawEvent::default();
    i = skip_ws(b, i + 1);
    if b.get(i) == Some(&b'}') {
        return (skip_ws(b, i + 1) == b.len()).then_some(raw);
    }
    loop {
        let (key, after_key) = scan_str(text, i)?;
        i = skip_ws(b, after_key);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(b, i + 1);
        let (value, after_value) = scan_scalar(text, i)?;
        raw.set(Field::from_key(key), value);
        i = skip_ws(b, after_value);
        match b.get(i) {
            Some(b',') => i = skip_ws(b, i + 1),
            Some(b'}') => return (skip_ws(b, i + 1) == b.len()).then_some(raw),
            _ => return None,
        }
    }
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// An unescaped string starting at `i` (the opening quote): its contents and
/// the index after the closing quote.
fn scan_str(text: &str, i: usize) -> Option<(&str, usize)> {
    let b = text.as_bytes();
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let start = i + 1;
    let end = start + memchr::memchr2(b'"', b'\\', b.get(start..)?)?;
    // A backslash or control character needs serde_json's handling.
    let plain = b[end] == b'"' && !b[start..end].iter().fold(false, |acc, &c| acc | (c < 0x20));
    plain.then(|| (&text[start..end], end + 1))
}

fn scan_scalar(text: &str, i: usize) -> Option<(Loose<'_>, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'"' => scan_str(text, i).map(|(s, end)| (Loose::Str(Cow::Borrowed(s)), end)),
        b'n' if b[i..].starts_with(b"null") => Some((Loose::Null, i + 4)),
        b't' if b[i..].starts_with(b"true") => Some((Loose::Bool(true), i + 4)),
        b'f' if b[i..].starts_with(b"false") => Some((Loose::Bool(false), i + 5)),
        b'-' | b'0'..=b'9' => {
            let negative = b[i] == b'-';
            let start = i + usize::from(negative);
            let digits = b.get(start..)?.iter().take_while(|c| c.is_ascii_digit()).count();
            let end = start + digits;
            // Leave leading zeros, fractions, exponents and long numbers to serde_json.
            if digits == 0 || digits > 18 || (digits > 1 && b[start] == b'0') {
                return None;
            }
            if matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            let magnitude = b[start..end].iter().fold(0i128, |n, &d| n * 10 + i128::from(d - b'0'));
            // serde_json reads `-0` as the float -0.0.
            if negative && magnitude == 0 {
                return None;
            }
            Some((Loose::Int(if negative { -magnitude } else { magnitude }), end))
        }
        _ => None,
    }
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

/// Any JSON value, kept only as far as validation needs it.
#[derive(Debug, Clone, PartialEq)]
enum Loose<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl fmt::Display for Loose<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loose::Null => f.write_str("null"),
            Loose::Bool(b) => write!(f, "boolean {b}"),
            Loose::Int(i) => write!(f, "integer {i}"),
            Loose::Float(x) => write!(f, "number {x}"),
            Loose::Str(s) => {
                let cut = floor_char_boundary(s, 64);
                if cut < s.len() {
                    write!(f, "string {:?}...", &s[..cut])
                } else {
                    write!(f, "string {s:?}")
                }
            }
            Loose::Array => f.write_str("an array"),
            Loose::Object => f.write_str("an object"),
        }
    }
}

/// The largest index `<= max` that is a char boundary of `s`.
pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

struct LooseSeed;

impl<'de> DeserializeSeed<'de> for LooseSeed {
    type Value = Loose<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Loose<'de>, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E>(self) -> Result<Loose<'de>, E> {
        Ok(Loose::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Loose<'de>, E> {
        Ok(Loose::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Loose<'de>, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Loose<'de>, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Loose<'de>, E> {
        Ok(Loose::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Loose<'de>, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Object)
    }
}

#[derive(Clone, Copy)]
enum Field {
    EventId,
    EventTime,
    EventName,
    User,
    SessionId,
    Seq,
    SchemaVersion,
    Other,
}

impl Field {
    fn from_key(k: &str) -> Field {
        match k {
            "event_id" => Field::EventId,
            "event_time" => Field::EventTime,
            "event_name" => Field::EventName,
            "user" => Field::User,
            "session_id" => Field::SessionId,
            "seq" => Field::Seq,
            "schema_version" => Field::SchemaVersion,
            _ => Field::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Field::EventId => "event_id",
            Field::EventTime => "event_time",
            Field::EventName => "event_name",
            Field::User => "user",
            Field::SessionId => "session_id",
            Field::Seq => "seq",
            Field::SchemaVersion => "schema_version",
            Field::Other => "",
        }
    }
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_str(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::from_key(v))
    }
}

#[derive(Default)]
struct RawEvent<'a> {
    event_id: Option<Loose<'a>>,
    event_time: Option<Loose<'a>>,
    event_name: Option<Loose<'a>>,
    user: Option<Loose<'a>>,
    session_id: Option<Loose<'a>>,
    seq: Option<Loose<'a>>,
    schema_version: Option<Loose<'a>>,
    duplicate: Option<&'static str>,
}

impl<'a> RawEvent<'a> {
    /// Records `value` for `field`, noting a repeated field; unknown fields
    /// are ignored.
    fn set(&mut self, field: Field, value: Loose<'a>) {
        let slot = match field {
            Field::EventId => &mut self.event_id,
            Field::EventTime => &mut self.event_time,
            Field::EventName => &mut self.event_name,
            Field::User => &mut self.user,
            Field::SessionId => &mut self.session_id,
            Field::Seq => &mut self.seq,
            Field::SchemaVersion => &mut self.schema_version,
            Field::Other => return,
        };
        if slot.is_some() {
            self.duplicate.get_or_insert(field.name());
        }
        *slot = Some(value);
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            if let Field::Other = field {
                map.next_value::<IgnoredAny>()?;
            } else {
                raw.set(field, map.next_value_seed(LooseSeed)?);
            }
        }
        Ok(raw)
    }
}

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
    fn validate(self) -> Result<InputEvent<'a>, InputError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(s: &str) -> InputError {
        parse_input_event(s.as_bytes()).unwrap_err()
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
        assert_eq!(e.session_id.as_deref(), Some("s1"));
        assert_eq!(e.seq, Some(3));
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
        assert_eq!(e.session_id, None);
        assert_eq!(e.seq, None);
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
        assert_eq!((e.user_id, e.seq), (MAX_INTEGER, Some(MAX_INTEGER)));
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
