//! A local stand-in for what the emulator does not do: Firehose's Lambda
//! processing step, for a delivery stream that reads a Kinesis stream. It
//! follows the documented service behaviour, one file per phase:
//!
//! 1. `read`: every shard of the stream from TRIM_HORIZON (and on the next
//!    pass, from where it stopped), with `kinesisRecordMetadata`;
//!    `deaggregate`: each record split into the events packed in it, as the
//!    `RecordDeAggregation` processor of template.yaml splits it (Delimited,
//!    at most 500 a record), then batched into transformation events of at
//!    most the processor buffer (`BufferSizeInMBs`);
//! 2. `invoke`: the transformer, retried `NumberOfRetries` times, then the
//!    whole batch sent to the error prefix;
//! 3. `contract`: the answer checked: every recordId exactly once and in
//!    order, results `Ok` / `Dropped` / `ProcessingFailed` only, at most
//!    6 MB;
//! 4. `partition`: each answer routed: `Ok` to the prefix its partition
//!    keys render, one it cannot partition and `ProcessingFailed` ones to
//!    the error prefix;
//! 5. `land`: GZIP objects written to S3, and Firehose's error records,
//!    each write retried as Firehose retries it.
//!
//! For `make demo FAULTS=1` it can fail chosen invocations on every attempt
//! ([`LocalFirehose::fail_invocations`]), so the whole batch goes to the
//! error prefix as Firehose sends it; each injected fault and each S3 retry
//! is reported through [`LocalFirehose::on_fault`] as it happens.
//!
//! Prefixes, compression, buffer size and retries come from template.yaml, so
//! the stand-in and the deployed stream cannot drift apart.

mod contract;
mod deaggregate;
mod invoke;
mod land;
mod partition;
mod read;

use std::collections::{BTreeMap, BTreeSet};

use base64_simd::STANDARD;
use serde::Serialize;
use transformer::firehose::{EpochMillis, FirehoseRecord, TransformationEvent};

pub use contract::check_contract;
pub use invoke::{InProcess, InvokeError, Invoker};
pub use partition::render;

use crate::emulator::{ACCOUNT, REGION};
use crate::resources::Names;
use crate::template::DeliverySettings;
use land::Lander;
use partition::Failed;
use read::{StreamReader, StreamRecord};

/// The stand-in failed, or the transformer broke the contract.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("reading the Kinesis stream: {0}")]
    Kinesis(String),
    #[error("writing s3://{bucket}/{key}: {message}")]
    S3 {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("the transformer broke the Firehose contract: {0}")]
    Contract(String),
}

/// What one drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeliveryStats {
    /// Records read from the stream.
    pub records_read: usize,
    /// What the transformer was given: the records read, each split into
    /// its packed events (`deaggregate`).
    pub records_deaggregated: usize,
    /// Records over Firehose's de-aggregation cap, passed on whole.
    pub over_deaggregation_cap: usize,
    pub invocations: usize,
    pub failed_invocations: usize,
    pub ok: usize,
    pub dropped: usize,
    /// Answered `ProcessingFailed`, or `Ok` without the partition keys the
    /// prefix needs (written under `partitioning-failed`).
    pub processing_failed: usize,
    /// Records of invocations that failed every attempt (the whole batch
    /// went to the error prefix).
    pub in_failed_invocations: usize,
    /// The bytes of every record answered `Dropped`, to name their events.
    #[serde(skip)]
    pub dropped_records: Vec<Vec<u8>>,
    /// S3 writes that failed and were retried.
    pub s3_retries: usize,
    /// Records per rendered partition prefix.
    pub partitions: BTreeMap<String, usize>,
    pub objects_written: usize,
    pub error_objects_written: usize,
    pub largest_request_bytes: usize,
    pub largest_response_bytes: usize,
}

impl DeliveryStats {
    /// Adds another drain's statistics to these.
    pub fn absorb(&mut self, other: DeliveryStats) {
        self.records_read += other.records_read;
        self.records_deaggregated += other.records_deaggregated;
        self.over_deaggregation_cap += other.over_deaggregation_cap;
        self.invocations += other.invocations;
        self.failed_invocations += other.failed_invocations;
        self.ok += other.ok;
        self.dropped += other.dropped;
        self.processing_failed += other.processing_failed;
        self.in_failed_invocations += other.in_failed_invocations;
        self.dropped_records.extend(other.dropped_records);
        self.s3_retries += other.s3_retries;
        for (k, v) in other.partitions {
            *self.partitions.entry(k).or_default() += v;
        }
        self.objects_written += other.objects_written;
        self.error_objects_written += other.error_objects_written;
        self.largest_request_bytes = self.largest_request_bytes.max(other.largest_request_bytes);
        self.largest_response_bytes = self.largest_response_bytes.max(other.largest_response_bytes);
    }
}

/// Told of each injected fault and each S3 retry, as it happens.
type FaultReporter = Box<dyn Fn(&str) + Send + Sync>;

/// How far a drain has got, told after each page read from the stream,
/// once the stream is read, and after each batch is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Still reading the stream (`read` so far); then delivering.
    pub reading: bool,
    /// Records read from the stream in this pass (once read: split into
    /// their packed events, what the transformer is given).
    pub read: usize,
    /// Of those, the records whose batch has been delivered (answered and
    /// written, or sent to the error prefix after failed invocations).
    pub delivered: usize,
    /// Transformer invocations so far in this pass, retries included.
    pub invocations: usize,
}

type ProgressReporter = Box<dyn Fn(Progress) + Send + Sync>;

/// The local delivery stream.
pub struct LocalFirehose<I> {
    reader: StreamReader,
    lander: Lander,
    names: Names,
    settings: DeliverySettings,
    invoker: I,
    /// Invocations (counted from 1 over this stand-in's life) to fail on
    /// every attempt.
    failing_invocations: BTreeSet<usize>,
    batches: usize,
    on_fault: Option<FaultReporter>,
    on_progress: Option<ProgressReporter>,
}

impl<I: Invoker> LocalFirehose<I> {
    pub fn new(config: &aws_config::SdkConfig, names: Names, settings: DeliverySettings, invoker: I) -> Self {
        LocalFirehose {
            reader: StreamReader::new(aws_sdk_kinesis::Client::new(config), names.stream.clone()),
            lander: Lander {
                s3: crate::emulator::s3_client(config),
                bucket: names.bucket.clone(),
                delivery_stream: names.delivery_stream.clone(),
                error_output_prefix: settings.error_output_prefix.clone(),
                lambda_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:transformer"),
                objects: 0,
                landed: Vec::new(),
            },
            names,
            settings,
            invoker,
            failing_invocations: BTreeSet::new(),
            batches: 0,
            on_fault: None,
            on_progress: None,
        }
    }

    /// Fails the given invocations (1 is the first batch this stand-in
    /// sends) on every attempt, as a transformer that errors or times out
    /// would: Firehose then writes the whole batch under the error prefix.
    pub fn fail_invocations(&mut self, batches: impl IntoIterator<Item = usize>) {
        self.failing_invocations.extend(batches);
    }

    /// Called with a line for each injected fault and each S3 retry, as it
    /// happens.
    pub fn on_fault(&mut self, report: impl Fn(&str) + Send + Sync + 'static) {
        self.on_fault = Some(Box::new(report));
    }

    /// Called with how far each pass has got: once the stream is read, then
    /// after each batch (a big drain takes a while: the demo prints a line
    /// every few seconds from this).
    pub fn on_progress(&mut self, report: impl Fn(Progress) + Send + Sync + 'static) {
        self.on_progress = Some(Box::new(report));
    }

    fn tell_progress(&self, progress: Progress) {
        if let Some(report) = &self.on_progress {
            report(progress);
        }
    }

    /// Every object written so far and when its write succeeded (error
    /// objects included), by key.
    pub fn landed_at(&self) -> &[(String, chat_pipeline::timestamp::Timestamp)] {
        &self.lander.landed
    }

    /// Records read from now on are stamped as having reached the stream at
    /// `at` (None: when the emulator says), so that tests can land records
    /// on another arrival day: moto stamps every record with the real time.
    pub fn stamp_arrivals_at(&mut self, at: Option<chat_pipeline::timestamp::Timestamp>) {
        self.reader.arrival_override = at;
    }

    /// Drains until the stream has nothing new: records the transformer
    /// re-ingests come back through the stream and are read by a later pass.
    pub async fn drain_all(&mut self) -> Result<DeliveryStats, StandInError> {
        let mut stats = DeliveryStats::default();
        loop {
            let drained = self.drain().await?;
            if drained.records_read == 0 {
                return Ok(stats);
            }
            stats.absorb(drained);
        }
    }

    /// Reads everything new in the stream and delivers it.
    pub async fn drain(&mut self) -> Result<DeliveryStats, StandInError> {
        let on_progress = &self.on_progress;
        let records = self
            .reader
            .read_new(|read| {
                if let Some(report) = on_progress {
                    report(Progress {
                        reading: true,
                        read,
                        delivered: 0,
                        invocations: 0,
                    });
                }
            })
            .await?;
        let (records, split) = deaggregate::split(records, self.settings.deaggregation_delimiter.as_deref());
        let mut stats = DeliveryStats {
            records_read: split.records,
            records_deaggregated: split.sub_records,
            over_deaggregation_cap: split.over_cap,
            ..DeliveryStats::default()
        };
        let mut progress = Progress {
            reading: false,
            read: records.len(),
            delivered: 0,
            invocations: 0,
        };
        if progress.read > 0 {
            self.tell_progress(progress);
        }
        let buffer = (self.settings.processor_buffer_mb * 1024.0 * 1024.0) as usize;
        let mut batch: Vec<StreamRecord> = Vec::new();
        let mut batch_bytes = 0;
        for record in records {
            if !batch.is_empty() && batch_bytes + record.data.len() > buffer {
                let full = std::mem::take(&mut batch);
                self.deliver(full, &mut stats, &mut progress).await?;
                batch_bytes = 0;
            }
            batch_bytes += record.data.len();
            batch.push(record);
        }
        if !batch.is_empty() {
            self.deliver(batch, &mut stats, &mut progress).await?;
        }
        Ok(stats)
    }

    /// Delivers one batch, counts it in `stats`, and tells how far the pass
    /// has got.
    async fn deliver(
        &mut self,
        batch: Vec<StreamRecord>,
        stats: &mut DeliveryStats,
        progress: &mut Progress,
    ) -> Result<(), StandInError> {
        progress.delivered += batch.len();
        stats.absorb(self.process(batch).await?);
        progress.invocations = stats.invocations;
        self.tell_progress(*progress);
        Ok(())
    }

    /// One batch through every phase: invoke, check, partition, land.
    async fn process(&mut self, batch: Vec<StreamRecord>) -> Result<DeliveryStats, StandInError> {
        let mut stats = DeliveryStats::default();
        let event = self.transformation_event(&batch);
        let request = serde_json::to_vec(&event).map_err(|e| StandInError::Contract(e.to_string()))?;
        stats.largest_request_bytes = request.len();
        let attempts = self.settings.processor_retries + 1;
        self.batches += 1;
        let injected = self
            .failing_invocations
            .contains(&self.batches)
            .then_some((self.batches, batch.len()));
        let on_fault = &self.on_fault;
        let report = |line: &str| {
            if let Some(report) = on_fault {
                report(line);
            }
        };
        let invocation = invoke::with_retries(&self.invoker, &request, attempts, injected, report).await;
        stats.invocations += invocation.attempts;
        stats.failed_invocations += invocation.failed;
        let Some(body) = invocation.response else {
            // Firehose skips the batch: every record goes to the error prefix.
            let failed: Vec<Failed<'_>> = batch
                .iter()
                .map(|record| Failed {
                    record,
                    code: "Lambda.FunctionError",
                    message: "The Lambda function was successfully invoked but it returned an error result.",
                })
                .collect();
            stats.in_failed_invocations += failed.len();
            eprintln!(
                "local firehose: the transformer invocation failed after all retries: {}",
                invocation.last_error
            );
            if injected.is_some() {
                report(&format!(
                    "  Firehose gives up after {attempts} attempts: all {} records of the batch go to errors/processing-failed/ (Lambda.FunctionError)",
                    failed.len()
                ));
            }
            stats.s3_retries += self
                .lander
                .write_errors("processing-failed", &failed, attempts, &report)
                .await?;
            stats.error_objects_written += 1;
            return Ok(stats);
        };
        stats.largest_response_bytes = body.len();
        let answers = check_contract(&event, &body)?;
        let routed = partition::route(&self.settings.prefix, &batch, answers.records);
        stats.ok += routed.ok;
        stats.partitions = routed.counts;
        stats.dropped += routed.dropped.len();
        stats.dropped_records = routed.dropped.iter().map(|r| r.data.clone()).collect();
        for (prefix, data) in &routed.objects {
            stats.s3_retries += self.lander.write_object(prefix, data, &report).await?;
            stats.objects_written += 1;
        }
        for (error_type, failed) in [
            ("processing-failed", &routed.processing_failed),
            ("partitioning-failed", &routed.partitioning_failed),
        ] {
            if failed.is_empty() {
                continue;
            }
            stats.processing_failed += failed.len();
            stats.s3_retries += self.lander.write_errors(error_type, failed, 1, &report).await?;
            stats.error_objects_written += 1;
        }
        Ok(stats)
    }

    /// The request Firehose sends the processor for `batch`.
    fn transformation_event<'b>(&self, batch: &'b [StreamRecord]) -> TransformationEvent<'b> {
        TransformationEvent {
            invocation_id: format!("00000000-0000-4000-8000-{:012}", self.lander.objects).into(),
            delivery_stream_arn: self.names.delivery_stream_arn().into(),
            source_kinesis_stream_arn: Some(self.names.stream_arn()),
            region: REGION.into(),
            records: batch
                .iter()
                .map(|r| FirehoseRecord {
                    // Unique within the batch even where the emulator's sequence
                    // numbers repeat across shards.
                    record_id: format!(
                        "{}-{}-{:06}",
                        r.metadata.shard_id, r.metadata.sequence_number, r.metadata.subsequence_number
                    )
                    .into(),
                    approximate_arrival_timestamp: EpochMillis(r.arrival),
                    data: STANDARD.encode_to_string(&r.data).into(),
                    kinesis_record_metadata: Some(r.metadata.clone()),
                    envelope_error: None,
                })
                .collect(),
        }
    }
}
