//! A sustained load through the local pipeline (`make load`): events at a
//! rate, paced evenly in slots of a tenth of a second rather than in one
//! burst, packed and delivered as the producer delivers them, while the
//! Firehose stand-in drains the stream; then what landed, when, and whether
//! every event is there once.
//!
//! Where it sits: beside the demo (`src/bin/load.rs` is its glue). The
//! pieces here are plain functions the tests call: the pacing plan, the
//! sender, the latencies of what landed and their percentiles.

use std::collections::HashMap;
use std::time::Duration;

use chat_pipeline::delivery::{DeliveryOptions, deliver};
use chat_pipeline::sink::RecordSink;
use chat_pipeline::timestamp::Timestamp;
use producer::generator::{Plan, generate};
use tokio::time::Instant;

use crate::lake::{Object, lines};

/// One slot of the pacing: its events are generated with times in the
/// slot and sent when it starts.
pub const SLOT: Duration = Duration::from_millis(100);

/// How many events each slot of `seconds` at `rate` events/s sends: the
/// total spread evenly (the remainder one by one over the first slots), and
/// never a slot of one event (a session is at least two: such a slot's
/// event goes to the next).
pub fn slots(rate: u64, seconds: u64) -> Vec<usize> {
    let count = (seconds * 1000 / SLOT.as_millis() as u64).max(1) as usize;
    let total = (rate * seconds) as usize;
    let (base, extra) = (total / count, total % count);
    let mut out: Vec<usize> = (0..count).map(|i| base + usize::from(i < extra)).collect();
    for i in 0..out.len() {
        if out[i] == 1 {
            out[i] = 0;
            match out.get_mut(i + 1) {
                Some(next) => *next += 1,
                None => {
                    if let Some(previous) = out[..i].iter_mut().rev().find(|n| **n > 0) {
                        *previous += 1;
                    }
                }
            }
        }
    }
    out
}

/// What the sender did.
#[derive(Clone, Debug, Default)]
pub struct Sent {
    pub events: usize,
    pub records: usize,
    pub bytes: usize,
    pub ids: Vec<String>,
    /// Events in records not accepted after the delivery's retries.
    pub undelivered: usize,
    /// From the first slot's start to the last slot's delivery.
    pub elapsed: Duration,
    /// Slots that started late because the one before was still sending.
    pub late_slots: usize,
}

/// Sends `plan`'s slots through `sink`, packed when `pack` (as the producer
/// packs), each when its slot starts; `progress` is told the events sent
/// so far after each slot.
pub async fn send_paced<S: RecordSink>(
    sink: &S,
    plan: &[usize],
    users: u64,
    pack: bool,
    options: &DeliveryOptions,
    progress: impl Fn(usize),
) -> Result<Sent, producer::handler::ProducerError> {
    let started = Instant::now();
    let mut sent = Sent::default();
    for (slot, &n) in plan.iter().enumerate() {
        let at = started + SLOT * slot as u32;
        if Instant::now() > at + SLOT {
            sent.late_slots += 1;
        }
        tokio::time::sleep_until(at).await;
        if n == 0 {
            continue;
        }
        let end = Timestamp::now();
        let start = Timestamp::from_millis(end.millis() - SLOT.as_millis() as i64).unwrap_or(end);
        let events = generate(&Plan {
            seed: 0x10ad_0000 + slot as u64,
            window_start: start,
            window_end: end,
            events: n,
            users,
        });
        sent.ids.extend(events.iter().map(|e| e.event_id.to_string()));
        let (records, events_in) = producer::handler::pack_records(producer::handler::to_records(&events)?, pack);
        let report = deliver(sink, &records, options).await;
        sent.events += events.len();
        sent.records += records.len();
        sent.bytes += records.iter().map(|r| r.data.len()).sum::<usize>();
        sent.undelivered += report.undelivered.iter().map(|u| events_in[u.index]).sum::<usize>();
        progress(sent.events);
    }
    sent.elapsed = started.elapsed();
    Ok(sent)
}

/// Percentiles of a set of latencies, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: i64,
    pub p90: i64,
    pub p99: i64,
    pub max: i64,
}

/// The nearest-rank percentiles of `values` (none: zeros).
pub fn percentiles(mut values: Vec<i64>) -> Percentiles {
    values.sort_unstable();
    let at = |q: f64| -> i64 {
        if values.is_empty() {
            return 0;
        }
        let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    };
    Percentiles {
        count: values.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: values.last().copied().unwrap_or(0),
    }
}

/// For each event landed in `objects` (the lines of objects under
/// `events/`): the milliseconds from its event time to its object's write
/// (`landed_at`, by key). Keys are matched on their tail: the copy in a
/// local lake is keyed as in the bucket.
pub fn latencies(objects: &[Object], landed_at: &[(String, Timestamp)]) -> Vec<i64> {
    let written: HashMap<&str, Timestamp> = landed_at.iter().map(|(k, t)| (k.as_str(), *t)).collect();
    let mut out = Vec::new();
    for object in objects {
        let Some(at) = written.get(object.key.as_str()) else {
            continue;
        };
        for line in lines(object) {
            #[derive(serde::Deserialize)]
            struct Line<'a> {
                #[serde(borrow)]
                occurred_at: std::borrow::Cow<'a, str>,
            }
            if let Ok(l) = serde_json::from_slice::<Line<'_>>(line)
                && let Ok(t) = Timestamp::parse_iso8601(&l.occurred_at)
            {
                out.push(at.millis() - t.millis());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_spread_evenly_over_tenths_of_a_second() {
        let plan = slots(2_000, 60);
        assert_eq!(plan.len(), 600);
        assert!(plan.iter().all(|&n| n == 200));
        assert_eq!(plan.iter().sum::<usize>(), 120_000);
        let odd = slots(25, 1);
        assert_eq!(odd.iter().sum::<usize>(), 25);
        assert_eq!(odd, [3, 3, 3, 3, 3, 2, 2, 2, 2, 2]);
        // No slot of a single event: it goes to the next (or the last
        // non-empty one).
        let sparse = slots(11, 1);
        assert_eq!(sparse.iter().sum::<usize>(), 11);
        assert!(sparse.iter().all(|&n| n != 1), "{sparse:?}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let p = percentiles((1..=100).collect());
        assert_eq!((p.count, p.p50, p.p90, p.p99, p.max), (100, 50, 90, 99, 100));
        assert_eq!(percentiles(Vec::new()).count, 0);
    }

    #[test]
    fn latency_is_event_time_to_the_objects_write() {
        let object = Object {
            key: "events/event_type=join/dt=2026-12-07/a.gz".to_owned(),
            bytes: br#"{"event_id":"e","occurred_at":"2026-12-07T10:00:00.000Z"}
{"event_id":"f","occurred_at":"2026-12-07T10:00:01.500Z"}
"#
            .to_vec(),
        };
        let written = Timestamp::parse_iso8601("2026-12-07T10:00:03.000Z").unwrap();
        let l = latencies(
            &[object],
            &[("events/event_type=join/dt=2026-12-07/a.gz".to_owned(), written)],
        );
        assert_eq!(l, [3_000, 1_500]);
    }
}
