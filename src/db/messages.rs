//! WhatsApp messages (both directions) and the metric row of each reply. Every write here
//! queues its row for the central side itself (see schema/0008_message_path_sync.sql).

use super::{DbError, optional, sync};
use rusqlite::{Connection, params};

pub struct NewMessage<'a> {
    pub id: &'a str,
    pub clinic_id: &'a str,
    pub session_id: &'a str,
    pub contact_id: &'a str,
    /// "inbound" or "outbound".
    pub direction: &'a str,
    /// "patient", "bot" or "staff".
    pub author: &'a str,
    pub provider: &'a str,
    pub instance: &'a str,
    pub provider_message_id: Option<&'a str>,
    pub kind: &'a str,
    pub body_sealed: Option<&'a [u8]>,
    pub language: Option<&'a str>,
    pub intent: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    pub status: &'a str,
    pub sent_at: Option<&'a str>,
}

/// Inserts the message unless one with the same (provider, instance, provider message id)
/// exists. Returns whether it was inserted: `false` is a duplicate delivery.
/// Inserts a message we are about to send (it has no gateway id yet) and returns the id it
/// is stored under: the rows that refer to it take that id, never one computed elsewhere.
pub fn insert_reply(conn: &Connection, m: &NewMessage<'_>, now: &str) -> Result<String, DbError> {
    if insert_message_if_new(conn, m, now)? {
        Ok(m.id.to_owned())
    } else {
        Err(DbError::Corrupt(format!("reply {} was stored twice", m.id)))
    }
}

pub fn insert_message_if_new(
    conn: &Connection,
    m: &NewMessage<'_>,
    now: &str,
) -> Result<bool, DbError> {
    let n = conn.prepare_cached("INSERT INTO whatsapp_messages (id, clinic_id, session_id, contact_id, direction, author,
             provider, instance, provider_message_id, kind, body_sealed, language, intent, reply_to,
             status, sent_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17)
         ON CONFLICT (provider, instance, provider_message_id) DO NOTHING")?.execute(params![
            m.id,
            m.clinic_id,
            m.session_id,
            m.contact_id,
            m.direction,
            m.author,
            m.provider,
            m.instance,
            m.provider_message_id,
            m.kind,
            m.body_sealed,
            m.language,
            m.intent,
            m.reply_to,
            m.status,
            m.sent_at,
            now
        ],
    )?;
    if n == 1 {
        sync::queue(conn, "whatsapp_messages", m.id)?;
    }
    Ok(n == 1)
}

/// Whether a message with this gateway id is already stored (duplicate delivery, or the
/// echo of one of our own sends).
pub fn find_by_provider_id(
    conn: &Connection,
    provider: &str,
    instance: &str,
    provider_message_id: &str,
) -> Result<Option<(String, String)>, DbError> {
    optional(
        conn.prepare_cached(
            "SELECT id, direction FROM whatsapp_messages
         WHERE provider = ?1 AND instance = ?2 AND provider_message_id = ?3",
        )?
        .query_row(params![provider, instance, provider_message_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        }),
    )
}

/// Applies a delivery receipt to our outbound message. Statuses only move forward
/// (sent → delivered → read); a failure is recorded whatever came before. Returns whether a
/// message changed.
pub fn apply_receipt(
    conn: &Connection,
    provider: &str,
    instance: &str,
    provider_message_id: &str,
    status: &str,
    reason: Option<&str>,
    now: &str,
) -> Result<bool, DbError> {
    let mut stmt = conn.prepare_cached("UPDATE whatsapp_messages SET status = ?4, status_reason = coalesce(?5, status_reason),
             updated_at = ?6
         WHERE provider = ?1 AND instance = ?2 AND provider_message_id = ?3
           AND direction = 'outbound'
           AND (?4 = 'failed' OR
                (CASE status WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                             WHEN 'read' THEN 3 ELSE 9 END)
                < (CASE ?4 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 ELSE 0 END))
         RETURNING id")?;
    let changed = stmt
        .query_map(
            params![provider, instance, provider_message_id, status, reason, now],
            |r| r.get::<_, String>(0),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    for id in &changed {
        sync::queue(conn, "whatsapp_messages", id)?;
    }
    Ok(!changed.is_empty())
}

/// The gateway accepted our message: record its id (so receipts find it) and the time.
pub fn mark_sent(
    conn: &Connection,
    message_id: &str,
    provider_message_id: Option<&str>,
    now: &str,
) -> Result<(), DbError> {
    let n = conn
        .prepare_cached(
            // A gateway id another message already holds (a gateway that reset its counter, a
            // misbehaving proxy) is not recorded: failing here would lose the whole batch of send
            // outcomes and make delivered messages look pending, to be sent again.
            "UPDATE whatsapp_messages SET
             provider_message_id = coalesce(
                 (SELECT ?2 WHERE NOT EXISTS (
                     SELECT 1 FROM whatsapp_messages other
                     WHERE other.provider = whatsapp_messages.provider
                       AND other.instance = whatsapp_messages.instance
                       AND other.provider_message_id = ?2 AND other.id <> ?1)),
                 provider_message_id),
             -- A follow-up withdrawn while its send was already on the wire went out all
             -- the same: the row says what the patient got.
             status_reason = CASE WHEN status = 'failed' AND status_reason LIKE 'withdrawn:%'
                 THEN 'withdrawn too late: it was already on its way' ELSE status_reason END,
             status = CASE WHEN status = 'queued'
                 OR (status = 'failed' AND status_reason LIKE 'withdrawn:%')
                 THEN 'sent' ELSE status END,
             sent_at = ?3, updated_at = ?3
         WHERE id = ?1",
        )?
        .execute(params![message_id, provider_message_id, now])?;
    sync::queue_if_changed(conn, n, "whatsapp_messages", message_id)
}

pub fn mark_failed(
    conn: &Connection,
    message_id: &str,
    reason: &str,
    now: &str,
) -> Result<(), DbError> {
    let n = conn.prepare_cached("UPDATE whatsapp_messages SET status = 'failed', status_reason = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![message_id, reason, now],
    )?;
    sync::queue_if_changed(conn, n, "whatsapp_messages", message_id)
}

/// A stored message, PHI still sealed.
#[derive(Debug, Clone)]
pub struct MessageRow {
    pub id: String,
    pub direction: String,
    pub author: String,
    pub kind: String,
    pub body_sealed: Option<Vec<u8>>,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: String,
}

/// The latest `limit` messages of a session, oldest first.
pub fn list_session_messages(
    conn: &Connection,
    session_id: &str,
    limit: usize,
) -> Result<Vec<MessageRow>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, direction, author, kind, body_sealed, status, status_reason, created_at FROM (
             SELECT * FROM whatsapp_messages WHERE session_id = ?1
             ORDER BY created_at DESC, id DESC LIMIT ?2)
         ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map(params![session_id, limit as i64], |r| {
        Ok(MessageRow {
            id: r.get(0)?,
            direction: r.get(1)?,
            author: r.get(2)?,
            kind: r.get(3)?,
            body_sealed: r.get(4)?,
            status: r.get(5)?,
            status_reason: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One reply's measurements. `message_id` is the reply's own id, as stored.
pub struct NewMetric<'a> {
    pub id: &'a str,
    pub message_id: &'a str,
    pub inbound_message_id: Option<&'a str>,
    pub clinic_id: &'a str,
    pub route: &'a str,
    pub intent: Option<&'a str>,
    pub language: Option<&'a str>,
    pub received_to_queued_us: i64,
    pub remote_calls_before_send: i64,
    pub model: Option<&'a str>,
    pub tokens_in: Option<i64>,
    pub tokens_out: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub llm_total_ms: Option<i64>,
}

pub fn insert_metric(conn: &Connection, m: &NewMetric<'_>, now: &str) -> Result<(), DbError> {
    conn.prepare_cached("INSERT INTO message_metrics (id, message_id, inbound_message_id, clinic_id, route, intent,
             language, received_to_queued_us, remote_calls_before_send, model, tokens_in, tokens_out,
             ttft_ms, llm_total_ms, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)")?.execute(params![
            m.id,
            m.message_id,
            m.inbound_message_id,
            m.clinic_id,
            m.route,
            m.intent,
            m.language,
            m.received_to_queued_us,
            m.remote_calls_before_send,
            m.model,
            m.tokens_in,
            m.tokens_out,
            m.ttft_ms,
            m.llm_total_ms,
            now
        ],
    )?;
    sync::queue(conn, "message_metrics", m.id)
}
