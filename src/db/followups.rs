//! Follow-ups: storing them, the session's `scheduled_followup_at`, the due rows a tick claims
//! and the status changes that claim them. Free text arrives sealed. Decisions (what to do
//! with a due row) are made in `services::followups`; this file only stores and fetches.

use super::{DbError, optional};
use rusqlite::{Connection, Row, params};

pub struct NewFollowupRow<'a> {
    pub id: &'a str,
    pub clinic_id: &'a str,
    pub session_id: &'a str,
    pub kind: &'a str,
    pub due_at: &'a str,
    /// JSON text.
    pub context: &'a str,
    /// "llm", "staff" or "rule".
    pub source: &'a str,
    pub text_sealed: Option<&'a [u8]>,
    pub template: Option<&'a str>,
    pub rule: Option<&'a str>,
    pub cancel_on_reply: bool,
}

/// Inserts a follow-up. Returns `false`, inserting nothing, when it comes from a rule that
/// already has one pending in this chat (at most one per chat and rule).
pub fn insert_followup(
    conn: &Connection,
    f: &NewFollowupRow<'_>,
    now: &str,
) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO followups (id, clinic_id, session_id, kind, due_at, context, source,
                 text_sealed, template, rule, cancel_on_reply, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
             ON CONFLICT (session_id, rule) WHERE status = 'scheduled' AND rule IS NOT NULL
             DO NOTHING",
        )?
        .execute(params![
            f.id,
            f.clinic_id,
            f.session_id,
            f.kind,
            f.due_at,
            f.context,
            f.source,
            f.text_sealed,
            f.template,
            f.rule,
            f.cancel_on_reply,
            now
        ])?;
    Ok(n == 1)
}

/// Sets the session's `scheduled_followup_at` to its earliest pending follow-up (NULL when
/// none is pending).
pub fn refresh_session_due(conn: &Connection, session_id: &str, now: &str) -> Result<(), DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE conversation_sessions SET scheduled_followup_at = due, updated_at = ?2
         FROM (SELECT min(due_at) AS due FROM followups
               WHERE session_id = ?1 AND status = 'scheduled')
         WHERE id = ?1 AND scheduled_followup_at IS NOT due",
        )?
        .execute(params![session_id, now])?;
    super::conversations::queue_session(conn, n, session_id)
}

/// A patient wrote: cancels the chat's pending follow-ups that a reply makes pointless.
/// Returns how many were cancelled.
pub fn cancel_on_reply(conn: &Connection, session_id: &str, now: &str) -> Result<usize, DbError> {
    // Almost every patient message finds none: the probe spares the UPDATE (see `any`).
    if !any(conn, ANY_TO_CANCEL_ON_REPLY, session_id)? {
        return Ok(0);
    }
    Ok(conn
        .prepare_cached(
            "UPDATE followups SET status = 'cancelled', last_error = 'the patient replied',
                 updated_at = ?2
             WHERE session_id = ?1 AND status = 'scheduled' AND cancel_on_reply = 1",
        )?
        .execute(params![session_id, now])?)
}

/// Which claimed follow-ups a chat event withdraws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdraw<'a> {
    /// The patient wrote: those a reply makes pointless (`cancel_on_reply`).
    OnReply,
    /// Staff took the chat over: the bot's own (from the LLM or a rule).
    BotsOwn,
    /// Staff cancel this one.
    Only(&'a str),
}

/// Follow-ups claimed by a tick but not delivered yet (their send still waits in the queue,
/// say for a gateway that is down) are withdrawn as if still scheduled: the follow-up is
/// cancelled and its queued message failed with `reason`; the sender checks a follow-up's
/// message is still pending right before it calls the gateway. Returns how many.
pub fn withdraw_undelivered(
    conn: &Connection,
    session_id: &str,
    which: Withdraw<'_>,
    reason: &str,
    now: &str,
) -> Result<usize, DbError> {
    let (filter, only) = match which {
        Withdraw::OnReply => ("f.cancel_on_reply = 1 AND ?2 IS NULL", None),
        Withdraw::BotsOwn => ("f.source IN ('llm', 'rule') AND ?2 IS NULL", None),
        Withdraw::Only(id) => ("f.id = ?2", Some(id)),
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT f.id, f.message_id, o.id, o.attempts FROM followups f
         JOIN send_outbox o ON o.message_id = f.message_id AND o.status = 'pending'
         WHERE f.session_id = ?1 AND f.status = 'sent' AND {filter}"
    ))?;
    let claimed = stmt
        .query_map(params![session_id, only], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let withdrawn = format!("withdrawn: {reason}");
    for (followup_id, message_id, outbox_id, attempts) in &claimed {
        conn.prepare_cached(
            "UPDATE followups SET status = 'cancelled', last_error = ?2, updated_at = ?3
             WHERE id = ?1",
        )?
        .execute(params![followup_id, reason, now])?;
        super::outbox::mark_failed(conn, outbox_id, *attempts, &withdrawn, now)?;
        super::messages::mark_failed(conn, message_id, &withdrawn, now)?;
    }
    Ok(claimed.len())
}

/// A follow-up withdrawn while its send was already on the wire (`withdraw_undelivered` can
/// only take back what the sender has not handed to the gateway yet) was delivered after all:
/// its row says so instead of "cancelled". A no-op for every other message (one index probe).
pub fn mark_sent_after_withdrawal(
    conn: &Connection,
    message_id: &str,
    now: &str,
) -> Result<(), DbError> {
    if !any(conn, ANY_CANCELLED_FOR_MESSAGE, message_id)? {
        return Ok(());
    }
    conn.prepare_cached(
        "UPDATE followups SET status = 'sent',
             last_error = 'withdrawn too late: it was already on its way', updated_at = ?2
         WHERE message_id = ?1 AND status = 'cancelled'",
    )?
    .execute(params![message_id, now])?;
    Ok(())
}

/// The session a follow-up is for: its clinic and whether it is still open.
pub fn find_session(
    conn: &Connection,
    session_id: &str,
) -> Result<Option<(String, bool)>, DbError> {
    optional(
        conn.prepare_cached(
            "SELECT clinic_id, status = 'open' FROM conversation_sessions WHERE id = ?1",
        )?
        .query_row([session_id], |r| Ok((r.get(0)?, r.get(1)?))),
    )
}

/// A due follow-up with what deciding and sending it needs (PHI still sealed).
#[derive(Debug, Clone)]
pub struct DueRow {
    pub id: String,
    pub clinic_id: String,
    pub session_id: String,
    pub contact_id: String,
    pub kind: String,
    pub due_at: String,
    pub context: String,
    pub source: String,
    pub attempts: i64,
    pub text_sealed: Option<Vec<u8>>,
    pub template: Option<String>,
    pub session_open: bool,
    pub language: Option<String>,
    pub human_until: Option<String>,
    pub last_inbound_at: Option<String>,
    pub provider: String,
    pub instance: String,
    pub chat_sealed: Vec<u8>,
}

fn due_row(r: &Row<'_>) -> rusqlite::Result<DueRow> {
    Ok(DueRow {
        id: r.get(0)?,
        clinic_id: r.get(1)?,
        session_id: r.get(2)?,
        contact_id: r.get(3)?,
        kind: r.get(4)?,
        due_at: r.get(5)?,
        context: r.get(6)?,
        source: r.get(7)?,
        attempts: r.get(8)?,
        text_sealed: r.get(9)?,
        template: r.get(10)?,
        session_open: r.get(11)?,
        language: r.get(12)?,
        human_until: r.get(13)?,
        last_inbound_at: r.get(14)?,
        provider: r.get(15)?,
        instance: r.get(16)?,
        chat_sealed: r.get(17)?,
    })
}

/// Scheduled follow-ups due at `now`, earliest first, at most `limit`.
pub fn list_due(conn: &Connection, now: &str, limit: usize) -> Result<Vec<DueRow>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT f.id, f.clinic_id, f.session_id, s.contact_id, f.kind, f.due_at, f.context,
                f.source, f.attempts, f.text_sealed, f.template, s.status = 'open', s.language,
                s.human_until, s.last_inbound_at, s.provider, s.instance, s.chat_sealed
         FROM followups f JOIN conversation_sessions s ON s.id = f.session_id
         WHERE f.status = 'scheduled' AND f.due_at <= ?1
         ORDER BY f.due_at, f.id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit as i64], due_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The claim: a scheduled follow-up becomes `sent`. Returns `false` if it was no longer
/// scheduled (another tick claimed it, or staff cancelled it).
pub fn claim(conn: &Connection, id: &str, now: &str) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE followups SET status = 'sent', attempts = attempts + 1, last_error = NULL,
                 updated_at = ?2
             WHERE id = ?1 AND status = 'scheduled'",
        )?
        .execute(params![id, now])?;
    Ok(n == 1)
}

/// Links a claimed follow-up to the message that carries it.
pub fn set_message(
    conn: &Connection,
    id: &str,
    message_id: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE followups SET message_id = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![id, message_id, now])?;
    Ok(())
}

/// Moves a scheduled follow-up's due time (quiet hours, staff in the chat), noting why.
pub fn postpone(
    conn: &Connection,
    id: &str,
    due_at: &str,
    reason: &str,
    now: &str,
) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE followups SET due_at = ?2, last_error = ?3, updated_at = ?4
             WHERE id = ?1 AND status = 'scheduled'",
        )?
        .execute(params![id, due_at, reason, now])?;
    Ok(n == 1)
}

/// Ends a scheduled follow-up without sending: `cancelled`, `expired` or `failed`, with why.
pub fn finish(
    conn: &Connection,
    id: &str,
    status: &str,
    reason: &str,
    now: &str,
) -> Result<bool, DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE followups SET status = ?2, last_error = ?3, updated_at = ?4
             WHERE id = ?1 AND status = 'scheduled'",
        )?
        .execute(params![id, status, reason, now])?;
    Ok(n == 1)
}

/// A claimed (`sent`) follow-up whose message the sender gave up on: `failed`, or `expired`
/// when WhatsApp's window closed first, with the reason.
pub fn mark_undelivered(
    conn: &Connection,
    message_id: &str,
    status: &str,
    reason: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(MARK_UNDELIVERED)?
        .execute(params![message_id, status, reason, now])?;
    Ok(())
}

/// Looks the follow-up up by `followups_message` (migration 5), not by a scan.
pub(super) const MARK_UNDELIVERED: &str =
    "UPDATE followups SET status = ?2, last_error = ?3, updated_at = ?4
     WHERE message_id = ?1 AND status = 'sent'";

/// A stored follow-up as staff listings and tests see it (text still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowupRow {
    pub id: String,
    pub clinic_id: String,
    pub session_id: String,
    pub kind: String,
    pub due_at: String,
    pub context: String,
    pub status: String,
    pub attempts: i64,
    pub source: String,
    pub message_id: Option<String>,
    pub last_error: Option<String>,
    pub text_sealed: Option<Vec<u8>>,
    pub template: Option<String>,
    pub rule: Option<String>,
    pub cancel_on_reply: bool,
    pub created_at: String,
}

const COLUMNS: &str = "id, clinic_id, session_id, kind, due_at, context, status, attempts, source,
    message_id, last_error, text_sealed, template, rule, cancel_on_reply, created_at";

fn followup_row(r: &Row<'_>) -> rusqlite::Result<FollowupRow> {
    Ok(FollowupRow {
        id: r.get(0)?,
        clinic_id: r.get(1)?,
        session_id: r.get(2)?,
        kind: r.get(3)?,
        due_at: r.get(4)?,
        context: r.get(5)?,
        status: r.get(6)?,
        attempts: r.get(7)?,
        source: r.get(8)?,
        message_id: r.get(9)?,
        last_error: r.get(10)?,
        text_sealed: r.get(11)?,
        template: r.get(12)?,
        rule: r.get(13)?,
        cancel_on_reply: r.get(14)?,
        created_at: r.get(15)?,
    })
}

/// Every follow-up status with its count (0 when none has it), for `/metrics`. An index scan of
/// `followups_due`; the table holds thousands of rows, not millions.
pub fn count_by_status(conn: &Connection) -> Result<Vec<(&'static str, i64)>, DbError> {
    const STATUSES: [&str; 5] = ["scheduled", "sent", "cancelled", "expired", "failed"];
    let mut counts = STATUSES.map(|s| (s, 0));
    let mut stmt = conn.prepare_cached("SELECT status, count(*) FROM followups GROUP BY status")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (status, n) = row?;
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = n;
        }
    }
    Ok(counts.to_vec())
}

pub fn find_followup(conn: &Connection, id: &str) -> Result<Option<FollowupRow>, DbError> {
    optional(
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM followups WHERE id = ?1"))?
            .query_row([id], followup_row),
    )
}

/// A follow-up with what a staff listing shows beside it (the phone still sealed).
#[derive(Debug, Clone)]
pub struct ListedFollowup {
    pub row: FollowupRow,
    pub contact_id: String,
    pub phone_sealed: Vec<u8>,
    pub timezone: String,
    pub language: Option<String>,
}

/// Pending follow-ups by due time; with `all`, also the latest `limit` finished ones.
pub fn list_followups(
    conn: &Connection,
    all: bool,
    limit: usize,
) -> Result<Vec<ListedFollowup>, DbError> {
    let columns: String = COLUMNS
        .split(',')
        .map(|c| format!("f.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {columns}, c.id, c.phone_sealed, k.timezone, s.language
         FROM followups f
         JOIN conversation_sessions s ON s.id = f.session_id
         JOIN contacts c ON c.id = s.contact_id
         JOIN clinics k ON k.id = f.clinic_id
         WHERE f.status = 'scheduled'
            OR (?1 AND f.id IN (SELECT id FROM followups WHERE status <> 'scheduled'
                                ORDER BY updated_at DESC LIMIT ?2))
         ORDER BY f.status <> 'scheduled', f.due_at, f.id"
    ))?;
    let rows = stmt.query_map(params![all, limit as i64], |r| {
        Ok(ListedFollowup {
            row: followup_row(r)?,
            contact_id: r.get(16)?,
            phone_sealed: r.get(17)?,
            timezone: r.get(18)?,
            language: r.get(19)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) const ANY_TO_CANCEL_ON_REPLY: &str = "SELECT EXISTS (SELECT 1 FROM followups
     WHERE session_id = ?1 AND status = 'scheduled' AND cancel_on_reply = 1)";
pub(super) const ANY_CANCELLED_FOR_MESSAGE: &str =
    "SELECT EXISTS (SELECT 1 FROM followups WHERE message_id = ?1 AND status = 'cancelled')";

/// Whether the `SELECT EXISTS (...)` probe `sql` finds a row for `key`.
///
/// The message path probes before it updates follow-ups: an UPDATE of `followups`, even one
/// that changes nothing, runs the table's sync triggers' program and opens a statement
/// journal for them, about four times the instructions of this index probe (callgrind under
/// `frontdesk bench`), and nearly every message has no follow-up to change.
fn any(conn: &Connection, sql: &str, key: &str) -> Result<bool, DbError> {
    Ok(conn.prepare_cached(sql)?.query_row([key], |r| r.get(0))?)
}
