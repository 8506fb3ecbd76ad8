//! Phase 1b, de-aggregate: each record read from the stream split into the
//! events packed in it, before the Lambda, as Firehose's multi-record
//! de-aggregation does ("deaggregation → data transformation via Lambda →
//! partitioning keys": Firehose Developer Guide, "Apply dynamic partitioning
//! to aggregated data"), with the template's `RecordDeAggregation`
//! processor (Delimited: split on its delimiter).
//!
//! Its rules, as documented:
//! - "Record deaggregation by JSON or by delimiter is capped at 500 per
//!   record". A record of more than 500 is not de-aggregated: "the record
//!   de-aggregation doesn't work as expected and transformation lambda is
//!   invoked with the complete base64 encoded data blob" (Firehose API
//!   Reference, PutRecordBatch). Here too: it goes to the transformer whole,
//!   which refuses it (more than one JSON value) into
//!   `errors/processing-failed/`, where `make replay` splits it again
//!   (`crate::replay`).
//! - A delimited piece is not checked: whatever lies between two
//!   delimiters is a record (an empty one included), for the transformer to
//!   answer.
//!
//! Each piece keeps its record's Kinesis metadata, with its index as the
//! `subsequenceNumber`, so pieces stay distinct where an event has no id.

use super::read::StreamRecord;

/// Firehose's cap on the records one record de-aggregates into.
pub(super) const MAX_SUB_RECORDS: usize = 500;

/// What de-aggregating a pass's records did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Split {
    /// Records read from the stream.
    pub(super) records: usize,
    /// Records after de-aggregation (what the transformer is given).
    pub(super) sub_records: usize,
    /// Records over the cap, passed on whole.
    pub(super) over_cap: usize,
}

/// `records` split on `delimiter` (none: passed on as they are).
pub(super) fn split(records: Vec<StreamRecord>, delimiter: Option<&[u8]>) -> (Vec<StreamRecord>, Split) {
    let mut stats = Split {
        records: records.len(),
        ..Split::default()
    };
    let Some(delimiter) = delimiter.filter(|d| !d.is_empty()) else {
        stats.sub_records = records.len();
        return (records, stats);
    };
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let pieces = pieces(&record.data, delimiter);
        if pieces.len() > MAX_SUB_RECORDS {
            stats.over_cap += 1;
            out.push(record);
            continue;
        }
        for (index, piece) in pieces.into_iter().enumerate() {
            let mut metadata = record.metadata.clone();
            metadata.subsequence_number = index as u64;
            out.push(StreamRecord {
                metadata,
                arrival: record.arrival,
                data: piece.to_vec(),
            });
        }
    }
    stats.sub_records = out.len();
    (out, stats)
}

/// The pieces of `data` between occurrences of `delimiter`.
fn pieces<'d>(data: &'d [u8], delimiter: &[u8]) -> Vec<&'d [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + delimiter.len() <= data.len() {
        if &data[i..i + delimiter.len()] == delimiter {
            out.push(&data[start..i]);
            i += delimiter.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&data[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_pipeline::timestamp::Timestamp;
    use transformer::firehose::KinesisRecordMetadata;

    fn record(data: &[u8]) -> StreamRecord {
        StreamRecord {
            metadata: KinesisRecordMetadata {
                shard_id: "shardId-000000000000".into(),
                partition_key: "7".into(),
                sequence_number: "49".into(),
                subsequence_number: 0,
                approximate_arrival_timestamp: None,
            },
            arrival: Timestamp::MIN,
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_record_splits_into_its_pieces_each_with_its_subsequence_number() {
        let (out, stats) = split(vec![record(b"a\nbb\nccc"), record(b"d")], Some(b"\n"));
        let pieces: Vec<(&[u8], u64)> = out
            .iter()
            .map(|r| (&r.data[..], r.metadata.subsequence_number))
            .collect();
        assert_eq!(pieces, [(&b"a"[..], 0), (b"bb", 1), (b"ccc", 2), (b"d", 0)]);
        assert_eq!(
            stats,
            Split {
                records: 2,
                sub_records: 4,
                over_cap: 0
            }
        );
    }

    #[test]
    fn five_hundred_pieces_split_and_more_go_whole() {
        let five_hundred = vec![b"x".to_vec(); 500].join(&b'\n');
        let five_hundred_one = vec![b"x".to_vec(); 501].join(&b'\n');
        let (out, stats) = split(vec![record(&five_hundred), record(&five_hundred_one)], Some(b"\n"));
        assert_eq!(out.len(), 501);
        assert_eq!(out[500].data, five_hundred_one, "passed on whole");
        assert_eq!(stats.over_cap, 1);
    }

    #[test]
    fn empty_pieces_are_records_and_no_delimiter_splits_nothing() {
        let (out, _) = split(vec![record(b"a\n\nb\n")], Some(b"\n"));
        assert_eq!(out.iter().map(|r| r.data.len()).collect::<Vec<_>>(), [1, 0, 1, 0]);
        let (out, stats) = split(vec![record(b"a\nb")], None);
        assert_eq!((out.len(), stats.sub_records), (1, 1));
        let (out, _) = split(vec![record(b"a##b")], Some(b"##"));
        assert_eq!(out.len(), 2);
    }
}
