//! Every event accounted for: the count at each stage of a local run, from
//! the producer to the lake, and the check that they reconcile.
//!
//! Where it sits: `make demo` fills a [`Ledger`] as it goes (the producer's
//! answers, the records put straight into the stream, the Firehose
//! stand-in's statistics, what is read back from S3), prints
//! [`Ledger::reconcile`]'s table, and stops with a non-zero exit naming the
//! stage when a difference is left that no stage explains. The ledger is then
//! written beside the lake (`<lake>/_demo/ledger.json`) for the last stage,
//! the curated table, which `chat_tools.lake` reconcile` checks.
//!
//! The stages and what explains a difference between them:
//!
//! | stage | must equal |
//! | --- | --- |
//! | accepted by the stream (events) | produced (the producer fails a tick it could not deliver) |
//! | accepted by the stream (records: packed, many events each) | what the producer says it sent |
//! | read by the Firehose stand-in (records) | accepted records + records put straight into the stream |
//! | split into events (de-aggregation) | accepted events + records put straight in (one event each) |
//! | answered (Ok + Dropped + ProcessingFailed + in failed invocations) | split |
//! | Dropped | Dropped records whose event landed `Ok` (copies) |
//! | lines landed under `events/` | Ok |
//! | error records under `errors/` | ProcessingFailed + in failed invocations |
//! | produced events | landed + waiting under `errors/` (for `make replay`) |

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The counts of one run, stage by stage, in the order events flow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Events the producer generated (its answers' `generated`).
    pub produced: u64,
    /// Events the stream accepted (the producer's answers' `delivered`).
    pub accepted: u64,
    /// The records they went in (the producer's answers'
    /// `delivered_records`): fewer than the events when packed.
    pub accepted_records: u64,
    /// The bytes of those records (the producer's answers' `bytes`): with
    /// the records, what the stream and Firehose bill (`make cost`).
    #[serde(default)]
    pub accepted_bytes: u64,
    /// Records put straight into the stream, bypassing the producer (the
    /// demo's malformed records).
    pub put_directly: u64,
    /// Records the Firehose stand-in read from the stream.
    pub read: u64,
    /// Transformer invocations, retries included (`make cost`).
    #[serde(default)]
    pub invocations: u64,
    /// What de-aggregation split them into: the records the transformer
    /// was given, one event each.
    pub split: u64,
    /// Answered `Ok`.
    pub ok: u64,
    /// Answered `Dropped`.
    pub dropped: u64,
    /// Dropped records whose event landed `Ok` (a copy: a retried tick, a
    /// resent record, a re-ingested one).
    pub dropped_copies: u64,
    /// Answered `ProcessingFailed`, or `Ok` without the partition keys the
    /// prefix needs.
    pub failed: u64,
    /// In a batch whose invocation failed every attempt: Firehose writes the
    /// whole batch under the error prefix.
    pub in_failed_invocations: u64,
    /// Lines read back from the objects under `events/`.
    pub lines_landed: u64,
    /// Error records read back from the objects under `errors/`.
    pub error_records: u64,
    /// The produced events' ids (the producer is deterministic, so the demo
    /// knows them): the curated stage checks each is there once.
    pub produced_ids: Vec<String>,
    /// Produced events that landed `Ok` under `events/`.
    pub produced_landed: u64,
    /// Produced events that did not land but are in an error record, waiting
    /// for a replay.
    pub produced_in_errors: u64,
}

/// A difference that no stage explains.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{stage}: expected {expected}, found {found}: {why}")]
pub struct Gap {
    /// The stage where the count breaks.
    pub stage: &'static str,
    pub expected: u64,
    pub found: u64,
    pub why: String,
}

/// One row of the reconciliation table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub stage: &'static str,
    pub count: u64,
    /// What the count is checked against, or where the events are.
    pub check: String,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<44} {:>8}  {}", self.stage, self.count, self.check)
    }
}

impl Ledger {
    /// Counts, for the produced events, how many landed and how many wait
    /// under `errors/`, from the event ids found in each place.
    pub fn locate_produced(&mut self, landed: &HashSet<String>, in_errors: &HashSet<String>) {
        self.produced_landed = self.produced_ids.iter().filter(|id| landed.contains(*id)).count() as u64;
        self.produced_in_errors = self
            .produced_ids
            .iter()
            .filter(|id| !landed.contains(*id) && in_errors.contains(*id))
            .count() as u64;
    }

    /// The table of stages, each checked against the one before; the first
    /// difference no stage explains is the error.
    pub fn reconcile(&self) -> Result<Vec<Row>, Gap> {
        let mut rows = Vec::new();
        let mut check = |stage: &'static str, count: u64, expected: u64, against: String, why: &str| {
            if count != expected {
                return Err(Gap {
                    stage,
                    expected,
                    found: count,
                    why: why.to_owned(),
                });
            }
            rows.push(Row {
                stage,
                count,
                check: against,
            });
            Ok(())
        };
        check("produced", self.produced, self.produced, String::new(), "")?;
        check(
            "accepted by the stream (events)",
            self.accepted,
            self.produced,
            "= produced".to_owned(),
            "the producer reported events it did not deliver",
        )?;
        check(
            "put straight into the stream (malformed)",
            self.put_directly,
            self.put_directly,
            String::new(),
            "",
        )?;
        check(
            "accepted by the stream (records)",
            self.accepted_records,
            self.accepted_records,
            format!(
                "{:.1} events a record",
                self.accepted as f64 / self.accepted_records.max(1) as f64
            ),
            "",
        )?;
        check(
            "read by the Firehose stand-in (records)",
            self.read,
            self.accepted_records + self.put_directly,
            "= accepted records + put straight in".to_owned(),
            "the stream does not hold what it acknowledged (the emulator lost or added records)",
        )?;
        check(
            "split into events (de-aggregation)",
            self.split,
            self.accepted + self.put_directly,
            "= accepted events + put straight in".to_owned(),
            "de-aggregation did not give back the events packed in the records",
        )?;
        let answered = self.ok + self.dropped + self.failed + self.in_failed_invocations;
        check(
            "answered by the transformer",
            answered,
            self.split,
            format!(
                "= split: {} Ok, {} Dropped, {} ProcessingFailed, {} in failed invocations",
                self.ok, self.dropped, self.failed, self.in_failed_invocations
            ),
            "records read that the stand-in never answered nor failed",
        )?;
        check(
            "Dropped as copies of a landed event",
            self.dropped_copies,
            self.dropped,
            "= Dropped".to_owned(),
            "the transformer dropped records whose event never landed",
        )?;
        check(
            "lines landed under events/",
            self.lines_landed,
            self.ok,
            "= Ok".to_owned(),
            "S3 does not hold every record answered Ok",
        )?;
        check(
            "error records under errors/",
            self.error_records,
            self.failed + self.in_failed_invocations,
            "= ProcessingFailed + in failed invocations".to_owned(),
            "S3 does not hold every failed record",
        )?;
        check(
            "produced events, located",
            self.produced_landed + self.produced_in_errors,
            self.produced_ids.len() as u64,
            format!(
                "{} landed, {} waiting under errors/ for `make replay`",
                self.produced_landed, self.produced_in_errors
            ),
            "produced events are neither under events/ nor under errors/",
        )?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run where every stage agrees: 1,000 produced, 3 malformed, 10
    /// copies dropped, one invocation of 100 records failed.
    fn balanced() -> Ledger {
        let ids: Vec<String> = (0..1_000).map(|i| format!("id-{i}")).collect();
        let mut ledger = Ledger {
            produced: 1_000,
            accepted: 1_000,
            accepted_records: 10,
            put_directly: 3,
            read: 13,
            split: 1_003,
            ok: 890,
            dropped: 10,
            dropped_copies: 10,
            failed: 3,
            in_failed_invocations: 100,
            lines_landed: 890,
            error_records: 103,
            produced_ids: ids.clone(),
            ..Ledger::default()
        };
        let landed: HashSet<String> = ids[..900].iter().cloned().collect();
        let in_errors: HashSet<String> = ids[890..].iter().cloned().collect();
        ledger.locate_produced(&landed, &in_errors);
        ledger
    }

    #[test]
    fn a_balanced_run_reconciles_and_says_where_every_event_is() {
        let rows = balanced().reconcile().unwrap();
        let located = rows.last().unwrap();
        assert_eq!(located.count, 1_000);
        assert_eq!(located.check, "900 landed, 100 waiting under errors/ for `make replay`");
    }

    #[test]
    fn an_injected_unexplained_gap_names_its_stage() {
        type Injection = fn(&mut Ledger);
        let cases: [(&str, Injection); 8] = [
            ("accepted by the stream (events)", |l| l.accepted -= 1),
            ("read by the Firehose stand-in (records)", |l| l.read -= 2),
            ("split into events (de-aggregation)", |l| l.split -= 92),
            ("answered by the transformer", |l| l.ok -= 1),
            ("Dropped as copies of a landed event", |l| l.dropped_copies -= 1),
            ("lines landed under events/", |l| l.lines_landed -= 1),
            ("error records under errors/", |l| l.error_records += 1),
            ("produced events, located", |l| l.produced_in_errors -= 5),
        ];
        for (stage, inject) in cases {
            let mut ledger = balanced();
            inject(&mut ledger);
            let gap = ledger.reconcile().unwrap_err();
            assert_eq!(gap.stage, stage, "{gap}");
            assert_ne!(gap.expected, gap.found);
        }
    }

    #[test]
    fn the_issues_lost_records_are_a_gap_at_the_stream() {
        // make demo TICKS=10 EVENTS=2000 on moto without the lock: 20,000
        // accepted, 19,908 + 3 read.
        let mut ledger = Ledger {
            produced: 20_000,
            accepted: 20_000,
            accepted_records: 20_000,
            put_directly: 3,
            read: 19_911,
            split: 19_911,
            ..Ledger::default()
        };
        ledger.ok = 19_908;
        ledger.failed = 3;
        let gap = ledger.reconcile().unwrap_err();
        assert_eq!(
            (gap.stage, gap.expected, gap.found),
            ("read by the Firehose stand-in (records)", 20_003, 19_911)
        );
    }
}
