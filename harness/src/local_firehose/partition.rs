//! Phase 4, partition: each answer routed as Firehose routes it. `Ok` data
//! goes to the object of its prefix (`Prefix` with the record's
//! `partitionKeyFromLambda` keys filled in); an `Ok` answer without a key the
//! prefix needs cannot be partitioned and goes under the error prefix as
//! `partitioning-failed` (Firehose, "Dynamic partitioning error handling");
//! `ProcessingFailed` goes there as `processing-failed`; `Dropped` nowhere.

use std::collections::{BTreeMap, HashMap};

use aws_lambda_events::event::firehose::KinesisFirehoseResponseRecord;
use chat_pipeline::timestamp::Timestamp;

use super::read::StreamRecord;

/// A record for the error prefix, with Firehose's error code and message.
pub(super) struct Failed<'a> {
    pub(super) record: &'a StreamRecord,
    pub(super) code: &'static str,
    pub(super) message: &'static str,
}

/// One batch's answers, routed.
#[derive(Default)]
pub(super) struct Routed<'a> {
    /// The `Ok` data of each rendered prefix, concatenated as Firehose writes it.
    pub(super) objects: BTreeMap<String, Vec<u8>>,
    /// `Ok` records per rendered prefix.
    pub(super) counts: BTreeMap<String, usize>,
    pub(super) ok: usize,
    pub(super) dropped: Vec<&'a StreamRecord>,
    pub(super) processing_failed: Vec<Failed<'a>>,
    pub(super) partitioning_failed: Vec<Failed<'a>>,
}

/// Routes each record of `batch` by its answer (the contract is checked:
/// one answer per record, in order).
pub(super) fn route<'a>(
    prefix: &str,
    batch: &'a [StreamRecord],
    answers: Vec<KinesisFirehoseResponseRecord>,
) -> Routed<'a> {
    let keys_needed = crate::template::lambda_partition_keys(prefix);
    let mut routed = Routed::default();
    for (record, answer) in batch.iter().zip(answers) {
        match answer.result.as_deref() {
            Some("Ok") => {
                let keys = &answer.metadata.partition_keys;
                if keys_needed.iter().any(|k| !keys.contains_key(k)) {
                    routed.partitioning_failed.push(Failed {
                        record,
                        code: "DynamicPartitioning.MetadataExtractionFailed",
                        message: "A partition key the prefix needs is missing from the record's metadata.",
                    });
                    continue;
                }
                let rendered = render(prefix, keys, None, record.arrival);
                routed.ok += 1;
                *routed.counts.entry(rendered.clone()).or_default() += 1;
                routed
                    .objects
                    .entry(rendered)
                    .or_default()
                    .extend_from_slice(&answer.data.0);
            }
            Some("Dropped") => routed.dropped.push(record),
            _ => routed.processing_failed.push(Failed {
                record,
                code: "Lambda.ProcessingFailedStatus",
                message: "ProcessingFailed status set for record",
            }),
        }
    }
    routed
}

/// Fills in a Firehose prefix: `!{partitionKeyFromLambda:k}`,
/// `!{firehose:error-output-type}` and `!{timestamp:yyyy}` (Java-style
/// `yyyy`, `MM`, `dd`, `HH`, `mm`, `ss`).
pub fn render(template: &str, keys: &HashMap<String, String>, error_type: Option<&str>, time: Timestamp) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let expr = &rest[start + 2..start + end];
        let c = time.civil();
        let value = match expr.split_once(':') {
            Some(("partitionKeyFromLambda", k)) => keys.get(k).cloned().unwrap_or_default(),
            Some(("firehose", "error-output-type")) => error_type.unwrap_or("").to_owned(),
            Some(("timestamp", format)) => format
                .replace("yyyy", &format!("{:04}", c.year))
                .replace("MM", &format!("{:02}", c.month))
                .replace("dd", &format!("{:02}", c.day))
                .replace("HH", &format!("{:02}", c.hour))
                .replace("mm", &format!("{:02}", c.minute))
                .replace("ss", &format!("{:02}", c.second)),
            _ => String::new(),
        };
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_template_prefixes() {
        let t = Timestamp::parse_iso8601("2026-11-21T09:05:00Z").unwrap();
        let keys: HashMap<String, String> = [("event_type", "join"), ("dt", "2026-11-21")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            render(
                "events/event_type=!{partitionKeyFromLambda:event_type}/dt=!{partitionKeyFromLambda:dt}/",
                &keys,
                None,
                t
            ),
            "events/event_type=join/dt=2026-11-21/"
        );
        assert_eq!(
            render(
                "errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/",
                &HashMap::new(),
                Some("processing-failed"),
                t
            ),
            "errors/processing-failed/dt=2026-11-21/hour=09/"
        );
    }
}
