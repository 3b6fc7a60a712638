//! When to reconcile again: exponential backoff after failures, and the
//! jittered interval after success.

use std::time::Duration;

/// Exponential backoff as Flux configures it: 750 ms doubling to 15 min.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub min: Duration,
    /// Ceiling of the delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            min: Duration::from_millis(750),
            max: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 for the first).
    #[must_use]
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        self.min.saturating_mul(1u32 << exponent).min(self.max)
    }
}

/// `interval` spread by up to ±`fraction` (Flux's `--interval-jitter-percentage`
/// is 5 %), so objects created together do not reconcile in lockstep. `seed`
/// (a hash of the object's identity and time) picks the point in the range.
#[must_use]
pub fn jittered(interval: Duration, fraction: f64, seed: u64) -> Duration {
    if interval.is_zero() || fraction <= 0.0 {
        return interval;
    }
    // Map the seed to [-1, 1] without floating-point randomness.
    #[expect(
        clippy::cast_precision_loss,
        reason = "a jitter factor needs no 64-bit precision"
    )]
    let unit = (seed % 2001) as f64 / 1000.0 - 1.0;
    interval.mul_f64((1.0 + unit * fraction.min(1.0)).max(0.0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Backoff, jittered};

    #[test]
    fn backoff_doubles_from_750ms_and_stops_at_15_minutes() {
        let b = Backoff::default();
        assert_eq!(b.delay(1), Duration::from_millis(750));
        assert_eq!(b.delay(2), Duration::from_millis(1500));
        assert_eq!(b.delay(5), Duration::from_secs(12));
        assert_eq!(b.delay(11), Duration::from_secs(768));
        assert_eq!(b.delay(12), Duration::from_secs(900));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(900));
    }

    #[test]
    fn jitter_stays_within_the_fraction_and_varies_with_the_seed() {
        let interval = Duration::from_secs(600);
        let values: Vec<Duration> = (0..3000)
            .map(|seed| jittered(interval, 0.05, seed))
            .collect();
        assert!(
            values
                .iter()
                .all(|d| *d >= Duration::from_secs(570) && *d <= Duration::from_secs(630))
        );
        assert!(values.iter().any(|d| *d < Duration::from_secs(590)));
        assert!(values.iter().any(|d| *d > Duration::from_secs(610)));
        assert_eq!(jittered(interval, 0.0, 7), interval);
    }
}
