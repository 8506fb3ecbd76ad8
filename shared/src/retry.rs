//! Retry timing: exponential backoff with full jitter (a uniformly random
//! delay between zero and an exponentially growing cap), bounded by a number of
//! attempts. [`crate::delivery`] adds the deadline and resends only what failed.

use std::time::Duration;

use rand::RngExt;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per record, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff cap before the first retry; it doubles with each retry.
    pub base_delay: Duration,
    /// The backoff cap never exceeds this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay before attempt `next_attempt` (2, 3, ...).
    pub(crate) fn backoff_cap(&self, next_attempt: u32) -> Duration {
        let exponent = next_attempt.saturating_sub(2).min(20);
        self.base_delay.saturating_mul(1 << exponent).min(self.max_delay)
    }

    /// A full-jitter delay before attempt `next_attempt`: uniform in
    /// `[0, backoff_cap(next_attempt)]`.
    pub fn backoff(&self, next_attempt: u32, rng: &mut impl rand::Rng) -> Duration {
        let cap = self.backoff_cap(next_attempt).as_micros() as u64;
        Duration::from_micros(rng.random_range(0..=cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_doubles_and_saturates() {
        let p = RetryPolicy::default();
        let caps: Vec<_> = (2..=9).map(|a| p.backoff_cap(a).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(5));
    }

    #[test]
    fn jitter_stays_within_the_cap_and_varies() {
        let p = RetryPolicy::default();
        let mut rng = rand::rng();
        let delays: Vec<_> = (0..200).map(|_| p.backoff(4, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(400)));
        assert!(delays.iter().any(|d| *d != delays[0]), "full jitter should vary");
    }
}
