//! The Firehose data-transformation contract: the event Firehose sends
//! ([`TransformationEvent`]) and the answer it expects
//! ([`TransformationResponse`]).
//!
//! These are our own types rather than `aws_lambda_events::firehose`'s, for
//! three reasons found while building this: that crate's timestamp
//! deserializer panics (`assert_eq!`) on a fractional `approximateArrivalTimestamp`
//! and allocates a string per record to parse it; it decodes every record's
//! base64 during deserialization, so one bad record fails the whole batch
//! instead of that record; and its response carries partition keys in a
//! `HashMap` (an allocation per key, random order) and `result` as a free
//! string. The contract tests check both shapes against `aws_lambda_events`.

use std::borrow::Cow;
use std::fmt;

use chat_pipeline::output::PartitionKeys;
use chat_pipeline::timestamp::Timestamp;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The 6 MB synchronous-invocation payload limit (6 MiB).
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// The response budget: what AWS's own Firehose processor blueprints keep
/// under, leaving headroom below [`LAMBDA_RESPONSE_LIMIT`].
pub const RESPONSE_BUDGET: usize = 6_000_000;

/// The largest record Firehose accepts, before base64 (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// What Firehose sends to a transformation Lambda.
///
/// Strings borrow from the request body where they can (`Cow::Borrowed`):
/// record ids and base64 data never contain JSON escapes, so parsing a 6 MB
/// request copies none of them. Read from a source that cannot lend (a
/// reader, or a string with escapes) they are owned.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "a Firehose data-transformation event: an object with deliveryStreamArn and records"
)]
pub struct TransformationEvent<'a> {
    #[serde(default, borrow)]
    pub invocation_id: Cow<'a, str>,
    #[serde(borrow)]
    pub delivery_stream_arn: Cow<'a, str>,
    /// Present when the delivery stream reads a Kinesis data stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    #[serde(default, borrow)]
    pub region: Cow<'a, str>,
    #[serde(borrow)]
    pub records: Vec<FirehoseRecord<'a>>,
}

impl TransformationEvent<'_> {
    /// The same event owning all its strings.
    pub fn into_owned(self) -> TransformationEvent<'static> {
        TransformationEvent {
            invocation_id: Cow::Owned(self.invocation_id.into_owned()),
            delivery_stream_arn: Cow::Owned(self.delivery_stream_arn.into_owned()),
            source_kinesis_stream_arn: self.source_kinesis_stream_arn,
            region: Cow::Owned(self.region.into_owned()),
            records: self.records.into_iter().map(FirehoseRecord::into_owned).collect(),
        }
    }
}

impl FirehoseRecord<'_> {
    /// The same record owning all its strings.
    pub fn into_owned(self) -> FirehoseRecord<'static> {
        FirehoseRecord {
            record_id: Cow::Owned(self.record_id.into_owned()),
            approximate_arrival_timestamp: self.approximate_arrival_timestamp,
            data: Cow::Owned(self.data.into_owned()),
            kinesis_record_metadata: self.kinesis_record_metadata.map(|m| KinesisRecordMetadata {
                shard_id: Cow::Owned(m.shard_id.into_owned()),
                partition_key: Cow::Owned(m.partition_key.into_owned()),
                sequence_number: Cow::Owned(m.sequence_number.into_owned()),
                subsequence_number: m.subsequence_number,
                approximate_arrival_timestamp: m.approximate_arrival_timestamp,
            }),
            envelope_error: self.envelope_error,
        }
    }
}

/// One record of a [`TransformationEvent`].
///
/// Only `recordId` must be readable for the invocation to be answered: every
/// other field is read leniently, as AWS's own sample events (the Lambda
/// console's and SAM CLI's "Test" events, the Lambda developer guide's
/// examples) write them: `subsequenceNumber` as a string, sometimes `""`,
/// and `approximateArrivalTimestamp` as an ISO-8601 string. A record whose
/// envelope still cannot be read keeps the reason in
/// [`FirehoseRecord::envelope_error`] and is answered `ProcessingFailed` on
/// its own, so one odd record never fails the batch.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord<'a> {
    pub record_id: Cow<'a, str>,
    pub approximate_arrival_timestamp: EpochMillis,
    /// Base64, as sent: decoded per record so that one bad record fails alone.
    pub data: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata<'a>>,
    /// Why this record's envelope could not be read (the other fields then
    /// hold defaults and must not be used).
    #[serde(skip)]
    pub envelope_error: Option<String>,
}

/// Where a record sat in the source Kinesis stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata<'a> {
    pub shard_id: Cow<'a, str>,
    pub partition_key: Cow<'a, str>,
    pub sequence_number: Cow<'a, str>,
    pub subsequence_number: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<EpochMillis>,
}

/// Epoch milliseconds as Firehose writes them (a JSON number; a fraction is
/// truncated), within [`Timestamp`]'s range. Also read from an ISO-8601
/// string, as in AWS's sample events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochMillis(pub Timestamp);

impl Serialize for EpochMillis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0.millis())
    }
}

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

impl<'de, R: FieldReader<'de>> DeserializeSeed<'de> for Lenient<R> {
    type Value = Result<R::Value, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<R: Copy> Lenient<R> {
    fn refuse<'de, T>(found: impl fmt::Display) -> Result<T, String>
    where
        R: FieldReader<'de>,
    {
        Err(format!("expected {}, found {found}", R::EXPECTED))
    }
}

impl<'de, R: FieldReader<'de>> Visitor<'de> for Lenient<R> {
    type Value = Result<R::Value, String>;
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

/// `kinesisRecordMetadata`: an object whose fields are read leniently and
/// then checked together.
#[derive(Clone, Copy)]
struct MetadataField;

impl<'de> DeserializeSeed<'de> for MetadataField {
    type Value = Result<Option<KinesisRecordMetadata<'de>>, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetadataField {
    type Value = Result<Option<KinesisRecordMetadata<'de>>, String>;
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
        let mut first_error: Option<String> = None;
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
            if let (Err(why), None) = (outcome, &first_error) {
                first_error = Some(format!("kinesisRecordMetadata.{}: {why}", key.name()));
            }
        }
        if let Some(e) = first_error {
            return Ok(Err(e));
        }
        let missing = |field: &str| format!("kinesisRecordMetadata.{field}: missing");
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
        Ok(Err(
            "kinesisRecordMetadata: expected an object, found an array".to_owned()
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Err(format!("kinesisRecordMetadata: expected an object, found {v:?}")))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Err(format!("kinesisRecordMetadata: expected an object, found {v}")))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Err(format!("kinesisRecordMetadata: expected an object, found {v}")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Err(format!("kinesisRecordMetadata: expected an object, found {v}")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Err(format!("kinesisRecordMetadata: expected an object, found {v}")))
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
        let mut first_error: Option<String> = None;
        let mut note = |name: &str, outcome: Result<(), String>| {
            if let (Err(why), None) = (outcome, &first_error) {
                first_error = Some(if name.is_empty() { why } else { format!("{name}: {why}") });
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
                    note(key.name(), v.map(|v| arrival = Some(v)));
                }
                Field::Data => {
                    let v = map.next_value_seed(Lenient(Text))?;
                    note(key.name(), v.map(|v| data = Some(v)));
                }
                Field::KinesisRecordMetadata => {
                    let v = map.next_value_seed(MetadataField)?;
                    note("", v.map(|v| metadata = v));
                }
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        let record_id = record_id.ok_or_else(|| de::Error::missing_field("recordId"))?;
        if arrival.is_none() {
            note("approximateArrivalTimestamp", Err("missing".to_owned()));
        }
        if data.is_none() {
            note("data", Err("missing".to_owned()));
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

/// The transformation result of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordResult {
    Ok,
    Dropped,
    ProcessingFailed,
}

impl RecordResult {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordResult::Ok => "Ok",
            RecordResult::Dropped => "Dropped",
            RecordResult::ProcessingFailed => "ProcessingFailed",
        }
    }
}

/// What the transformer answers: one entry per input record, in input order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransformationResponse {
    pub records: Vec<ResponseRecord>,
}

/// The answer for one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseRecord {
    pub record_id: String,
    pub result: RecordResult,
    /// Base64: the output line for `Ok`, the input unchanged for
    /// `ProcessingFailed` (empty when it did not fit the response or was not
    /// base64 to begin with; Firehose writes its own copy of the original to
    /// the error prefix), empty for `Dropped`.
    pub data: String,
    pub metadata: ResponseMetadata,
}

/// Dynamic-partitioning keys: those of the output line for `Ok`, none
/// (`{}`) otherwise. Always present, as strict readers of the contract
/// (`aws_lambda_events`, aws-lambda-go) expect the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMetadata {
    #[serde(serialize_with = "keys_or_empty")]
    pub partition_keys: Option<PartitionKeys>,
}

impl ResponseMetadata {
    pub const NONE: ResponseMetadata = ResponseMetadata { partition_keys: None };

    pub fn keys(keys: PartitionKeys) -> Self {
        ResponseMetadata {
            partition_keys: Some(keys),
        }
    }

    /// The exact serialized length of the `partitionKeys` value.
    fn keys_json_len(&self) -> usize {
        self.partition_keys.as_ref().map_or(2, PartitionKeys::json_len)
    }
}

fn keys_or_empty<S: serde::Serializer>(keys: &Option<PartitionKeys>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match keys {
        Some(k) => k.serialize(s),
        None => s.serialize_map(Some(0))?.end(),
    }
}

/// `{"records":[` + `]}`
pub const RESPONSE_ENVELOPE_LEN: usize = r#"{"records":[]}"#.len();

impl ResponseRecord {
    /// The exact length of this entry serialized with `serde_json`.
    pub fn json_len(&self) -> usize {
        entry_len(&self.record_id, self.result, self.data.len(), &self.metadata)
    }
}

/// The exact serialized length of an entry with these parts (`data_len` is
/// the base64 length, which never needs escaping).
pub fn entry_len(record_id: &str, result: RecordResult, data_len: usize, metadata: &ResponseMetadata) -> usize {
    entry_len_with_id_len(json_escaped_len(record_id), result, data_len, metadata)
}

/// [`entry_len`] with the record id's escaped length already known.
pub fn entry_len_with_id_len(
    id_len: usize,
    result: RecordResult,
    data_len: usize,
    metadata: &ResponseMetadata,
) -> usize {
    const FIXED: usize = r#"{"recordId":"","result":"","data":"","metadata":{"partitionKeys":}}"#.len();
    FIXED + id_len + result.as_str().len() + data_len + metadata.keys_json_len()
}

/// The serialized length of a response with entries of these lengths.
pub fn response_len(entry_lens: impl IntoIterator<Item = usize>) -> usize {
    let (sum, n) = entry_lens.into_iter().fold((0, 0), |(s, n), l| (s + l, n + 1));
    RESPONSE_ENVELOPE_LEN + sum + n.max(1) - 1
}

/// The length of `s`'s contents once escaped as `serde_json` escapes strings.
pub fn json_escaped_len(s: &str) -> usize {
    // Record ids are digits: one branch-free (vectorized) pass, and done.
    if !chat_pipeline::output::needs_json_escape(s.as_bytes()) {
        return s.len();
    }
    // Otherwise measure what the response writer writes, so the two cannot
    // disagree about an escape (quotes excluded).
    let mut len = 0;
    chat_pipeline::output::json_str_pieces(s, |piece| len += piece.len());
    len - 2
}

impl TransformationResponse {
    /// The exact length of this response serialized with `serde_json`.
    pub fn json_len(&self) -> usize {
        response_len(self.records.iter().map(ResponseRecord::json_len))
    }
}

/// Parses a request body as the runtime received it: after an optional
/// UTF-8 byte-order mark, which is skipped (RFC 8259 section 8.1 lets a
/// parser ignore it, and an editor may save a test event with one), it must
/// be UTF-8 and JSON, checked as strictly as lambda_runtime's own deserialization checks
/// them (serde_json's grammar, over the whole body, with nothing after the
/// value), and is read with its strings borrowed. The usual shape is read by
/// [`crate::envelope_scan`], which accepts only valid JSON and so needs no
/// separate check; anything else is checked by serde_json's validating pass,
/// then parsed through serde ([`parse_event`]'s fallback).
pub fn parse_request(body: &[u8]) -> Result<TransformationEvent<'_>, String> {
    let body = body.strip_prefix(chat_pipeline::input::UTF8_BOM).unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| format!("the request body is not UTF-8: {e}"))?;
    if let Some(event) = crate::envelope_scan::scan(text) {
        return Ok(event);
    }
    // What lambda_runtime's `RawValue` payload checked before the handler
    // ran, without its copy.
    serde_json::from_str::<de::IgnoredAny>(text).map_err(|e| format!("the request body is not JSON: {e}"))?;
    parse_with_serde(text)
}

/// Parses a request body (valid JSON, as [`parse_request`] checks it),
/// borrowing its strings: the usual shape by [`crate::envelope_scan`], any
/// other through serde. When the body is not a transformation event, says why
/// and where (`records[3].recordId: invalid type: ...`): the path is worked
/// out only then, by a second, tracking parse, so that valid events pay
/// nothing for it.
pub fn parse_event(body: &str) -> Result<TransformationEvent<'_>, String> {
    if let Some(event) = crate::envelope_scan::scan(body) {
        return Ok(event);
    }
    parse_with_serde(body)
}

/// The lenient serde parse, and the wording of its errors.
fn parse_with_serde(body: &str) -> Result<TransformationEvent<'_>, String> {
    serde_json::from_str(body).map_err(|plain| {
        let tracked: Result<TransformationEvent<'_>, _> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(body));
        match tracked {
            Err(e) if e.path().to_string() != "." => format!("{}: {}", e.path(), e.inner()),
            _ => plain.to_string(),
        }
    })
}
