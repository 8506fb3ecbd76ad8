//! The chat event model's hand-written half: parsing an event type's name
//! (the types themselves are generated from the schema, [`crate::model`]),
//! event ids, and the event the producer writes (input schema version 1).
//! The transformer reads these events back through [`crate::input`] and
//! reshapes them into [`crate::output`].

use std::fmt;

use serde::{Serialize, Serializer};
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// The version written in the producer's `schema_version` field and accepted
/// by the transformer.
pub const INPUT_SCHEMA_VERSION: u32 = 1;

pub use crate::model::{EVENT_NAMES, EventType};

impl EventType {
    /// Parses an event name, ignoring ASCII case (`JOIN`, `join`, `Open_Chat`).
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL
            .into_iter()
            .find(|t| t.input_name().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.input_name())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.input_name())
    }
}

/// Length of an [`EventId`] in its hyphenated form.
pub const EVENT_ID_LEN: usize = uuid::fmt::Hyphenated::LENGTH;

/// A UUID serialized in its hyphenated lower-case form without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A random-looking (version 4 layout) id from 16 bytes of a seeded RNG,
    /// so a regenerated tick yields the same ids.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        EventId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// A name-based id (version 8 layout) from a 128-bit hash of a stable name,
    /// used when an input event carries no id of its own.
    pub fn from_hash(hash: u128) -> Self {
        EventId(uuid::Builder::from_custom_bytes(hash.to_be_bytes()).into_uuid())
    }

    /// Writes the hyphenated form into `buf`.
    pub fn encode<'b>(&self, buf: &'b mut [u8; EVENT_ID_LEN]) -> &'b str {
        self.0.hyphenated().encode_lower(buf)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; EVENT_ID_LEN];
        f.write_str(self.encode(&mut buf))
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; EVENT_ID_LEN];
        serializer.serialize_str(self.encode(&mut buf))
    }
}

/// One event as the producer writes it (input schema version 1). Field order
/// is the wire order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChatEvent {
    pub event_id: EventId,
    pub event_time: Timestamp,
    pub event_name: EventType,
    pub user: u64,
    pub session_id: EventId,
    pub seq: u32,
    pub schema_version: u32,
}

impl ChatEvent {
    /// An event of input schema version 1. Fields a schema change adds to
    /// the producer's events start unset here, so the builders of events
    /// (the generator, testkit, tests) call this rather than list them.
    pub fn new(
        event_id: EventId,
        event_time: Timestamp,
        event_name: EventType,
        user: u64,
        session_id: EventId,
        seq: u32,
    ) -> Self {
        ChatEvent {
            event_id,
            event_time,
            event_name,
            user,
            session_id,
            seq,
            schema_version: INPUT_SCHEMA_VERSION,
        }
    }

    /// The Kinesis partition key: the user, so one user's events share a shard.
    pub fn partition_key(&self) -> String {
        self.user.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_case_insensitively_and_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.input_name()), Some(t));
            assert_eq!(EventType::parse(t.output_name()), Some(t));
        }
        assert_eq!(EventType::parse("Open_Chat"), Some(EventType::OpenChat));
        assert_eq!(EventType::parse("OPEN CHAT"), None);
        assert_eq!(EventType::parse(""), None);
    }

    #[test]
    fn chat_event_serializes_in_wire_order() {
        let e = ChatEvent::new(
            EventId::from_random_bytes([1; 16]),
            Timestamp::from_millis(1_702_375_200_123).unwrap(),
            EventType::SendMessage,
            42,
            EventId::from_random_bytes([2; 16]),
            3,
        );
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event_id":"01010101-0101-4101-8101-010101010101","event_time":"2023-12-12T10:00:00.123Z","event_name":"SEND_MESSAGE","user":42,"session_id":"02020202-0202-4202-8202-020202020202","seq":3,"schema_version":1}"#
        );
    }
}
