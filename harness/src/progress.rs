//! Progress lines for the local tools' long steps (the demo's Firehose
//! stand-in and its read-back of the lake): at most one line per interval,
//! so a big run shows it is moving and a small one stays as quiet as before.

use std::time::{Duration, Instant};

/// How often a long step says how far it has got.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// Says when the next progress line is due: `interval` after the start,
/// then `interval` after each line printed.
#[derive(Debug)]
pub struct Every {
    interval: Duration,
    last: Instant,
}

impl Every {
    /// Counting from now.
    pub fn new(interval: Duration) -> Self {
        Every::starting_at(interval, Instant::now())
    }

    pub fn starting_at(interval: Duration, start: Instant) -> Self {
        Every { interval, last: start }
    }

    /// Whether a line is due now; if so, the next one is an interval away.
    pub fn due(&mut self) -> bool {
        self.due_at(Instant::now())
    }

    pub fn due_at(&mut self, now: Instant) -> bool {
        if now.duration_since(self.last) < self.interval {
            return false;
        }
        self.last = now;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_due_once_per_interval_and_never_before_the_first() {
        let start = Instant::now();
        let mut every = Every::starting_at(Duration::from_secs(5), start);
        let at = |s: u64| start + Duration::from_millis(s);
        assert!(!every.due_at(at(0)));
        assert!(!every.due_at(at(4_999)));
        assert!(every.due_at(at(5_000)));
        assert!(!every.due_at(at(9_999)));
        assert!(every.due_at(at(10_000)));
        assert!(every.due_at(at(30_000)));
        assert!(!every.due_at(at(30_001)));
    }
}
