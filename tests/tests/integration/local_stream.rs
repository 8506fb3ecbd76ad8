//! The local Kinesis stream keeps every record it acknowledges, however many
//! PutRecords calls are in flight. moto 5.2.5 alone loses records under
//! concurrent calls (its `Shard.put_record` reads the last sequence number
//! and assigns the next one in two steps); `chat_tools.emulator` holds both
//! under a lock. This test sends concurrent batches straight through the SDK
//! and counts every record read back.

use std::collections::HashSet;

use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::{PutRecordsRequestEntry, ShardIteratorType};
use harness::pipeline::LocalPipeline;

const CALLERS: usize = 8;
const BATCHES_PER_CALLER: usize = 5;
const RECORDS_PER_BATCH: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs the emulator (moto) from `make setup`; `make test` runs it"]
async fn concurrent_put_records_batches_are_all_read_back_from_the_local_stream() {
    let pipeline = LocalPipeline::for_tests("concurrent-puts").await;
    let names = &pipeline.names;
    let kinesis = pipeline.kinesis();

    // Spawned all at once (collected), so the calls overlap.
    let callers: Vec<_> = (0..CALLERS)
        .map(|caller| {
            let kinesis = kinesis.clone();
            let stream = names.stream.clone();
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for batch in 0..BATCHES_PER_CALLER {
                    let entries: Vec<PutRecordsRequestEntry> = (0..RECORDS_PER_BATCH)
                        .map(|i| {
                            PutRecordsRequestEntry::builder()
                                // About the size of a producer event, keyed by a
                                // user id as the producer keys them.
                                .data(Blob::new(format!("{caller}-{batch}-{i}-{}", "x".repeat(200))))
                                .partition_key(((caller * 7_919 + batch * 613 + i * 104_729) % 1_000).to_string())
                                .build()
                                .unwrap()
                        })
                        .collect();
                    let out = kinesis
                        .put_records()
                        .stream_name(&stream)
                        .set_records(Some(entries))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(out.failed_record_count(), Some(0));
                    for r in out.records() {
                        acknowledged.push((
                            r.shard_id().unwrap().to_owned(),
                            r.sequence_number().unwrap().to_owned(),
                        ));
                    }
                }
                acknowledged
            })
        })
        .collect();
    let mut acknowledged = HashSet::new();
    for caller in callers {
        for ack in caller.await.unwrap() {
            assert!(
                acknowledged.insert(ack.clone()),
                "sequence number {ack:?} acknowledged twice"
            );
        }
    }
    let sent = CALLERS * BATCHES_PER_CALLER * RECORDS_PER_BATCH;
    assert_eq!(acknowledged.len(), sent);

    let mut read = HashSet::new();
    let shards = kinesis.list_shards().stream_name(&names.stream).send().await.unwrap();
    for shard in shards.shards() {
        let mut iterator = kinesis
            .get_shard_iterator()
            .stream_name(&names.stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator()
            .map(str::to_owned);
        while let Some(it) = iterator {
            let page = kinesis
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .unwrap();
            for r in page.records() {
                assert!(read.insert(r.data().as_ref().to_vec()), "a record was read twice");
            }
            iterator = if page.records().is_empty() {
                None
            } else {
                page.next_shard_iterator().map(str::to_owned)
            };
        }
    }
    assert_eq!(
        read.len(),
        sent,
        "the stream acknowledged {sent} records and holds {}: {} lost",
        read.len(),
        sent - read.len()
    );
}
