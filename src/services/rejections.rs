//! Rejected webhooks are audited, but at a bounded rate: a flood of forged requests must not
//! turn into a flood of writes. At most one entry per provider and reason per minute, each
//! carrying how many rejections it stands for.

use crate::clock::SharedClock;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

const WINDOW: Duration = Duration::minutes(1);

/// Per (provider, reason): when the current window opened, and rejections counted since.
type Windows = HashMap<(&'static str, &'static str), (DateTime<Utc>, u64)>;

#[derive(Default)]
pub struct RejectionLimiter {
    windows: Mutex<Windows>,
}

impl RejectionLimiter {
    /// Counts one rejection; returns `Some(n)` when an audit entry is due, `n` being the number
    /// of rejections it covers (this one and those suppressed since the last entry).
    pub fn record(
        &self,
        clock: &SharedClock,
        provider: &'static str,
        reason: &'static str,
    ) -> Option<u64> {
        let now = clock.now();
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let entry = windows
            .entry((provider, reason))
            .or_insert((now - WINDOW, 0));
        entry.1 += 1;
        if now - entry.0 >= WINDOW {
            let n = entry.1;
            *entry = (now, 0);
            Some(n)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn one_entry_per_minute_counting_the_suppressed_ones() {
        let clock = ManualClock::new(Utc::now());
        let shared: SharedClock = clock.clone();
        let l = RejectionLimiter::default();
        assert_eq!(l.record(&shared, "evolution", "bad signature"), Some(1));
        for _ in 0..99 {
            assert_eq!(l.record(&shared, "evolution", "bad signature"), None);
        }
        assert_eq!(
            l.record(&shared, "cloud", "bad signature"),
            Some(1),
            "separate per provider"
        );
        clock.advance(Duration::seconds(61));
        assert_eq!(l.record(&shared, "evolution", "bad signature"), Some(100));
    }
}
