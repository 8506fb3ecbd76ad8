//! The invocation: check the event, transform every record, fit the answer
//! into the response budget, re-ingest what does not fit, and answer Firehose
//! with exactly one entry per input record, in input order.
//!
//! [`handle`] is what `main.rs` hands to the Lambda runtime; [`respond`] is
//! the same from the request body's text, and [`process`] from a parsed
//! event, for tests and benchmarks.
//!
//! The handler takes the request body as the `Bytes` the runtime received
//! ([`crate::runtime`]), parses it with strings borrowed from it
//! ([`crate::firehose::parse_request`]) and returns the response already
//! written ([`crate::firehose::response::RenderedResponse`]); why:
//! docs/decisions/transformer-request-body.md.

use std::borrow::Cow;
use std::time::Instant as StdInstant;

use bytes::Bytes;
use chat_pipeline::delivery::{DeliveryOptions, deadline_from_epoch_millis, deliver};
use chat_pipeline::destination::{AwsSinks, SinkProvider};
use chat_pipeline::metrics::{self, Metric};
use chat_pipeline::sink::{RecordSink, SinkRecord};
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;

use crate::config::Config;
use crate::firehose::response::{
    Answer, AnswerData, Answers, EntrySizes, MeasuredId, RenderedResponse, base64_len, entry_len_with_id_len,
    fitting_prefix,
};
use crate::firehose::{
    FirehoseRecord, RecordResult, RequestError, ResponseMetadata, TransformationEvent, json_escaped_len, parse_request,
};
use crate::record::{BatchState, DropReason, Outcome, excerpt};
use crate::reingest::{reingest_destination, reingest_record};

/// The function's state, built once per container: the configuration and
/// the provider of re-ingestion sinks (`AwsSinks` in the function;
/// `MemorySinks` of `chat_pipeline::test_util` in tests).
#[derive(Debug)]
pub struct Transformer<P = AwsSinks> {
    pub config: Config,
    pub sinks: P,
}

impl<P: SinkProvider> Transformer<P> {
    pub fn new(config: Config, sinks: P) -> Self {
        Transformer { config, sinks }
    }
}

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
fn looks_like(body: &[u8]) -> Option<&'static str> {
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

/// Counts for the invocation's log line and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub ok: usize,
    /// All `Dropped` answers: filtered, duplicates and re-ingested.
    pub dropped: usize,
    pub duplicates: usize,
    pub filtered: usize,
    pub failed: usize,
    pub reingested: usize,
    /// Overflow records that could not be re-ingested (`ProcessingFailed`).
    pub reingest_failed: usize,
    /// Decoded input bytes.
    pub bytes_in: usize,
    /// Output line bytes of `Ok` records (what lands in S3 before compression).
    pub bytes_out: usize,
    /// Exact serialized size of the response.
    pub response_bytes: usize,
}

/// The Lambda entry point: the request body as the runtime received it (see
/// [`crate::runtime`]), the response as bytes to send.
pub async fn handle<P: SinkProvider>(
    state: &Transformer<P>,
    event: LambdaEvent<Bytes>,
) -> Result<RenderedResponse, TransformerError> {
    let started = StdInstant::now();
    let (body, context) = event.into_parts();
    let deadline = deadline_from_epoch_millis(context.deadline, state.config.deadline_margin);
    let Responded {
        response,
        summary,
        invocation_id,
    } = respond(state, &body, deadline).await?;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        invocation_id = %invocation_id,
        records = summary.records,
        ok = summary.ok,
        dropped = summary.dropped,
        failed = summary.failed,
        reingested = summary.reingested,
        response_bytes = summary.response_bytes,
        duration_ms,
        "transformed batch"
    );
    metrics::emit(&summary.metrics(duration_ms));
    Ok(response)
}

/// What one invocation answered, with what its log line says about it.
#[derive(Clone, Debug)]
pub struct Responded {
    /// The response, written.
    pub response: RenderedResponse,
    /// Counts and sizes, for the log line and the metrics.
    pub summary: Summary,
    /// Firehose's id of the invocation.
    pub invocation_id: String,
}

/// One invocation from the request body: check and parse it (strings
/// borrowed from `body`), [`process`] it, and write the response.
pub async fn respond<P: SinkProvider>(
    state: &Transformer<P>,
    body: &[u8],
    deadline: Option<Instant>,
) -> Result<Responded, TransformerError> {
    let event = parse_request(body).map_err(|reason| TransformerError::InvalidEvent {
        looks_like: looks_like(body),
        reason,
    })?;
    let invocation_id = event.invocation_id.clone().into_owned();
    let (answers, summary) = process(state, event, deadline).await?;
    Ok(Responded {
        response: answers.render(),
        summary,
        invocation_id,
    })
}

impl Summary {
    /// The invocation's metrics, as emitted in the EMF line.
    pub fn metrics(&self, duration_ms: f64) -> [Metric; 8] {
        [
            Metric::count("records", self.records),
            Metric::count("ok", self.ok),
            Metric::count("dropped", self.dropped),
            Metric::count("failed", self.failed),
            Metric::count("reingested", self.reingested),
            Metric::bytes("bytes_in", self.bytes_in),
            Metric::bytes("bytes_out", self.bytes_out),
            Metric::millis("duration_ms", duration_ms),
        ]
    }
}

/// Every record's answer, before it is written: four phases, each a
/// function below.
///
/// 1. [`decide`] every record: `Ok` with its output line, `Dropped`, or
///    `ProcessingFailed` with the reason.
/// 2. [`fitting_prefix`]: how many answers fit the response budget in full.
/// 3. [`reingest`] the `Ok` records past it into the source.
/// 4. [`answer`] every record, in order, counting each answer once.
pub async fn process<'a, P: SinkProvider>(
    state: &Transformer<P>,
    mut event: TransformationEvent<'a>,
    deadline: Option<Instant>,
) -> Result<(Answers<'a>, Summary), TransformerError> {
    check_record_ids(&event.records)?;
    let config = &state.config;
    let (outcomes, bytes_in) = decide(&mut event.records, config);
    let sizes: Vec<EntrySizes> = event
        .records
        .iter()
        .zip(&outcomes)
        .map(|(r, o)| entry_sizes(r, o))
        .collect();
    let fit = fitting_prefix(&sizes, config.response_budget);
    let overflow: Vec<usize> = (fit..outcomes.len())
        .filter(|&i| matches!(outcomes[i], Outcome::Ok(_)))
        .collect();
    let reingested = if overflow.is_empty() {
        Reingested::default()
    } else {
        reingest(state, &event, &outcomes, &overflow, deadline).await
    };
    let records = std::mem::take(&mut event.records);
    let (answers, mut summary) = answer(records, outcomes, &sizes, fit, &reingested);
    summary.bytes_in = bytes_in;
    if summary.response_bytes > config.response_budget {
        tracing::error!(
            response_bytes = summary.response_bytes,
            budget = config.response_budget,
            "even compact answers exceed the response budget"
        );
    }
    Ok((answers, summary))
}

/// Phase 1: every record's outcome, and the decoded input bytes. An input's
/// data is kept only while it may still be answered unchanged
/// (`ProcessingFailed`); an owned copy is released at once, which keeps a
/// 6 MB invocation's peak memory down.
fn decide(records: &mut [FirehoseRecord<'_>], config: &Config) -> (Vec<Outcome>, usize) {
    let mut batch = BatchState::new();
    let outcomes = records
        .iter_mut()
        .map(|record| {
            let outcome = batch.transform(record, config);
            if let Outcome::Failed(failure) = &outcome {
                let payload = if batch.last_decoded().is_empty() {
                    record.data.as_bytes()
                } else {
                    batch.last_decoded()
                };
                tracing::warn!(
                    record_id = %record.record_id,
                    code = failure.code(),
                    reason = %failure,
                    excerpt = %excerpt(payload),
                    "record failed processing"
                );
            } else {
                record.data = Cow::Borrowed("");
            }
            outcome
        })
        .collect();
    (outcomes, batch.bytes_in)
}

/// Phase 4: one answer per record, in input order. The first `fit` records
/// get their full answer; past it, an `Ok` becomes `Dropped` if re-ingestion
/// took it, else `ProcessingFailed`, without data. The summary counts each
/// answer here and nowhere else.
fn answer<'a>(
    records: Vec<FirehoseRecord<'a>>,
    outcomes: Vec<Outcome>,
    sizes: &[EntrySizes],
    fit: usize,
    reingested: &Reingested,
) -> (Answers<'a>, Summary) {
    let mut summary = Summary {
        records: records.len(),
        ..Summary::default()
    };
    let mut entries = Vec::with_capacity(records.len());
    for (i, (record, outcome)) in records.into_iter().zip(outcomes).enumerate() {
        let id = MeasuredId {
            id: record.record_id,
            escaped_len: sizes[i].id_len,
        };
        let entry = match outcome {
            Outcome::Ok(t) if i < fit => {
                summary.ok += 1;
                summary.bytes_out += t.line.len();
                Answer::new(id, RecordResult::Ok, AnswerData::Line(t.line), Some(t.keys))
            }
            Outcome::Ok(_) if reingested.accepted(i) => {
                summary.reingested += 1;
                summary.dropped += 1;
                Answer::new(id, RecordResult::Dropped, AnswerData::Empty, None)
            }
            Outcome::Ok(_) => {
                summary.reingest_failed += 1;
                summary.failed += 1;
                Answer::new(id, RecordResult::ProcessingFailed, AnswerData::Empty, None)
            }
            Outcome::Dropped(reason) => {
                summary.dropped += 1;
                match reason {
                    DropReason::Duplicate => summary.duplicates += 1,
                    DropReason::Filtered => summary.filtered += 1,
                }
                Answer::new(id, RecordResult::Dropped, AnswerData::Empty, None)
            }
            Outcome::Failed(_) => {
                summary.failed += 1;
                // Unchanged when it fits, so the error prefix shows what came
                // in; never echo data that is not base64, which would make the
                // whole response unreadable.
                let echo = i < fit && sizes[i].echo;
                let data = if echo {
                    AnswerData::Echo(record.data)
                } else {
                    AnswerData::Empty
                };
                Answer::new(id, RecordResult::ProcessingFailed, data, None)
            }
        };
        entries.push(entry);
    }
    let answers = Answers::new(entries);
    summary.response_bytes = answers.json_len();
    (answers, summary)
}

/// Every record needs a non-empty id, and no id may repeat.
fn check_record_ids(records: &[FirehoseRecord<'_>]) -> Result<(), TransformerError> {
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

/// The sizes of `record`'s answer, in full and compact, and of its id.
fn entry_sizes(record: &FirehoseRecord<'_>, outcome: &Outcome) -> EntrySizes {
    // The id is the only part whose length depends on escaping: measure it once.
    let id_len = json_escaped_len(&record.record_id);
    let compact = entry_len_with_id_len(id_len, RecordResult::ProcessingFailed, 0, &ResponseMetadata::NONE);
    let echo = matches!(outcome, Outcome::Failed(failure) if failure.echoes(&record.data));
    let full = match outcome {
        Outcome::Ok(t) => entry_len_with_id_len(
            id_len,
            RecordResult::Ok,
            base64_len(t.line.len()),
            &ResponseMetadata::keys(t.keys),
        ),
        Outcome::Dropped(_) => entry_len_with_id_len(id_len, RecordResult::Dropped, 0, &ResponseMetadata::NONE),
        Outcome::Failed(_) if echo => entry_len_with_id_len(
            id_len,
            RecordResult::ProcessingFailed,
            record.data.len(),
            &ResponseMetadata::NONE,
        ),
        Outcome::Failed(_) => compact,
    };
    EntrySizes {
        full,
        compact,
        id_len,
        echo,
    }
}

/// Which overflow records re-ingestion put back into the source.
#[derive(Clone, Debug, Default)]
struct Reingested {
    accepted: foldhash::HashSet<usize>,
}

impl Reingested {
    /// Whether the record at input index `i` was accepted by the source.
    fn accepted(&self, i: usize) -> bool {
        self.accepted.contains(&i)
    }
}

/// Puts the overflow records back into the source; says which were accepted.
async fn reingest<P: SinkProvider>(
    state: &Transformer<P>,
    event: &TransformationEvent<'_>,
    outcomes: &[Outcome],
    overflow: &[usize],
    deadline: Option<Instant>,
) -> Reingested {
    let mut accepted = Reingested::default();
    if !state.config.reingest {
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
            Err(e) => {
                tracing::error!(record_id = %event.records[i].record_id, error = %e, "cannot rebuild record for re-ingestion")
            }
        }
    }
    let sink = state.sinks.sink_for(&target).await;
    let options = DeliveryOptions {
        retry: state.config.retry,
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
