//! One invocation: read the trigger, generate the tick's events, serialize
//! them keyed by user, pack them into records (many newline-delimited events
//! a record, `chat_pipeline::packing`, unless `PACK_EVENTS=false`), deliver
//! the records (batched, resending only what was refused, bounded by
//! attempts and the Lambda deadline; spread evenly over `PACE_SECONDS`), and
//! answer with a summary of events and records, or with an error stating
//! exactly how many events were not delivered, so that the platform retries
//! the invocation (safe: the retry regenerates the same event ids).

use std::time::Instant as StdInstant;

use chat_pipeline::batching::plan_batches;
use chat_pipeline::delivery::{DeliveryOptions, DeliveryReport, deadline_from_epoch_millis, deliver};
use chat_pipeline::destination::{AwsSinks, DestinationKind, SinkProvider};
use chat_pipeline::event::ChatEvent;
use chat_pipeline::metrics::{self, Metric};
use chat_pipeline::packing::{self, PackingLimits};
use chat_pipeline::sink::{RecordSink, SinkRecord};
use chat_pipeline::timestamp::Timestamp;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use crate::config::Config;
use crate::generator::{Plan, generate};
use crate::trigger::{Trigger, TriggerError, parse_trigger};

/// The function's state, built once per container: the configuration and
/// the provider of sinks (`AwsSinks` in the function; `MemorySinks` of
/// `chat_pipeline::test_util` in tests).
#[derive(Debug)]
pub struct Producer<P = AwsSinks> {
    pub config: Config,
    pub sinks: P,
}

/// The invocation's answer.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Events generated and delivered.
    pub generated: usize,
    pub delivered: usize,
    /// Records the events went in (fewer than the events when packed).
    pub records: usize,
    /// Records accepted by the destination.
    pub delivered_records: usize,
    /// Bytes of the records sent (each once, resends not counted): what
    /// the stream and Firehose bill, record by record.
    pub bytes: usize,
    /// Requests sent, retries included.
    pub attempts: usize,
    /// Records sent again after a refusal or failed request.
    pub retried_records: usize,
    pub batches: usize,
    /// The destination, e.g. `kinesis:chat-events`.
    pub sink: String,
    pub duration_ms: f64,
    pub dry_run: bool,
    pub seed: u64,
    pub window_start: String,
    pub window_end: String,
}

impl Summary {
    /// The invocation's metrics, as emitted in the EMF line (template.yaml's
    /// alarms and dashboard read these names).
    pub fn metrics(&self, undelivered: usize) -> [Metric; 8] {
        [
            Metric::count("generated", self.generated),
            Metric::count("delivered", self.delivered),
            Metric::count("undelivered", undelivered),
            Metric::count("records", self.records),
            Metric::count("attempts", self.attempts),
            Metric::count("retried_records", self.retried_records),
            Metric::count("batches", self.batches),
            Metric::millis("duration_ms", self.duration_ms),
        ]
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProducerError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error("invalid invocation payload: `sink`: {sink} is not configured for this function (set {variable})")]
    SinkNotConfigured {
        sink: DestinationKind,
        variable: &'static str,
    },
    #[error("event {event_id} could not be encoded as JSON: {reason}")]
    Encode { event_id: String, reason: String },
    #[error(
        "{undelivered} of {generated} events were not delivered to {sink} ({detail}); failing the invocation so it is retried, which regenerates the same event ids"
    )]
    Undelivered {
        undelivered: usize,
        generated: usize,
        sink: String,
        detail: String,
    },
}

impl From<ProducerError> for lambda_runtime::Diagnostic {
    fn from(e: ProducerError) -> Self {
        let error_type = match &e {
            ProducerError::Trigger(_) | ProducerError::SinkNotConfigured { .. } => "InvalidPayload",
            ProducerError::Undelivered { .. } => "UndeliveredEvents",
            ProducerError::Encode { .. } => "EncodeFailed",
        };
        lambda_runtime::Diagnostic {
            error_type: error_type.to_owned(),
            error_message: e.to_string(),
        }
    }
}

impl<P: SinkProvider> Producer<P> {
    pub fn new(config: Config, sinks: P) -> Self {
        Producer { config, sinks }
    }

    /// The sink for `kind`, whose destination must be configured.
    async fn sink(&self, kind: DestinationKind) -> Result<P::Sink, ProducerError> {
        let destination = self
            .config
            .destination(kind)
            .map_err(|variable| ProducerError::SinkNotConfigured { sink: kind, variable })?;
        Ok(self.sinks.sink_for(&destination).await)
    }
}

/// The Lambda entry point.
pub async fn handle<P: SinkProvider>(state: &Producer<P>, event: LambdaEvent<Value>) -> Result<Summary, ProducerError> {
    let (payload, context) = event.into_parts();
    tracing::debug!(request_id = %context.request_id, deadline_ms = context.deadline, "invocation");
    let trigger = parse_trigger(&payload, &context.request_id, Timestamp::now())?;
    let deadline = deadline_from_epoch_millis(context.deadline, state.config.deadline_margin);
    run(state, &trigger, deadline).await
}

/// What the trigger asks for, given the configuration.
pub fn plan_for(config: &Config, trigger: &Trigger) -> Plan {
    let window = config.window.as_millis() as i64;
    Plan {
        seed: trigger.seed,
        window_start: Timestamp::from_millis(trigger.window_end.millis() - window).unwrap_or(Timestamp::MIN),
        window_end: trigger.window_end,
        events: trigger.overrides.events.unwrap_or(config.events_per_invocation) as usize,
        users: config.users,
    }
}

/// Each event's JSON, keyed by user. Encoding a `ChatEvent` (strings,
/// integers, a timestamp) cannot fail; if it ever did, the invocation fails
/// naming the event rather than sending an empty record.
pub fn to_records(events: &[ChatEvent]) -> Result<Vec<SinkRecord>, ProducerError> {
    events
        .iter()
        .map(|e| {
            let data = serde_json::to_vec(e).map_err(|err| ProducerError::Encode {
                event_id: e.event_id.to_string(),
                reason: err.to_string(),
            })?;
            Ok(SinkRecord {
                data,
                partition_key: e.partition_key(),
            })
        })
        .collect()
}

/// The records to send for `events` (each an event's JSON and key), and
/// for each record the events it carries: packed, or one a record.
pub fn pack_records(events: Vec<SinkRecord>, pack: bool) -> (Vec<SinkRecord>, Vec<usize>) {
    if !pack {
        let counts = vec![1; events.len()];
        return (events, counts);
    }
    packing::pack(&events, PackingLimits::DEFAULT)
        .into_iter()
        .map(|p| (p.record, p.events.len()))
        .unzip()
}

/// Delivers `records` all at once, or spread evenly over `pace`: the
/// records in `pace` whole seconds' slices, one slice a second (a slice's
/// requests still run `max_in_flight` at a time). The report covers every
/// record, indices as in `records`.
pub async fn deliver_paced<S: RecordSink>(
    sink: &S,
    records: &[SinkRecord],
    options: &DeliveryOptions,
    pace: std::time::Duration,
) -> DeliveryReport {
    let slices = pace.as_secs().min(records.len() as u64) as usize;
    if slices <= 1 {
        return deliver(sink, records, options).await;
    }
    let started = Instant::now();
    let mut report = DeliveryReport::default();
    let per_slice = records.len().div_ceil(slices);
    for (i, slice) in records.chunks(per_slice).enumerate() {
        let at = started + std::time::Duration::from_secs(i as u64);
        if options.deadline.is_some_and(|d| at >= d) {
            // No time left to keep the pace: what remains goes now, bounded
            // by the deadline as any send is.
            report.absorb(deliver(sink, &records[i * per_slice..], options).await, i * per_slice);
            return report;
        }
        tokio::time::sleep_until(at).await;
        report.absorb(deliver(sink, slice, options).await, i * per_slice);
    }
    report
}

/// Generates and delivers one tick's events.
pub async fn run<P: SinkProvider>(
    state: &Producer<P>,
    trigger: &Trigger,
    deadline: Option<Instant>,
) -> Result<Summary, ProducerError> {
    let started = StdInstant::now();
    let config = &state.config;
    let kind = trigger.overrides.sink.unwrap_or(config.sink);
    let dry_run = trigger.overrides.dry_run.unwrap_or(false);
    let sink = state.sink(kind).await?;
    let plan = plan_for(config, trigger);
    let events = generate(&plan);
    let (records, events_in) = pack_records(to_records(&events)?, config.pack_events);
    let report = if dry_run {
        DeliveryReport {
            records: records.len(),
            batches: plan_batches(&records, &sink.limits()).batches.len(),
            ..DeliveryReport::default()
        }
    } else {
        let options = DeliveryOptions {
            retry: config.retry,
            max_in_flight: config.max_in_flight,
            deadline,
        };
        deliver_paced(&sink, &records, &options, config.pace).await
    };
    // A record is delivered whole or not at all: the events of the records
    // not delivered are the events not delivered.
    let undelivered_events: usize = report.undelivered.iter().map(|u| events_in[u.index]).sum();
    let summary = Summary {
        generated: events.len(),
        delivered: if dry_run { 0 } else { events.len() - undelivered_events },
        records: records.len(),
        delivered_records: report.delivered,
        bytes: records.iter().map(|r| r.data.len()).sum(),
        attempts: report.requests,
        retried_records: report.retried_records,
        batches: report.batches,
        sink: sink.describe(),
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        dry_run,
        seed: plan.seed,
        window_start: plan.window_start.to_rfc3339(),
        window_end: plan.window_end.to_rfc3339(),
    };
    let undelivered = if dry_run { 0 } else { undelivered_events };
    metrics::emit(&summary.metrics(undelivered));
    if undelivered > 0 {
        let detail = report.failure_summary();
        tracing::error!(sink = %summary.sink, undelivered, generated = summary.generated, %detail, "events not delivered");
        return Err(ProducerError::Undelivered {
            undelivered,
            generated: summary.generated,
            sink: summary.sink,
            detail,
        });
    }
    tracing::info!(
        sink = %summary.sink,
        generated = summary.generated,
        delivered = summary.delivered,
        records = summary.records,
        attempts = summary.attempts,
        retried_records = summary.retried_records,
        throttled = report.throttled(),
        refusals = %report.refusals(),
        dry_run,
        seed = summary.seed,
        duration_ms = summary.duration_ms,
        "produced tick"
    );
    Ok(summary)
}
