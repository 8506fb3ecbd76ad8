//! Firehose Direct PUT sink: `PutRecordBatch`, reporting per-record failures
//! (`ServiceUnavailableException`, `InternalFailure`) so that only those are
//! sent again.

use aws_sdk_firehose::Client;
use aws_sdk_firehose::operation::put_record_batch::PutRecordBatchError;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;

use super::sdk::{classify_sdk_error, entries, outcomes};
use super::{BatchLimits, BatchReply, RecordSink, SinkError, SinkRecord};

/// Writes to one Firehose delivery stream.
#[derive(Debug, Clone)]
pub struct FirehoseSink {
    client: Client,
    delivery_stream_name: String,
}

impl FirehoseSink {
    pub fn new(client: Client, delivery_stream_name: impl Into<String>) -> Self {
        FirehoseSink {
            client,
            delivery_stream_name: delivery_stream_name.into(),
        }
    }

    pub fn delivery_stream_name(&self) -> &str {
        &self.delivery_stream_name
    }
}

impl RecordSink for FirehoseSink {
    fn describe(&self) -> String {
        format!("firehose:{}", self.delivery_stream_name)
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits::FIREHOSE
    }

    async fn put_batch(&self, records: &[&SinkRecord]) -> Result<BatchReply, SinkError> {
        let entries = entries(records, |r| Record::builder().data(Blob::new(r.data.clone())).build())?;
        let out = self
            .client
            .put_record_batch()
            .delivery_stream_name(&self.delivery_stream_name)
            .set_records(Some(entries))
            .send()
            .await
            .map_err(|e| classify_sdk_error(e, modeled_error))?;
        outcomes(
            "PutRecordBatch",
            records.len(),
            out.request_responses(),
            "MissingRecordId",
        )
    }
}

/// The code of a modeled `PutRecordBatch` error and whether it is worth retrying.
fn modeled_error(e: &PutRecordBatchError) -> Option<(&'static str, bool)> {
    Some(match e {
        PutRecordBatchError::ServiceUnavailableException(_) => ("ServiceUnavailableException", true),
        PutRecordBatchError::ResourceNotFoundException(_) => ("ResourceNotFoundException", false),
        PutRecordBatchError::InvalidArgumentException(_) => ("InvalidArgumentException", false),
        PutRecordBatchError::InvalidKmsResourceException(_) => ("InvalidKMSResourceException", false),
        PutRecordBatchError::InvalidSourceException(_) => ("InvalidSourceException", false),
        _ => return None,
    })
}
