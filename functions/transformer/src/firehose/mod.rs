//! The Firehose data-transformation contract, in one place: the event
//! Firehose sends ([`TransformationEvent`], this file), how it is read
//! (`scan` for the usual shape without serde, `lenient` for everything
//! else through serde, both with strings borrowed from the body), the
//! requests refused as a whole (`invalid`, `read_request`: not an event, empty or repeated
//! record ids), and the
//! answer Firehose expects ([`response`]: the serde model, its exact size,
//! and the response written once).
//!
//! The response is described three ways, the serde model, the size
//! arithmetic and the writer, and they cannot drift apart unnoticed: the
//! property tests render every answer both ways and compare the bytes and
//! the size (`tests/integration/properties.rs` over arbitrary records,
//! `tests/integration/fast_path_matches_serde.rs` over arbitrary request bodies).
//!
//! These are our own types rather than `aws_lambda_events::firehose`'s, for
//! three reasons found while building this: that crate's timestamp
//! deserializer panics (`assert_eq!`) on a fractional `approximateArrivalTimestamp`
//! and allocates a string per record to parse it; it decodes every record's
//! base64 during deserialization, so one bad record fails the whole batch
//! instead of that record; and its response carries partition keys in a
//! `HashMap` (an allocation per key, random order) and `result` as a free
//! string. The contract tests check both shapes against `aws_lambda_events`.

mod invalid;
mod lenient;
pub mod response;
mod scan;

pub use invalid::TransformerError;
pub(crate) use invalid::{check_record_ids, read_request};

pub(crate) use response::json_escaped_len;
pub use response::{ResponseMetadata, ResponseRecord, TransformationResponse};

use std::borrow::Cow;

use chat_pipeline::timestamp::Timestamp;
use serde::de;
use serde::{Deserialize, Serialize};

/// The 6 MB synchronous-invocation payload limit (6 MiB).
pub const LAMBDA_RESPONSE_LIMIT: usize = 6 * 1024 * 1024;

/// The response budget: what AWS's own Firehose processor blueprints keep
/// under, leaving headroom below [`LAMBDA_RESPONSE_LIMIT`].
pub const RESPONSE_BUDGET: usize = 6_000_000;

/// The largest record Firehose accepts, before base64 (1,000 KiB).
pub(crate) const MAX_RECORD_BYTES: usize = 1000 * 1024;

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
    pub envelope_error: Option<EnvelopeError>,
}

/// Why a record's envelope cannot be read; the record is answered
/// `ProcessingFailed` on its own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// A field holds a value it does not take.
    #[error("{field}: expected {expected}, found {found}")]
    Unexpected {
        field: String,
        expected: &'static str,
        found: String,
    },
    /// A field every record must carry is absent.
    #[error("{field}: missing")]
    Missing { field: String },
}

/// Why a request body is not a transformation event; the invocation fails.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("the request body is not UTF-8: {0}")]
    NotUtf8(#[source] std::str::Utf8Error),
    #[error("the request body is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// JSON, but not an event: at `path` (`records[3].recordId`) when the
    /// problem is inside it.
    #[error("{}{message}", path.as_deref().map(|p| format!("{p}: ")).unwrap_or_default())]
    NotAnEvent { path: Option<String>, message: String },
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

/// Parses a request body as the runtime received it: after an optional
/// UTF-8 byte-order mark, which is skipped (RFC 8259 section 8.1 lets a
/// parser ignore it, and an editor may save a test event with one), it must
/// be UTF-8 and JSON, checked as strictly as lambda_runtime's own deserialization checks
/// them (serde_json's grammar, over the whole body, with nothing after the
/// value), and is read with its strings borrowed. The usual shape is read by
/// `scan`, which accepts only valid JSON and so needs no
/// separate check; anything else is checked by serde_json's validating pass,
/// then parsed through serde (`parse_event`'s fallback).
pub fn parse_request(body: &[u8]) -> Result<TransformationEvent<'_>, RequestError> {
    let body = body.strip_prefix(chat_pipeline::input::UTF8_BOM).unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(RequestError::NotUtf8)?;
    if let Some(event) = scan::scan(text) {
        return Ok(event);
    }
    // What lambda_runtime's `RawValue` payload checked before the handler
    // ran, without its copy.
    serde_json::from_str::<de::IgnoredAny>(text).map_err(RequestError::NotJson)?;
    parse_with_serde(text)
}

/// The fast request scanner alone: the usual request shape, or None for
/// anything else (tests hold it to serde's reading). Test-only (feature
/// `test-util`).
#[cfg(any(test, feature = "test-util"))]
pub fn scan_only(body: &str) -> Option<TransformationEvent<'_>> {
    scan::scan(body)
}

/// Parses a request body (valid JSON, as [`parse_request`] checks it),
/// borrowing its strings: the usual shape by [`scan`], any
/// other through serde. When the body is not a transformation event, says why
/// and where (`records[3].recordId: invalid type: ...`): the path is worked
/// out only then, by a second, tracking parse, so that valid events pay
/// nothing for it. Test-only (feature `test-util`): the handler reads
/// bytes, through [`parse_request`].
#[cfg(any(test, feature = "test-util"))]
pub fn parse_event(body: &str) -> Result<TransformationEvent<'_>, RequestError> {
    if let Some(event) = scan::scan(body) {
        return Ok(event);
    }
    parse_with_serde(body)
}

/// The lenient serde parse, and the wording of its errors.
fn parse_with_serde(body: &str) -> Result<TransformationEvent<'_>, RequestError> {
    serde_json::from_str(body).map_err(|plain| {
        let tracked: Result<TransformationEvent<'_>, _> =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(body));
        match tracked {
            Err(e) if e.path().to_string() != "." => RequestError::NotAnEvent {
                path: Some(e.path().to_string()),
                message: e.inner().to_string(),
            },
            _ => RequestError::NotAnEvent {
                path: None,
                message: plain.to_string(),
            },
        }
    })
}
