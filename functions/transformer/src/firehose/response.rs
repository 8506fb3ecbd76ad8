//! The answer to Firehose: the response model (what Firehose reads: one
//! entry per input record), the exact serialized size of every entry, and
//! the response JSON written once into a buffer of that size.
//!
//! The handler's answers hold each `Ok` record's output line as plain bytes;
//! [`Answers::render`] base64-encodes them straight into the response, so no
//! per-record base64 string is built and nothing is serialized twice. The
//! rendered bytes reach lambda_runtime as a [`RenderedResponse`], which
//! `serde_json` writes out verbatim. `Answers::to_response` builds the same
//! answer as the serde model ([`TransformationResponse`]): what tests inspect,
//! and the reference the rendered bytes are compared with.

use std::borrow::Cow;

use base64_simd::STANDARD;
use chat_pipeline::json::{json_str_pieces, needs_escape, push_json_str};
use chat_pipeline::output::PartitionKeys;
use serde::{Serialize, Serializer};

use super::RecordResult;

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

fn keys_or_empty<S: Serializer>(keys: &Option<PartitionKeys>, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match keys {
        Some(k) => k.serialize(s),
        None => s.serialize_map(Some(0))?.end(),
    }
}

/// `{"records":[` + `]}`
pub(crate) const RESPONSE_ENVELOPE_LEN: usize = r#"{"records":[]}"#.len();

impl ResponseRecord {
    /// The exact length of this entry serialized with `serde_json`.
    #[cfg(any(test, feature = "test-util"))]
    pub fn json_len(&self) -> usize {
        entry_len(&self.record_id, self.result, self.data.len(), &self.metadata)
    }
}

/// The exact serialized length of an entry with these parts (`data_len` is
/// the base64 length, which never needs escaping).
#[cfg(any(test, feature = "test-util"))]
pub(crate) fn entry_len(record_id: &str, result: RecordResult, data_len: usize, metadata: &ResponseMetadata) -> usize {
    entry_len_with_id_len(json_escaped_len(record_id), result, data_len, metadata)
}

/// [`entry_len`] with the record id's escaped length already known.
pub(crate) fn entry_len_with_id_len(
    id_len: usize,
    result: RecordResult,
    data_len: usize,
    metadata: &ResponseMetadata,
) -> usize {
    const FIXED: usize = r#"{"recordId":"","result":"","data":"","metadata":{"partitionKeys":}}"#.len();
    FIXED + id_len + result.as_str().len() + data_len + metadata.keys_json_len()
}

/// The serialized length of a response with entries of these lengths.
pub(crate) fn response_len(entry_lens: impl IntoIterator<Item = usize>) -> usize {
    let (sum, n) = entry_lens.into_iter().fold((0, 0), |(s, n), l| (s + l, n + 1));
    RESPONSE_ENVELOPE_LEN + sum + n.max(1) - 1
}

/// The length of `s`'s contents once escaped as `serde_json` escapes strings.
pub(crate) fn json_escaped_len(s: &str) -> usize {
    // Record ids are digits: one branch-free (vectorized) pass, and done.
    if !needs_escape(s.as_bytes()) {
        return s.len();
    }
    // Otherwise measure what the response writer writes, so the two cannot
    // disagree about an escape (quotes excluded).
    let mut len = 0;
    json_str_pieces(s, |piece| len += piece.len());
    len - 2
}

impl TransformationResponse {
    /// The exact length of this response serialized with `serde_json`.
    #[cfg(any(test, feature = "test-util"))]
    pub fn json_len(&self) -> usize {
        response_len(self.records.iter().map(ResponseRecord::json_len))
    }
}

/// What an answer carries in `data`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AnswerData<'a> {
    /// No data (`Dropped`, or `ProcessingFailed` without an echo).
    Empty,
    /// An output line, base64-encoded when the response is written.
    Line(Box<[u8]>),
    /// The input record's data, already base64, echoed unchanged.
    Echo(Cow<'a, str>),
}

impl AnswerData<'_> {
    /// The length of `data` in the response (base64 characters).
    pub(crate) fn base64_len(&self) -> usize {
        match self {
            AnswerData::Empty => 0,
            AnswerData::Line(line) => base64_len(line.len()),
            AnswerData::Echo(data) => data.len(),
        }
    }
}

/// The length of `n` bytes in padded base64.
pub(crate) fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// The answer for one record.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Answer<'a> {
    record_id: Cow<'a, str>,
    /// `record_id`'s length once escaped ([`json_escaped_len`]), measured
    /// once per record: equal to its length when it needs no escaping.
    id_len: usize,
    pub(crate) result: RecordResult,
    pub(crate) data: AnswerData<'a>,
    /// The output line's partition keys (`Ok` only).
    pub(crate) keys: Option<PartitionKeys>,
}

/// A record id with its length once escaped in the response, as the size
/// accounting measured it (equal to its length when it needs no escaping).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MeasuredId<'a> {
    pub(crate) id: Cow<'a, str>,
    pub(crate) escaped_len: usize,
}

impl<'a> Answer<'a> {
    /// An answer for the record `id`.
    pub(crate) fn new(
        id: MeasuredId<'a>,
        result: RecordResult,
        data: AnswerData<'a>,
        keys: Option<PartitionKeys>,
    ) -> Self {
        debug_assert_eq!(id.escaped_len, json_escaped_len(&id.id));
        Answer {
            record_id: id.id,
            id_len: id.escaped_len,
            result,
            data,
            keys,
        }
    }

    fn metadata(&self) -> ResponseMetadata {
        ResponseMetadata {
            partition_keys: self.keys,
        }
    }

    /// The exact length of this entry in the response.
    pub(crate) fn json_len(&self) -> usize {
        entry_len_with_id_len(self.id_len, self.result, self.data.base64_len(), &self.metadata())
    }

    /// Appends this entry as `serde_json` would serialize its
    /// [`ResponseRecord`].
    fn write(&self, out: &mut String) {
        if self.id_len == self.record_id.len() {
            out.push_str(r#"{"recordId":""#);
            out.push_str(&self.record_id);
            out.push_str(r#"","result":""#);
        } else {
            out.push_str(r#"{"recordId":"#);
            push_json_str(out, &self.record_id);
            out.push_str(r#","result":""#);
        }
        out.push_str(self.result.as_str());
        out.push_str(r#"","data":""#);
        match &self.data {
            AnswerData::Empty => {}
            AnswerData::Line(line) => STANDARD.encode_append(line, out),
            AnswerData::Echo(data) => out.push_str(data),
        }
        out.push_str(r#"","metadata":{"partitionKeys":"#);
        match &self.keys {
            Some(keys) => keys.write_json(out),
            None => out.push_str("{}"),
        }
        out.push_str("}}");
    }

    /// This answer in the serde model.
    #[cfg(any(test, feature = "test-util"))]
    pub(crate) fn to_response_record(&self) -> ResponseRecord {
        ResponseRecord {
            record_id: self.record_id.clone().into_owned(),
            result: self.result,
            data: match &self.data {
                AnswerData::Empty => String::new(),
                AnswerData::Line(line) => STANDARD.encode_to_string(line),
                AnswerData::Echo(data) => data.clone().into_owned(),
            },
            metadata: self.metadata(),
        }
    }
}

/// One answer per input record, in input order, and the exact length of
/// the response they make.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answers<'a> {
    records: Vec<Answer<'a>>,
    json_len: usize,
}

impl<'a> Answers<'a> {
    pub(crate) fn new(records: Vec<Answer<'a>>) -> Self {
        let json_len = response_len(records.iter().map(Answer::json_len));
        Answers { records, json_len }
    }
}

impl Answers<'_> {
    /// The exact length of the rendered response.
    pub(crate) fn json_len(&self) -> usize {
        self.json_len
    }

    /// The response JSON, written once into a buffer of its exact size.
    pub fn render(&self) -> RenderedResponse {
        let len = self.json_len;
        let mut out = String::with_capacity(len);
        out.push_str(r#"{"records":["#);
        for (i, answer) in self.records.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            answer.write(&mut out);
        }
        out.push_str("]}");
        debug_assert_eq!(out.len(), len, "json_len and render disagree");
        RenderedResponse(out)
    }

    /// The same answer in the serde model (tests, tools, and the reference
    /// the rendered bytes are checked against).
    #[cfg(any(test, feature = "test-util"))]
    pub fn to_response(&self) -> TransformationResponse {
        TransformationResponse {
            records: self.records.iter().map(Answer::to_response_record).collect(),
        }
    }
}

/// A response already written as JSON: what the handler returns to
/// lambda_runtime, which passes it to `serde_json::to_vec`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedResponse(String);

impl RenderedResponse {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The name under which `serde_json::value::RawValue` serializes itself, and
/// which `serde_json`'s serializer answers by writing the string verbatim.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for RenderedResponse {
    /// Through `serde_json`, the bytes verbatim: serialized exactly as a
    /// `RawValue` serializes itself. Not `RawValue::from_string`, which would
    /// parse the 6 MB just written again to validate it (2 ms, measured);
    /// the differential test checks what is written instead, and the test
    /// `rendered_responses_are_serialized_verbatim` fails if a `serde_json`
    /// release (pinned in Cargo.lock) stopped recognising the token.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0.as_str())?;
        raw.end()
    }
}
