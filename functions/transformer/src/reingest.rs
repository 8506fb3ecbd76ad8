//! Re-ingestion, the whole story: records whose reshaped output does not
//! fit the 6 MB response go back into the source, to come through the
//! transformer again ([`put_back`], phase 3 of an invocation: the flag, the
//! destination, the rebuild, the delivery, and which the source took).
//!
//! With a Kinesis source they are put into the source stream with their
//! original partition key (`PutRecords`); with Direct PUT, into the delivery
//! stream itself (`PutRecordBatch`). What is re-ingested is the event in the
//! producer's schema with its `event_id` filled in, so an event that came
//! without an id keeps the one derived for it here. Batching and retry are the
//! shared crate's [`chat_pipeline::delivery`]; the sink comes from the
//! function's [`chat_pipeline::destination::SinkProvider`], as the
//! producer's does.

use std::borrow::Cow;

use chat_pipeline::delivery::{DeliveryOptions, deliver};
use chat_pipeline::destination::{Destination, SinkProvider};
use chat_pipeline::event::EventType;
use chat_pipeline::input::InputEvent;
use chat_pipeline::output::Columns;
use chat_pipeline::sink::{RecordSink, SinkRecord};
use chat_pipeline::timestamp::Timestamp;
use tokio::time::Instant;

use crate::config::Config;
use crate::firehose::{FirehoseRecord, TransformationEvent};
use crate::record::{Outcome, RecordFailure, Transformed};

/// Which overflow records re-ingestion put back into the source.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reingested {
    accepted: foldhash::HashSet<usize>,
}

impl Reingested {
    /// Whether the record at input index `i` was accepted by the source.
    pub(crate) fn accepted(&self, i: usize) -> bool {
        self.accepted.contains(&i)
    }
}

/// Phase 3 of an invocation: puts the overflow records (`Ok`, past what the
/// response holds) back into the source they came from, through a sink of
/// `sinks`, and says which the source accepted; those are answered
/// `Dropped`, the rest `ProcessingFailed`. With `REINGEST=false` in
/// `config`, or a source it cannot name, none is put back.
pub(crate) async fn put_back<P: SinkProvider>(
    config: &Config,
    sinks: &P,
    event: &TransformationEvent<'_>,
    outcomes: &[Outcome],
    overflow: &[usize],
    deadline: Option<Instant>,
) -> Reingested {
    let mut accepted = Reingested::default();
    if !config.reingest {
        tracing::warn!(
            records = overflow.len(),
            "response budget reached and REINGEST=false: the rest are ProcessingFailed"
        );
        return accepted;
    }
    let target = match reingest_destination(event) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, records = overflow.len(), "cannot re-ingest; marking ProcessingFailed");
            return accepted;
        }
    };
    let mut to_send: Vec<SinkRecord> = Vec::with_capacity(overflow.len());
    let mut positions: Vec<usize> = Vec::with_capacity(overflow.len());
    for &i in overflow {
        let Outcome::Ok(transformed) = &outcomes[i] else {
            continue;
        };
        match reingest_record(&event.records[i], transformed) {
            Ok(r) => {
                to_send.push(r);
                positions.push(i);
            }
            // Logged as every refused record is, with its code
            // (reingest_rebuild), so the saved query of failures by reason
            // counts it; it is answered ProcessingFailed like any overflow
            // record the source did not take.
            Err(failure) => tracing::warn!(
                record_id = %event.records[i].record_id,
                code = failure.code(),
                reason = %failure,
                "record failed processing"
            ),
        }
    }
    let sink = sinks.sink_for(&target).await;
    let options = DeliveryOptions {
        retry: config.retry,
        max_in_flight: 4,
        deadline,
    };
    let report = deliver(&sink, &to_send, &options).await;
    accepted.accepted.extend(positions.iter().copied());
    for u in &report.undelivered {
        accepted.accepted.remove(&positions[u.index]);
    }
    if report.is_complete() {
        tracing::info!(sink = %sink.describe(), %report, "re-ingested records past the response budget");
    } else {
        tracing::error!(sink = %sink.describe(), %report, "some records could not be re-ingested; they are ProcessingFailed");
    }
    accepted
}

/// The event's ARNs do not name a stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot re-ingest: {field} {arn:?} is not a {expected} ARN")]
pub(crate) struct TargetError {
    field: &'static str,
    arn: String,
    expected: &'static str,
}

/// Where overflow records of `event` go: its source Kinesis stream when it
/// has one, else the Direct PUT delivery stream itself.
pub(crate) fn reingest_destination(event: &TransformationEvent<'_>) -> Result<Destination, TargetError> {
    match &event.source_kinesis_stream_arn {
        Some(arn) => resource_name(arn, "kinesis", "stream")
            .map(|name| Destination::KinesisStream { name })
            .ok_or_else(|| TargetError {
                field: "sourceKinesisStreamArn",
                arn: arn.clone(),
                expected: "Kinesis stream",
            }),
        None => resource_name(&event.delivery_stream_arn, "firehose", "deliverystream")
            .map(|name| Destination::DeliveryStream { name })
            .ok_or_else(|| TargetError {
                field: "deliveryStreamArn",
                arn: event.delivery_stream_arn.clone().into_owned(),
                expected: "Firehose delivery stream",
            }),
    }
}

/// `name` from `arn:PARTITION:SERVICE:REGION:ACCOUNT:KIND/name`.
fn resource_name(arn: &str, service: &str, kind: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, svc, _region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let (k, name) = resource.split_once('/')?;
    (prefix == "arn" && svc == service && k == kind && !name.is_empty()).then(|| name.to_owned())
}

/// The record to put back for an overflow `record`, rebuilt from its output
/// line (the input's bytes are released as soon as a record is transformed):
/// the event in the producer's schema with its `event_id` (the producer's, or
/// the one derived here, so reprocessing keeps it), keyed by the original
/// partition key, or the user without a Kinesis source.
pub(crate) fn reingest_record(
    record: &FirehoseRecord<'_>,
    transformed: &Transformed,
) -> Result<SinkRecord, RecordFailure> {
    let rebuild = |message: String| RecordFailure::Reingest(message);
    let out: OutputLine<'_> = serde_json::from_slice(&transformed.line).map_err(|e| rebuild(e.to_string()))?;
    let event = InputEvent {
        event_id: None,
        event_type: EventType::parse(&out.event_type)
            .ok_or_else(|| rebuild(format!("event_type {:?}", out.event_type)))?,
        occurred_at: Timestamp::parse_iso8601(&out.occurred_at).map_err(|e| rebuild(e.to_string()))?,
        user_id: out.user_id,
        columns: out.columns,
    };
    let partition_key = match &record.kinesis_record_metadata {
        Some(m) if !m.partition_key.is_empty() => m.partition_key.clone().into_owned(),
        _ => event.user_id.to_string(),
    };
    Ok(SinkRecord {
        data: event
            .canonical_json(&out.event_id)
            .map_err(|e| rebuild(e.to_string()))?,
        partition_key,
    })
}

/// The fields of an output line that re-ingestion needs: the columns with a
/// rule of their own it rebuilds the input from, and the plain columns
/// (generated from the schema), read by their column names.
#[derive(serde::Deserialize)]
struct OutputLine<'a> {
    #[serde(borrow)]
    event_id: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    user_id: u64,
    #[serde(borrow)]
    occurred_at: Cow<'a, str>,
    #[serde(flatten, borrow)]
    columns: Columns<'a>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(kinesis: Option<&str>, ds: &'a str) -> TransformationEvent<'a> {
        TransformationEvent {
            invocation_id: "i".into(),
            delivery_stream_arn: ds.into(),
            source_kinesis_stream_arn: kinesis.map(str::to_owned),
            region: "us-east-1".into(),
            records: vec![],
        }
    }

    #[test]
    fn target_follows_the_source() {
        let ds = "arn:aws:firehose:eu-west-1:123456789012:deliverystream/chat-delivery";
        assert_eq!(
            reingest_destination(&event(None, ds)),
            Ok(Destination::DeliveryStream {
                name: "chat-delivery".into()
            })
        );
        assert_eq!(
            reingest_destination(&event(
                Some("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/chat-events"),
                ds
            )),
            Ok(Destination::KinesisStream {
                name: "chat-events".into()
            })
        );
        let err = reingest_destination(&event(Some("arn:aws:s3:::bucket"), ds)).unwrap_err();
        assert!(err.to_string().contains("sourceKinesisStreamArn"), "{err}");
        assert!(reingest_destination(&event(None, "chat-delivery")).is_err());
    }
}
