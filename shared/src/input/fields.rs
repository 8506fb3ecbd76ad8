//! The event's fields by name, and serde's way into them: each known key's
//! value read as a [`Loose`] value (any JSON, strings borrowed), unknown keys
//! skipped, a repeated key noted for validation to refuse.

use std::fmt;

use serde::de::{IgnoredAny, MapAccess, Visitor};

use crate::json::{KeySeed, Loose, LooseSeed};

#[derive(Clone, Copy)]
pub(super) enum Field {
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
    pub(super) fn from_key(k: &str) -> Field {
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

#[derive(Default)]
pub(super) struct RawEvent<'a> {
    pub(super) event_id: Option<Loose<'a>>,
    pub(super) event_time: Option<Loose<'a>>,
    pub(super) event_name: Option<Loose<'a>>,
    pub(super) user: Option<Loose<'a>>,
    pub(super) session_id: Option<Loose<'a>>,
    pub(super) seq: Option<Loose<'a>>,
    pub(super) schema_version: Option<Loose<'a>>,
    pub(super) duplicate: Option<&'static str>,
}

impl<'a> RawEvent<'a> {
    /// Records `value` for `field`, noting a repeated field; unknown fields
    /// are ignored.
    pub(super) fn set(&mut self, field: Field, value: Loose<'a>) {
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

pub(super) struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawEvent<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawEvent<'de>, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(field) = map.next_key_seed(KeySeed(Field::from_key))? {
            if let Field::Other = field {
                map.next_value::<IgnoredAny>()?;
            } else {
                raw.set(field, map.next_value_seed(LooseSeed)?);
            }
        }
        Ok(raw)
    }
}
