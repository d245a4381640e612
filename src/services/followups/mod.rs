//! Follow-ups: messages the front desk sends later, unasked ("shall we book you in?", a visit
//! reminder, a check-in after a procedure). This module schedules them (for the LLM's tool,
//! staff and config rules), cancels nudges when the patient writes, and, in `tick`, decides
//! and claims due ones. It calls `db` inside the caller's transaction; it never sends.

mod compose;
mod decide;
mod rules;
mod tick;

pub use compose::{Wording, compose_text, context_vars, template_params};
pub use decide::{Decision, Facts, Policy, decide};
pub use rules::{
    RuleError, after_patient_turn, check_rules, sync_rules, sync_rules_for_all_clinics,
};
pub use tick::{ClaimedSend, Clinics, TickDeps, TickReport, tick};

use crate::crypto::{Aad, Sealer};
use crate::db::{DbError, followups, rusqlite::Connection};
use crate::domain::time;
use chrono::{DateTime, Utc};

/// Audit actions for staff changes to follow-ups.
pub mod action {
    pub const SCHEDULED: &str = "followup.scheduled";
    pub const CANCELLED: &str = "followup.cancelled";
    pub const LISTED: &str = "followup.listed";
}

/// The largest context stored (JSON text); a follow-up needs a few fields, not a document.
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FollowupError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("no conversation session {0}")]
    NoSession(String),
    #[error("the conversation session is closed")]
    SessionClosed,
    #[error("kind {0:?} must be 1-32 lower-case letters, digits or _")]
    BadKind(String),
    #[error("the context is {0} bytes of JSON; at most {MAX_CONTEXT_BYTES} are stored")]
    ContextTooLarge(usize),
    #[error("follow-up {0} not found")]
    NotFound(String),
    #[error("follow-up {id} is already {status}")]
    NotScheduled { id: String, status: String },
    #[error(transparent)]
    Template(#[from] crate::router::TemplateGap),
}

/// Who asked for a follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Llm,
    Staff,
    Rule,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Llm => "llm",
            Source::Staff => "staff",
            Source::Rule => "rule",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        match s {
            "llm" => Some(Source::Llm),
            "staff" => Some(Source::Staff),
            "rule" => Some(Source::Rule),
            _ => None,
        }
    }
}

/// A follow-up to schedule. What it says: `text` as written, else the language-pack template
/// `template`, else `followup_<kind>`, in the chat's language, with `{placeholders}` filled
/// from the context's top-level fields (and `{clinic}`).
#[derive(Debug, Clone)]
pub struct NewFollowup {
    pub session_id: String,
    /// "nudge", "reminder", "check_in", … (lower-case letters, digits, `_`).
    pub kind: String,
    pub due_at: DateTime<Utc>,
    /// Any JSON. Times inside are RFC 3339 strings (see [`context_time`]); no PHI belongs
    /// here (it is stored in clear): put the words for the patient in `text`.
    pub context: serde_json::Value,
    pub source: Source,
    /// Exact words to send; stored sealed.
    pub text: Option<String>,
    pub template: Option<String>,
    /// A patient's message cancels it. `new` sets this for nudges only: a visit reminder
    /// must survive the patient writing "thanks".
    pub cancel_on_reply: bool,
}

impl NewFollowup {
    pub fn new(session_id: &str, kind: &str, due_at: DateTime<Utc>, source: Source) -> Self {
        Self {
            session_id: session_id.to_owned(),
            kind: kind.to_owned(),
            due_at,
            context: serde_json::Value::Object(Default::default()),
            source,
            text: None,
            template: None,
            cancel_on_reply: kind == "nudge",
        }
    }

    /// The template key this follow-up's text comes from, when it has no text of its own.
    pub fn template_key(&self) -> Option<String> {
        template_key(self.text.is_some(), self.template.as_deref(), &self.kind)
    }

    /// The words it would send in `language` today, or why it could not be sent (a template
    /// no pack has, a placeholder the context lacks). Callers check before scheduling, so the
    /// LLM or staff hear about a mistake now rather than find a `failed` row later.
    pub fn preview(
        &self,
        router: &crate::router::Router,
        language: &str,
        clinic: &crate::domain::clinic::ClinicFacts,
    ) -> Result<String, crate::router::TemplateGap> {
        let wording = Wording {
            text: self.text.as_deref(),
            template: self.template.as_deref(),
            kind: &self.kind,
            context: &self.context,
        };
        compose_text(
            router,
            &wording,
            language,
            &clinic.default_language,
            &clinic.name,
            clinic.timezone,
        )
    }
}

pub(crate) fn template_key(has_text: bool, template: Option<&str>, kind: &str) -> Option<String> {
    (!has_text).then(|| template.map_or_else(|| format!("followup_{kind}"), str::to_owned))
}

/// A time as follow-up context holds it: an RFC 3339 UTC string.
pub fn context_time(t: DateTime<Utc>) -> serde_json::Value {
    serde_json::Value::String(time::to_db(t))
}

fn check_kind(kind: &str) -> Result<(), FollowupError> {
    let ok = (1..=32).contains(&kind.len())
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(())
        .ok_or_else(|| FollowupError::BadKind(kind.to_owned()))
}

/// Stores a follow-up and sets the session's `scheduled_followup_at`; returns its id. Run it
/// inside a `Db::write` (the LLM's schedule tool, the staff CLI). A due time in the past is
/// sent at the next tick (or expired, beyond the catch-up horizon).
pub fn schedule(
    conn: &Connection,
    phi: &Sealer,
    f: &NewFollowup,
    now: DateTime<Utc>,
) -> Result<String, FollowupError> {
    check_kind(&f.kind)?;
    let context = f.context.to_string();
    if context.len() > MAX_CONTEXT_BYTES {
        return Err(FollowupError::ContextTooLarge(context.len()));
    }
    let (clinic_id, open) = followups::find_session(conn, &f.session_id)?
        .ok_or_else(|| FollowupError::NoSession(f.session_id.clone()))?;
    if !open {
        return Err(FollowupError::SessionClosed);
    }
    let id = uuid::Uuid::now_v7().to_string();
    let text_sealed = f
        .text
        .as_deref()
        .map(|t| phi.seal_str(t, Aad::new("followups", "text", &id)));
    let at = time::to_db(now);
    followups::insert_followup(
        conn,
        &followups::NewFollowupRow {
            id: &id,
            clinic_id: &clinic_id,
            session_id: &f.session_id,
            kind: &f.kind,
            due_at: &time::to_db(f.due_at),
            context: &context,
            source: f.source.as_str(),
            text_sealed: text_sealed.as_deref(),
            template: f.template.as_deref(),
            rule: None,
            cancel_on_reply: f.cancel_on_reply,
        },
        &at,
    )?;
    followups::refresh_session_due(conn, &f.session_id, &at)?;
    Ok(id)
}

/// Cancels a scheduled follow-up (staff) and updates the session's `scheduled_followup_at`;
/// one already claimed but still waiting in the send queue is withdrawn from it.
pub fn cancel(
    conn: &Connection,
    id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), FollowupError> {
    let row = followups::find_followup(conn, id)?
        .ok_or_else(|| FollowupError::NotFound(id.to_owned()))?;
    let at = time::to_db(now);
    if !followups::finish(conn, id, "cancelled", reason, &at)? {
        let only = followups::Withdraw::Only(id);
        if row.status == "sent"
            && followups::withdraw_undelivered(conn, &row.session_id, only, reason, &at)? == 1
        {
            return Ok(());
        }
        return Err(FollowupError::NotScheduled {
            id: id.to_owned(),
            status: row.status,
        });
    }
    followups::refresh_session_due(conn, &row.session_id, &at)?;
    Ok(())
}

#[cfg(test)]
mod tests;
