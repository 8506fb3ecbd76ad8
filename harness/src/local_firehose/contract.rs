//! Phase 3, check the answer: the response holds every recordId of the
//! request exactly once and in order, results `Ok` / `Dropped` /
//! `ProcessingFailed` only, within 6 MB. Parsed with `aws_lambda_events`'
//! types, independent of the transformer's own.

use aws_lambda_events::event::firehose::KinesisFirehoseResponse;
use transformer::firehose::{LAMBDA_RESPONSE_LIMIT, TransformationEvent};

use super::StandInError;

/// Parses the response and checks it against the request.
pub fn check_contract(event: &TransformationEvent<'_>, body: &[u8]) -> Result<KinesisFirehoseResponse, StandInError> {
    let contract = |m: String| StandInError::Contract(m);
    if body.len() > LAMBDA_RESPONSE_LIMIT {
        return Err(contract(format!("response of {} bytes exceeds 6 MB", body.len())));
    }
    let response: KinesisFirehoseResponse =
        serde_json::from_slice(body).map_err(|e| contract(format!("unreadable response: {e}")))?;
    if response.records.len() != event.records.len() {
        return Err(contract(format!(
            "{} answers for {} records",
            response.records.len(),
            event.records.len()
        )));
    }
    for (i, (asked, answered)) in event.records.iter().zip(&response.records).enumerate() {
        if answered.record_id.as_deref() != Some(&*asked.record_id) {
            return Err(contract(format!(
                "answer {i} is for recordId {:?}, expected {:?} (missing, duplicated or out of order)",
                answered.record_id, asked.record_id
            )));
        }
        match answered.result.as_deref() {
            Some("Ok" | "Dropped" | "ProcessingFailed") => {}
            other => return Err(contract(format!("answer {i} has result {other:?}"))),
        }
    }
    Ok(response)
}
