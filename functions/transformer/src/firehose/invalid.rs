//! The requests Firehose's contract refuses as a whole, and how the
//! transformer says so: a body that is not a transformation event (with what
//! it looks like when it is another well-known event), and record ids that
//! are empty or repeated, since each record must be answered exactly once.
//! Firehose retries such an invocation (the error is the Lambda's), and its
//! records go to `errors/` after the retries.

use super::{FirehoseRecord, RequestError, TransformationEvent, parse_request};

/// The event cannot be answered record by record; Firehose retries the
/// invocation.
#[derive(Debug, thiserror::Error)]
pub enum TransformerError {
    /// The body is not UTF-8, not JSON, or JSON but not a transformation
    /// event. The message says why, what was expected, and what the body
    /// looks like when it is a well-known other event.
    #[error(
        "not a valid Firehose transformation event: {reason}{}. Expected what Firehose sends a \
         transformation Lambda: {{\"deliveryStreamArn\": ..., \"records\": [{{\"recordId\": ..., \
         \"approximateArrivalTimestamp\": ..., \"data\": \"<base64>\"}}]}}; samples are in events/transformer/",
        looks_like.map(|l| format!(" (this looks like {l})")).unwrap_or_default()
    )]
    InvalidEvent {
        reason: RequestError,
        looks_like: Option<&'static str>,
    },
    #[error("not a valid Firehose transformation event: record {index} has an empty recordId")]
    EmptyRecordId { index: usize },
    #[error(
        "not a valid Firehose transformation event: recordId {record_id:?} appears at records {first} and {second}, and each must be answered exactly once"
    )]
    DuplicateRecordId {
        record_id: String,
        first: usize,
        second: usize,
    },
}

/// What a body that is not a transformation event looks like, when it is an
/// event people often send by mistake (by the keys AWS's sample events of
/// those services carry).
pub(crate) fn looks_like(body: &[u8]) -> Option<&'static str> {
    let text = std::str::from_utf8(body).ok()?;
    let has = |key: &str| text.contains(key);
    if has("\"Records\"") && has("\"s3\"") {
        Some("an S3 event notification")
    } else if has("\"Records\"") && has("\"kinesis\"") {
        Some("a Kinesis event for a Lambda event source mapping")
    } else if has("\"Records\"") && has("\"Sns\"") {
        Some("an SNS notification")
    } else if has("\"event_name\"") && has("\"event_time\"") {
        Some("a single chat event, which Firehose would send base64-encoded in a record's data")
    } else if has("\"detail-type\"") {
        Some("an EventBridge event (the producer's trigger)")
    } else {
        None
    }
}

impl From<TransformerError> for lambda_runtime::Diagnostic {
    fn from(e: TransformerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "InvalidTransformationEvent".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// The event in `body`, read and checked: strings borrowed from `body`,
/// every record id non-empty and unique.
pub(crate) fn read_request(body: &[u8]) -> Result<TransformationEvent<'_>, TransformerError> {
    let event = parse_request(body).map_err(|reason| TransformerError::InvalidEvent {
        looks_like: looks_like(body),
        reason,
    })?;
    check_record_ids(&event.records)?;
    Ok(event)
}

/// Every record needs a non-empty id, and no id may repeat.
pub(crate) fn check_record_ids(records: &[FirehoseRecord<'_>]) -> Result<(), TransformerError> {
    let mut seen: foldhash::HashMap<&str, usize> =
        foldhash::HashMap::with_capacity_and_hasher(records.len(), foldhash::fast::RandomState::default());
    for (index, r) in records.iter().enumerate() {
        if r.record_id.is_empty() {
            return Err(TransformerError::EmptyRecordId { index });
        }
        if let Some(first) = seen.insert(&r.record_id, index) {
            return Err(TransformerError::DuplicateRecordId {
                record_id: r.record_id.clone().into_owned(),
                first,
                second: index,
            });
        }
    }
    Ok(())
}
