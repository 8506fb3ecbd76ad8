//! Kinesis Data Streams sink: `PutRecords`, reporting per-record failures
//! (`ProvisionedThroughputExceededException`, `InternalFailure`) so that only
//! those are sent again.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::{BatchLimits, BatchReply, RecordOutcome, RecordSink, SinkError, SinkRecord, classify_sdk_error};

/// Writes to one Kinesis data stream.
#[derive(Debug, Clone)]
pub struct KinesisSink {
    client: Client,
    stream_name: String,
}

impl KinesisSink {
    pub fn new(client: Client, stream_name: impl Into<String>) -> Self {
        KinesisSink {
            client,
            stream_name: stream_name.into(),
        }
    }

    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }
}

impl RecordSink for KinesisSink {
    fn describe(&self) -> String {
        format!("kinesis:{}", self.stream_name)
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits::KINESIS
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        let entries = records
            .iter()
            .map(|r| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(r.data.clone()))
                    .partition_key(&r.partition_key)
                    .build()
                    .map_err(|e| SinkError::fatal("InvalidRequest", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream_name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| classify_sdk_error(e, modeled_error))?;
        let results = out.records();
        if results.len() != records.len() {
            return Err(SinkError::retryable(
                "ResponseMismatch",
                format!(
                    "PutRecords answered {} results for {} records",
                    results.len(),
                    records.len()
                ),
            ));
        }
        Ok(results
            .iter()
            .map(|r| match (r.error_code(), r.sequence_number()) {
                (Some(code), _) => RecordOutcome::Refused { code: code.to_owned() },
                (None, Some(_)) => RecordOutcome::Accepted,
                (None, None) => RecordOutcome::Refused {
                    code: "MissingSequenceNumber".to_owned(),
                },
            })
            .collect())
    }
}

/// The code of a modeled `PutRecords` error and whether it is worth retrying.
fn modeled_error(e: &PutRecordsError) -> Option<(&'static str, bool)> {
    Some(match e {
        PutRecordsError::ProvisionedThroughputExceededException(_) => ("ProvisionedThroughputExceededException", true),
        PutRecordsError::KmsThrottlingException(_) => ("KMSThrottlingException", true),
        PutRecordsError::InternalFailureException(_) => ("InternalFailureException", true),
        PutRecordsError::ResourceNotFoundException(_) => ("ResourceNotFoundException", false),
        PutRecordsError::AccessDeniedException(_) => ("AccessDeniedException", false),
        PutRecordsError::InvalidArgumentException(_) => ("InvalidArgumentException", false),
        PutRecordsError::KmsAccessDeniedException(_) => ("KMSAccessDeniedException", false),
        PutRecordsError::KmsDisabledException(_) => ("KMSDisabledException", false),
        PutRecordsError::KmsInvalidStateException(_) => ("KMSInvalidStateException", false),
        PutRecordsError::KmsNotFoundException(_) => ("KMSNotFoundException", false),
        PutRecordsError::KmsOptInRequired(_) => ("KMSOptInRequired", false),
        _ => return None,
    })
}
