//! Phase 2 of an invocation: fit the answers into the response budget.
//! Each record's answer is measured twice, in full and compact (no data),
//! with its record id escaped once; the longest prefix of full answers that
//! fits, the rest compact, is what the response can hold. Records past it
//! that were `Ok` are re-ingested ([`crate::reingest`]); the rest are
//! answered without data. The sizes are exact: the property tests compare
//! them with the written response byte for byte.

use crate::firehose::response::{base64_len, entry_len_with_id_len, response_len};
use crate::firehose::{FirehoseRecord, RecordResult, ResponseMetadata, json_escaped_len};
use crate::record::Outcome;

/// How the answers fit: each record's sizes, and how many get their full
/// answer.
#[derive(Clone, Debug)]
pub(crate) struct Fit {
    pub(crate) sizes: Vec<EntrySizes>,
    /// Records `..full` are answered in full, the rest compact.
    pub(crate) full: usize,
}

/// Measures every answer and finds the longest prefix of full answers that
/// fits in `budget` bytes.
pub(crate) fn fit(records: &[FirehoseRecord<'_>], outcomes: &[Outcome], budget: usize) -> Fit {
    let sizes: Vec<EntrySizes> = records.iter().zip(outcomes).map(|(r, o)| entry_sizes(r, o)).collect();
    let full = fitting_prefix(&sizes, budget);
    Fit { sizes, full }
}

/// Serialized sizes of one record's answer: in full, and compact (no data);
/// and of its record id, escaped, which the answer keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntrySizes {
    pub(crate) full: usize,
    pub(crate) compact: usize,
    pub(crate) id_len: usize,
    /// A failed record's full answer echoes its data
    /// ([`crate::record::RecordFailure::echoes`]); decided once, here, for the size and
    /// the answer alike.
    pub(crate) echo: bool,
}

/// The largest `k` such that full answers for records `..k` and compact
/// answers for `k..` fit in `budget` bytes.
pub(crate) fn fitting_prefix(sizes: &[EntrySizes], budget: usize) -> usize {
    let mut total = response_len(sizes.iter().map(|s| s.compact));
    for (i, s) in sizes.iter().enumerate() {
        let grown = total - s.compact + s.full;
        if grown > budget {
            return i;
        }
        total = grown;
    }
    sizes.len()
}

/// The sizes of `record`'s answer, in full and compact, and of its id.
pub(crate) fn entry_sizes(record: &FirehoseRecord<'_>, outcome: &Outcome) -> EntrySizes {
    // The id is the only part whose length depends on escaping: measure it once.
    let id_len = json_escaped_len(&record.record_id);
    let compact = entry_len_with_id_len(id_len, RecordResult::ProcessingFailed, 0, &ResponseMetadata::NONE);
    let echo = matches!(outcome, Outcome::Failed(failure) if failure.echoes(&record.data));
    let full = match outcome {
        Outcome::Ok(t) => entry_len_with_id_len(
            id_len,
            RecordResult::Ok,
            base64_len(t.line.len()),
            &ResponseMetadata::keys(t.keys),
        ),
        Outcome::Dropped(_) => entry_len_with_id_len(id_len, RecordResult::Dropped, 0, &ResponseMetadata::NONE),
        Outcome::Failed(_) if echo => entry_len_with_id_len(
            id_len,
            RecordResult::ProcessingFailed,
            record.data.len(),
            &ResponseMetadata::NONE,
        ),
        Outcome::Failed(_) => compact,
    };
    EntrySizes {
        full,
        compact,
        id_len,
        echo,
    }
}
