//! Follow-ups from config rules: kept in SQLite per clinic (synced at start-up, templates
//! checked), and applied inside a patient turn's transaction: the reply cancels the chat's
//! pending nudges, then the turn's intent or route may schedule one (one per chat and rule).

use super::Source;
use crate::config::FollowupRule;
use crate::db::followup_rules::{self, RuleRow};
use crate::db::{DbError, followups, rusqlite::Connection};
use crate::domain::time;
use crate::router::Router;
use chrono::{DateTime, Utc};

/// Makes every clinic's stored rules match the configured ones (start-up): the rules in the
/// config hold for all the clinics this node serves.
pub fn sync_rules_for_all_clinics(
    conn: &Connection,
    rules: &[FollowupRule],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    for clinic in crate::db::clinics::list_clinics(conn)? {
        let own: Vec<FollowupRule> = rules
            .iter()
            .filter(|r| r.holds_for(&clinic.id))
            .cloned()
            .collect();
        sync_rules(conn, &clinic.id, &own, now)?;
    }
    Ok(())
}

/// Makes the clinic's stored rules match the configured ones.
pub fn sync_rules(
    conn: &Connection,
    clinic_id: &str,
    rules: &[FollowupRule],
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    let rows: Vec<RuleRow> = rules
        .iter()
        .map(|r| RuleRow {
            name: r.name.clone(),
            trigger: r.trigger.clone(),
            unless_intent: r.unless.clone(),
            delay_secs: r.delay.num_seconds(),
            kind: r.kind.clone(),
            template: r.template.clone(),
        })
        .collect();
    followup_rules::replace_rules(conn, clinic_id, &rows, &time::to_db(now))
}

/// Refuses rules whose template would fail at send time: a key no language pack has, or a
/// placeholder other than what a rule's context gives (`{clinic}`, `{rule}`, `{trigger}`,
/// `{triggered_at}`), checked in every language the router speaks.
pub fn check_rules(
    router: &Router,
    rules: &[FollowupRule],
    default_language: &str,
) -> Result<(), RuleError> {
    let at = "2026-01-01 00:00";
    let vars = [
        ("clinic", "clinic"),
        ("rule", "rule"),
        ("trigger", "trigger"),
        ("triggered_at", at),
        ("triggered_at_date", at),
        ("triggered_at_time", at),
    ];
    for rule in rules {
        for language in router.languages() {
            router
                .template_strict(language, default_language, &rule.template, &vars)
                .map_err(|gap| RuleError {
                    rule: rule.name.clone(),
                    gap,
                })?;
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error(
    "followups.rules {rule:?}: {gap}; add the template to the language packs \
     (conversation.languages_dir) or name another one"
)]
pub struct RuleError {
    pub rule: String,
    pub gap: crate::router::TemplateGap,
}

/// A patient's message was stored (called from the turn's transaction): their reply cancels
/// the chat's pending nudges, then the clinic's rules may schedule a new one from the turn's
/// intent and reply route. At most one pending follow-up per chat and rule.
pub fn after_patient_turn(
    conn: &Connection,
    clinic_id: &str,
    session_id: &str,
    intent: Option<&str>,
    route: Option<&str>,
    now: &str,
) -> Result<(), DbError> {
    let mut changed = followups::cancel_on_reply(conn, session_id, now)? > 0;
    followups::withdraw_undelivered(
        conn,
        session_id,
        followups::Withdraw::OnReply,
        "the patient replied",
        now,
    )?;
    if intent.is_some() || route.is_some() {
        for rule in followup_rules::list_triggered(conn, clinic_id, intent, route)? {
            changed |= apply_rule(conn, clinic_id, session_id, &rule, intent, route, now)?;
        }
    }
    if changed {
        followups::refresh_session_due(conn, session_id, now)?;
    }
    Ok(())
}

fn apply_rule(
    conn: &Connection,
    clinic_id: &str,
    session_id: &str,
    rule: &RuleRow,
    intent: Option<&str>,
    route: Option<&str>,
    now: &str,
) -> Result<bool, DbError> {
    let at = time::from_db(now).map_err(|e| DbError::Corrupt(format!("turn time: {e}")))?;
    let delay = chrono::Duration::seconds(rule.delay_secs);
    if let Some(unless) = rule.unless_intent.as_deref() {
        let since = time::to_db(at - delay);
        if intent == Some(unless)
            || route == Some(unless)
            || followup_rules::had_intent_since(conn, session_id, unless, &since)?
        {
            return Ok(false);
        }
    }
    let context = serde_json::json!({
        "rule": rule.name,
        "trigger": rule.trigger,
        "triggered_at": now,
    });
    followups::insert_followup(
        conn,
        &followups::NewFollowupRow {
            id: &uuid::Uuid::now_v7().to_string(),
            clinic_id,
            session_id,
            kind: &rule.kind,
            due_at: &time::to_db(at + delay),
            context: &context.to_string(),
            source: Source::Rule.as_str(),
            text_sealed: None,
            template: Some(&rule.template),
            rule: Some(&rule.name),
            cancel_on_reply: true,
        },
        now,
    )
}
