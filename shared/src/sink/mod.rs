//! Where records go: one trait, [`RecordSink`], for "put this batch of records
//! somewhere and tell me which ones were refused", with an implementation per
//! destination. A record is bytes plus a partition key; each sink knows its own
//! service limits ([`BatchLimits`]), which [`crate::batching`] applies before
//! anything is sent and [`crate::delivery`] relies on.
//!
//! | sink | service call | used by |
//! | --- | --- | --- |
//! | [`KinesisSink`] | Kinesis `PutRecords` | producer (`SINK=kinesis`), transformer re-ingestion for a Kinesis source |
//! | [`FirehoseSink`] | Firehose `PutRecordBatch` | producer (`SINK=firehose`), transformer re-ingestion for Direct PUT |
//! | [`StdoutSink`] | newline-delimited JSON on stdout | producer without AWS (`SINK=stdout`) |
//! | `MemorySink` | a `Vec` behind a mutex, with scripted failures | tests (feature `test-util`) |
//!
//! The two SDK sinks share one shape (`sdk`, as vector's Kinesis sinks share
//! theirs): the request entries built from the records, the per-record
//! results checked against what was sent and mapped to [`RecordOutcome`]s,
//! and SDK errors classified as worth retrying or not; each sink file holds
//! only its service's call and its modeled errors.
//!
//! Which sink a function uses is [`crate::destination`]'s business.

mod firehose;
mod kinesis;
#[cfg(any(test, feature = "test-util"))]
mod memory;
mod sdk;
mod stdout;

use std::future::Future;

pub use firehose::FirehoseSink;
pub use kinesis::KinesisSink;
#[cfg(any(test, feature = "test-util"))]
pub use memory::{MemorySink, ScriptedReply};
pub use stdout::StdoutSink;

/// One record to deliver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkRecord {
    pub data: Vec<u8>,
    /// Kinesis routes by it; Firehose ignores it.
    pub partition_key: String,
}

/// Per-request and per-record limits of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_records: usize,
    pub max_request_bytes: usize,
    pub max_record_bytes: usize,
    /// Kinesis counts the partition key towards both byte limits and requires
    /// it to be 1 to 256 characters.
    pub partition_key_counts: bool,
}

impl BatchLimits {
    /// Kinesis `PutRecords`: 500 records, 5 MiB per request, 1 MiB per record
    /// (data plus partition key).
    pub const KINESIS: BatchLimits = BatchLimits {
        max_records: 500,
        max_request_bytes: 5 * 1024 * 1024,
        max_record_bytes: 1024 * 1024,
        partition_key_counts: true,
    };

    /// Firehose `PutRecordBatch`: 500 records, 4 MiB per request, 1,000 KiB
    /// per record.
    pub(crate) const FIREHOSE: BatchLimits = BatchLimits {
        max_records: 500,
        max_request_bytes: 4 * 1024 * 1024,
        max_record_bytes: 1000 * 1024,
        partition_key_counts: false,
    };

    /// The bytes a record counts for against these limits.
    pub(crate) fn record_size(&self, record: &SinkRecord) -> usize {
        if self.partition_key_counts {
            record.data.len() + record.partition_key.len()
        } else {
            record.data.len()
        }
    }

    /// Why this record can never be sent, if it cannot.
    pub fn check(&self, record: &SinkRecord) -> Result<usize, RecordRejected> {
        let size = self.record_size(record);
        if size > self.max_record_bytes {
            return Err(RecordRejected::TooLarge {
                size,
                limit: self.max_record_bytes,
            });
        }
        if self.partition_key_counts {
            let chars = record.partition_key.chars().count();
            if !(1..=256).contains(&chars) {
                return Err(RecordRejected::BadPartitionKey { chars });
            }
        }
        Ok(size)
    }
}

/// A record refused before sending.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordRejected {
    #[error("record is {size} bytes, over the {limit}-byte per-record limit")]
    TooLarge { size: usize, limit: usize },
    #[error("partition key has {chars} characters, expected 1 to 256")]
    BadPartitionKey { chars: usize },
}

/// A request that failed as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct SinkError {
    /// Throttling, 5xx, timeouts and connection failures are worth retrying;
    /// validation, permissions and missing streams are not.
    pub retryable: bool,
    pub code: String,
    pub message: String,
}

impl SinkError {
    pub(crate) fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        SinkError {
            retryable: true,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn fatal(code: impl Into<String>, message: impl Into<String>) -> Self {
        SinkError {
            retryable: false,
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What the service said about one record of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored; nothing more to do.
    Accepted,
    /// Refused with this error code; it must be sent again.
    Refused { code: String },
}

/// The answer to one batch: one [`RecordOutcome`] per record, in request
/// order.
pub type BatchReply = Vec<RecordOutcome>;

/// A destination for batches of records.
pub trait RecordSink: Send + Sync {
    /// A human-readable name for summaries and logs, e.g. `kinesis:chat-events`.
    fn describe(&self) -> String;

    /// The service limits batching must respect.
    fn limits(&self) -> BatchLimits;

    /// Sends one batch, already within [`RecordSink::limits`].
    fn put_batch(&self, records: &[&SinkRecord]) -> impl Future<Output = Result<BatchReply, SinkError>> + Send;
}

/// Any of the real sinks: what [`crate::destination::AwsSinks`] hands out for
/// a destination chosen at run time.
#[derive(Debug, Clone)]
pub enum AnySink {
    Kinesis(KinesisSink),
    Firehose(FirehoseSink),
    Stdout(StdoutSink),
}

impl RecordSink for AnySink {
    fn describe(&self) -> String {
        match self {
            AnySink::Kinesis(s) => s.describe(),
            AnySink::Firehose(s) => s.describe(),
            AnySink::Stdout(s) => s.describe(),
        }
    }

    fn limits(&self) -> BatchLimits {
        match self {
            AnySink::Kinesis(s) => s.limits(),
            AnySink::Firehose(s) => s.limits(),
            AnySink::Stdout(s) => s.limits(),
        }
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        match self {
            AnySink::Kinesis(s) => s.put_batch(records).await,
            AnySink::Firehose(s) => s.put_batch(records).await,
            AnySink::Stdout(s) => s.put_batch(records).await,
        }
    }
}

/// An error and its sources on one line.
pub fn describe_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
