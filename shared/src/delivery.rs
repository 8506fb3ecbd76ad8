//! Delivering records without loss: plan batches within the sink's limits,
//! keep up to `max_in_flight` requests running, resend only the records a
//! request refused (or all of a request that failed in a retryable way) after a
//! full-jitter backoff, and stop at `max_attempts` or at the deadline.
//!
//! The result is a [`DeliveryReport`] that accounts for every input record:
//! it is either delivered or listed in `undelivered` with the reason. The
//! producer turns any undelivered record into an invocation error; the
//! transformer marks the records it could not re-ingest `ProcessingFailed`.

use std::collections::BTreeMap;
use std::fmt;

use futures_util::StreamExt;
use tokio::time::Instant;

use crate::batching::{Batch, plan_batches};
use crate::retry::RetryPolicy;
use crate::sink::{RecordOutcome, RecordRejected, RecordSink, SinkError, SinkRecord};

/// How to deliver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryOptions {
    pub retry: RetryPolicy,
    /// Requests in flight at once (at least 1).
    pub max_in_flight: usize,
    /// No request starts, and no backoff sleeps, past this instant; a request
    /// still in flight at the deadline counts as failed.
    pub deadline: Option<Instant>,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retry: RetryPolicy::default(),
            max_in_flight: 4,
            deadline: None,
        }
    }
}

/// Why a record was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UndeliveredReason {
    /// Refused before sending: it can never fit the service's limits.
    Rejected(RecordRejected),
    /// Still refused (with this error code) when the attempts ran out.
    AttemptsExhausted { code: String },
    /// The deadline came before the record was accepted; `code` is the last
    /// error it saw, if it was sent at all.
    Deadline { code: Option<String> },
    /// A request failed with an error that retrying cannot fix.
    Fatal(SinkError),
}

impl UndeliveredReason {
    /// A short label for grouping in summaries.
    pub fn label(&self) -> String {
        match self {
            UndeliveredReason::Rejected(r) => format!("rejected before sending ({r})"),
            UndeliveredReason::AttemptsExhausted { code } => format!("{code} after the last attempt"),
            UndeliveredReason::Deadline { code: Some(code) } => format!("{code}, then out of time"),
            UndeliveredReason::Deadline { code: None } => "out of time before sending".to_owned(),
            UndeliveredReason::Fatal(e) => format!("non-retryable error {e}"),
        }
    }
}

/// One record that was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undelivered {
    /// Index into the input records.
    pub index: usize,
    /// Requests that carried this record.
    pub attempts: u32,
    pub reason: UndeliveredReason,
}

/// What happened to every record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub records: usize,
    pub delivered: usize,
    /// Batches planned (first attempts).
    pub batches: usize,
    /// Requests sent, retries included.
    pub requests: usize,
    /// Records sent again (a record resent twice counts twice).
    pub retried_records: usize,
    /// Per-record error codes seen along the way, with counts.
    pub error_codes: BTreeMap<String, usize>,
    /// Sorted by index.
    pub undelivered: Vec<Undelivered>,
}

/// Per-record error codes that mean "slow down": Kinesis PutRecords'
/// `ProvisionedThroughputExceededException` and `KMSThrottlingException`
/// (Kinesis API Reference, PutRecordsResultEntry), Firehose PutRecordBatch's
/// `ServiceUnavailableException` (Firehose API Reference,
/// PutRecordBatchResponseEntry), and the SDK's generic throttling code.
pub(crate) const THROTTLE_CODES: [&str; 4] = [
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    "ServiceUnavailableException",
    "ThrottlingException",
];

impl DeliveryReport {
    /// Records refused or failed with a throttling code (one record refused
    /// twice counts twice): what the producer's log line and the dashboard's
    /// log query call throttles.
    pub fn throttled(&self) -> usize {
        self.error_codes
            .iter()
            .filter(|(code, _)| THROTTLE_CODES.contains(&code.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Every error code seen, with its count: `A=3, B=1` (empty when none).
    pub fn refusals(&self) -> String {
        self.error_codes
            .iter()
            .map(|(code, n)| format!("{code}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Adds `other`, a delivery of the records that follow this one's
    /// (`offset` records in: its indices are shifted by it), as when a
    /// paced send delivers its records slice by slice.
    pub fn absorb(&mut self, other: DeliveryReport, offset: usize) {
        self.records += other.records;
        self.delivered += other.delivered;
        self.batches += other.batches;
        self.requests += other.requests;
        self.retried_records += other.retried_records;
        for (code, n) in other.error_codes {
            *self.error_codes.entry(code).or_default() += n;
        }
        self.undelivered.extend(other.undelivered.into_iter().map(|mut u| {
            u.index += offset;
            u
        }));
    }

    /// True when every record was delivered.
    pub fn is_complete(&self) -> bool {
        self.undelivered.is_empty() && self.delivered == self.records
    }

    /// Undelivered records grouped by reason, e.g.
    /// `3 ProvisionedThroughputExceededException after the last attempt`.
    pub fn failure_summary(&self) -> String {
        let mut groups: BTreeMap<String, usize> = BTreeMap::new();
        for u in &self.undelivered {
            *groups.entry(u.reason.label()).or_default() += 1;
        }
        groups
            .into_iter()
            .map(|(label, n)| format!("{n} {label}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} records delivered in {} requests ({} batches, {} records resent)",
            self.delivered, self.records, self.requests, self.batches, self.retried_records
        )?;
        if !self.undelivered.is_empty() {
            write!(
                f,
                "; {} undelivered: {}",
                self.undelivered.len(),
                self.failure_summary()
            )?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct BatchOutcome {
    delivered: usize,
    requests: usize,
    retried_records: usize,
    error_codes: BTreeMap<String, usize>,
    undelivered: Vec<Undelivered>,
}

/// Lambda's longest timeout; a deadline further away is not a real one.
const MAX_LAMBDA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The Lambda deadline (`Context::deadline`, epoch milliseconds) less
/// `margin`, as a tokio instant.
///
/// `None` when there is no usable deadline: 0 (as in tests), or a value that
/// is not an epoch time within Lambda's 15-minute maximum from now. Local
/// runners send such values (`cargo lambda watch` sends the timeout, 600000,
/// rather than an epoch time); treating them as "already past" would refuse
/// to send anything, so they are logged and ignored, and attempts still bound
/// the work.
pub fn deadline_from_epoch_millis(deadline_ms: u64, margin: std::time::Duration) -> Option<Instant> {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};
    if deadline_ms == 0 {
        return None;
    }
    let deadline = UNIX_EPOCH + Duration::from_millis(deadline_ms);
    match deadline.duration_since(SystemTime::now()) {
        Ok(remaining) if remaining <= MAX_LAMBDA_TIMEOUT + Duration::from_secs(60) => {
            Some(Instant::now() + remaining.saturating_sub(margin))
        }
        _ => {
            // Lambda sends the deadline as epoch milliseconds; `cargo lambda
            // watch` sends 600000 (ten minutes, not an epoch time). Said once
            // per process, not on every local invocation.
            static NOTED: std::sync::Once = std::sync::Once::new();
            NOTED.call_once(|| {
                tracing::info!(
                    deadline_ms,
                    "the invocation deadline is not an epoch time (cargo lambda watch sends 600000); \
                     running without a deadline, bounded by attempts"
                )
            });
            None
        }
    }
}

/// Delivers `records` to `sink`; see the module documentation.
pub async fn deliver<S: RecordSink>(sink: &S, records: &[SinkRecord], options: &DeliveryOptions) -> DeliveryReport {
    let plan = plan_batches(records, &sink.limits());
    let mut report = DeliveryReport {
        records: records.len(),
        batches: plan.batches.len(),
        ..DeliveryReport::default()
    };
    report
        .undelivered
        .extend(plan.rejected.into_iter().map(|r| Undelivered {
            index: r.index,
            attempts: 0,
            reason: UndeliveredReason::Rejected(r.reason),
        }));
    let mut outcomes = futures_util::stream::iter(plan.batches)
        .map(|batch| deliver_batch(sink, records, batch, options))
        .buffer_unordered(options.max_in_flight.max(1));
    while let Some(outcome) = outcomes.next().await {
        report.delivered += outcome.delivered;
        report.requests += outcome.requests;
        report.retried_records += outcome.retried_records;
        for (code, n) in outcome.error_codes {
            *report.error_codes.entry(code).or_default() += n;
        }
        report.undelivered.extend(outcome.undelivered);
    }
    report.undelivered.sort_by_key(|u| u.index);
    report
}

async fn deliver_batch<S: RecordSink>(
    sink: &S,
    records: &[SinkRecord],
    batch: Batch,
    options: &DeliveryOptions,
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    let max_attempts = options.retry.max_attempts.max(1);
    // (index, last error code) of the records still to send.
    let mut pending: Vec<(usize, Option<String>)> = batch.indices.into_iter().map(|i| (i, None)).collect();
    let mut attempt = 0u32;
    loop {
        if options.deadline.is_some_and(|d| Instant::now() >= d) {
            give_up(&mut out, pending, attempt, |code| UndeliveredReason::Deadline { code });
            return out;
        }
        attempt += 1;
        out.requests += 1;
        if attempt > 1 {
            out.retried_records += pending.len();
        }
        let refs: Vec<&SinkRecord> = pending.iter().map(|(i, _)| &records[*i]).collect();
        let result = match options.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, sink.put_batch(&refs))
                .await
                .unwrap_or_else(|_| {
                    Err(SinkError::retryable(
                        "DeadlineExceeded",
                        "the request was still in flight at the deadline",
                    ))
                }),
            None => sink.put_batch(&refs).await,
        };
        drop(refs);
        let failed: Vec<(usize, Option<String>)> = match result {
            Ok(reply) => {
                let mut failed = Vec::new();
                for ((index, _), outcome) in pending.into_iter().zip(reply) {
                    match outcome {
                        RecordOutcome::Accepted => out.delivered += 1,
                        RecordOutcome::Refused { code } => {
                            *out.error_codes.entry(code.clone()).or_default() += 1;
                            failed.push((index, Some(code)));
                        }
                    }
                }
                failed
            }
            Err(e) if e.retryable => {
                *out.error_codes.entry(e.code.clone()).or_default() += pending.len();
                tracing::warn!(sink = %sink.describe(), code = %e.code, error = %e.message, records = pending.len(), attempt, "request failed, will retry");
                pending.into_iter().map(|(i, _)| (i, Some(e.code.clone()))).collect()
            }
            Err(e) => {
                *out.error_codes.entry(e.code.clone()).or_default() += pending.len();
                tracing::error!(sink = %sink.describe(), code = %e.code, error = %e.message, records = pending.len(), "request failed, not retryable");
                give_up(&mut out, pending, attempt, |_| UndeliveredReason::Fatal(e.clone()));
                return out;
            }
        };
        if failed.is_empty() {
            return out;
        }
        if attempt >= max_attempts {
            give_up(&mut out, failed, attempt, |code| UndeliveredReason::AttemptsExhausted {
                code: code.unwrap_or_default(),
            });
            return out;
        }
        let delay = options.retry.backoff(attempt + 1, &mut rand::rng());
        if options.deadline.is_some_and(|d| Instant::now() + delay >= d) {
            give_up(&mut out, failed, attempt, |code| UndeliveredReason::Deadline { code });
            return out;
        }
        tokio::time::sleep(delay).await;
        pending = failed;
    }
}

fn give_up(
    out: &mut BatchOutcome,
    pending: Vec<(usize, Option<String>)>,
    attempts: u32,
    reason: impl Fn(Option<String>) -> UndeliveredReason,
) {
    out.undelivered
        .extend(pending.into_iter().map(|(index, code)| Undelivered {
            index,
            attempts,
            reason: reason(code),
        }));
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::sink::{BatchLimits, MemorySink, ScriptedReply};

    fn records(n: usize) -> Vec<SinkRecord> {
        (0..n)
            .map(|i| SinkRecord {
                data: format!("{{\"n\":{i}}}").into_bytes(),
                partition_key: (i % 7).to_string(),
            })
            .collect()
    }

    fn throttled() -> SinkError {
        SinkError::retryable("ProvisionedThroughputExceededException", "Rate exceeded")
    }

    #[tokio::test(start_paused = true)]
    async fn resends_only_refused_records_until_all_are_delivered() {
        let sink = MemorySink::new(BatchLimits::KINESIS).with_script([
            ScriptedReply::RefusePositions(vec![1, 3, 499], "ProvisionedThroughputExceededException".into()),
            ScriptedReply::RequestError(throttled()),
            ScriptedReply::RefusePositions(vec![0], "InternalFailure".into()),
        ]);
        let input = records(600);
        let report = deliver(
            &sink,
            &input,
            &DeliveryOptions {
                max_in_flight: 1,
                ..Default::default()
            },
        )
        .await;
        assert!(report.is_complete(), "{report}");
        assert_eq!(report.batches, 2);
        // One request in flight: the first batch (500; 3 refused) is retried
        // (a throttled request, then one refusal) before the second (100) goes.
        assert_eq!(sink.request_sizes(), [500, 3, 3, 1, 100]);
        assert_eq!(report.requests, 5);
        assert_eq!(report.retried_records, 7);
        let mut accepted: Vec<_> = sink.accepted().into_iter().map(|r| r.data).collect();
        accepted.sort();
        let mut expected: Vec<_> = input.iter().map(|r| r.data.clone()).collect();
        expected.sort();
        assert_eq!(accepted, expected, "every record exactly once");
        assert_eq!(report.error_codes["ProvisionedThroughputExceededException"], 6);
        assert_eq!(report.throttled(), 6);
        assert_eq!(
            report.refusals(),
            "InternalFailure=1, ProvisionedThroughputExceededException=6"
        );
        assert_eq!(report.error_codes["InternalFailure"], 1);
    }

    #[tokio::test(start_paused = true)]
    async fn persistent_refusal_reports_the_exact_undelivered_records() {
        let sink = MemorySink::new(BatchLimits::FIREHOSE).with_script(
            std::iter::repeat_n(
                ScriptedReply::RefusePositions(vec![0, 2], "ServiceUnavailableException".into()),
                1,
            )
            .chain(std::iter::repeat_n(
                ScriptedReply::RefuseAll("ServiceUnavailableException".into()),
                10,
            )),
        );
        let options = DeliveryOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                ..Default::default()
            },
            ..Default::default()
        };
        let report = deliver(&sink, &records(5), &options).await;
        assert_eq!(report.delivered, 3);
        let undelivered: Vec<_> = report.undelivered.iter().map(|u| (u.index, u.attempts)).collect();
        assert_eq!(undelivered, [(0, 3), (2, 3)]);
        assert_eq!(
            report.failure_summary(),
            "2 ServiceUnavailableException after the last attempt"
        );
        assert_eq!(sink.request_sizes(), [5, 2, 2]);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_errors_are_not_retried() {
        let sink = MemorySink::new(BatchLimits::KINESIS).with_script([ScriptedReply::RequestError(SinkError::fatal(
            "ResourceNotFoundException",
            "Stream chat not found",
        ))]);
        let report = deliver(&sink, &records(3), &DeliveryOptions::default()).await;
        assert_eq!(report.delivered, 0);
        assert_eq!(report.requests, 1);
        assert_eq!(report.undelivered.len(), 3);
        assert!(report.failure_summary().contains("ResourceNotFoundException"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_stops_retrying() {
        let sink = MemorySink::new(BatchLimits::KINESIS)
            .with_script(std::iter::repeat_n(ScriptedReply::RequestError(throttled()), 1000));
        let start = Instant::now();
        let options = DeliveryOptions {
            retry: RetryPolicy {
                max_attempts: 1000,
                ..Default::default()
            },
            deadline: Some(start + Duration::from_secs(3)),
            ..Default::default()
        };
        let report = deliver(&sink, &records(10), &options).await;
        assert_eq!(report.delivered, 0);
        assert!(
            Instant::now() <= start + Duration::from_secs(3),
            "slept past the deadline"
        );
        assert!(
            report.requests > 2 && report.requests < 1000,
            "{} requests",
            report.requests
        );
        assert!(matches!(
            report.undelivered[0].reason,
            UndeliveredReason::Deadline { code: Some(_) }
        ));
    }

    #[test]
    fn only_plausible_deadlines_are_used() {
        use std::time::{SystemTime, UNIX_EPOCH};
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let margin = Duration::from_secs(1);
        let d = deadline_from_epoch_millis(now_ms + 60_000, margin).unwrap();
        let left = d - Instant::now();
        assert!(
            left > Duration::from_secs(57) && left <= Duration::from_secs(59),
            "{left:?}"
        );
        assert_eq!(deadline_from_epoch_millis(0, margin), None);
        assert_eq!(
            deadline_from_epoch_millis(600_000, margin),
            None,
            "a duration, not an epoch time"
        );
        assert_eq!(deadline_from_epoch_millis(now_ms - 1_000, margin), None);
        assert_eq!(deadline_from_epoch_millis(now_ms + 3_600_000, margin), None);
        // A deadline closer than the margin leaves no time at all.
        let tight = deadline_from_epoch_millis(now_ms + 500, margin).unwrap();
        assert!(tight <= Instant::now() + Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn oversized_records_are_refused_before_sending() {
        let sink = Arc::new(MemorySink::new(BatchLimits::FIREHOSE));
        let mut input = records(2);
        input.push(SinkRecord {
            data: vec![b'x'; 1000 * 1024 + 1],
            partition_key: String::new(),
        });
        let report = deliver(&*sink, &input, &DeliveryOptions::default()).await;
        assert_eq!(report.delivered, 2);
        assert_eq!(report.undelivered.len(), 1);
        assert_eq!(report.undelivered[0].index, 2);
        assert_eq!(report.undelivered[0].attempts, 0);
        assert_eq!(sink.request_sizes(), [2]);
    }
}
