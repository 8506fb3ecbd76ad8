//! Phase 5, land: objects written to S3 as Firehose writes them: records
//! concatenated, GZIP-compressed, under a key of the rendered prefix, the
//! delivery stream's name and the time; Firehose's error records (JSON
//! lines with `attemptsMade`, `arrivalTimestamp`, `errorCode`,
//! `errorMessage`, `attemptEndingTimestamp`, `rawData`, `lambdaArn`) under
//! the error prefix. A failed write is retried, as Firehose retries delivery
//! to S3 for up to 24 hours (Firehose Developer Guide, "Handle data delivery
//! failure"); here a few attempts with backoff, each failure reported.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use base64_simd::STANDARD;
use chat_pipeline::timestamp::Timestamp;

use super::StandInError;
use super::partition::{Failed, render};

/// Attempts at one S3 write before the stand-in gives up (Firehose keeps
/// trying for up to 24 hours; a local run should not).
const S3_ATTEMPTS: u32 = 5;

/// Writes one delivery stream's objects into its bucket.
pub(super) struct Lander {
    pub(super) s3: aws_sdk_s3::Client,
    pub(super) bucket: String,
    pub(super) delivery_stream: String,
    pub(super) error_output_prefix: String,
    pub(super) lambda_arn: String,
    /// Objects written so far (part of each key, so keys never repeat).
    pub(super) objects: u64,
    /// Each object written under the events prefix, and when its write
    /// succeeded: when its events landed (`make load`'s latencies).
    pub(super) landed: Vec<(String, Timestamp)>,
}

impl Lander {
    /// The next object's key under `prefix`.
    pub(super) fn object_key(&mut self, prefix: &str) -> String {
        self.objects += 1;
        let now = chrono::Utc::now();
        format!(
            "{prefix}{}-1-{}-{:016x}.gz",
            self.delivery_stream,
            now.format("%Y-%m-%d-%H-%M-%S"),
            xxhash_rust::xxh3::xxh3_64(format!("{prefix}{}{now}", self.objects).as_bytes())
        )
    }

    /// Writes `data` as one object under `prefix`; returns the S3 retries
    /// it took.
    pub(super) async fn write_object(
        &mut self,
        prefix: &str,
        data: &[u8],
        report: &impl Fn(&str),
    ) -> Result<usize, StandInError> {
        let key = self.object_key(prefix);
        let retries = self.put_gzip(&key, data, report).await?;
        self.landed.push((key, Timestamp::now()));
        Ok(retries)
    }

    /// Writes Firehose's error records of type `error_type` as one object;
    /// returns the S3 retries it took.
    pub(super) async fn write_errors(
        &mut self,
        error_type: &str,
        records: &[Failed<'_>],
        attempts: u32,
        report: &impl Fn(&str),
    ) -> Result<usize, StandInError> {
        let ending = Timestamp::now().millis();
        let mut data = Vec::new();
        for failed in records {
            let line = serde_json::json!({
                "attemptsMade": attempts,
                "arrivalTimestamp": failed.record.arrival.millis(),
                "errorCode": failed.code,
                "errorMessage": failed.message,
                "attemptEndingTimestamp": ending,
                "rawData": STANDARD.encode_to_string(&failed.record.data),
                "lambdaArn": self.lambda_arn,
            });
            data.extend_from_slice(line.to_string().as_bytes());
            data.push(b'\n');
        }
        let first = records.first().map_or_else(Timestamp::now, |f| f.record.arrival);
        let prefix = render(&self.error_output_prefix, &HashMap::new(), Some(error_type), first);
        self.write_object(&prefix, &data, report).await
    }

    /// Writes one GZIP object, retrying a failed write as Firehose does;
    /// returns how many retries it took.
    async fn put_gzip(&self, key: &str, data: &[u8], report: &impl Fn(&str)) -> Result<usize, StandInError> {
        let err = |message: String| StandInError::S3 {
            bucket: self.bucket.clone(),
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
                .bucket(&self.bucket)
                .key(key)
                .content_encoding("gzip")
                .body(body.clone().into())
                .send()
                .await;
            match sent {
                Ok(_) => return Ok(attempt as usize - 1),
                Err(e) if attempt < S3_ATTEMPTS => {
                    report(&format!(
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
