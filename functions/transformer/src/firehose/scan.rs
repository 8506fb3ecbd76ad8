//! The request as Firehose writes it, read without serde: the first step of
//! [`parse_event`](super::parse_event).
//!
//! It reads the body as the runtime received it (checked to be UTF-8, not
//! yet to be JSON), so what it accepts must be valid JSON:
//! [`parse_request`](super::parse_request) skips serde_json's
//! validating pass for it. Every construct is read and checked by
//! [`chat_pipeline::json::Cursor`]: a string ends at the next `"` unless a
//! `\` comes first, found with `memchr2` at many bytes per cycle (base64
//! payloads, record ids, shard ids and sequence numbers never contain
//! either), and holds no control character; integers, separators and
//! brackets are checked one by one, and nothing may follow the event but
//! whitespace. Profiled on the 6 MB batches,
//! serde's generic parse of the same body cost two to three times as much.
//!
//! Only the usual shape is read here: the known keys in any order, strings
//! without escapes, integer timestamps and subsequence numbers in range.
//! Anything else (an unknown key, an escape, a number written as a string,
//! a missing field, a duplicate) gives `None`, and the body is parsed by the
//! lenient serde path, which also words the errors. Both must produce the
//! same event: `tests/integration/fast_path_matches_serde.rs` checks it.

use std::borrow::Cow;

use chat_pipeline::json::Cursor;
use chat_pipeline::timestamp::Timestamp;

use super::{EpochMillis, FirehoseRecord, KinesisRecordMetadata, TransformationEvent};

/// `body` as a transformation event, when it has the usual shape.
pub(crate) fn scan(body: &str) -> Option<TransformationEvent<'_>> {
    let mut s = Scanner {
        c: Cursor::new(body),
        len: body.len(),
    };
    let event = s.event()?;
    s.c.at_end().then_some(event)
}

/// The envelope's shape over a [`Cursor`], which reads and checks each JSON
/// construct (shared with the event reader, `chat_pipeline::input`).
struct Scanner<'a> {
    c: Cursor<'a>,
    len: usize,
}

impl<'a> Scanner<'a> {
    fn string(&mut self) -> Option<&'a str> {
        self.c.string()
    }

    fn millis(&mut self) -> Option<EpochMillis> {
        let ms = i64::try_from(self.c.unsigned()?).ok()?;
        Timestamp::from_millis(ms).ok().map(EpochMillis)
    }

    /// Reads an object's members, handing each key to `member`, which reads
    /// the value (or gives up).
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.c.expect(b'{')?;
        if self.c.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.c.string()?;
            self.c.expect(b':')?;
            member(self, key)?;
            if self.c.eat(b'}') {
                return Some(());
            }
            self.c.expect(b',')?;
        }
    }

    fn event(&mut self) -> Option<TransformationEvent<'a>> {
        let mut invocation_id = None;
        let mut delivery_stream_arn = None;
        let mut source = None;
        let mut region = None;
        let mut records = None;
        self.object(|s, key| match key {
            "invocationId" => set(&mut invocation_id, s.string()?),
            "deliveryStreamArn" => set(&mut delivery_stream_arn, s.string()?),
            "sourceKinesisStreamArn" => set(&mut source, s.string()?),
            "region" => set(&mut region, s.string()?),
            "records" => {
                let r = s.records()?;
                set(&mut records, r)
            }
            _ => None,
        })?;
        Some(TransformationEvent {
            invocation_id: Cow::Borrowed(invocation_id.unwrap_or_default()),
            delivery_stream_arn: Cow::Borrowed(delivery_stream_arn?),
            source_kinesis_stream_arn: source.map(str::to_owned),
            region: Cow::Borrowed(region.unwrap_or_default()),
            records: records?,
        })
    }

    fn records(&mut self) -> Option<Vec<FirehoseRecord<'a>>> {
        self.c.expect(b'[')?;
        // About 400 bytes a record (producer events, Direct PUT): one
        // allocation for most batches instead of a doubling series.
        let mut records = Vec::with_capacity((self.len - self.c.position()) / 400);
        if self.c.eat(b']') {
            return Some(records);
        }
        loop {
            records.push(self.record()?);
            if self.c.eat(b']') {
                return Some(records);
            }
            self.c.expect(b',')?;
        }
    }

    fn record(&mut self) -> Option<FirehoseRecord<'a>> {
        let mut record_id = None;
        let mut arrival = None;
        let mut data = None;
        let mut metadata = None;
        self.object(|s, key| match key {
            "recordId" => set(&mut record_id, s.string()?),
            "approximateArrivalTimestamp" => set(&mut arrival, s.millis()?),
            "data" => set(&mut data, s.string()?),
            "kinesisRecordMetadata" => {
                let m = s.metadata()?;
                set(&mut metadata, m)
            }
            _ => None,
        })?;
        Some(FirehoseRecord {
            record_id: Cow::Borrowed(record_id?),
            approximate_arrival_timestamp: arrival?,
            data: Cow::Borrowed(data?),
            kinesis_record_metadata: metadata,
            envelope_error: None,
        })
    }

    fn metadata(&mut self) -> Option<KinesisRecordMetadata<'a>> {
        let mut shard_id = None;
        let mut partition_key = None;
        let mut sequence_number = None;
        let mut subsequence_number = None;
        let mut arrival = None;
        self.object(|s, key| match key {
            "shardId" => set(&mut shard_id, s.string()?),
            "partitionKey" => set(&mut partition_key, s.string()?),
            "sequenceNumber" => set(&mut sequence_number, s.string()?),
            "subsequenceNumber" => set(&mut subsequence_number, s.c.unsigned()?),
            "approximateArrivalTimestamp" => set(&mut arrival, s.millis()?),
            _ => None,
        })?;
        Some(KinesisRecordMetadata {
            shard_id: Cow::Borrowed(shard_id?),
            partition_key: Cow::Borrowed(partition_key?),
            sequence_number: Cow::Borrowed(sequence_number?),
            subsequence_number: subsequence_number.unwrap_or(0),
            approximate_arrival_timestamp: arrival,
        })
    }
}

/// Stores a member's value; a key seen twice gives up (serde decides).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(body: &str) -> TransformationEvent<'_> {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn reads_the_usual_shape_as_serde_does() {
        let body = r#" {"invocationId":"i-1","deliveryStreamArn":"arn:aws:firehose:us-east-1:1:deliverystream/d",
            "sourceKinesisStreamArn":"arn:aws:kinesis:us-east-1:1:stream/s","region":"us-east-1","records":[
            {"recordId":"4954","approximateArrivalTimestamp":1795305600000,"data":"e30=",
             "kinesisRecordMetadata":{"shardId":"shardId-000000000000","partitionKey":"7",
               "approximateArrivalTimestamp":1795305600001,"sequenceNumber":"4954","subsequenceNumber":3}},
            { "data" : "" , "recordId" : "2", "approximateArrivalTimestamp" : 0 }
            ] } "#;
        assert_eq!(scan(body), Some(serde(body)));
        let empty = r#"{"deliveryStreamArn":"a","records":[]}"#;
        assert_eq!(scan(empty), Some(serde(empty)));
    }

    #[test]
    fn leaves_everything_else_to_serde() {
        for body in [
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1,"data":"","extra":1}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"\u0031","approximateArrivalTimestamp":1,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1.5,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1e3,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":-1,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":"2026-11-22T00:00:00Z","data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":99999999999999999999,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","recordId":"2","approximateArrivalTimestamp":1,"data":""}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1,"data":"","kinesisRecordMetadata":{"shardId":"s","partitionKey":"k","sequenceNumber":"1","subsequenceNumber":""}}]}"#,
            r#"{"deliveryStreamArn":"a","records":[{"recordId":"1","approximateArrivalTimestamp":1,"data":"","kinesisRecordMetadata":null}]}"#,
            r#"{"records":[]}"#,
            r#"{"deliveryStreamArn":"a","records":[]} x"#,
            "{\"deliveryStreamArn\":\"a\",\"records\":[{\"recordId\":\"1\t\",\"approximateArrivalTimestamp\":1,\"data\":\"\"}]}",
            "{\"deliveryStreamArn\":\"a\u{1f}\",\"records\":[]}",
            r#"[]"#,
        ] {
            assert_eq!(scan(body), None, "{body}");
        }
    }
}
