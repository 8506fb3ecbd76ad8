//! Splitting records into requests that respect a sink's [`BatchLimits`]:
//! at most `max_records` per request and `max_request_bytes` per request, in
//! input order. Records that can never be sent (over the per-record limit, or
//! with an invalid partition key) are set aside, never silently dropped.

use crate::sink::{BatchLimits, RecordRejected, SinkRecord};

/// One request's worth of records, as indices into the input slice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub indices: Vec<usize>,
    pub bytes: usize,
}

/// A record refused before sending, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub index: usize,
    pub reason: RecordRejected,
}

/// The batches to send and the records that cannot be sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BatchPlan {
    pub batches: Vec<Batch>,
    pub rejected: Vec<Rejected>,
}

/// Groups `records` greedily, in order, into batches within `limits`.
pub fn plan_batches(records: &[SinkRecord], limits: &BatchLimits) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut current = Batch {
        indices: Vec::with_capacity(limits.max_records.min(records.len())),
        bytes: 0,
    };
    for (index, record) in records.iter().enumerate() {
        let size = match limits.check(record) {
            Ok(size) => size,
            Err(reason) => {
                plan.rejected.push(Rejected { index, reason });
                continue;
            }
        };
        if current.indices.len() == limits.max_records || current.bytes + size > limits.max_request_bytes {
            let capacity = limits.max_records.min(records.len() - index);
            plan.batches.push(std::mem::replace(
                &mut current,
                Batch {
                    indices: Vec::with_capacity(capacity),
                    bytes: 0,
                },
            ));
        }
        current.indices.push(index);
        current.bytes += size;
    }
    if !current.indices.is_empty() {
        plan.batches.push(current);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(len: usize, key: &str) -> SinkRecord {
        SinkRecord {
            data: vec![b'x'; len],
            partition_key: key.to_owned(),
        }
    }

    #[test]
    fn splits_by_count() {
        let records: Vec<_> = (0..1201).map(|_| rec(10, "k")).collect();
        let plan = plan_batches(&records, &BatchLimits::KINESIS);
        let sizes: Vec<_> = plan.batches.iter().map(|b| b.indices.len()).collect();
        assert_eq!(sizes, [500, 500, 201]);
    }

    #[test]
    fn splits_by_bytes_counting_the_partition_key_for_kinesis() {
        // 5 records of 1 MiB - 1 byte of data and a 1-byte key fill 5 MiB exactly.
        let records: Vec<_> = (0..6).map(|_| rec(1024 * 1024 - 1, "k")).collect();
        let plan = plan_batches(&records, &BatchLimits::KINESIS);
        let sizes: Vec<_> = plan.batches.iter().map(|b| b.indices.len()).collect();
        assert_eq!(sizes, [5, 1]);
        assert_eq!(plan.batches[0].bytes, 5 * 1024 * 1024);
        // Firehose: 4 MiB per request, 1,000 KiB per record.
        let records: Vec<_> = (0..5).map(|_| rec(1000 * 1024, "")).collect();
        let plan = plan_batches(&records, &BatchLimits::FIREHOSE);
        let sizes: Vec<_> = plan.batches.iter().map(|b| b.indices.len()).collect();
        assert_eq!(sizes, [4, 1]);
    }

    #[test]
    fn sets_aside_records_that_can_never_be_sent() {
        let records = vec![
            rec(1024 * 1024, "k"),
            rec(1, ""),
            rec(1, &"k".repeat(257)),
            rec(1, "ok"),
        ];
        let plan = plan_batches(&records, &BatchLimits::KINESIS);
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(plan.batches[0].indices, [3]);
        let reasons: Vec<_> = plan.rejected.iter().map(|r| (r.index, r.reason.clone())).collect();
        assert_eq!(
            reasons,
            [
                (
                    0,
                    RecordRejected::TooLarge {
                        size: 1024 * 1024 + 1,
                        limit: 1024 * 1024
                    }
                ),
                (1, RecordRejected::BadPartitionKey { chars: 0 }),
                (2, RecordRejected::BadPartitionKey { chars: 257 }),
            ]
        );
        let over = rec(1000 * 1024 + 1, "");
        assert!(plan_batches(&[over], &BatchLimits::FIREHOSE).batches.is_empty());
    }

    proptest! {
        #[test]
        fn every_record_is_placed_once_in_order_within_limits(
            lens in proptest::collection::vec(0usize..400_000, 0..60),
        ) {
            let limits = BatchLimits { max_records: 7, max_request_bytes: 1_000_000, max_record_bytes: 300_000, partition_key_counts: true };
            let records: Vec<_> = lens.iter().map(|&l| rec(l, "pk")).collect();
            let plan = plan_batches(&records, &limits);
            let mut seen: Vec<usize> = plan.batches.iter().flat_map(|b| b.indices.clone()).collect();
            seen.extend(plan.rejected.iter().map(|r| r.index));
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..records.len()).collect::<Vec<_>>());
            for b in &plan.batches {
                prop_assert!(!b.indices.is_empty() && b.indices.len() <= 7);
                prop_assert!(b.bytes <= 1_000_000);
                prop_assert!(b.indices.windows(2).all(|w| w[0] < w[1]));
                prop_assert_eq!(b.bytes, b.indices.iter().map(|&i| lens[i] + 2).sum::<usize>());
            }
        }
    }
}
