//! The serde side of reading a [`TransformationEvent`](super::TransformationEvent):
//! every envelope field but `recordId` read leniently, so that a record
//! whose envelope cannot be read is answered `ProcessingFailed` on its own
//! and never fails the batch. [`super::scan`] reads the usual shape without
//! serde; this reads everything else, and words the errors. Each field is
//! read as a [`Loose`] value (the same reader the event's fields use, in
//! `chat_pipeline::json`) and then checked by a small function here.

use std::borrow::Cow;
use std::fmt;

use chat_pipeline::json::{KeySeed, Loose, LooseSeed};
use chat_pipeline::timestamp::Timestamp;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{EnvelopeError, EpochMillis, FirehoseRecord, KinesisRecordMetadata};

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        millis(LooseSeed.deserialize(d)?).map_err(de::Error::custom)
    }
}

/// A value a field does not take: what it expected, and what it found.
#[derive(Clone, Debug)]
pub(super) struct Refused {
    expected: &'static str,
    found: String,
}

impl Refused {
    fn new(expected: &'static str, found: &Loose<'_>) -> Self {
        Refused {
            expected,
            found: found.to_string(),
        }
    }

    /// The same, as the envelope error of `field`.
    fn of(self, field: impl Into<String>) -> EnvelopeError {
        EnvelopeError::Unexpected {
            field: field.into(),
            expected: self.expected,
            found: self.found,
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {}, found {}", self.expected, self.found)
    }
}

// Each envelope field is read as a `Loose` value (any JSON, drained so that
// parsing goes on) and then checked by one of these, so a wrong value
// becomes a reason for that record instead of a deserialization error.

/// `approximateArrivalTimestamp`: epoch milliseconds (a fraction is
/// floored), or an ISO-8601 date-time.
fn millis(v: Loose<'_>) -> Result<EpochMillis, Refused> {
    const EXPECTED: &str = "epoch milliseconds from 0 to 253402300799999, or an ISO-8601 date-time string";
    let read = match &v {
        Loose::Int(ms) => i64::try_from(*ms).ok().and_then(|ms| Timestamp::from_millis(ms).ok()),
        Loose::Float(x) => {
            let floored = x.floor();
            (floored.is_finite() && (0.0..=Timestamp::MAX.millis() as f64).contains(&floored))
                .then(|| Timestamp::from_millis(floored as i64).ok())
                .flatten()
        }
        Loose::Str(s) => Timestamp::parse_iso8601(s).ok(),
        _ => None,
    };
    read.map(EpochMillis).ok_or_else(|| Refused::new(EXPECTED, &v))
}

/// A JSON string, borrowed from the body when it holds no escapes.
fn text(v: Loose<'_>) -> Result<Cow<'_, str>, Refused> {
    match v {
        Loose::Str(s) => Ok(s),
        other => Err(Refused::new("a string", &other)),
    }
}

/// `subsequenceNumber`: a number, or its digits as a string; `""` (a record
/// that was not aggregated) is 0.
fn subsequence(v: Loose<'_>) -> Result<u64, Refused> {
    let read = match &v {
        Loose::Int(n) => u64::try_from(*n).ok(),
        Loose::Str(s) if s.is_empty() => Some(0),
        Loose::Str(s) => s.parse().ok(),
        _ => None,
    };
    read.ok_or_else(|| Refused::new("a non-negative integer, or its digits as a string", &v))
}

/// `recordId`: strictly a string (without it no answer can be given), borrowed
/// when it can be.
#[derive(Clone, Copy)]
struct RecordId;

impl<'de> DeserializeSeed<'de> for RecordId {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for RecordId {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// The keys of a record and of its `kinesisRecordMetadata` that are read;
/// matched without copying the key.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    RecordId,
    ApproximateArrivalTimestamp,
    Data,
    KinesisRecordMetadata,
    ShardId,
    PartitionKey,
    SequenceNumber,
    SubsequenceNumber,
    Other,
}

impl Field {
    const NAMES: [(Field, &'static str); 8] = [
        (Field::RecordId, "recordId"),
        (Field::ApproximateArrivalTimestamp, "approximateArrivalTimestamp"),
        (Field::Data, "data"),
        (Field::KinesisRecordMetadata, "kinesisRecordMetadata"),
        (Field::ShardId, "shardId"),
        (Field::PartitionKey, "partitionKey"),
        (Field::SequenceNumber, "sequenceNumber"),
        (Field::SubsequenceNumber, "subsequenceNumber"),
    ];

    fn name(self) -> &'static str {
        Field::NAMES
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, name)| name)
    }

    fn from_key(key: &str) -> Field {
        Field::NAMES
            .iter()
            .find(|(_, name)| *name == key)
            .map_or(Field::Other, |(f, _)| *f)
    }
}

fn not_an_object(found: Loose<'_>) -> EnvelopeError {
    Refused::new("an object", &found).of("kinesisRecordMetadata")
}

/// `kinesisRecordMetadata`: an object whose fields are read leniently and
/// then checked together.
#[derive(Clone, Copy)]
struct MetadataField;

impl<'de> DeserializeSeed<'de> for MetadataField {
    type Value = Result<Option<KinesisRecordMetadata<'de>>, EnvelopeError>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetadataField {
    type Value = Result<Option<KinesisRecordMetadata<'de>>, EnvelopeError>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Ok(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut shard_id = None;
        let mut partition_key = None;
        let mut sequence_number = None;
        let mut subsequence_number = None;
        let mut arrival = None;
        let mut first_error: Option<EnvelopeError> = None;
        while let Some(key) = map.next_key_seed(KeySeed(Field::from_key))? {
            let outcome = match key {
                Field::ShardId => text(map.next_value_seed(LooseSeed)?).map(|v| shard_id = Some(v)),
                Field::PartitionKey => text(map.next_value_seed(LooseSeed)?).map(|v| partition_key = Some(v)),
                Field::SequenceNumber => text(map.next_value_seed(LooseSeed)?).map(|v| sequence_number = Some(v)),
                Field::SubsequenceNumber => {
                    subsequence(map.next_value_seed(LooseSeed)?).map(|v| subsequence_number = Some(v))
                }
                Field::ApproximateArrivalTimestamp => {
                    millis(map.next_value_seed(LooseSeed)?).map(|v| arrival = Some(v))
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                    continue;
                }
            };
            if let (Err(refused), None) = (outcome, &first_error) {
                first_error = Some(refused.of(format!("kinesisRecordMetadata.{}", key.name())));
            }
        }
        if let Some(e) = first_error {
            return Ok(Err(e));
        }
        let missing = |field: &str| EnvelopeError::Missing {
            field: format!("kinesisRecordMetadata.{field}"),
        };
        Ok((|| {
            Ok(Some(KinesisRecordMetadata {
                shard_id: shard_id.ok_or_else(|| missing("shardId"))?,
                partition_key: partition_key.ok_or_else(|| missing("partitionKey"))?,
                sequence_number: sequence_number.ok_or_else(|| missing("sequenceNumber"))?,
                subsequence_number: subsequence_number.unwrap_or(0),
                approximate_arrival_timestamp: arrival,
            }))
        })())
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Err(not_an_object(Loose::Array)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(Loose::Str(Cow::Borrowed(v)))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(Loose::Bool(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(Loose::Int(i128::from(v)))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(Loose::Int(i128::from(v)))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(Loose::Float(v))))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for FirehoseRecord<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RecordVisitor)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = FirehoseRecord<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Firehose record: an object with a string recordId")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FirehoseRecord<'de>, A::Error> {
        let mut record_id: Option<Cow<'de, str>> = None;
        let mut arrival = None;
        let mut data = None;
        let mut metadata = None;
        let mut first_error: Option<EnvelopeError> = None;
        let mut note = |outcome: Result<(), EnvelopeError>| {
            if let (Err(e), None) = (outcome, &first_error) {
                first_error = Some(e);
            }
        };
        while let Some(key) = map.next_key_seed(KeySeed(Field::from_key))? {
            match key {
                Field::RecordId => {
                    if record_id.is_some() {
                        return Err(de::Error::duplicate_field("recordId"));
                    }
                    record_id = Some(map.next_value_seed(RecordId)?);
                }
                Field::ApproximateArrivalTimestamp => {
                    let v = millis(map.next_value_seed(LooseSeed)?);
                    note(v.map(|v| arrival = Some(v)).map_err(|r| r.of(key.name())));
                }
                Field::Data => {
                    let v = text(map.next_value_seed(LooseSeed)?);
                    note(v.map(|v| data = Some(v)).map_err(|r| r.of(key.name())));
                }
                Field::KinesisRecordMetadata => {
                    let v = map.next_value_seed(MetadataField)?;
                    note(v.map(|v| metadata = v));
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let record_id = record_id.ok_or_else(|| de::Error::missing_field("recordId"))?;
        if arrival.is_none() {
            note(Err(EnvelopeError::Missing {
                field: "approximateArrivalTimestamp".to_owned(),
            }));
        }
        if data.is_none() {
            note(Err(EnvelopeError::Missing {
                field: "data".to_owned(),
            }));
        }
        Ok(FirehoseRecord {
            record_id,
            approximate_arrival_timestamp: arrival.unwrap_or(EpochMillis(Timestamp::MIN)),
            data: data.unwrap_or_default(),
            kinesis_record_metadata: metadata,
            envelope_error: first_error,
        })
    }
}
