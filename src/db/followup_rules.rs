//! The configured follow-up rules, per clinic, and the lookups a conversation turn makes to
//! apply them: which rules a turn triggers, and whether the chat showed the intent that
//! suppresses a rule. Kept in SQLite so the turn's own transaction can evaluate them.

use super::DbError;
use rusqlite::{Connection, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    pub name: String,
    pub trigger: String,
    pub unless_intent: Option<String>,
    pub delay_secs: i64,
    pub kind: String,
    pub template: String,
}

/// Makes the clinic's rules exactly `rules`: adds and updates them, removes the others.
/// Pending follow-ups made by a removed rule stay; staff can cancel them.
pub fn replace_rules(
    conn: &Connection,
    clinic_id: &str,
    rules: &[RuleRow],
    now: &str,
) -> Result<(), DbError> {
    let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
    conn.prepare_cached(
        "DELETE FROM followup_rules WHERE clinic_id = ?1
             AND name NOT IN (SELECT value FROM json_each(?2))",
    )?
    .execute(params![
        clinic_id,
        serde_json::to_string(&names).unwrap_or_else(|_| "[]".into())
    ])?;
    for r in rules {
        conn.prepare_cached(
            "INSERT INTO followup_rules (clinic_id, name, trigger, unless_intent, delay_secs,
                 kind, template, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
             ON CONFLICT (clinic_id, name) DO UPDATE SET trigger = excluded.trigger,
                 unless_intent = excluded.unless_intent, delay_secs = excluded.delay_secs,
                 kind = excluded.kind, template = excluded.template,
                 updated_at = excluded.updated_at
             WHERE (trigger, unless_intent, delay_secs, kind, template)
                   IS NOT (excluded.trigger, excluded.unless_intent, excluded.delay_secs,
                           excluded.kind, excluded.template)",
        )?
        .execute(params![
            clinic_id,
            r.name,
            r.trigger,
            r.unless_intent,
            r.delay_secs,
            r.kind,
            r.template,
            now
        ])?;
    }
    Ok(())
}

/// The clinic's rules triggered by a turn with this intent or reply route.
pub fn list_triggered(
    conn: &Connection,
    clinic_id: &str,
    intent: Option<&str>,
    route: Option<&str>,
) -> Result<Vec<RuleRow>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, trigger, unless_intent, delay_secs, kind, template FROM followup_rules
         WHERE clinic_id = ?1 AND trigger IN (?2, ?3) ORDER BY name",
    )?;
    let rows = stmt.query_map(params![clinic_id, intent, route], |r| {
        Ok(RuleRow {
            name: r.get(0)?,
            trigger: r.get(1)?,
            unless_intent: r.get(2)?,
            delay_secs: r.get(3)?,
            kind: r.get(4)?,
            template: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether the patient's messages in this session since `since` include `intent`.
pub fn had_intent_since(
    conn: &Connection,
    session_id: &str,
    intent: &str,
    since: &str,
) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM whatsapp_messages
                 WHERE session_id = ?1 AND created_at >= ?3 AND direction = 'inbound'
                   AND intent = ?2)",
        )?
        .query_row(params![session_id, intent, since], |r| r.get(0))?)
}
