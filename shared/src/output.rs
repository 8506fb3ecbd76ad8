//! The record the transformer writes to S3 (output schema version 1): its
//! hand-written parts, and the dynamic-partitioning keys Firehose uses to
//! place it.
//!
//! The record itself, [`OutputRecord`], its columns in order and its line
//! writer, is generated from `schema/output-v1.schema.json`
//! ([`crate::model`]); what is here are the values of the columns with a
//! rule of their own that the generated writer calls: the event date, the
//! Kinesis source. `tests/tests/integration/schema_agreement.rs` holds every
//! line to the schema.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::event::EventType;
use crate::json::write_json_str;
use crate::timestamp::Timestamp;

pub use crate::model::{Columns, OutputRecord};

/// The version written in every output record's `schema_version`.
pub const OUTPUT_SCHEMA_VERSION: u32 = 1;

/// The partition keys the transformer emits, in the order they appear in the
/// S3 prefix. template.yaml's `Prefix` and the Glue table's partition columns
/// must use exactly these (see [`PartitionKeys`] for why `dt` is the arrival
/// date).
pub const PARTITION_KEYS: [&str; 2] = ["event_type", "dt"];

/// Where a record came from when the delivery stream reads a Kinesis stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SourceRef<'a> {
    pub shard_id: &'a str,
    pub sequence_number: &'a str,
    pub partition_key: &'a str,
}

/// Appends the `source` column's value: the object, or `null` for Direct PUT.
pub(crate) fn write_source(out: &mut Vec<u8>, source: Option<&SourceRef<'_>>) {
    match source {
        Some(src) => {
            out.extend_from_slice(b"{\"shard_id\":");
            write_json_str(out, src.shard_id);
            out.extend_from_slice(b",\"sequence_number\":");
            write_json_str(out, src.sequence_number);
            out.extend_from_slice(b",\"partition_key\":");
            write_json_str(out, src.partition_key);
            out.push(b'}');
        }
        None => out.extend_from_slice(b"null"),
    }
}

/// The UTC calendar date of a timestamp, serialized as `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventDate(pub Timestamp);

impl Serialize for EventDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let buf = self.0.civil().date_bytes();
        serializer.serialize_str(std::str::from_utf8(&buf).unwrap_or_default())
    }
}

/// Firehose dynamic-partitioning keys: the event type and `dt`, the UTC date
/// on which the record reached the stream (`received_at`, Firehose's
/// `approximateArrivalTimestamp`), as `YYYY-MM-DD`.
///
/// Why arrival time and not event time: the arrival time comes from AWS's
/// clock, so every record Firehose can hold (a Kinesis source keeps at most
/// its retention period) falls on at most retention-in-days + 1 dates, and
/// a buffer opens at most 5 event types times that many partitions, however
/// late, backfilled or skewed the clients' `event_time`s are. Event time
/// would let one client with a wrong clock open hundreds of partitions (500
/// is Firehose's default limit; beyond it records go to the error prefix) and
/// put rows outside any projection range. A query for events of day D reads
/// `dt` from D (late events land later, never earlier) and filters on
/// `occurred_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionKeys {
    event_type: EventType,
    // "YYYY-MM-DD"
    dt: [u8; 10],
}

impl PartitionKeys {
    /// The keys of an event of `event_type` that reached the stream at `received_at`.
    pub fn new(event_type: EventType, received_at: Timestamp) -> Self {
        PartitionKeys {
            event_type,
            dt: received_at.civil().date_bytes(),
        }
    }

    /// `(key, value)` pairs in [`PARTITION_KEYS`] order.
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        let dt = std::str::from_utf8(&self.dt).unwrap_or("0000-00-00");
        [("event_type", self.event_type.output_name()), ("dt", dt)]
    }

    /// Appends this value as the JSON object `serde_json` would write (in
    /// exactly [`PartitionKeys::json_len`] bytes). Keys and values never need
    /// escaping: the keys are constants, event type names lowercase ASCII
    /// letters and underscores, `dt` digits and dashes.
    pub fn write_json(&self, out: &mut String) {
        let [(k1, v1), (k2, v2)] = self.pairs();
        for (open, k, v) in [("{\"", k1, v1), (",\"", k2, v2)] {
            out.push_str(open);
            out.push_str(k);
            out.push_str("\":\"");
            out.push_str(v);
            out.push('"');
        }
        out.push('}');
    }

    /// The exact length of this value serialized as a JSON object.
    pub fn json_len(&self) -> usize {
        const FIXED: usize = r#"{"event_type":"","dt":"0000-00-00"}"#.len();
        FIXED + self.event_type.output_name().len()
    }
}

impl Serialize for PartitionKeys {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(PARTITION_KEYS.len()))?;
        for (k, v) in self.pairs() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_line_in_schema_order() {
        let t = Timestamp::from_millis(1_702_375_200_123).unwrap();
        // The update is needless until a column is added to the schema.
        #[allow(clippy::needless_update)]
        let columns = Columns {
            session_id: None,
            seq: Some(2),
            ..Columns::default()
        };
        let rec = OutputRecord::new(
            "e\"1",
            EventType::OpenChat,
            42,
            t,
            Timestamp::from_millis(1_702_375_201_000).unwrap(),
            Some(SourceRef {
                shard_id: "shardId-000000000000",
                sequence_number: "4954",
                partition_key: "42",
            }),
            &columns,
        );
        let mut out = Vec::new();
        rec.write_line(&mut out);
        // Columns added to the schema after these are plain and unset
        // here: each is written as null, in the schema's order.
        let added: String = crate::model::COLUMNS
            .iter()
            .skip_while(|c| **c != "schema_version")
            .skip(1)
            .map(|c| format!(",\"{c}\":null"))
            .collect();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "{{\"event_id\":\"e\\\"1\",\"event_type\":\"open_chat\",\"user_id\":42,\"session_id\":null,\"seq\":2,\"occurred_at\":\"2023-12-12T10:00:00.123Z\",\"event_date\":\"2023-12-12\",\"received_at\":\"2023-12-12T10:00:01.000Z\",\"source\":{{\"shard_id\":\"shardId-000000000000\",\"sequence_number\":\"4954\",\"partition_key\":\"42\"}},\"schema_version\":1{added}}}\n"
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn hand_written_line_equals_serde_json(
            event_id in "\\PC{0,40}",
            session_id in proptest::option::of("[\\x00-\\x7f\u{e9}\u{1F600}]{0,20}"),
            seq in proptest::option::of(proptest::num::u64::ANY),
            user_id in proptest::num::u64::ANY,
            occurred in Timestamp::MIN.millis()..=Timestamp::MAX.millis(),
            received in Timestamp::MIN.millis()..=Timestamp::MAX.millis(),
            shard in proptest::option::of("[\\x00-\\x7f]{0,12}"),
            event_type in proptest::sample::select(EventType::ALL.to_vec()),
        ) {
            #[allow(clippy::needless_update)]
            let columns = Columns {
                session_id: session_id.map(Into::into),
                seq,
                ..Columns::default()
            };
            let rec = OutputRecord::new(
                &event_id,
                event_type,
                user_id,
                Timestamp::from_millis(occurred).unwrap(),
                Timestamp::from_millis(received).unwrap(),
                shard.as_deref().map(|s| SourceRef { shard_id: s, sequence_number: "49\"5", partition_key: s }),
                &columns,
            );
            let mut hand = Vec::new();
            rec.write_line(&mut hand);
            let mut expected = serde_json::to_vec(&rec).unwrap();
            expected.push(b'\n');
            proptest::prop_assert_eq!(String::from_utf8(hand).unwrap(), String::from_utf8(expected).unwrap());
        }
    }

    #[test]
    fn partition_keys_are_the_type_and_the_arrival_date_sized_exactly() {
        let received = Timestamp::parse_iso8601("2024-03-05T23:59:59.999Z").unwrap();
        for ty in EventType::ALL {
            let keys = PartitionKeys::new(ty, received);
            let json = serde_json::to_string(&keys).unwrap();
            assert_eq!(json.len(), keys.json_len());
            assert_eq!(keys.pairs(), [("event_type", ty.output_name()), ("dt", "2024-03-05")]);
        }
        let names: Vec<_> = PartitionKeys::new(EventType::Join, received)
            .pairs()
            .map(|(k, _)| k)
            .to_vec();
        assert_eq!(names, PARTITION_KEYS);
    }
}
