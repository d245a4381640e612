//! What to do with one due follow-up, as a pure function of its facts, the policy and the
//! time: send it, postpone it (quiet hours; staff talking in the chat), or end it (cancelled,
//! expired) with the reason. No I/O, so every rule is tested with plain values.

use super::Source;
use crate::config::{CloudTemplateConfig, FollowupsConfig};
use crate::domain::message::Provider;
use crate::domain::quiet_hours::QuietHours;
use crate::domain::window;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone)]
pub struct Policy {
    pub quiet: Option<QuietHours>,
    pub horizon: Duration,
    pub cloud_templates: Vec<CloudTemplateConfig>,
}

impl Policy {
    pub fn from_config(c: &FollowupsConfig) -> Self {
        Self {
            quiet: c.quiet(),
            horizon: c.horizon(),
            cloud_templates: c.cloud_templates.clone(),
        }
    }
}

/// What the decision looks at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub kind: &'a str,
    pub source: Source,
    pub due_at: DateTime<Utc>,
    pub session_open: bool,
    pub human_until: Option<DateTime<Utc>>,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub provider: Provider,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Free text, inside the 24-hour window.
    Send,
    /// Outside the window, on the Cloud API: this approved template instead.
    SendTemplate(CloudTemplateConfig),
    Postpone {
        until: DateTime<Utc>,
        reason: &'static str,
    },
    Cancel(&'static str),
    Expire(&'static str),
}

/// Decides one due follow-up. The order matters: a closed chat or a stale follow-up ends
/// first; staff in the chat come before quiet hours; the window is checked last, at the time
/// the message would really go out.
pub fn decide(f: &Facts<'_>, policy: &Policy, tz: Tz, now: DateTime<Utc>) -> Decision {
    if !f.session_open {
        return Decision::Cancel("the conversation was closed");
    }
    // Lateness counts from when it could first have gone out: one due at 03:00 inside quiet
    // hours was never meant to go before they end.
    let allowed_from = policy
        .quiet
        .map_or(f.due_at, |q| q.next_allowed(f.due_at, tz));
    if now - allowed_from > policy.horizon {
        return Decision::Expire("missed by more than the catch-up horizon");
    }
    if let Some(until) = f.human_until.filter(|u| *u > now) {
        return match f.source {
            // Staff asked for this one themselves (a visit reminder): it waits for them.
            Source::Staff => Decision::Postpone {
                until,
                reason: "staff are talking in the chat",
            },
            Source::Llm | Source::Rule => Decision::Cancel("staff took over the chat"),
        };
    }
    if let Some(q) = policy.quiet {
        let next = q.next_allowed(now, tz);
        if next > now {
            return Decision::Postpone {
                until: next,
                reason: "quiet hours",
            };
        }
    }
    if window::is_open(f.last_inbound_at, now) {
        return Decision::Send;
    }
    let template = policy.cloud_templates.iter().find(|t| t.kind == f.kind);
    match (f.provider, template) {
        (Provider::Cloud, Some(t)) => Decision::SendTemplate(t.clone()),
        _ => Decision::Expire("outside WhatsApp's 24-hour window"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const MOSCOW: Tz = chrono_tz::Europe::Moscow;

    fn policy() -> Policy {
        Policy {
            quiet: QuietHours::parse("21:00-09:00").unwrap(),
            horizon: Duration::hours(6),
            cloud_templates: vec![CloudTemplateConfig {
                kind: "nudge".into(),
                name: "clinic_followup".into(),
                language: None,
                params: vec![],
            }],
        }
    }

    /// Due now at 12:00 Moscow time, patient wrote two hours ago, nobody else in the chat.
    fn facts(now: DateTime<Utc>) -> Facts<'static> {
        Facts {
            kind: "nudge",
            source: Source::Rule,
            due_at: now,
            session_open: true,
            human_until: None,
            last_inbound_at: Some(now - Duration::hours(2)),
            provider: Provider::Evolution,
        }
    }

    const NOON: &str = "2026-11-26T09:00:00Z"; // 12:00 in Moscow

    #[test]
    fn a_due_follow_up_in_the_window_outside_quiet_hours_is_sent() {
        let now = utc(NOON);
        assert_eq!(decide(&facts(now), &policy(), MOSCOW, now), Decision::Send);
    }

    #[test]
    fn quiet_hours_postpone_to_their_end_in_clinic_time() {
        let now = utc("2026-11-26T19:30:00Z"); // 22:30 Moscow
        let d = decide(&facts(now), &policy(), MOSCOW, now);
        assert_eq!(
            d,
            Decision::Postpone {
                until: utc("2026-11-27T06:00:00Z"),
                reason: "quiet hours"
            }
        );
    }

    #[test]
    fn staff_in_the_chat_cancel_bot_follow_ups_and_delay_their_own() {
        let now = utc(NOON);
        let until = now + Duration::minutes(90);
        let mut f = facts(now);
        f.human_until = Some(until);
        assert_eq!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Cancel("staff took over the chat")
        );
        f.source = Source::Llm;
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Cancel(_)
        ));
        f.source = Source::Staff;
        assert_eq!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Postpone {
                until,
                reason: "staff are talking in the chat"
            }
        );
        f.human_until = Some(now - Duration::minutes(1));
        assert_eq!(decide(&f, &policy(), MOSCOW, now), Decision::Send);
    }

    #[test]
    fn outside_the_24_hour_window_evolution_expires_and_cloud_uses_its_template() {
        let now = utc(NOON);
        let mut f = facts(now);
        f.last_inbound_at = Some(now - Duration::hours(23));
        assert_eq!(decide(&f, &policy(), MOSCOW, now), Decision::Send);
        f.last_inbound_at = Some(now - Duration::hours(25));
        assert_eq!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Expire("outside WhatsApp's 24-hour window")
        );
        f.provider = Provider::Cloud;
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::SendTemplate(t) if t.name == "clinic_followup"
        ));
        f.kind = "reminder";
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Expire(_)
        ));
        f.last_inbound_at = None;
        f.kind = "nudge";
        f.provider = Provider::Evolution;
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Expire(_)
        ));
    }

    #[test]
    fn the_window_keeps_a_margin_for_delivery() {
        let now = utc(NOON);
        let mut f = facts(now);
        f.last_inbound_at = Some(now - window::WINDOW + Duration::minutes(5));
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Expire(_)
        ));
    }

    #[test]
    fn the_catch_up_horizon_expires_stale_follow_ups_counting_from_the_end_of_quiet_hours() {
        let now = utc(NOON);
        let mut f = facts(now);
        f.due_at = now - Duration::hours(5);
        assert_eq!(decide(&f, &policy(), MOSCOW, now), Decision::Send);
        f.due_at = now - Duration::hours(16); // 20:00 yesterday, before quiet hours
        assert_eq!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Expire("missed by more than the catch-up horizon")
        );
        // Due at 02:00 Moscow (quiet); could first go at 09:00; at 12:00 that is 3 h late.
        f.due_at = utc("2026-11-25T23:00:00Z");
        assert_eq!(decide(&f, &policy(), MOSCOW, now), Decision::Send);
    }

    #[test]
    fn a_closed_conversation_cancels_its_follow_ups() {
        let now = utc(NOON);
        let mut f = facts(now);
        f.session_open = false;
        assert!(matches!(
            decide(&f, &policy(), MOSCOW, now),
            Decision::Cancel(_)
        ));
    }
}
