//! One record, end to end: base64-decode, parse and validate the chat event,
//! decide Ok / Dropped / ProcessingFailed, and for `Ok` write the output line
//! (schema v1, newline-terminated) and its partition keys.
//!
//! Per-batch state lives in [`BatchState`]: scratch buffers reused across
//! records (so a record costs one allocation for its output) and the event ids
//! already seen, for dropping retry duplicates within an invocation.

use base64_simd::STANDARD;
use chat_pipeline::event::{EVENT_ID_LEN, EventId};
use chat_pipeline::input::{InputError, check_event_time, parse_input_event};
use chat_pipeline::json::floor_char_boundary;
use chat_pipeline::output::{OutputRecord, PartitionKeys, SourceRef};
use xxhash_rust::xxh3::{Xxh3, xxh3_128};

use crate::config::Config;
use crate::firehose::{EnvelopeError, FirehoseRecord, MAX_RECORD_BYTES};

/// The longest payload excerpt written to a log line.
pub(crate) const LOG_EXCERPT_BYTES: usize = 256;

/// Why a record is answered `ProcessingFailed`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordFailure {
    #[error("the record's envelope cannot be read: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("data is not valid base64: {0}")]
    InvalidBase64(String),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("could not rebuild the event for re-ingestion: {0}")]
    Reingest(String),
}

impl RecordFailure {
    /// Whether the failed record's `data` may be echoed in its answer: only
    /// when it is valid base64, the one kind of text that needs no JSON
    /// escaping and that Firehose can decode. A record refused before its data
    /// was decoded (its envelope, or its size) has its data checked here;
    /// one refused after decoding it passed already. Echoing anything else
    /// made the response invalid JSON: an envelope failure echoed `data`
    /// holding an escaped control character raw (issue 16).
    pub fn echoes(&self, data: &str) -> bool {
        match self {
            RecordFailure::InvalidBase64(_) => false,
            RecordFailure::Envelope(_) | RecordFailure::Input(InputError::TooLarge { .. }) => {
                STANDARD.check(data.as_bytes()).is_ok()
            }
            RecordFailure::Input(_) | RecordFailure::Reingest(_) => true,
        }
    }

    /// A short stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RecordFailure::Envelope(_) => "invalid_envelope",
            RecordFailure::InvalidBase64(_) => "invalid_base64",
            RecordFailure::Input(e) => e.code(),
            RecordFailure::Reingest(_) => "reingest_rebuild",
        }
    }
}

/// Why a record is answered `Dropped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its event type is listed in `DROP_EVENT_TYPES`.
    Filtered,
    /// Its event id already appeared earlier in this invocation.
    Duplicate,
}

/// A successfully reshaped record.
#[derive(Debug, Clone, PartialEq)]
pub struct Transformed {
    /// The output line, newline-terminated; base64-encoded only when the
    /// response is written (`crate::firehose::response`).
    pub line: Box<[u8]>,
    pub keys: PartitionKeys,
}

/// The decision for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ok(Transformed),
    Dropped(DropReason),
    Failed(RecordFailure),
}

/// State shared by the records of one invocation.
pub struct BatchState {
    decoded: Vec<u8>,
    line: Vec<u8>,
    /// 128-bit hashes of the event ids answered so far. Two distinct ids
    /// collide with probability about n²/2¹²⁹ (below 10⁻²⁹ for a full batch),
    /// far below the rate of undetected hardware errors, and it saves an
    /// allocation per record.
    seen_ids: foldhash::HashSet<u128>,
    /// Sum of decoded input sizes.
    pub bytes_in: usize,
}

impl Default for BatchState {
    fn default() -> Self {
        BatchState {
            decoded: Vec::with_capacity(1024),
            line: Vec::with_capacity(1024),
            seen_ids: foldhash::HashSet::default(),
            bytes_in: 0,
        }
    }
}

impl BatchState {
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes of the record last passed to [`BatchState::transform`], as
    /// decoded (for log excerpts).
    pub fn last_decoded(&self) -> &[u8] {
        &self.decoded
    }

    /// Decides what to answer for `record`.
    pub fn transform(&mut self, record: &FirehoseRecord<'_>, config: &Config) -> Outcome {
        match self.try_transform(record, config) {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Failed(failure),
        }
    }

    fn try_transform(&mut self, record: &FirehoseRecord<'_>, config: &Config) -> Result<Outcome, RecordFailure> {
        self.decoded.clear();
        if let Some(why) = &record.envelope_error {
            return Err(RecordFailure::Envelope(why.clone()));
        }
        // Refuse before decoding what could only decode to an oversized record.
        let max_encoded = MAX_RECORD_BYTES.div_ceil(3) * 4;
        if record.data.len() > max_encoded {
            return Err(InputError::TooLarge {
                size: record.data.len() / 4 * 3,
                limit: MAX_RECORD_BYTES,
            }
            .into());
        }
        STANDARD
            .decode_append(record.data.as_bytes(), &mut self.decoded)
            .map_err(|e| RecordFailure::InvalidBase64(e.to_string()))?;
        self.bytes_in += self.decoded.len();
        if self.decoded.len() > MAX_RECORD_BYTES {
            return Err(InputError::TooLarge {
                size: self.decoded.len(),
                limit: MAX_RECORD_BYTES,
            }
            .into());
        }
        let event = parse_input_event(&self.decoded)?;
        check_event_time(event.occurred_at, record.approximate_arrival_timestamp.0)?;
        if config.drop_event_types.contains(&event.event_type) {
            return Ok(Outcome::Dropped(DropReason::Filtered));
        }
        let mut id_buf = [0u8; EVENT_ID_LEN];
        let event_id: &str = match &event.event_id {
            Some(id) => id,
            None => derived_event_id(record).encode(&mut id_buf),
        };
        if !self.seen_ids.insert(xxh3_128(event_id.as_bytes())) {
            return Ok(Outcome::Dropped(DropReason::Duplicate));
        }
        let source = record.kinesis_record_metadata.as_ref().map(|m| SourceRef {
            shard_id: &m.shard_id,
            sequence_number: &m.sequence_number,
            partition_key: &m.partition_key,
        });
        let output = OutputRecord::new(
            event_id,
            event.event_type,
            event.user_id,
            event.occurred_at,
            record.approximate_arrival_timestamp.0,
            source,
            &event.columns,
        );
        self.line.clear();
        output.write_line(&mut self.line);
        Ok(Outcome::Ok(Transformed {
            line: self.line.as_slice().into(),
            keys: PartitionKeys::new(event.event_type, record.approximate_arrival_timestamp.0),
        }))
    }
}

/// The id of an event that came without one: a hash of where the record sits
/// in the source (Kinesis shard, sequence and subsequence number) or, for
/// Direct PUT, of its Firehose record id. Reprocessing the same record yields
/// the same id.
pub fn derived_event_id(record: &FirehoseRecord<'_>) -> EventId {
    let mut h = Xxh3::new();
    match &record.kinesis_record_metadata {
        Some(m) => {
            h.update(b"kinesis\0");
            h.update(m.shard_id.as_bytes());
            h.update(b"\0");
            h.update(m.sequence_number.as_bytes());
            h.update(b"\0");
            h.update(&m.subsequence_number.to_be_bytes());
        }
        None => {
            h.update(b"firehose\0");
            h.update(record.record_id.as_bytes());
        }
    }
    EventId::from_hash(h.digest128())
}

/// At most [`LOG_EXCERPT_BYTES`] of a payload, as text.
pub(crate) fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(LOG_EXCERPT_BYTES)]);
    let cut = floor_char_boundary(&text, LOG_EXCERPT_BYTES);
    text[..cut].to_owned()
}

#[cfg(test)]
mod tests {
    use chat_pipeline::timestamp::Timestamp;

    use super::*;
    use crate::firehose::{EpochMillis, KinesisRecordMetadata};

    fn record(data: &[u8]) -> FirehoseRecord<'static> {
        FirehoseRecord {
            record_id: "r-1".into(),
            approximate_arrival_timestamp: EpochMillis(Timestamp::from_millis(1_702_375_201_000).unwrap()),
            data: STANDARD.encode_to_string(data).into(),
            kinesis_record_metadata: None,
            envelope_error: None,
        }
    }

    fn line(outcome: &Outcome) -> serde_json::Value {
        match outcome {
            Outcome::Ok(t) => {
                let bytes = &t.line;
                assert_eq!(bytes.last(), Some(&b'\n'));
                assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1, "exactly one line");
                serde_json::from_slice(bytes).unwrap()
            }
            other => panic!("expected Ok, got {other:?}"),
        }
    }

    #[test]
    fn reshapes_a_plain_event_and_derives_a_stable_id() {
        let r = record(br#"{"event_time": "2023-12-12T10:00:00.123456", "event_name": "JOIN", "user": 42}"#);
        let first = line(&BatchState::new().transform(&r, &Config::default()));
        let again = line(&BatchState::new().transform(&r, &Config::default()));
        assert_eq!(first, again, "reprocessing yields the same id");
        assert_eq!(first["event_type"], "join");
        assert_eq!(first["user_id"], 42);
        assert_eq!(first["occurred_at"], "2023-12-12T10:00:00.123Z");
        assert_eq!(first["event_date"], "2023-12-12");
        assert_eq!(first["received_at"], "2023-12-12T10:00:01.000Z");
        assert_eq!(first["source"], serde_json::Value::Null);
        assert_eq!(first["event_id"].as_str().unwrap().len(), 36);

        let mut other = r.clone();
        other.record_id = "r-2".into();
        let other = line(&BatchState::new().transform(&other, &Config::default()));
        assert_ne!(first["event_id"], other["event_id"]);
    }

    #[test]
    fn kinesis_ids_come_from_sequence_numbers() {
        let mut r = record(br#"{"event_time": 1702375200123, "event_name": "LEAVE", "user": 1}"#);
        let meta = KinesisRecordMetadata {
            shard_id: "shardId-000000000001".into(),
            partition_key: "1".into(),
            sequence_number: "49546986683135544286507457936321625675700192471156785154".into(),
            subsequence_number: 0,
            approximate_arrival_timestamp: None,
        };
        r.kinesis_record_metadata = Some(meta.clone());
        let a = derived_event_id(&r);
        r.record_id = "another-record-id".into();
        assert_eq!(
            derived_event_id(&r),
            a,
            "the record id does not matter for a Kinesis source"
        );
        let mut m2 = meta;
        m2.subsequence_number = 1;
        r.kinesis_record_metadata = Some(m2);
        assert_ne!(derived_event_id(&r), a);
        let out = line(&BatchState::new().transform(&r, &Config::default()));
        assert_eq!(out["source"]["shard_id"], "shardId-000000000001");
        assert_eq!(out["source"]["partition_key"], "1");
    }

    #[test]
    fn drops_filtered_types_and_duplicate_ids() {
        let mut config = Config::default();
        config.drop_event_types.insert(chat_pipeline::event::EventType::Leave);
        let mut state = BatchState::new();
        let leave = record(br#"{"event_id":"a","event_time":"2023-12-12T10:00:00Z","event_name":"LEAVE","user":1}"#);
        assert_eq!(state.transform(&leave, &config), Outcome::Dropped(DropReason::Filtered));
        let join = record(br#"{"event_id":"a","event_time":"2023-12-12T10:00:00Z","event_name":"JOIN","user":1}"#);
        assert!(matches!(state.transform(&join, &config), Outcome::Ok(_)));
        assert_eq!(state.transform(&join, &config), Outcome::Dropped(DropReason::Duplicate));
    }

    #[test]
    fn failures_are_classified() {
        let mut state = BatchState::new();
        let mut bad = record(b"{}");
        bad.data = "not base64!".into();
        assert_eq!(
            state.transform(&bad, &Config::default()).failure_code(),
            Some("invalid_base64")
        );
        let big = record(&vec![b' '; MAX_RECORD_BYTES + 1]);
        assert_eq!(
            state.transform(&big, &Config::default()).failure_code(),
            Some("too_large")
        );
        let huge = FirehoseRecord {
            data: "A".repeat(MAX_RECORD_BYTES * 2).into(),
            ..record(b"")
        };
        assert_eq!(
            state.transform(&huge, &Config::default()).failure_code(),
            Some("too_large")
        );
    }

    #[test]
    fn excerpt_is_bounded_and_text() {
        assert_eq!(excerpt(&[b'a'; 1000]).len(), LOG_EXCERPT_BYTES);
        assert_eq!(excerpt(&[0xff, b'x']), "\u{fffd}x");
        assert!(excerpt("é".repeat(200).as_bytes()).len() <= LOG_EXCERPT_BYTES);
    }

    impl Outcome {
        fn failure_code(&self) -> Option<&'static str> {
            match self {
                Outcome::Failed(f) => Some(f.code()),
                _ => None,
            }
        }
    }
}
