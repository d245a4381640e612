//! A circuit breaker: after `threshold` consecutive failures it opens for `open_for`, during
//! which callers do not call at all; then it lets exactly one probe through. The probe's
//! success closes it, its failure opens it again. Time comes from the injected clock.

use crate::clock::SharedClock;
use chrono::{DateTime, Duration, Utc};
use std::borrow::Cow;
use std::sync::Mutex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: DateTime<Utc>,
    },
    /// The probe is out; everyone else waits for its result.
    HalfOpen,
}

impl BreakerState {
    pub fn name(&self) -> &'static str {
        match self {
            BreakerState::Closed { .. } => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }
}

pub struct Breaker {
    /// Names the breaker in logs: which remote side, and for a gateway which instance.
    name: Cow<'static, str>,
    threshold: u32,
    open_for: Duration,
    clock: SharedClock,
    state: Mutex<BreakerState>,
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Call,
    /// The single probe after an open period.
    Probe,
    /// Do not call; try again at this time (or after the probe's outcome).
    Wait(DateTime<Utc>),
}

impl Breaker {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        threshold: u32,
        open_for: std::time::Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            name: name.into(),
            threshold,
            open_for: Duration::from_std(open_for).unwrap_or(Duration::seconds(30)),
            clock,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn admit(&self) -> Admission {
        let now = self.clock.now();
        let mut state = self.lock();
        match *state {
            BreakerState::Closed { .. } => Admission::Call,
            BreakerState::Open { until } if now >= until => {
                *state = BreakerState::HalfOpen;
                Admission::Probe
            }
            BreakerState::Open { until } => Admission::Wait(until),
            // Check back shortly; the probe's outcome decides.
            BreakerState::HalfOpen => Admission::Wait(now + Duration::milliseconds(250)),
        }
    }

    pub fn success(&self) {
        let mut state = self.lock();
        if !matches!(*state, BreakerState::Closed { .. }) {
            tracing::info!(breaker = %self.name, "circuit closed: calls recovered");
        }
        *state = BreakerState::Closed { failures: 0 };
    }

    /// The probe was admitted but made no call: the next caller probes instead.
    pub fn probe_unused(&self) {
        let mut state = self.lock();
        if *state == BreakerState::HalfOpen {
            *state = BreakerState::Open {
                until: self.clock.now(),
            };
        }
    }

    /// Holds an admission until the caller has given its verdict: dropped with the admitted
    /// probe still out (no call made, the caller cancelled, an outcome that says nothing about
    /// the remote side), it hands the probe back, so the breaker never stays half-open.
    /// Harmless after `success` or `failure` (the breaker is then closed or open again).
    pub fn hold(&self, admission: Admission) -> ProbeGuard<'_> {
        ProbeGuard((admission == Admission::Probe).then_some(self))
    }

    pub fn failure(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        let open = match *state {
            BreakerState::Closed { failures } if failures + 1 >= self.threshold => true,
            BreakerState::Closed { failures } => {
                *state = BreakerState::Closed {
                    failures: failures + 1,
                };
                false
            }
            BreakerState::HalfOpen | BreakerState::Open { .. } => true,
        };
        if open {
            let until = now + self.open_for;
            if !matches!(*state, BreakerState::Open { .. }) {
                tracing::warn!(
                    breaker = %self.name,
                    open_secs = self.open_for.num_seconds(),
                    "circuit open"
                );
            }
            *state = BreakerState::Open { until };
        }
    }

    pub fn state(&self) -> BreakerState {
        *self.lock()
    }
}

/// See [`Breaker::hold`].
pub struct ProbeGuard<'a>(Option<&'a Breaker>);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(breaker) = self.0 {
            breaker.probe_unused();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::Arc;

    fn breaker() -> (Arc<ManualClock>, Breaker) {
        let clock = ManualClock::new(Utc::now());
        let b = Breaker::new("test", 5, std::time::Duration::from_secs(45), clock.clone());
        (clock, b)
    }

    #[test]
    fn opens_after_five_consecutive_failures_not_four() {
        let (_, b) = breaker();
        for _ in 0..4 {
            assert_eq!(b.admit(), Admission::Call);
            b.failure();
        }
        assert_eq!(b.admit(), Admission::Call);
        b.failure();
        assert!(matches!(b.admit(), Admission::Wait(_)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let (_, b) = breaker();
        for _ in 0..4 {
            b.failure();
        }
        b.success();
        for _ in 0..4 {
            b.failure();
        }
        assert_eq!(b.admit(), Admission::Call);
    }

    #[test]
    fn after_the_open_interval_exactly_one_probe_goes_through() {
        let (clock, b) = breaker();
        for _ in 0..5 {
            b.failure();
        }
        clock.advance(Duration::seconds(44));
        assert!(matches!(b.admit(), Admission::Wait(_)));
        clock.advance(Duration::seconds(1));
        assert_eq!(b.admit(), Admission::Probe);
        assert!(matches!(b.admit(), Admission::Wait(_)), "only one probe");
        b.failure();
        assert!(
            matches!(b.state(), BreakerState::Open { .. }),
            "a failed probe reopens"
        );
        clock.advance(Duration::seconds(45));
        assert_eq!(b.admit(), Admission::Probe);
        b.success();
        assert_eq!(b.admit(), Admission::Call);
    }

    #[test]
    fn a_probe_that_made_no_call_goes_to_the_next_caller() {
        let (clock, b) = breaker();
        for _ in 0..5 {
            b.failure();
        }
        clock.advance(Duration::seconds(45));
        assert_eq!(b.admit(), Admission::Probe);
        b.probe_unused();
        assert_eq!(
            b.admit(),
            Admission::Probe,
            "not left waiting for an unused probe"
        );
        // Only the probe hands itself back: a closed breaker stays closed.
        b.success();
        b.probe_unused();
        assert_eq!(b.admit(), Admission::Call);
    }
}
