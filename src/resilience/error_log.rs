//! Error logging for loops that keep retrying: the first failure is logged at once, then at
//! most one line per interval with the number of failures since the last line; the first
//! success after failures logs one "recovered" line. Time comes from the injected clock.

use crate::clock::SharedClock;
use chrono::{DateTime, Duration, Utc};

pub struct ErrorLog {
    what: &'static str,
    every: Duration,
    clock: SharedClock,
    failing_since: Option<DateTime<Utc>>,
    last_line: Option<DateTime<Utc>>,
    unreported: u64,
    failures: u64,
}

impl ErrorLog {
    pub fn new(what: &'static str, every: std::time::Duration, clock: SharedClock) -> Self {
        Self {
            what,
            every: Duration::from_std(every).unwrap_or(Duration::minutes(1)),
            clock,
            failing_since: None,
            last_line: None,
            unreported: 0,
            failures: 0,
        }
    }

    /// Counts a failure; logs it unless a line went out less than an interval ago. Returns
    /// whether it logged.
    pub fn failure(&mut self, error: &str) -> bool {
        let now = self.clock.now();
        self.failing_since.get_or_insert(now);
        self.failures += 1;
        self.unreported += 1;
        if self.last_line.is_some_and(|at| now - at < self.every) {
            return false;
        }
        tracing::warn!(
            failures = self.unreported,
            error = %error,
            "{} failing (failures since the last report: {})",
            self.what,
            self.unreported
        );
        self.last_line = Some(now);
        self.unreported = 0;
        true
    }

    /// Notes a success; after failures, logs one "recovered" line. Returns whether it did.
    pub fn success(&mut self) -> bool {
        let Some(since) = self.failing_since.take() else {
            return false;
        };
        let secs = (self.clock.now() - since).num_seconds().max(0);
        tracing::info!(
            failures = self.failures,
            seconds = secs,
            "{} recovered after {} failures over {secs} s",
            self.what,
            self.failures
        );
        self.failures = 0;
        self.unreported = 0;
        self.last_line = None;
        true
    }

    pub fn is_failing(&self) -> bool {
        self.failing_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn failures_are_logged_once_per_interval_and_recovery_once() {
        let clock = ManualClock::new(Utc::now());
        let mut log = ErrorLog::new("sync", std::time::Duration::from_secs(60), clock.clone());
        assert!(log.failure("down"), "the first failure is logged");
        assert!(!log.failure("down"));
        clock.advance(Duration::seconds(59));
        assert!(!log.failure("down"));
        clock.advance(Duration::seconds(1));
        assert!(log.failure("down"), "one line per interval");
        assert!(log.success(), "recovery is logged");
        assert!(!log.success(), "only once");
        assert!(log.failure("down again"), "a new outage is logged at once");
    }
}
