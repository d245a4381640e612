//! One scheduler tick, run inside one write transaction: read the due follow-ups, decide each,
//! and for each one to send store the outbound message (sealed), its send-outbox row and the
//! follow-up's `sent` status together. The status change is the claim: an overlapping tick
//! or a restart finds it no longer scheduled, so nothing is sent twice. The caller hands the
//! returned sends to the sender after the commit.

use super::Source;
use super::compose::{Wording, compose_text, template_params};
use super::decide::{Decision, Facts, Policy, decide};
use crate::crypto::{Aad, Sealer};
use crate::db::messages::{self, NewMessage};
use crate::db::{DbError, followups, outbox, rusqlite::Connection};
use crate::domain::clinic::ClinicFacts;
use crate::domain::cloud_template::CloudTemplate;
use crate::domain::message::Provider;
use crate::domain::quiet_hours::QuietHours;
use crate::domain::time;
use crate::router::Router;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;
use std::sync::Arc;

/// How the tick finds a clinic's name, time zone and default language.
pub type Clinics<'a> = &'a (dyn Fn(&str) -> Option<Arc<ClinicFacts>> + Sync);

/// A committed follow-up message for the sender (the chat address still sealed).
#[derive(Debug, Clone)]
pub struct ClaimedSend {
    pub followup_id: String,
    pub outbox_id: String,
    pub message_id: String,
    pub session_id: String,
    pub provider: Provider,
    pub instance: String,
    pub chat_sealed: Vec<u8>,
    pub text: String,
    pub template: Option<CloudTemplate>,
    /// The chat's last patient message, which bounds when free text can still go out.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// The clinic's quiet hours and time zone: the sender holds the message back in them.
    pub quiet: Option<(QuietHours, Tz)>,
}

#[derive(Debug, Default)]
pub struct TickReport {
    pub sends: Vec<ClaimedSend>,
    pub postponed: usize,
    pub cancelled: usize,
    pub expired: usize,
    pub failed: usize,
    /// As many rows as the limit allowed were due: run again for the rest.
    pub batch_full: bool,
}

pub struct TickDeps<'a> {
    pub phi: &'a Sealer,
    pub router: &'a Router,
    pub clinics: Clinics<'a>,
    pub policy: &'a Policy,
    pub limit: usize,
}

/// Decides and claims the follow-ups due at `now`.
pub fn tick(
    conn: &Connection,
    d: &TickDeps<'_>,
    now: DateTime<Utc>,
) -> Result<TickReport, DbError> {
    let at = time::to_db(now);
    let due = followups::list_due(conn, &at, d.limit)?;
    let mut report = TickReport {
        batch_full: due.len() >= d.limit,
        ..TickReport::default()
    };
    let mut sessions = BTreeSet::new();
    for row in &due {
        sessions.insert(row.session_id.clone());
        let action = plan(d, row, now).unwrap_or_else(|Failed(reason)| Action::Finish {
            status: "failed",
            reason,
        });
        match action {
            Action::Send(send) => {
                if let Some(claimed) = claim(conn, d, row, *send, &at)? {
                    report.sends.push(claimed);
                }
            }
            Action::Postpone { until, reason } => {
                followups::postpone(conn, &row.id, &time::to_db(until), reason, &at)?;
                report.postponed += 1;
            }
            Action::Finish { status, reason } => {
                followups::finish(conn, &row.id, status, &reason, &at)?;
                match status {
                    "cancelled" => report.cancelled += 1,
                    "expired" => report.expired += 1,
                    _ => report.failed += 1,
                }
            }
        }
    }
    for session in &sessions {
        followups::refresh_session_due(conn, session, &at)?;
    }
    Ok(report)
}

/// What to do with one due follow-up, worked out before anything is written.
enum Action {
    Send(Box<Outgoing>),
    Postpone {
        until: DateTime<Utc>,
        reason: &'static str,
    },
    Finish {
        status: &'static str,
        reason: String,
    },
}

struct Outgoing {
    kind: &'static str,
    language: String,
    text: String,
    template: Option<CloudTemplate>,
}

/// A follow-up that cannot be sent, with a reason safe to store (no PHI).
struct Failed(String);

fn plan(d: &TickDeps<'_>, row: &followups::DueRow, now: DateTime<Utc>) -> Result<Action, Failed> {
    let clinic = (d.clinics)(&row.clinic_id).ok_or_else(|| Failed("unknown clinic".into()))?;
    let parse = |s: &str| time::from_db(s).map_err(|_| Failed("unreadable stored time".into()));
    let provider =
        Provider::parse(&row.provider).ok_or_else(|| Failed("unknown provider".into()))?;
    let facts = Facts {
        kind: &row.kind,
        source: Source::parse(&row.source).unwrap_or(Source::Rule),
        due_at: parse(&row.due_at)?,
        session_open: row.session_open,
        human_until: row.human_until.as_deref().map(parse).transpose()?,
        last_inbound_at: row.last_inbound_at.as_deref().map(parse).transpose()?,
        provider,
    };
    let template = match decide(&facts, d.policy, clinic.timezone, now) {
        Decision::Send => None,
        Decision::SendTemplate(t) => Some(t),
        Decision::Postpone { until, reason } => return Ok(Action::Postpone { until, reason }),
        Decision::Cancel(reason) => {
            return Ok(Action::Finish {
                status: "cancelled",
                reason: reason.into(),
            });
        }
        Decision::Expire(reason) => {
            return Ok(Action::Finish {
                status: "expired",
                reason: reason.into(),
            });
        }
    };
    let context: serde_json::Value =
        serde_json::from_str(&row.context).map_err(|_| Failed("unreadable context".into()))?;
    let language = row
        .language
        .clone()
        .unwrap_or_else(|| clinic.default_language.clone());
    if let Some(t) = template {
        let params = template_params(&t.params, &context, clinic.timezone)
            .map_err(|e| Failed(e.to_string()))?;
        let cloud = CloudTemplate {
            name: t.name.clone(),
            language: t.language.clone().unwrap_or_else(|| language.clone()),
            params,
        };
        return Ok(Action::Send(Box::new(Outgoing {
            kind: "template",
            language,
            text: cloud.to_json(),
            template: Some(cloud),
        })));
    }
    let own_text = row
        .text_sealed
        .as_deref()
        .map(|s| d.phi.open_string(s, Aad::new("followups", "text", &row.id)))
        .transpose()
        .map_err(|_| Failed("its text cannot be decrypted".into()))?;
    let wording = Wording {
        text: own_text.as_deref(),
        template: row.template.as_deref(),
        kind: &row.kind,
        context: &context,
    };
    let text = compose_text(
        d.router,
        &wording,
        &language,
        &clinic.default_language,
        &clinic.name,
        clinic.timezone,
    )
    .map_err(|e| Failed(e.to_string()))?;
    Ok(Action::Send(Box::new(Outgoing {
        kind: "text",
        language,
        text,
        template: None,
    })))
}

/// Claims the follow-up (status `sent`), then stores its message and send-outbox row.
/// `None` if it was no longer scheduled.
fn claim(
    conn: &Connection,
    d: &TickDeps<'_>,
    row: &followups::DueRow,
    out: Outgoing,
    at: &str,
) -> Result<Option<ClaimedSend>, DbError> {
    if !followups::claim(conn, &row.id, at)? {
        return Ok(None);
    }
    let message_id = uuid::Uuid::now_v7().to_string();
    let outbox_id = uuid::Uuid::now_v7().to_string();
    let body = d.phi.seal_str(
        &out.text,
        Aad::new("whatsapp_messages", "body", &message_id),
    );
    let provider = Provider::parse(&row.provider).unwrap_or(Provider::Evolution);
    messages::insert_message_if_new(
        conn,
        &NewMessage {
            id: &message_id,
            clinic_id: &row.clinic_id,
            session_id: &row.session_id,
            contact_id: &row.contact_id,
            direction: "outbound",
            author: "bot",
            provider: provider.as_str(),
            instance: &row.instance,
            provider_message_id: None,
            kind: out.kind,
            body_sealed: Some(&body),
            language: Some(&out.language),
            intent: None,
            reply_to: None,
            status: "queued",
            sent_at: None,
        },
        at,
    )?;
    outbox::insert_outbox(conn, &outbox_id, &message_id, at)?;
    followups::set_message(conn, &row.id, &message_id, at)?;
    Ok(Some(ClaimedSend {
        followup_id: row.id.clone(),
        outbox_id,
        message_id,
        session_id: row.session_id.clone(),
        provider,
        instance: row.instance.clone(),
        chat_sealed: row.chat_sealed.clone(),
        text: out.text,
        template: out.template,
        last_inbound_at: row
            .last_inbound_at
            .as_deref()
            .and_then(|t| time::from_db(t).ok()),
        quiet: d
            .policy
            .quiet
            .zip((d.clinics)(&row.clinic_id).map(|c| c.timezone)),
    }))
}
