//! Capped exponential backoff with "equal jitter": half the delay is fixed, half random, so
//! retries spread out (no thundering herd) yet never come back immediately.

use rand::RngExt;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap }
    }

    /// Delay before retry number `attempt` (1 = the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let half = exp / 2;
        let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter)
    }
}

/// A `Retry-After` header value in seconds (the HTTP-date form is rare from APIs and is
/// treated as absent). Capped, so a hostile or buggy server cannot park us for a day.
pub fn retry_after(value: Option<&str>, cap: Duration) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(cap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_jitter_and_stay_under_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        for attempt in 1..30 {
            let full = (Duration::from_millis(100) * 2u32.pow((attempt - 1).min(20)))
                .min(Duration::from_secs(5));
            for _ in 0..20 {
                let d = b.delay(attempt);
                assert!(
                    d >= full / 2 && d <= full,
                    "attempt {attempt}: {d:?} vs {full:?}"
                );
            }
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| b.delay(5)).collect();
        assert!(spread.len() > 5, "jitter spreads retries");
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let cap = Duration::from_secs(30);
        assert_eq!(retry_after(Some("2"), cap), Some(Duration::from_secs(2)));
        assert_eq!(
            retry_after(Some("0.5"), cap),
            Some(Duration::from_millis(500))
        );
        assert_eq!(retry_after(Some("3600"), cap), Some(cap));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT"), cap),
            None
        );
        assert_eq!(retry_after(Some("-1"), cap), None);
        assert_eq!(retry_after(None, cap), None);
    }
}
