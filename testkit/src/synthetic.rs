//! Synthetic Firehose transformation events, for benchmarks, property tests
//! and the local pipeline: deterministic, sized by record count, in either
//! input format and either source type.

use base64_simd::STANDARD;
use chat_pipeline::event::{ChatEvent, EventId, EventType};
use chat_pipeline::timestamp::Timestamp;

use transformer::firehose::{EpochMillis, FirehoseRecord, KinesisRecordMetadata, TransformationEvent};

/// Which input format the records carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The producer's schema v1 (~210 bytes per event).
    Producer,
    /// Plain Python-producer events (~80 bytes per event).
    Plain,
}

/// Which delivery-stream source the event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    DirectPut,
    KinesisStream,
}

pub const DELIVERY_STREAM_ARN: &str = "arn:aws:firehose:us-east-1:123456789012:deliverystream/chat-events-delivery";
pub const SOURCE_STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/chat-events";

const BASE_MILLIS: i64 = 1_795_305_600_000; // 2026-11-22T00:00:00Z

/// The `i`-th synthetic chat event's JSON bytes.
pub fn event_json(format: Format, i: usize) -> Vec<u8> {
    let event_type = EventType::ALL[i % EventType::ALL.len()];
    let user = (i * 7919 % 1000) as u64;
    let millis = BASE_MILLIS - 3_600_000 + (i as i64 * 37) % 3_600_000;
    let time = Timestamp::from_millis(millis).unwrap_or(Timestamp::MIN);
    match format {
        Format::Producer => {
            // Bytes 6 and 8 carry the UUID version and variant, so the index
            // goes into bytes 0..4, which stay as they are.
            let mut id = [0x5e; 16];
            id[..4].copy_from_slice(&(i as u32).to_be_bytes());
            let mut session = id;
            session[15] ^= 0xff;
            let event = ChatEvent::new(
                EventId::from_random_bytes(id),
                time,
                event_type,
                user,
                EventId::from_random_bytes(session),
                (i % 50) as u32 + 1,
            );
            serde_json::to_vec(&event).unwrap_or_default()
        }
        Format::Plain => {
            let c = time.civil();
            format!(
                r#"{{"event_time": "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}123", "event_name": "{}", "user": {user}}}"#,
                c.year,
                c.month,
                c.day,
                c.hour,
                c.minute,
                c.second,
                c.millisecond,
                event_type.input_name()
            )
            .into_bytes()
        }
    }
}

/// One output line (with its newline) as the transformer writes it: a
/// `join` by user 1 with id `e`, at `occurred` and received a second later,
/// without lineage, every plain column null. Built through the generated
/// model, so a column added to the schema needs no edit in the tests that
/// use it.
pub fn output_line(occurred: Timestamp) -> Vec<u8> {
    let received = Timestamp::from_millis(occurred.millis() + 1_000).unwrap_or(occurred);
    let plain = chat_pipeline::output::Columns::default();
    let record = chat_pipeline::output::OutputRecord::new("e", EventType::Join, 1, occurred, received, None, &plain);
    let mut line = Vec::new();
    record.write_line(&mut line);
    line
}

/// A transformation event of `n` records.
pub fn transformation_event(format: Format, source: Source, n: usize) -> TransformationEvent<'static> {
    let records = (0..n).map(|i| record(source, i, &event_json(format, i))).collect();
    TransformationEvent {
        invocation_id: "00000000-0000-4000-8000-000000000000".into(),
        delivery_stream_arn: DELIVERY_STREAM_ARN.into(),
        source_kinesis_stream_arn: (source == Source::KinesisStream).then(|| SOURCE_STREAM_ARN.into()),
        region: "us-east-1".into(),
        records,
    }
}

/// One record carrying `data`, with ids shaped like Firehose's.
pub fn record(source: Source, i: usize, data: &[u8]) -> FirehoseRecord<'static> {
    let sequence_number = format!("496382674112705204197583373987214628100180377620{i:08}");
    let arrival = EpochMillis(Timestamp::from_millis(BASE_MILLIS + i as i64).unwrap_or(Timestamp::MIN));
    FirehoseRecord {
        record_id: format!("{sequence_number}000000").into(),
        approximate_arrival_timestamp: arrival,
        data: STANDARD.encode_to_string(data).into(),
        kinesis_record_metadata: (source == Source::KinesisStream).then(|| KinesisRecordMetadata {
            shard_id: format!("shardId-{:012}", i % 4).into(),
            partition_key: ((i * 7919) % 1000).to_string().into(),
            sequence_number: sequence_number.into(),
            subsequence_number: 0,
            approximate_arrival_timestamp: Some(arrival),
        }),
        envelope_error: None,
    }
}

/// Total decoded bytes of an event's records.
pub fn event_json_bytes(event: &TransformationEvent<'_>) -> usize {
    event
        .records
        .iter()
        .map(|r| r.data.len() / 4 * 3 - padding(&r.data))
        .sum()
}

fn padding(b64: &str) -> usize {
    b64.bytes().rev().take_while(|&b| b == b'=').count()
}
