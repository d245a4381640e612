//! Whether a queued send goes to the gateway now: WhatsApp's 24-hour window, a follow-up's
//! quiet hours, then the gateway's circuit breaker, in that order.

use super::OutgoingSend;
use crate::resilience::{Admission, Breaker};
use chrono::{DateTime, Utc};

pub(super) enum Gate {
    /// Free text past WhatsApp's window: failed here, the gateway is not called.
    WindowClosed,
    /// The gateway's breaker is open, or a follow-up is in quiet hours: try again then.
    Wait(DateTime<Utc>),
    Call(Admission),
}

/// Whether `send` goes to the gateway now. The window is checked before the breaker is asked:
/// a send that makes no call must not take the single probe after an outage (nobody would
/// report the probe's outcome, and every later send would wait for it for good).
pub(super) fn gate(send: &OutgoingSend, breaker: &Breaker, now: DateTime<Utc>) -> Gate {
    if send.template.is_none() && send.not_after.is_some_and(|end| end <= now) {
        return Gate::WindowClosed;
    }
    if let Some((quiet, tz)) = send.quiet {
        let allowed = quiet.next_allowed(now, tz);
        if allowed > now {
            return Gate::Wait(allowed);
        }
    }
    match breaker.admit() {
        Admission::Wait(until) => Gate::Wait(until),
        admission => Gate::Call(admission),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use crate::domain::message::Provider;
    use crate::domain::quiet_hours::QuietHours;
    use crate::resilience::BreakerState;
    use chrono_tz::Tz;
    use std::time::Duration;

    fn send(not_after: Option<DateTime<Utc>>) -> OutgoingSend {
        OutgoingSend {
            outbox_id: "o".into(),
            message_id: "m".into(),
            session_id: "s".into(),
            provider: Provider::Evolution,
            instance: "clinic-main".into(),
            to: "79990001122".into(),
            text: "Напоминаем о приёме".into(),
            template: None,
            attempts: 0,
            not_before: None,
            not_after,
            quiet: None,
        }
    }

    #[test]
    fn a_follow_up_that_waited_into_quiet_hours_is_held_until_they_end() {
        use chrono::TimeZone;
        let tz: Tz = "Europe/Moscow".parse().unwrap();
        let night = tz
            .with_ymd_and_hms(2026, 11, 30, 23, 0, 0)
            .unwrap()
            .to_utc();
        let clock = ManualClock::new(night);
        let breaker = Breaker::new("test", 5, Duration::from_secs(30), clock.clone());
        let follow_up = OutgoingSend {
            quiet: Some((QuietHours::parse("21:00-09:00").unwrap().unwrap(), tz)),
            ..send(Some(night + chrono::Duration::hours(12)))
        };
        let morning = tz.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap().to_utc();
        assert!(matches!(gate(&follow_up, &breaker, night), Gate::Wait(t) if t == morning));
        // A reply is never held back.
        assert!(matches!(
            gate(&send(None), &breaker, night),
            Gate::Call(Admission::Call)
        ));
        assert!(matches!(
            gate(&follow_up, &breaker, morning),
            Gate::Call(Admission::Call)
        ));
    }

    #[test]
    fn a_send_past_its_window_leaves_the_probe_after_an_outage_to_a_real_call() {
        let clock = ManualClock::new(Utc::now());
        let breaker = Breaker::new("test", 5, Duration::from_secs(30), clock.clone());
        for _ in 0..5 {
            breaker.failure();
        }
        clock.advance(chrono::Duration::minutes(30)); // the open period is over
        let expired = send(Some(clock.now() - chrono::Duration::minutes(1)));
        assert!(matches!(
            gate(&expired, &breaker, clock.now()),
            Gate::WindowClosed
        ));
        assert_ne!(breaker.state(), BreakerState::HalfOpen);
        assert!(matches!(
            gate(&send(None), &breaker, clock.now()),
            Gate::Call(Admission::Probe)
        ));
        // Everyone else waits for that probe's outcome, and its success lets them through.
        assert!(matches!(
            gate(&send(None), &breaker, clock.now()),
            Gate::Wait(_)
        ));
        breaker.success();
        assert!(matches!(
            gate(&send(None), &breaker, clock.now()),
            Gate::Call(Admission::Call)
        ));
    }
}
