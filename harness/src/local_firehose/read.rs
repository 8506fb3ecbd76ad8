//! Phase 1, read: every shard of the source stream from TRIM_HORIZON, and on
//! the next pass from where the last one stopped, as Firehose's Kinesis
//! source reads it; each record with the `kinesisRecordMetadata` Firehose
//! hands the processor.

use std::collections::HashMap;

use aws_sdk_kinesis::types::ShardIteratorType;
use chat_pipeline::timestamp::Timestamp;
use transformer::firehose::{EpochMillis, KinesisRecordMetadata};

use super::StandInError;

/// One record as read from the stream.
pub(super) struct StreamRecord {
    pub(super) metadata: KinesisRecordMetadata<'static>,
    pub(super) arrival: Timestamp,
    pub(super) data: Vec<u8>,
}

/// Where each shard's reading stopped.
pub(super) struct StreamReader {
    kinesis: aws_sdk_kinesis::Client,
    stream: String,
    iterators: HashMap<String, String>,
    /// Stamps every record read as having arrived at this time (tests).
    pub(super) arrival_override: Option<Timestamp>,
}

impl StreamReader {
    pub(super) fn new(kinesis: aws_sdk_kinesis::Client, stream: String) -> Self {
        StreamReader {
            kinesis,
            stream,
            iterators: HashMap::new(),
            arrival_override: None,
        }
    }

    /// Everything new in the stream; `on_page` is told the count so far
    /// after each page that held records.
    pub(super) async fn read_new(&mut self, on_page: impl Fn(usize)) -> Result<Vec<StreamRecord>, StandInError> {
        let err = |e: &(dyn std::error::Error + 'static)| StandInError::Kinesis(chat_pipeline::sink::describe_chain(e));
        let shards = self
            .kinesis
            .list_shards()
            .stream_name(&self.stream)
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
                    .stream_name(&self.stream)
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
                    on_page(out.len());
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
}
