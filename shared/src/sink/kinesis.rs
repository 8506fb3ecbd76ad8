//! Kinesis Data Streams sink: `PutRecords`, reporting per-record failures
//! (`ProvisionedThroughputExceededException`, `InternalFailure`) so that only
//! those are sent again.

use aws_sdk_kinesis::Client;
use aws_sdk_kinesis::operation::put_records::PutRecordsError;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::sdk::{classify_sdk_error, entries, outcomes};
use super::{BatchLimits, BatchReply, RecordSink, SinkError, SinkRecord};

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
        let entries = entries(records, |r| {
            PutRecordsRequestEntry::builder()
                .data(Blob::new(r.data.clone()))
                .partition_key(&r.partition_key)
                .build()
        })?;
        let out = self
            .client
            .put_records()
            .stream_name(&self.stream_name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| classify_sdk_error(e, modeled_error))?;
        outcomes("PutRecords", records.len(), out.records(), "MissingSequenceNumber")
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
