//! The serde side of reading a [`TransformationEvent`](super::TransformationEvent):
//! every envelope field but `recordId` read leniently, so that a record
//! whose envelope cannot be read is answered `ProcessingFailed` on its own
//! and never fails the batch. [`super::scan`] reads the usual shape without
//! serde; this reads everything else, and words the errors.

use std::borrow::Cow;
use std::fmt;

use chat_pipeline::timestamp::Timestamp;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::{EnvelopeError, EpochMillis, FirehoseRecord, KinesisRecordMetadata};

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(Lenient(EpochMillisField))? {
            Ok(v) => Ok(v),
            Err(why) => Err(de::Error::custom(why)),
        }
    }
}

/// How one envelope field is read: from which JSON values, into what.
/// [`Lenient`] turns any other value (drained, so parsing goes on) into a
/// reason instead of a deserialization error.
trait FieldReader<'de>: Copy {
    type Value;
    /// What the field should hold, for the reason text.
    const EXPECTED: &'static str;
    fn read_u64(self, _v: u64) -> Option<Self::Value> {
        None
    }
    fn read_i64(self, v: i64) -> Option<Self::Value> {
        u64::try_from(v).ok().and_then(|v| self.read_u64(v))
    }
    fn read_f64(self, _v: f64) -> Option<Self::Value> {
        None
    }
    fn read_str(self, _v: &str) -> Option<Self::Value> {
        None
    }
    fn read_string(self, v: String) -> Option<Self::Value> {
        self.read_str(&v)
    }
    /// A string that lives as long as the request body.
    fn read_borrowed_str(self, v: &'de str) -> Option<Self::Value> {
        self.read_str(v)
    }
}

/// A field read by `R`: `Ok` with its value, or `Err` with why not.
#[derive(Clone, Copy)]
struct Lenient<R>(R);

/// A value a field does not take: what it expected, and what it found.
#[derive(Clone, Debug)]
pub(super) struct Refused {
    expected: &'static str,
    found: String,
}

impl Refused {
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

impl<'de, R: FieldReader<'de>> DeserializeSeed<'de> for Lenient<R> {
    type Value = Result<R::Value, Refused>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<R: Copy> Lenient<R> {
    fn refuse<'de, T>(found: impl fmt::Display) -> Result<T, Refused>
    where
        R: FieldReader<'de>,
    {
        Err(Refused {
            expected: R::EXPECTED,
            found: found.to_string(),
        })
    }
}

impl<'de, R: FieldReader<'de>> Visitor<'de> for Lenient<R> {
    type Value = Result<R::Value, Refused>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(R::EXPECTED)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.0.read_u64(v).map_or_else(|| Self::refuse(v), Ok))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.0.read_i64(v).map_or_else(|| Self::refuse(v), Ok))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.0.read_f64(v).map_or_else(|| Self::refuse(v), Ok))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .read_str(v)
            .map_or_else(|| Self::refuse(format_args!("{v:?}")), Ok))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self
            .0
            .read_borrowed_str(v)
            .map_or_else(|| Self::refuse(format_args!("{v:?}")), Ok))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        let shown = format!("{v:?}");
        Ok(self.0.read_string(v).map_or_else(|| Self::refuse(shown), Ok))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Self::refuse(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Self::refuse("null"))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Self::refuse("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(Self::refuse("an object"))
    }
}

#[derive(Clone, Copy)]
struct EpochMillisField;

impl FieldReader<'_> for EpochMillisField {
    type Value = EpochMillis;
    const EXPECTED: &'static str = "epoch milliseconds from 0 to 253402300799999, or an ISO-8601 date-time string";
    fn read_u64(self, v: u64) -> Option<EpochMillis> {
        i64::try_from(v).ok().and_then(|ms| self.read_i64(ms))
    }
    fn read_i64(self, v: i64) -> Option<EpochMillis> {
        Timestamp::from_millis(v).ok().map(EpochMillis)
    }
    fn read_f64(self, v: f64) -> Option<EpochMillis> {
        let floored = v.floor();
        if floored.is_finite() && (0.0..=Timestamp::MAX.millis() as f64).contains(&floored) {
            self.read_i64(floored as i64)
        } else {
            None
        }
    }
    fn read_str(self, v: &str) -> Option<EpochMillis> {
        Timestamp::parse_iso8601(v).ok().map(EpochMillis)
    }
}

/// A JSON string: borrowed from the body when the deserializer can lend it,
/// else owned.
#[derive(Clone, Copy)]
struct Text;

impl<'de> FieldReader<'de> for Text {
    type Value = Cow<'de, str>;
    const EXPECTED: &'static str = "a string";
    fn read_str(self, v: &str) -> Option<Self::Value> {
        Some(Cow::Owned(v.to_owned()))
    }
    fn read_string(self, v: String) -> Option<Self::Value> {
        Some(Cow::Owned(v))
    }
    fn read_borrowed_str(self, v: &'de str) -> Option<Self::Value> {
        Some(Cow::Borrowed(v))
    }
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

/// `subsequenceNumber`: a number, or its digits as a string; `""` (a record
/// that was not aggregated) is 0.
#[derive(Clone, Copy)]
struct Subsequence;

impl FieldReader<'_> for Subsequence {
    type Value = u64;
    const EXPECTED: &'static str = "a non-negative integer, or its digits as a string";
    fn read_u64(self, v: u64) -> Option<u64> {
        Some(v)
    }
    fn read_str(self, v: &str) -> Option<u64> {
        if v.is_empty() { Some(0) } else { v.parse().ok() }
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
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_identifier(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        Ok(Field::NAMES
            .iter()
            .find(|(_, name)| *name == v)
            .map_or(Field::Other, |(f, _)| *f))
    }
}

fn not_an_object(found: impl fmt::Display) -> EnvelopeError {
    EnvelopeError::Unexpected {
        field: "kinesisRecordMetadata".to_owned(),
        expected: "an object",
        found: found.to_string(),
    }
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
        while let Some(key) = map.next_key::<Field>()? {
            let outcome = match key {
                Field::ShardId => map.next_value_seed(Lenient(Text))?.map(|v| shard_id = Some(v)),
                Field::PartitionKey => map.next_value_seed(Lenient(Text))?.map(|v| partition_key = Some(v)),
                Field::SequenceNumber => map.next_value_seed(Lenient(Text))?.map(|v| sequence_number = Some(v)),
                Field::SubsequenceNumber => map
                    .next_value_seed(Lenient(Subsequence))?
                    .map(|v| subsequence_number = Some(v)),
                Field::ApproximateArrivalTimestamp => map
                    .next_value_seed(Lenient(EpochMillisField))?
                    .map(|v| arrival = Some(v)),
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
        Ok(Err(not_an_object("an array")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(format!("{v:?}"))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(not_an_object(v)))
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
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::RecordId => {
                    if record_id.is_some() {
                        return Err(de::Error::duplicate_field("recordId"));
                    }
                    record_id = Some(map.next_value_seed(RecordId)?);
                }
                Field::ApproximateArrivalTimestamp => {
                    let v = map.next_value_seed(Lenient(EpochMillisField))?;
                    note(v.map(|v| arrival = Some(v)).map_err(|r| r.of(key.name())));
                }
                Field::Data => {
                    let v = map.next_value_seed(Lenient(Text))?;
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
