//! Packing events into records: many newline-delimited events per record,
//! so that the stream and Firehose bill records of about 25 KB instead of
//! one ~200-byte event each.
//!
//! Where it sits: between the producer's events and the sink
//! ([`crate::delivery`] sends the packed records as it sends any). Firehose
//! splits each record back into its events before the transformation Lambda
//! (multi-record de-aggregation, `RecordDeAggregation` with the Delimited
//! type and a newline delimiter: "deaggregation → data transformation via
//! Lambda → partitioning keys", Firehose Developer Guide, "Apply dynamic
//! partitioning to aggregated data"), so the transformer still sees one
//! event per record.
//!
//! Why these limits ([`PackingLimits::DEFAULT`]):
//! - at most 500 events a record: "Record deaggregation by JSON or by
//!   delimiter is capped at 500 per record"; past it the record is not
//!   de-aggregated and the Lambda gets it whole (Firehose API Reference,
//!   PutRecordBatch);
//! - at most 25,000 bytes a record, the largest size that is a whole number
//!   of every bill's unit at once: Firehose bills ingestion per record in
//!   5 KB increments (Firehose pricing), Kinesis on-demand per record in
//!   1 KiB (Kinesis pricing: a 25,000-byte record is 25 KiB, 2.3% rounding),
//!   and provisioned shards count PUT payload units of 25 KB. Bigger records
//!   save nothing more (the bills are then per byte) and a retried record
//!   resends more;
//! - an event larger than a packed record can hold goes in a record of its
//!   own, up to the sink's per-record limit (1 MiB Kinesis, 1,000 KiB
//!   Firehose), past which the batching refuses it by name as before.
//!
//! Events are packed in the order of their partition key (stable), and a
//! record takes the key of its first event: a user's events stay in one
//! record, or in consecutive records with the same key (the same shard, in
//! order), as they were when each event was its own record.

use crate::sink::SinkRecord;

/// The delimiter between the events of a packed record (Firehose's
/// `Delimiter`, base64 `Cg==` in template.yaml).
pub const DELIMITER: u8 = b'\n';

/// How full a packed record may get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackingLimits {
    pub max_events: usize,
    pub max_bytes: usize,
}

impl PackingLimits {
    /// 500 events (Firehose's de-aggregation cap), 25,000 bytes (see the
    /// module documentation).
    pub const DEFAULT: PackingLimits = PackingLimits {
        max_events: 500,
        max_bytes: 25_000,
    };
}

/// One packed record and the events it carries (indices into the input).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed {
    pub record: SinkRecord,
    pub events: Vec<usize>,
}

/// Packs `events` (each an event's bytes and partition key) into records
/// within `limits`; every event is in exactly one record. An event holding
/// the delimiter byte would be split in two by Firehose: such an event goes
/// in a record of its own (JSON from serde never holds a raw newline).
pub fn pack(events: &[SinkRecord], limits: PackingLimits) -> Vec<Packed> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by(|&a, &b| events[a].partition_key.cmp(&events[b].partition_key));
    let mut out: Vec<Packed> = Vec::new();
    let mut current: Option<Packed> = None;
    for index in order {
        let event = &events[index];
        let alone = event.data.len() >= limits.max_bytes || event.data.contains(&DELIMITER);
        if let Some(open) = current.as_mut() {
            let fits = !alone
                && open.events.len() < limits.max_events
                && open.record.data.len() + 1 + event.data.len() <= limits.max_bytes;
            if fits {
                open.record.data.push(DELIMITER);
                open.record.data.extend_from_slice(&event.data);
                open.events.push(index);
                continue;
            }
            out.extend(current.take());
        }
        let packed = Packed {
            record: event.clone(),
            events: vec![index],
        };
        if alone {
            out.push(packed);
        } else {
            current = Some(packed);
        }
    }
    out.extend(current);
    out
}

/// The events of a packed record, split as Firehose's Delimited
/// de-aggregation splits it.
pub fn unpack(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == DELIMITER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(len: usize, key: &str) -> SinkRecord {
        SinkRecord {
            data: vec![b'e'; len],
            partition_key: key.to_owned(),
        }
    }

    #[test]
    fn at_most_500_events_a_record() {
        let events: Vec<_> = (0..1_001).map(|_| event(10, "k")).collect();
        let packed = pack(&events, PackingLimits::DEFAULT);
        let counts: Vec<_> = packed.iter().map(|p| p.events.len()).collect();
        assert_eq!(counts, [500, 500, 1]);
        assert_eq!(packed[0].record.data.len(), 500 * 10 + 499);
        assert_eq!(unpack(&packed[0].record.data).count(), 500);
    }

    #[test]
    fn at_most_25000_bytes_a_record() {
        // 200-byte events: 124 of them and their delimiters take 24,923 bytes.
        let events: Vec<_> = (0..300).map(|_| event(200, "k")).collect();
        let packed = pack(&events, PackingLimits::DEFAULT);
        assert!(packed.iter().all(|p| p.record.data.len() <= 25_000));
        assert_eq!(packed[0].events.len(), 124);
        assert_eq!(packed[0].record.data.len(), 124 * 201 - 1);
    }

    #[test]
    fn records_up_to_the_sinks_limit_when_asked() {
        // The limits of one record, as large as Firehose takes: 1,000 KiB.
        let limits = PackingLimits {
            max_events: 500,
            max_bytes: 1000 * 1024,
        };
        let events: Vec<_> = (0..500).map(|_| event(2047, "k")).collect();
        let packed = pack(&events, limits);
        assert_eq!(packed.len(), 1);
        assert_eq!(packed[0].record.data.len(), 500 * 2048 - 1);
        assert!(packed[0].record.data.len() <= 1000 * 1024);
    }

    #[test]
    fn an_event_larger_than_a_packed_record_goes_alone() {
        let events = vec![event(100, "a"), event(30_000, "b"), event(100, "c"), event(25_000, "d")];
        let packed = pack(&events, PackingLimits::DEFAULT);
        let groups: Vec<_> = packed.iter().map(|p| p.events.clone()).collect();
        assert_eq!(groups, [vec![0], vec![1], vec![2], vec![3]]);
        assert_eq!(packed[1].record, events[1], "sent as it is");
    }

    #[test]
    fn an_event_holding_the_delimiter_goes_alone() {
        let mut odd = event(10, "b");
        odd.data[3] = DELIMITER;
        let events = vec![event(10, "a"), odd.clone(), event(10, "c")];
        let packed = pack(&events, PackingLimits::DEFAULT);
        assert_eq!(packed.len(), 3);
        assert_eq!(packed[1].record, odd);
    }

    #[test]
    fn a_users_events_stay_together_in_order_under_the_first_key() {
        let events = vec![event(5, "u2"), event(6, "u1"), event(7, "u2"), event(8, "u1")];
        let packed = pack(
            &events,
            PackingLimits {
                max_events: 2,
                max_bytes: 25_000,
            },
        );
        let groups: Vec<_> = packed
            .iter()
            .map(|p| (p.record.partition_key.as_str(), p.events.clone()))
            .collect();
        assert_eq!(groups, [("u1", vec![1, 3]), ("u2", vec![0, 2])]);
    }

    proptest! {
        #[test]
        fn every_event_is_in_one_record_within_the_limits_and_unpacks_as_it_was(
            lens in proptest::collection::vec(0usize..40_000, 0..200),
            keys in proptest::collection::vec(0u8..5, 200),
        ) {
            let events: Vec<_> = lens.iter().zip(&keys).map(|(&l, &k)| event(l, &format!("k{k}"))).collect();
            let packed = pack(&events, PackingLimits::DEFAULT);
            let mut seen: Vec<usize> = packed.iter().flat_map(|p| p.events.clone()).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..events.len()).collect::<Vec<_>>());
            for p in &packed {
                prop_assert!(p.events.len() <= 500);
                prop_assert!(p.events.len() == 1 || p.record.data.len() <= 25_000);
                let pieces: Vec<&[u8]> = if p.events.len() == 1 {
                    vec![&p.record.data[..]]
                } else {
                    unpack(&p.record.data).collect()
                };
                prop_assert_eq!(pieces.len(), p.events.len());
                for (piece, &i) in pieces.iter().zip(&p.events) {
                    prop_assert_eq!(*piece, &events[i].data[..]);
                }
                prop_assert_eq!(&p.record.partition_key, &events[p.events[0]].partition_key);
            }
        }
    }
}
