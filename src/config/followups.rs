//! `[followups]`: when the follow-up scheduler ticks, the limits that keep it patient-friendly
//! (quiet hours, catch-up horizon), the rules that schedule nudges from a conversation turn, and
//! the Cloud API templates allowed outside WhatsApp's 24-hour window. Strings are checked here
//! once; other modules use the parsed values these methods return.

use super::ConfigError;
use crate::domain::quiet_hours::QuietHours;
use crate::domain::span::parse_span;
use crate::domain::window;
use crate::router::{Intent, Route};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowupsConfig {
    /// Off: nothing is sent (rows stay scheduled); staff can still list, add and cancel.
    pub enabled: bool,
    /// When the scheduler ticks: cron with seconds, in UTC (tokio-cron-scheduler syntax).
    pub schedule: String,
    /// Clinic-time range without unsolicited messages, e.g. "21:00-09:00"; "" for none.
    pub quiet_hours: String,
    /// A follow-up found overdue by more than this (the server was down) is expired, not sent.
    pub catch_up_horizon: String,
    /// Most follow-ups one tick claims (bounds one write transaction); the rest go next tick.
    pub max_per_tick: usize,
    pub rules: Vec<RuleConfig>,
    pub cloud_templates: Vec<CloudTemplateConfig>,
}

/// "When a turn has intent/route `when`, and none of `unless`, nudge after `delay`."
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: String,
    /// An intent ("price", "booking", …) or a reply route ("fast_price", …).
    pub when: String,
    pub unless: Option<String>,
    pub delay: String,
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Language-pack template key; each language's pack (or a clinic's override) has its text.
    #[serde(default = "default_template")]
    pub template: String,
    /// The clinics (ids) the rule holds for; empty: every clinic this node serves. A chain
    /// gives clinics their own wording with one rule per clinic, each naming its template.
    #[serde(default)]
    pub clinics: Vec<String>,
}

/// A template Meta approved for this WhatsApp Business account, sent instead of free text to
/// a Cloud API chat whose 24-hour window has closed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudTemplateConfig {
    /// The follow-up kind it stands in for ("nudge", "reminder", …).
    pub kind: String,
    /// The template's name in WhatsApp Manager.
    pub name: String,
    /// Its language code ("ru", "en_US"); default: the chat's language.
    pub language: Option<String>,
    /// Follow-up context fields filling the template's {{1}}, {{2}}, … in order.
    #[serde(default)]
    pub params: Vec<String>,
}

/// A rule, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupRule {
    pub name: String,
    pub trigger: String,
    pub unless: Option<String>,
    pub delay: chrono::Duration,
    pub kind: String,
    pub template: String,
    /// Empty: every clinic.
    pub clinics: Vec<String>,
}

impl FollowupRule {
    pub fn holds_for(&self, clinic_id: &str) -> bool {
        self.clinics.is_empty() || self.clinics.iter().any(|c| c == clinic_id)
    }
}

fn default_kind() -> String {
    "nudge".into()
}

fn default_template() -> String {
    "followup_nudge".into()
}

impl Default for FollowupsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: "*/30 * * * * *".into(),
            quiet_hours: "21:00-09:00".into(),
            catch_up_horizon: "6h".into(),
            max_per_tick: 200,
            rules: Vec::new(),
            cloud_templates: Vec::new(),
        }
    }
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: format!("followups.{key}"),
        message: message.into(),
    }
}

/// Routes a patient's turn stores besides the router's answers (`services::turn`). Rules are
/// applied as the turn is stored, so routes decided later (the LLM's answer) cannot trigger
/// one, nor can `unanswered` (such a turn goes to the LLM, or is stored as `fallback`).
const TURN_ROUTES: [&str; 2] = ["fallback", "media"];

/// What a rule's `when` and `unless` can name: an intent the router finds in a message, or the
/// route its reply took as the turn was stored. Anything else would never match, and the rule would silently never
/// fire (a typo such as "pricee").
fn check_trigger(key: &str, value: &str) -> Result<(), ConfigError> {
    let known = || {
        Intent::ALL
            .iter()
            .map(|i| i.name())
            .chain(
                Route::ALL
                    .iter()
                    .filter(|r| **r != Route::Unanswered)
                    .map(|r| r.as_str()),
            )
            .chain(TURN_ROUTES)
    };
    if known().any(|k| k == value) {
        return Ok(());
    }
    Err(invalid(
        key,
        format!(
            "{value:?} is neither an intent nor a route; the choices are {}",
            known().collect::<Vec<_>>().join(", ")
        ),
    ))
}

/// Names used as keys and labels: lower-case letters, digits and underscores.
fn check_name(key: &str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            key,
            format!("{value:?} must be lower-case letters, digits and _"),
        ))
    }
}

impl FollowupsConfig {
    pub fn quiet(&self) -> Option<QuietHours> {
        QuietHours::parse(&self.quiet_hours).ok().flatten()
    }

    pub fn horizon(&self) -> chrono::Duration {
        parse_span(&self.catch_up_horizon).unwrap_or_else(|_| chrono::Duration::hours(6))
    }

    /// The rules, parsed (validation has already refused bad ones).
    pub fn parsed_rules(&self) -> Vec<FollowupRule> {
        self.rules
            .iter()
            .filter_map(|r| {
                Some(FollowupRule {
                    name: r.name.clone(),
                    trigger: r.when.clone(),
                    unless: r.unless.clone(),
                    delay: parse_span(&r.delay).ok()?,
                    kind: r.kind.clone(),
                    template: r.template.clone(),
                    clinics: r.clinics.clone(),
                })
            })
            .collect()
    }

    /// The Cloud API template standing in for follow-ups of `kind`, if one is configured.
    pub fn cloud_template(&self, kind: &str) -> Option<&CloudTemplateConfig> {
        self.cloud_templates.iter().find(|t| t.kind == kind)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.schedule.split_whitespace().count() < 6 {
            return Err(invalid(
                "schedule",
                format!(
                    "{:?} is not a cron line with seconds, such as \"*/30 * * * * *\"",
                    self.schedule
                ),
            ));
        }
        QuietHours::parse(&self.quiet_hours).map_err(|m| invalid("quiet_hours", m))?;
        parse_span(&self.catch_up_horizon).map_err(|m| invalid("catch_up_horizon", m))?;
        if self.max_per_tick == 0 {
            return Err(invalid("max_per_tick", "must be at least 1"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let key = |field: &str| format!("rules[{i}].{field}");
            check_name(&key("name"), &r.name)?;
            // A name is a rule of a clinic: two rules may share it only for different clinics.
            let overlaps = |other: &RuleConfig| {
                r.clinics.is_empty()
                    || other.clinics.is_empty()
                    || r.clinics.iter().any(|c| other.clinics.contains(c))
            };
            if self.rules[..i]
                .iter()
                .any(|other| other.name == r.name && overlaps(other))
            {
                return Err(invalid(
                    &key("name"),
                    format!("{:?} is used twice for the same clinic", r.name),
                ));
            }
            if r.clinics.iter().any(|c| c.trim().is_empty()) {
                return Err(invalid(&key("clinics"), "a clinic id is empty"));
            }
            check_trigger(&key("when"), &r.when)?;
            if let Some(unless) = &r.unless {
                check_trigger(&key("unless"), unless)?;
            }
            let delay = parse_span(&r.delay).map_err(|m| invalid(&key("delay"), m))?;
            if delay > window::longest_delay() && self.cloud_template(&r.kind).is_none() {
                return Err(invalid(
                    &key("delay"),
                    format!(
                        "{:?} is past WhatsApp's 24-hour window, so every nudge would expire; \
                         use at most 23h45m, or add a [[followups.cloud_templates]] for kind {:?}",
                        r.delay, r.kind
                    ),
                ));
            }
            check_name(&key("kind"), &r.kind)?;
            check_name(&key("template"), &r.template)?;
        }
        let mut kinds = std::collections::HashSet::new();
        for (i, t) in self.cloud_templates.iter().enumerate() {
            let key = |field: &str| format!("cloud_templates[{i}].{field}");
            check_name(&key("kind"), &t.kind)?;
            if !kinds.insert(t.kind.as_str()) {
                return Err(invalid(
                    &key("kind"),
                    format!("{:?} has two templates", t.kind),
                ));
            }
            if t.name.trim().is_empty() {
                return Err(invalid(&key("name"), "is empty"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<FollowupsConfig, String> {
        let c: FollowupsConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn rules_are_data_with_defaults_for_kind_and_template() {
        let c = parse(
            r#"
            quiet_hours = "22:00-08:30"
            [[rules]]
            name = "price_no_booking"
            when = "price"
            unless = "booking"
            delay = "20h"
            "#,
        )
        .unwrap();
        let rules = c.parsed_rules();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].delay, chrono::Duration::hours(20));
        assert_eq!(rules[0].kind, "nudge");
        assert_eq!(rules[0].template, "followup_nudge");
        assert_eq!(rules[0].unless.as_deref(), Some("booking"));
        assert!(c.quiet().is_some());
    }

    #[test]
    fn bad_values_name_the_key_and_say_why() {
        let err = parse("[[rules]]\nname = \"a\"\nwhen = \"price\"\ndelay = \"soon\"").unwrap_err();
        assert!(err.contains("followups.rules[0].delay"), "{err}");
        let late = "[[rules]]\nname = \"a\"\nwhen = \"price\"\ndelay = \"24h\"";
        assert!(parse(late).unwrap_err().contains("24-hour window"));
        let with_template = format!("{late}\n[[cloud_templates]]\nkind = \"nudge\"\nname = \"t\"");
        assert!(parse(&with_template).is_ok());
        let err = parse("quiet_hours = \"late\"").unwrap_err();
        assert!(err.contains("followups.quiet_hours"), "{err}");
        let err = parse("schedule = \"30s\"").unwrap_err();
        assert!(err.contains("followups.schedule"), "{err}");
        let err =
            parse("[[rules]]\nname = \"Price!\"\nwhen = \"price\"\ndelay = \"1h\"").unwrap_err();
        assert!(err.contains("rules[0].name"), "{err}");
        let twice = "[[cloud_templates]]\nkind = \"nudge\"\nname = \"a\"\n\
                     [[cloud_templates]]\nkind = \"nudge\"\nname = \"b\"";
        assert!(parse(twice).unwrap_err().contains("two templates"));
        assert!(parse("unknown = 1").is_err());
    }

    #[test]
    fn a_rule_must_name_an_intent_or_a_route_that_exists() {
        let rule = |when: &str, unless: &str| {
            parse(&format!(
                "[[rules]]\nname = \"a\"\nwhen = \"{when}\"\nunless = \"{unless}\"\ndelay = \"1h\""
            ))
        };
        let err = rule("pricee", "booking").unwrap_err();
        assert!(
            err.contains("rules[0].when")
                && err.contains("\"pricee\"")
                && err.contains("price_list"),
            "{err}"
        );
        let err = rule("price", "bookingg").unwrap_err();
        assert!(err.contains("rules[0].unless"), "{err}");
        // Intents, the router's routes, and the turn's own.
        for when in ["price", "unknown", "fast_hours", "fallback", "media"] {
            assert!(rule(when, "booking").is_ok(), "{when}");
        }
        // Routes decided after the turn is stored never reach the rules.
        for when in ["llm", "llm_fallback", "unanswered"] {
            assert!(rule(when, "booking").is_err(), "{when}");
        }
    }
}
