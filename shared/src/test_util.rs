//! Test doubles, compiled only with the `test-util` feature (as the AWS SDK
//! crates do with theirs): benchmarks and integration tests enable it; the
//! functions' release builds never see it.
//!
//! * [`MemorySinks`]: the in-memory [`SinkProvider`], one [`MemorySink`] for
//!   every destination.
//! * [`mock_kinesis`], [`mock_firehose`]: SDK clients answered by
//!   `aws-smithy-mocks` rules, with the SDK's own retries off (the functions
//!   turn them off too; [`crate::delivery`] is the one retry policy).
//! * [`kinesis_reply`], [`firehose_reply`]: `PutRecords` / `PutRecordBatch`
//!   answers that refuse chosen records, as the services do under load.
//! * [`kinesis_throttled`], [`firehose_unavailable`]: the whole request
//!   refused for throughput, as each service says it.
//! * [`Acceptances`]: what a mocked service was sent and accepted, for the
//!   "each record exactly once" checks of mocked-SDK delivery tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_sdk_firehose::operation::put_record_batch::{PutRecordBatchError, PutRecordBatchInput, PutRecordBatchOutput};
use aws_sdk_firehose::types::PutRecordBatchResponseEntry;
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsInput, PutRecordsOutput};
use aws_sdk_kinesis::types::PutRecordsResultEntry;
use aws_smithy_mocks::{Rule, RuleMode, mock_client};

use crate::destination::{Destination, SinkProvider};
pub use crate::sink::{MemorySink, ScriptedReply};

/// One in-memory sink for every destination.
#[derive(Debug, Clone)]
pub struct MemorySinks(pub Arc<MemorySink>);

impl SinkProvider for MemorySinks {
    type Sink = Arc<MemorySink>;

    async fn sink_for(&self, _destination: &Destination) -> Arc<MemorySink> {
        self.0.clone()
    }
}

/// A Kinesis client whose calls `rules` answer, without SDK retries.
pub fn mock_kinesis(mode: RuleMode, rules: &[&Rule]) -> aws_sdk_kinesis::Client {
    mock_client!(aws_sdk_kinesis, mode, rules, |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()))
}

/// A Firehose client whose calls `rules` answer, without SDK retries.
pub fn mock_firehose(mode: RuleMode, rules: &[&Rule]) -> aws_sdk_firehose::Client {
    mock_client!(aws_sdk_firehose, mode, rules, |c| c
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled()))
}

/// A `PutRecords` answer for `n` records that refuses those `refuse` picks
/// with `code` (and counts them in `FailedRecordCount`).
pub fn kinesis_reply(n: usize, refuse: impl Fn(usize) -> bool, code: &str) -> PutRecordsOutput {
    let entries: Vec<_> = (0..n)
        .map(|i| {
            if refuse(i) {
                PutRecordsResultEntry::builder()
                    .error_code(code)
                    .error_message("refused")
                    .build()
            } else {
                PutRecordsResultEntry::builder()
                    .sequence_number(format!("{}", 49_000 + i))
                    .shard_id("shardId-000000000000")
                    .build()
            }
        })
        .collect();
    let failed = (0..n).filter(|&i| refuse(i)).count();
    PutRecordsOutput::builder()
        .failed_record_count(i32::try_from(failed).unwrap_or(i32::MAX))
        .set_records(Some(entries))
        .build()
        .unwrap_or_else(|e| panic!("PutRecordsOutput: {e}"))
}

/// A `PutRecordBatch` answer for `n` records that refuses those `refuse`
/// picks with `code`.
pub fn firehose_reply(n: usize, refuse: impl Fn(usize) -> bool, code: &str) -> PutRecordBatchOutput {
    let entries: Vec<_> = (0..n)
        .map(|i| {
            if refuse(i) {
                PutRecordBatchResponseEntry::builder()
                    .error_code(code)
                    .error_message("Slow down.")
                    .build()
            } else {
                PutRecordBatchResponseEntry::builder()
                    .record_id(format!("r{i}"))
                    .build()
            }
        })
        .collect();
    let failed = (0..n).filter(|&i| refuse(i)).count();
    PutRecordBatchOutput::builder()
        .failed_put_count(i32::try_from(failed).unwrap_or(i32::MAX))
        .set_request_responses(Some(entries))
        .build()
        .unwrap_or_else(|e| panic!("PutRecordBatchOutput: {e}"))
}

/// A `PutRecords` refused whole for throughput: Kinesis's
/// `ProvisionedThroughputExceededException`, with `message`.
pub fn kinesis_throttled(message: &str) -> PutRecordsError {
    PutRecordsError::ProvisionedThroughputExceededException(
        aws_sdk_kinesis::types::error::ProvisionedThroughputExceededException::builder()
            .message(message)
            .build(),
    )
}

/// A `PutRecordBatch` refused whole for throughput: Firehose's
/// `ServiceUnavailableException` ("Slow down.").
pub fn firehose_unavailable() -> PutRecordBatchError {
    PutRecordBatchError::ServiceUnavailableException(
        aws_sdk_firehose::types::error::ServiceUnavailableException::builder()
            .message("Slow down.")
            .build(),
    )
}

/// What a mocked Kinesis or Firehose was sent and accepted, shared by the
/// rule's closure and the test (clones share it): each request's record
/// count and bytes, and every accepted record's partition key and data.
#[derive(Clone, Debug, Default)]
pub struct Acceptances {
    requests: Arc<Mutex<Vec<(usize, usize)>>>,
    accepted: Arc<Mutex<Vec<Accepted>>>,
}

/// An accepted record: its partition key (Kinesis only) and data.
pub type Accepted = (Option<String>, Vec<u8>);

impl Acceptances {
    /// Counts a `PutRecords` request (bytes as Kinesis counts them: data
    /// plus partition key); returns its number, from 1.
    pub fn kinesis_request(&self, req: &PutRecordsInput) -> usize {
        let bytes = req
            .records()
            .iter()
            .map(|r| r.data().as_ref().len() + r.partition_key().map_or(0, str::len))
            .sum();
        self.request(req.records().len(), bytes)
    }

    /// Counts a `PutRecordBatch` request (bytes: the records' data); returns
    /// its number, from 1.
    pub fn firehose_request(&self, req: &PutRecordBatchInput) -> usize {
        let bytes = req.records().iter().map(|r| r.data().as_ref().len()).sum();
        self.request(req.records().len(), bytes)
    }

    fn request(&self, records: usize, bytes: usize) -> usize {
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        requests.push((records, bytes));
        requests.len()
    }

    /// The request's records that `refused` does not pick, as accepted.
    pub fn accept_kinesis(&self, req: &PutRecordsInput, refused: impl Fn(usize) -> bool) {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, r) in req.records().iter().enumerate().filter(|(i, _)| !refused(*i)) {
            accepted.push((r.partition_key().map(str::to_owned), r.data().as_ref().to_vec()));
        }
    }

    /// The request's records that `refused` does not pick, as accepted.
    pub fn accept_firehose(&self, req: &PutRecordBatchInput, refused: impl Fn(usize) -> bool) {
        let mut accepted = self.accepted.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, r) in req.records().iter().enumerate().filter(|(i, _)| !refused(*i)) {
            accepted.push((None, r.data().as_ref().to_vec()));
        }
    }

    /// Each request's (records, bytes), in order.
    pub fn requests(&self) -> Vec<(usize, usize)> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Every accepted record's (partition key, data), in order.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.accepted.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// How many times each payload was accepted.
    pub fn times_accepted(&self) -> HashMap<Vec<u8>, usize> {
        let mut times = HashMap::new();
        for (_, data) in self.accepted() {
            *times.entry(data).or_default() += 1;
        }
        times
    }

    /// Whether `n` distinct payloads were accepted, each exactly once.
    pub fn each_once(&self, n: usize) -> bool {
        let times = self.times_accepted();
        times.len() == n && times.values().all(|&t| t == 1)
    }

    /// Whether exactly the `expected` payloads were accepted, each once.
    pub fn exactly_once<'a>(&self, expected: impl IntoIterator<Item = &'a [u8]>) -> bool {
        let times = self.times_accepted();
        let mut n = 0;
        for data in expected {
            n += 1;
            if times.get(data) != Some(&1) {
                return false;
            }
        }
        times.len() == n
    }
}
