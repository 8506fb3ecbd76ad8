//! What both SDK sinks ([`super::KinesisSink`], [`super::FirehoseSink`])
//! do alike around their one service call: build the request's entries from
//! the records, check the answer has one result per record sent and map each
//! to a [`RecordOutcome`], and classify a failed call as worth retrying or
//! not. Each sink says only what differs: its entry type, its result type
//! (through [`ResultEntry`]) and its modeled errors.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::{BatchReply, RecordOutcome, SinkError, SinkRecord, describe_chain};

/// The request's entries, one per record, in order; an entry the SDK's
/// builder refuses fails the whole request (nothing is sent).
pub(super) fn entries<T, E: std::fmt::Display>(
    records: &[&SinkRecord],
    build: impl Fn(&SinkRecord) -> Result<T, E>,
) -> Result<Vec<T>, SinkError> {
    records
        .iter()
        .map(|r| build(r).map_err(|e| SinkError::fatal("InvalidRequest", e.to_string())))
        .collect()
}

/// One per-record result of `PutRecords` or `PutRecordBatch`.
pub(super) trait ResultEntry {
    /// The refusal's code, for a record the service refused.
    fn error_code(&self) -> Option<&str>;
    /// What the service gives a stored record: its sequence number (Kinesis)
    /// or record id (Firehose).
    fn stored_as(&self) -> Option<&str>;
}

impl ResultEntry for aws_sdk_kinesis::types::PutRecordsResultEntry {
    fn error_code(&self) -> Option<&str> {
        self.error_code()
    }
    fn stored_as(&self) -> Option<&str> {
        self.sequence_number()
    }
}

impl ResultEntry for aws_sdk_firehose::types::PutRecordBatchResponseEntry {
    fn error_code(&self) -> Option<&str> {
        self.error_code()
    }
    fn stored_as(&self) -> Option<&str> {
        self.record_id()
    }
}

/// The outcome of each record sent: the results are in request order, one per
/// record (Kinesis and Firehose API references); an answer with another
/// count cannot be matched to the records and is retried whole. A result
/// with neither an error code nor the id a stored record gets
/// (`missing` names it in the refusal, e.g. `MissingSequenceNumber`) is
/// treated as refused, so the record is sent again rather than counted.
pub(super) fn outcomes<R: ResultEntry>(
    operation: &str,
    sent: usize,
    results: &[R],
    missing: &str,
) -> Result<BatchReply, SinkError> {
    if results.len() != sent {
        return Err(SinkError::retryable(
            "ResponseMismatch",
            format!("{operation} answered {} results for {sent} records", results.len()),
        ));
    }
    Ok(results
        .iter()
        .map(|r| match (r.error_code(), r.stored_as()) {
            (Some(code), _) => RecordOutcome::Refused { code: code.to_owned() },
            (None, Some(_)) => RecordOutcome::Accepted,
            (None, None) => RecordOutcome::Refused {
                code: missing.to_owned(),
            },
        })
        .collect())
}

/// Error codes that mean "slow down or try again", for Kinesis and Firehose.
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KMSThrottlingException",
    "InternalFailure",
    "InternalFailureException",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Maps an SDK error to a [`SinkError`], deciding whether it is worth retrying.
///
/// `known` names the service's modeled errors and says whether each is
/// retryable; anything else is judged by its code and HTTP status.
pub(super) fn classify_sdk_error<E>(
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
    known: impl Fn(&E) -> Option<(&'static str, bool)>,
) -> SinkError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let modeled = known(ctx.err());
            let code = ctx
                .err()
                .code()
                .or(modeled.map(|(code, _)| code))
                .unwrap_or("Unknown")
                .to_owned();
            let message = ctx
                .err()
                .message()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{} (HTTP {status})", ctx.err()));
            let retryable = match modeled {
                Some((_, retryable)) => retryable,
                None => status >= 500 || status == 429 || RETRYABLE_CODES.contains(&code.as_str()),
            };
            SinkError {
                retryable,
                code,
                message,
            }
        }
        SdkError::TimeoutError(_) => SinkError::retryable("Timeout", describe_chain(&err)),
        SdkError::DispatchFailure(_) => SinkError::retryable("DispatchFailure", describe_chain(&err)),
        SdkError::ResponseError(_) => SinkError::retryable("ResponseError", describe_chain(&err)),
        SdkError::ConstructionFailure(_) => SinkError::fatal("ConstructionFailure", describe_chain(&err)),
        _ => SinkError::retryable("Unknown", describe_chain(&err)),
    }
}
