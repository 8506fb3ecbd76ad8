//! A local stand-in for what the emulator does not do: Firehose's Lambda
//! processing step, for a delivery stream that reads a Kinesis stream. It
//! follows the documented service behaviour:
//!
//! 1. read every shard of the stream from TRIM_HORIZON (and on the next call,
//!    from where it stopped);
//! 2. build transformation events of at most the processor buffer
//!    (`BufferSizeInMBs` in template.yaml) with `kinesisRecordMetadata`;
//! 3. invoke the transformer, retrying a failed invocation `NumberOfRetries`
//!    times, then sending the whole batch to the error prefix;
//! 4. check the response contract: every recordId exactly once and in order,
//!    results `Ok` / `Dropped` / `ProcessingFailed` only, at most 6 MB, the
//!    partition keys the prefix needs (parsed with `aws_lambda_events`' types,
//!    independent of the transformer's own);
//! 5. write `Ok` records to S3 under `Prefix` with the partition keys filled
//!    in, newline-delimited and GZIP-compressed, and `ProcessingFailed` ones
//!    under `ErrorOutputPrefix` (`processing-failed`) as Firehose's error
//!    records (`attemptsMade`, `arrivalTimestamp`, `errorCode`,
//!    `errorMessage`, `attemptEndingTimestamp`, `rawData`, `lambdaArn`);
//! 6. retry an S3 write that fails, as Firehose does (it retries delivery to
//!    S3 for up to 24 hours; Firehose Developer Guide, "Handle data delivery
//!    failure"); here a few attempts with backoff, each failure reported.
//!
//! For `make demo FAULTS=1` it can fail chosen invocations on every attempt
//! ([`LocalFirehose::fail_invocations`]), so the whole batch goes to the
//! error prefix as Firehose sends it; each injected fault and each S3 retry
//! is reported through [`LocalFirehose::on_fault`] as it happens.
//!
//! Prefixes, compression, buffer size and retries come from template.yaml, so
//! the stand-in and the deployed stream cannot drift apart.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::io::Write;
use std::time::Duration;

use aws_lambda_events::event::firehose::KinesisFirehoseResponse;
use aws_sdk_kinesis::types::ShardIteratorType;
use base64_simd::STANDARD;
use chat_pipeline::destination::AwsSinks;
use chat_pipeline::timestamp::Timestamp;
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use transformer::firehose::{
    EpochMillis, FirehoseRecord, KinesisRecordMetadata, LAMBDA_RESPONSE_LIMIT, TransformationEvent,
};

use crate::emulator::{ACCOUNT, REGION};
use crate::resources::Names;
use crate::template::DeliverySettings;

/// Why an invocation failed, as the invoker's own error (with its sources):
/// Firehose records it in the error objects' `errorMessage`.
pub type InvokeError = Box<dyn std::error::Error + Send + Sync>;

/// Invokes the transformer with a request body, returning the response body.
pub trait Invoker: Send + Sync {
    fn invoke(&self, payload: Vec<u8>) -> impl Future<Output = Result<Vec<u8>, InvokeError>> + Send;
}

/// The transformer's handler, called in-process exactly as lambda_runtime
/// would (request bytes handed over, response serialized). Its re-ingestion
/// clients point at the emulator.
pub struct InProcess {
    pub state: transformer::Transformer<AwsSinks>,
}

impl Invoker for InProcess {
    async fn invoke(&self, payload: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        // What `transformer::runtime` hands the handler: the body as the runtime received it.
        let body = bytes::Bytes::from(payload);
        let mut context = Context::default();
        context.deadline = (Timestamp::now().millis() + 120_000) as u64;
        let response = transformer::handle(&self.state, LambdaEvent::new(body, context)).await?;
        Ok(serde_json::to_vec(&response)?)
    }
}

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
    pub records_read: usize,
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
    fn absorb(&mut self, other: DeliveryStats) {
        self.records_read += other.records_read;
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

struct StreamRecord {
    metadata: KinesisRecordMetadata<'static>,
    arrival: Timestamp,
    data: Vec<u8>,
}

/// The local delivery stream.
pub struct LocalFirehose<I> {
    kinesis: aws_sdk_kinesis::Client,
    s3: aws_sdk_s3::Client,
    names: Names,
    settings: DeliverySettings,
    invoker: I,
    iterators: HashMap<String, String>,
    objects: u64,
    lambda_arn: String,
    arrival_override: Option<Timestamp>,
    /// Invocations (counted from 1 over this stand-in's life) to fail on
    /// every attempt.
    failing_invocations: BTreeSet<usize>,
    batches: usize,
    on_fault: Option<FaultReporter>,
    on_progress: Option<ProgressReporter>,
}

/// Told of each injected fault and each S3 retry, as it happens.
type FaultReporter = Box<dyn Fn(&str) + Send + Sync>;

/// How far a drain has got, told after each page read from the stream,
/// once the stream is read, and after each batch is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Still reading the stream (`read` so far); then delivering.
    pub reading: bool,
    /// Records read from the stream in this pass.
    pub read: usize,
    /// Of those, the records whose batch has been delivered (answered and
    /// written, or sent to the error prefix after failed invocations).
    pub delivered: usize,
    /// Transformer invocations so far in this pass, retries included.
    pub invocations: usize,
}

type ProgressReporter = Box<dyn Fn(Progress) + Send + Sync>;

/// Attempts at one S3 write before the stand-in gives up (Firehose keeps
/// trying for up to 24 hours; a local run should not).
const S3_ATTEMPTS: u32 = 5;

impl<I: Invoker> LocalFirehose<I> {
    pub fn new(config: &aws_config::SdkConfig, names: Names, settings: DeliverySettings, invoker: I) -> Self {
        LocalFirehose {
            kinesis: aws_sdk_kinesis::Client::new(config),
            s3: crate::emulator::s3_client(config),
            names,
            settings,
            invoker,
            iterators: HashMap::new(),
            objects: 0,
            lambda_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:transformer"),
            arrival_override: None,
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

    fn report(&self, line: &str) {
        if let Some(report) = &self.on_fault {
            report(line);
        }
    }

    /// Records read from now on are stamped as having reached the stream at
    /// `at` (None: when the emulator says), so that tests can land records
    /// on another arrival day: moto stamps every record with the real time.
    pub fn stamp_arrivals_at(&mut self, at: Option<Timestamp>) {
        self.arrival_override = at;
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
        let records = self.read_new_records().await?;
        let mut stats = DeliveryStats {
            records_read: records.len(),
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

    async fn read_new_records(&mut self) -> Result<Vec<StreamRecord>, StandInError> {
        let err = |e: &(dyn std::error::Error + 'static)| StandInError::Kinesis(chat_pipeline::sink::describe_chain(e));
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.names.stream)
            .send()
            .await
            .map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for shard in shards.shards() {
            let shard_id = shard.shard_id().to_owned();
            let mut iterator = match self.iterators.get(&shard_id) {
                Some(it) => it.clone(),
                None => self
                    .kinesis
                    .get_shard_iterator()
                    .stream_name(&self.names.stream)
                    .shard_id(&shard_id)
                    .shard_iterator_type(ShardIteratorType::TrimHorizon)
                    .send()
                    .await
                    .map_err(|e| err(&e))?
                    .shard_iterator()
                    .unwrap_or_default()
                    .to_owned(),
            };
            loop {
                let page = self
                    .kinesis
                    .get_records()
                    .shard_iterator(&iterator)
                    .limit(10_000)
                    .send()
                    .await
                    .map_err(|e| err(&e))?;
                let records = page.records();
                for r in records {
                    let arrival = r
                        .approximate_arrival_timestamp()
                        .and_then(|t| t.to_millis().ok())
                        .and_then(|ms| Timestamp::from_millis(ms).ok())
                        .unwrap_or_else(Timestamp::now);
                    let arrival = self.arrival_override.unwrap_or(arrival);
                    out.push(StreamRecord {
                        metadata: KinesisRecordMetadata {
                            shard_id: shard_id.clone().into(),
                            partition_key: r.partition_key().unwrap_or_default().to_owned().into(),
                            sequence_number: r.sequence_number().to_owned().into(),
                            subsequence_number: 0,
                            approximate_arrival_timestamp: Some(EpochMillis(arrival)),
                        },
                        arrival,
                        data: r.data().as_ref().to_vec(),
                    });
                }
                if !records.is_empty() {
                    self.tell_progress(Progress {
                        reading: true,
                        read: out.len(),
                        delivered: 0,
                        invocations: 0,
                    });
                }
                match page.next_shard_iterator() {
                    Some(next) => iterator = next.to_owned(),
                    None => break,
                }
                if records.is_empty() {
                    break;
                }
            }
            self.iterators.insert(shard_id, iterator);
        }
        Ok(out)
    }

    async fn process(&mut self, batch: Vec<StreamRecord>) -> Result<DeliveryStats, StandInError> {
        let mut stats = DeliveryStats::default();
        let event = TransformationEvent {
            invocation_id: format!("00000000-0000-4000-8000-{:012}", self.objects).into(),
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
        };
        let request = serde_json::to_vec(&event).map_err(|e| StandInError::Contract(e.to_string()))?;
        stats.largest_request_bytes = request.len();
        let attempts = self.settings.processor_retries + 1;
        let mut last_error = String::new();
        let mut response = None;
        self.batches += 1;
        let injected = self.failing_invocations.contains(&self.batches);
        for attempt in 1..=attempts {
            stats.invocations += 1;
            if injected {
                stats.failed_invocations += 1;
                last_error = "injected fault: the function errored".to_owned();
                self.report(&format!(
                    "transformer invocation {} ({} records) failed (injected), attempt {attempt} of {attempts}",
                    self.batches,
                    batch.len()
                ));
                continue;
            }
            match self.invoker.invoke(request.clone()).await {
                Ok(body) => {
                    response = Some(body);
                    break;
                }
                Err(e) => {
                    stats.failed_invocations += 1;
                    last_error = chat_pipeline::sink::describe_chain(e.as_ref());
                }
            }
        }
        let Some(body) = response else {
            // Firehose skips the batch: every record goes to the error prefix.
            let failed: Vec<(&StreamRecord, &str, &str)> = batch
                .iter()
                .map(|r| {
                    (
                        r,
                        "Lambda.FunctionError",
                        "The Lambda function was successfully invoked but it returned an error result.",
                    )
                })
                .collect();
            stats.in_failed_invocations += failed.len();
            tracing_error(&last_error);
            if injected {
                self.report(&format!(
                    "  Firehose gives up after {attempts} attempts: all {} records of the batch go to errors/processing-failed/ (Lambda.FunctionError)",
                    failed.len()
                ));
            }
            stats.s3_retries += self.write_errors("processing-failed", &failed, attempts).await?;
            stats.error_objects_written += 1;
            return Ok(stats);
        };
        stats.largest_response_bytes = body.len();
        let answers = check_contract(&event, &body)?;
        let keys_needed = crate::template::lambda_partition_keys(&self.settings.prefix);
        let mut groups: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut failed: Vec<(&StreamRecord, &str, &str)> = Vec::new();
        let mut unpartitioned: Vec<(&StreamRecord, &str, &str)> = Vec::new();
        for (record, answer) in batch.iter().zip(answers.records) {
            match answer.result.as_deref() {
                Some("Ok") => {
                    let keys = &answer.metadata.partition_keys;
                    if keys_needed.iter().any(|k| !keys.contains_key(k)) {
                        unpartitioned.push((
                            record,
                            "DynamicPartitioning.MetadataExtractionFailed",
                            "A partition key the prefix needs is missing from the record's metadata.",
                        ));
                        continue;
                    }
                    let prefix = render(&self.settings.prefix, keys, None, record.arrival);
                    stats.ok += 1;
                    *stats.partitions.entry(prefix.clone()).or_default() += 1;
                    groups.entry(prefix).or_default().extend_from_slice(&answer.data.0);
                }
                Some("Dropped") => {
                    stats.dropped += 1;
                    stats.dropped_records.push(record.data.clone());
                }
                _ => failed.push((
                    record,
                    "Lambda.ProcessingFailedStatus",
                    "ProcessingFailed status set for record",
                )),
            }
        }
        for (prefix, data) in groups {
            let key = self.object_key(&prefix);
            stats.s3_retries += self.put_gzip(&key, &data).await?;
            stats.objects_written += 1;
        }
        if !failed.is_empty() {
            stats.processing_failed += failed.len();
            stats.s3_retries += self.write_errors("processing-failed", &failed, 1).await?;
            stats.error_objects_written += 1;
        }
        if !unpartitioned.is_empty() {
            stats.processing_failed += unpartitioned.len();
            stats.s3_retries += self.write_errors("partitioning-failed", &unpartitioned, 1).await?;
            stats.error_objects_written += 1;
        }
        Ok(stats)
    }

    fn object_key(&mut self, prefix: &str) -> String {
        self.objects += 1;
        let now = chrono::Utc::now();
        format!(
            "{prefix}{}-1-{}-{:016x}.gz",
            self.names.delivery_stream,
            now.format("%Y-%m-%d-%H-%M-%S"),
            xxhash_rust::xxh3::xxh3_64(format!("{prefix}{}{now}", self.objects).as_bytes())
        )
    }

    /// Writes Firehose's error records; returns the S3 retries it took.
    async fn write_errors(
        &mut self,
        error_type: &str,
        records: &[(&StreamRecord, &str, &str)],
        attempts: u32,
    ) -> Result<usize, StandInError> {
        let ending = Timestamp::now().millis();
        let mut data = Vec::new();
        for (record, code, message) in records {
            let line = serde_json::json!({
                "attemptsMade": attempts,
                "arrivalTimestamp": record.arrival.millis(),
                "errorCode": code,
                "errorMessage": message,
                "attemptEndingTimestamp": ending,
                "rawData": STANDARD.encode_to_string(&record.data),
                "lambdaArn": self.lambda_arn,
            });
            data.extend_from_slice(line.to_string().as_bytes());
            data.push(b'\n');
        }
        let first = records.first().map_or_else(Timestamp::now, |(r, _, _)| r.arrival);
        let prefix = render(
            &self.settings.error_output_prefix,
            &HashMap::new(),
            Some(error_type),
            first,
        );
        let key = self.object_key(&prefix);
        self.put_gzip(&key, &data).await
    }

    /// Writes one GZIP object, retrying a failed write as Firehose does;
    /// returns how many retries it took.
    async fn put_gzip(&self, key: &str, data: &[u8]) -> Result<usize, StandInError> {
        let err = |message: String| StandInError::S3 {
            bucket: self.names.bucket.clone(),
            key: key.to_owned(),
            message,
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(data).map_err(|e| err(e.to_string()))?;
        let body = gz.finish().map_err(|e| err(e.to_string()))?;
        let mut attempt = 1;
        loop {
            let sent = self
                .s3
                .put_object()
                .bucket(&self.names.bucket)
                .key(key)
                .content_encoding("gzip")
                .body(body.clone().into())
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(attempt as usize - 1),
                Err(e) if attempt < S3_ATTEMPTS => {
                    self.report(&format!(
                        "S3 PutObject {key} failed ({}); Firehose retries it (attempt {} of {S3_ATTEMPTS})",
                        chat_pipeline::sink::describe_chain(&e),
                        attempt + 1
                    ));
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(err(chat_pipeline::sink::describe_chain(&e))),
            }
        }
    }
}

fn tracing_error(message: &str) {
    eprintln!("local firehose: the transformer invocation failed after all retries: {message}");
}

/// Parses the response with `aws_lambda_events`' types and checks it against
/// the request.
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

/// Fills in a Firehose prefix: `!{partitionKeyFromLambda:k}`,
/// `!{firehose:error-output-type}` and `!{timestamp:yyyy}` (Java-style
/// `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`).
pub fn render(template: &str, keys: &HashMap<String, String>, error_type: Option<&str>, time: Timestamp) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &rest[start + 2..start + end];
        let c = time.civil();
        let value = match expr.split_once(':') {
            Some(("partitionKeyFromLambda", k)) => keys.get(k).cloned().unwrap_or_default(),
            Some(("firehose", "error-output-type")) => error_type.unwrap_or("").to_owned(),
            Some(("timestamp", format)) => format
                .replace("yyyy", &format!("{:04}", c.year))
                .replace("MM", &format!("{:02}", c.month))
                .replace("dd", &format!("{:02}", c.day))
                .replace("HH", &format!("{:02}", c.hour))
                .replace("mm", &format!("{:02}", c.minute))
                .replace("ss", &format!("{:02}", c.second)),
            _ => String::new(),
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_template_prefixes() {
        let t = Timestamp::parse_iso8601("2026-11-21T09:05:00Z").unwrap();
        let keys: HashMap<String, String> = [("event_type", "join"), ("dt", "2026-11-21")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            render(
                "events/event_type=!{partitionKeyFromLambda:event_type}/dt=!{partitionKeyFromLambda:dt}/",
                &keys,
                None,
                t
            ),
            "events/event_type=join/dt=2026-11-21/"
        );
        assert_eq!(
            render(
                "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/",
                &HashMap::new(),
                Some("processing-failed"),
                t
            ),
            "errors/processing-failed/dt=2026-11-21/hour=09/"
        );
    }
}
