//! The send outbox: one row per WhatsApp message to deliver, written in the same transaction
//! as the message, drained by the sender job.

use super::DbError;
use rusqlite::{Connection, params};

pub fn insert_outbox(
    conn: &Connection,
    id: &str,
    message_id: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO send_outbox (id, message_id, next_attempt_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?3, ?3)",
    )?
    .execute(params![id, message_id, now])?;
    Ok(())
}

/// A pending send with what the sender needs to deliver it (PHI still sealed).
#[derive(Debug, Clone)]
pub struct PendingSend {
    pub outbox_id: String,
    pub message_id: String,
    pub session_id: String,
    pub provider: String,
    pub instance: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub body_sealed: Option<Vec<u8>>,
    pub chat_sealed: Vec<u8>,
    /// The message's kind: "text", or "template" (a Cloud API template as JSON).
    pub kind: String,
    /// For a message nobody asked for (a follow-up: it answers no message), the patient's last
    /// message in the chat; free text may go out until 24 h after it. `None` for a reply.
    pub unsolicited_since: Option<String>,
    /// The clinic's time zone (IANA name).
    pub timezone: String,
}

/// The reason recorded for free text that could not go out before WhatsApp's 24-hour window
/// closed; a follow-up it carried is then expired rather than failed.
pub const WINDOW_CLOSED: &str = "WhatsApp's 24-hour window closed before the message could be sent";

/// Every pending send, oldest first (the order replies were written in).
pub fn list_pending(conn: &Connection) -> Result<Vec<PendingSend>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT o.id, o.message_id, m.session_id, m.provider, m.instance, o.attempts,
                o.next_attempt_at, m.body_sealed, s.chat_sealed, m.kind,
                CASE WHEN m.reply_to IS NULL THEN s.last_inbound_at END, c.timezone
         FROM send_outbox o
         JOIN whatsapp_messages m ON m.id = o.message_id
         JOIN conversation_sessions s ON s.id = m.session_id
         JOIN clinics c ON c.id = s.clinic_id
         WHERE o.status = 'pending'
         ORDER BY o.created_at, o.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(PendingSend {
            outbox_id: r.get(0)?,
            message_id: r.get(1)?,
            session_id: r.get(2)?,
            provider: r.get(3)?,
            instance: r.get(4)?,
            attempts: r.get(5)?,
            next_attempt_at: r.get(6)?,
            body_sealed: r.get(7)?,
            chat_sealed: r.get(8)?,
            kind: r.get(9)?,
            unsolicited_since: r.get(10)?,
            timezone: r.get(11)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn mark_done(conn: &Connection, outbox_id: &str, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE send_outbox SET status = 'done', attempts = attempts + 1, last_error = NULL,
             updated_at = ?2 WHERE id = ?1",
    )?
    .execute(params![outbox_id, now])?;
    Ok(())
}

pub fn mark_retry(
    conn: &Connection,
    outbox_id: &str,
    attempts: u32,
    next_at: &str,
    error: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE send_outbox SET attempts = ?2, next_attempt_at = ?3, last_error = ?4, updated_at = ?5
         WHERE id = ?1")?.execute(params![outbox_id, attempts, next_at, error, now],
    )?;
    Ok(())
}

pub fn mark_failed(
    conn: &Connection,
    outbox_id: &str,
    attempts: u32,
    error: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE send_outbox SET status = 'failed', attempts = ?2, last_error = ?3, updated_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![outbox_id, attempts, error, now])?;
    Ok(())
}

pub fn count_pending(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM send_outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))?)
}

/// What happened to one send attempt, as recorded by the sender.
#[derive(Debug, Clone)]
pub enum SendOutcome {
    Sent {
        outbox_id: String,
        message_id: String,
        session_id: String,
        /// The gateway that took it, as receipts name it.
        provider: &'static str,
        instance: String,
        provider_message_id: Option<String>,
        at: String,
    },
    Retry {
        outbox_id: String,
        attempts: u32,
        next_at: String,
        error: String,
        at: String,
    },
    Failed {
        outbox_id: String,
        message_id: String,
        attempts: u32,
        error: String,
        at: String,
    },
}

/// Whether a queued send is still wanted (a follow-up's may have been withdrawn meanwhile).
pub fn is_pending(conn: &Connection, outbox_id: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM send_outbox WHERE id = ?1 AND status = 'pending'")?
        .exists([outbox_id])?)
}

/// Records many outcomes in one go (one write job per burst of completed sends, not one per
/// send: the single writer's time is the scarce resource under load).
pub fn record_outcomes(conn: &Connection, outcomes: &[SendOutcome]) -> Result<(), DbError> {
    for outcome in outcomes {
        match outcome {
            SendOutcome::Sent {
                outbox_id,
                message_id,
                provider_message_id,
                at,
                ..
            } => {
                mark_done(conn, outbox_id, at)?;
                super::messages::mark_sent(conn, message_id, provider_message_id.as_deref(), at)?;
                super::followups::mark_sent_after_withdrawal(conn, message_id, at)?;
            }
            SendOutcome::Retry {
                outbox_id,
                attempts,
                next_at,
                error,
                at,
            } => mark_retry(conn, outbox_id, *attempts, next_at, error, at)?,
            SendOutcome::Failed {
                outbox_id,
                message_id,
                attempts,
                error,
                at,
            } => {
                mark_failed(conn, outbox_id, *attempts, error, at)?;
                super::messages::mark_failed(conn, message_id, error, at)?;
                // A follow-up is "sent" once queued; one that never reached the patient says so.
                let status = if error == WINDOW_CLOSED {
                    "expired"
                } else {
                    "failed"
                };
                super::followups::mark_undelivered(conn, message_id, status, error, at)?;
            }
        }
    }
    Ok(())
}
