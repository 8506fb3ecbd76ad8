//! The invocation: check the event, transform every record, fit the answer
//! into the response budget, re-ingest what does not fit, and answer Firehose
//! with exactly one entry per input record, in input order. Read it top
//! down: [`handle`], [`respond`], then [`process`] and its four phases. Each
//! story has one home: the request contract in [`crate::firehose`] (what is
//! refused as a whole: `crate::firehose::read_request`), one record in
//! [`crate::record`], the fit in `crate::fit`, re-ingestion in
//! `crate::reingest`.
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
use chat_pipeline::delivery::deadline_from_epoch_millis;
use chat_pipeline::destination::{AwsSinks, SinkProvider};
use chat_pipeline::metrics::{self, Metric};
use lambda_runtime::LambdaEvent;
use tokio::time::Instant;

use crate::config::Config;
pub use crate::firehose::TransformerError;
use crate::firehose::response::{Answer, AnswerData, Answers, MeasuredId, RenderedResponse};
use crate::firehose::{FirehoseRecord, RecordResult, TransformationEvent, check_record_ids, read_request};
use crate::fit::{EntrySizes, fit};
use crate::record::{BatchState, DropReason, Outcome, excerpt};
use crate::reingest::{Reingested, put_back};

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

/// Counts for the invocation's log line and metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub records: usize,
    pub ok: usize,
    /// All `Dropped` answers: filtered, duplicates and re-ingested.
    pub dropped: usize,
    /// Of those, retry copies of an event earlier in the batch (in the log
    /// line, beside `dropped`).
    pub duplicates: usize,
    /// Of those, events of a type in `DROP_EVENT_TYPES` (in the log line).
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
        duplicates = summary.duplicates,
        filtered = summary.filtered,
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
    let event = read_request(body)?;
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

/// Every record's answer, before it is written: four phases.
///
/// 1. `decide` (below) every record: `Ok` with its output line, `Dropped`,
///    or `ProcessingFailed` with the reason.
/// 2. `fit` (`crate::fit`): how many answers fit the response budget in
///    full.
/// 3. `put_back` (`crate::reingest`) the `Ok` records past it into the
///    source.
/// 4. `answer` (below) every record, in order, counting each answer once.
pub async fn process<'a, P: SinkProvider>(
    state: &Transformer<P>,
    mut event: TransformationEvent<'a>,
    deadline: Option<Instant>,
) -> Result<(Answers<'a>, Summary), TransformerError> {
    check_record_ids(&event.records)?;
    let config = &state.config;
    let (outcomes, bytes_in) = decide(&mut event.records, config);
    let fitted = fit(&event.records, &outcomes, config.response_budget);
    let overflow: Vec<usize> = (fitted.full..outcomes.len())
        .filter(|&i| matches!(outcomes[i], Outcome::Ok(_)))
        .collect();
    let reingested = if overflow.is_empty() {
        Reingested::default()
    } else {
        put_back(&state.config, &state.sinks, &event, &outcomes, &overflow, deadline).await
    };
    let records = std::mem::take(&mut event.records);
    let (answers, mut summary) = answer(records, outcomes, &fitted.sizes, fitted.full, &reingested);
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
