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

use std::fmt;

use chat_pipeline::output::PartitionKeys;
use chat_pipeline::timestamp::Timestamp;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The 6 MB synchronous-invocation payload limit (6 MiB).
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// The response budget: what AWS's own Firehose processor blueprints keep
/// under, leaving headroom below [`LAMBDA_RESPONSE_LIMIT`].
pub const RESPONSE_BUDGET: usize = 6_000_000;

/// The largest record Firehose accepts, before base64 (1,000 KiB).
pub const MAX_RECORD_BYTES: usize = 1000 * 1024;

/// What Firehose sends to a transformation Lambda.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(
    rename_all = "camelCase",
    expecting = "a Firehose data-transformation event: an object with deliveryStreamArn and records"
)]
pub struct TransformationEvent {
    #[serde(default)]
    pub invocation_id: String,
    pub delivery_stream_arn: String,
    /// Present when the delivery stream reads a Kinesis data stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    #[serde(default)]
    pub region: String,
    pub records: Vec<FirehoseRecord>,
}

/// One record of a [`TransformationEvent`].
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseRecord {
    pub record_id: String,
    pub approximate_arrival_timestamp: EpochMillis,
    /// Base64, as sent: decoded per record so that one bad record fails alone.
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata>,
}

/// Where a record sat in the source Kinesis stream.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata {
    pub shard_id: String,
    pub partition_key: String,
    pub sequence_number: String,
    #[serde(default)]
    pub subsequence_number: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<EpochMillis>,
}

/// Epoch milliseconds as Firehose writes them (a JSON number; a fraction is
/// truncated), within [`Timestamp`]'s range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpochMillis(pub Timestamp);

impl Serialize for EpochMillis {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0.millis())
    }
}

impl<'de> Deserialize<'de> for EpochMillis {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EpochMillis;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("epoch milliseconds from 0 to 253402300799999")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EpochMillis, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(|ms| Timestamp::from_millis(ms).ok())
                    .map(EpochMillis)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EpochMillis, E> {
                Timestamp::from_millis(v)
                    .map(EpochMillis)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EpochMillis, E> {
                let floored = v.floor();
                if floored.is_finite() && (0.0..=Timestamp::MAX.millis() as f64).contains(&floored) {
                    self.visit_i64(floored as i64)
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }
        d.deserialize_any(V)
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
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum()
}

impl TransformationResponse {
    /// The exact length of this response serialized with `serde_json`.
    pub fn json_len(&self) -> usize {
        response_len(self.records.iter().map(ResponseRecord::json_len))
    }
}
