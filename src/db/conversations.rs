//! Contacts, their conversation sessions, and handoffs to staff. PHI columns arrive sealed.

use super::{DbError, optional};
use rusqlite::{Connection, params};

/// What a turn needs to know about a chat: who, which session, and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRow {
    pub contact_id: String,
    pub session_id: String,
    pub language: Option<String>,
    pub human_until: Option<String>,
    pub last_inbound_at: Option<String>,
}

pub struct NewContact<'a> {
    pub id: &'a str,
    pub clinic_id: &'a str,
    pub phone_index: &'a str,
    pub phone_sealed: &'a [u8],
    pub name_sealed: Option<&'a [u8]>,
    pub lid_sealed: Option<&'a [u8]>,
    /// Blind index of the @lid, when the message named one.
    pub lid_index: Option<&'a str>,
}

pub struct NewSession<'a> {
    pub id: &'a str,
    pub clinic_id: &'a str,
    pub contact_id: &'a str,
    pub provider: &'a str,
    pub instance: &'a str,
    pub chat_sealed: &'a [u8],
    pub language: Option<&'a str>,
    pub last_inbound_at: Option<&'a str>,
}

/// A chat as stored: its contact, and the open session on this channel if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundChat {
    pub contact_id: String,
    pub session: Option<ChatRow>,
}

/// The contact with this blind index and its open session on one channel, in one lookup.
pub fn find_chat(
    conn: &Connection,
    clinic_id: &str,
    phone_index: &str,
    provider: &str,
    instance: &str,
) -> Result<Option<FoundChat>, DbError> {
    optional(
        conn.prepare_cached(
            "SELECT c.id, s.id, s.language, s.human_until, s.last_inbound_at
             FROM contacts c
             LEFT JOIN conversation_sessions s ON s.contact_id = c.id AND s.provider = ?3
                  AND s.instance = ?4 AND s.status = 'open'
             WHERE c.clinic_id = ?1 AND c.phone_index = ?2",
        )?
        .query_row(params![clinic_id, phone_index, provider, instance], |r| {
            let contact_id: String = r.get(0)?;
            let session = match r.get::<_, Option<String>>(1)? {
                None => None,
                Some(session_id) => Some(ChatRow {
                    contact_id: contact_id.clone(),
                    session_id,
                    language: r.get(2)?,
                    human_until: r.get(3)?,
                    last_inbound_at: r.get(4)?,
                }),
            };
            Ok(FoundChat {
                contact_id,
                session,
            })
        }),
    )
}

pub fn insert_contact(conn: &Connection, c: &NewContact<'_>, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO contacts (id, clinic_id, phone_index, phone_sealed, name_sealed, lid_sealed,
                               lid_index, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        c.id,
        c.clinic_id,
        c.phone_index,
        c.phone_sealed,
        c.name_sealed,
        c.lid_sealed,
        c.lid_index,
        now
    ])?;
    Ok(())
}

/// Keeps the @lid (and its blind index) of a contact first seen by phone, or seen before
/// migration 6; a stored one is never replaced.
/// Contacts holding an @lid without its blind index: stored before migration 6.
pub fn contacts_without_lid_index(conn: &Connection) -> Result<Vec<(String, Vec<u8>)>, DbError> {
    let mut stmt = conn.prepare(
        "SELECT id, lid_sealed FROM contacts WHERE lid_sealed IS NOT NULL AND lid_index IS NULL",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub fn set_contact_lid_index(
    conn: &Connection,
    contact_id: &str,
    lid_index: &str,
) -> Result<(), DbError> {
    // `updated_at` is left alone: the blind index is local, nothing the central side has
    // changed.
    conn.execute(
        "UPDATE contacts SET lid_index = ?2 WHERE id = ?1 AND lid_index IS NULL",
        params![contact_id, lid_index],
    )?;
    Ok(())
}

pub fn set_contact_lid_if_missing(
    conn: &Connection,
    contact_id: &str,
    lid_sealed: &[u8],
    lid_index: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE contacts SET lid_sealed = coalesce(lid_sealed, ?2),
                             lid_index = coalesce(lid_index, ?3), updated_at = ?4
         WHERE id = ?1 AND (lid_sealed IS NULL OR lid_index IS NULL)",
    )?
    .execute(params![contact_id, lid_sealed, lid_index, now])?;
    Ok(())
}

/// The chat key (`phone_index`) of the clinic's contact with this @lid, if one is known; a
/// contact known by phone before one known only by this @lid.
pub fn phone_index_by_lid(
    conn: &Connection,
    clinic_id: &str,
    lid_index: &str,
) -> Result<Option<String>, DbError> {
    optional(
        conn.prepare_cached(
            "SELECT phone_index FROM contacts WHERE clinic_id = ?1 AND lid_index = ?2
             ORDER BY phone_index = ?2 LIMIT 1",
        )?
        .query_row(params![clinic_id, lid_index], |r| r.get(0)),
    )
}

pub fn insert_session(conn: &Connection, s: &NewSession<'_>, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO conversation_sessions (id, clinic_id, contact_id, provider, instance,
                                            chat_sealed, language, last_inbound_at,
                                            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        s.id,
        s.clinic_id,
        s.contact_id,
        s.provider,
        s.instance,
        s.chat_sealed,
        s.language,
        s.last_inbound_at,
        now
    ])?;
    Ok(())
}

/// Records a patient turn: the language the chat is in and when the patient last wrote.
pub fn touch_inbound(
    conn: &Connection,
    session_id: &str,
    language: Option<&str>,
    at: &str,
    now: &str,
) -> Result<(), DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE conversation_sessions SET language = coalesce(?2, language),
             last_inbound_at = max(coalesce(last_inbound_at, ''), ?3), updated_at = ?4
         WHERE id = ?1",
        )?
        .execute(params![session_id, language, at, now])?;
    queue_session(conn, n, session_id)
}

/// Updates of sessions queue their rows themselves (see schema/0008_message_path_sync.sql).
pub(super) fn queue_session(
    conn: &Connection,
    changed: usize,
    session_id: &str,
) -> Result<(), DbError> {
    super::sync::queue_if_changed(conn, changed, "conversation_sessions", session_id)
}

/// Staff took the chat over until `until`; `None` hands it back to the bot.
pub fn set_human_until(
    conn: &Connection,
    session_id: &str,
    until: Option<&str>,
    now: &str,
) -> Result<(), DbError> {
    let n = conn
        .prepare_cached(
            "UPDATE conversation_sessions SET human_until = ?2, updated_at = ?3 WHERE id = ?1",
        )?
        .execute(params![session_id, until, now])?;
    queue_session(conn, n, session_id)
}

pub struct NewHandoff<'a> {
    pub id: &'a str,
    pub clinic_id: &'a str,
    pub session_id: &'a str,
    pub message_id: Option<&'a str>,
    pub reason: &'a str,
    pub urgent: bool,
}

/// Opens a handoff and marks the session as handed to staff.
pub fn insert_handoff(conn: &Connection, h: &NewHandoff<'_>, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO handoffs (id, clinic_id, session_id, message_id, reason, urgent, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        h.id,
        h.clinic_id,
        h.session_id,
        h.message_id,
        h.reason,
        h.urgent,
        now
    ])?;
    let n = conn.prepare_cached("UPDATE conversation_sessions SET handoff_reason = ?2, handoff_urgent = ?3, handoff_at = ?4,
             updated_at = ?4 WHERE id = ?1")?.execute(params![h.session_id, h.reason, h.urgent, now],
    )?;
    queue_session(conn, n, h.session_id)
}

/// An open session of a contact, for staff tools that find a chat by phone number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSession {
    pub session_id: String,
    pub clinic_id: String,
    pub clinic_name: String,
    pub timezone: String,
    pub default_language: String,
    pub language: Option<String>,
    pub provider: String,
    pub last_inbound_at: Option<String>,
}

/// Open sessions of contacts with this blind index, in any clinic, latest activity first.
pub fn list_open_sessions_by_phone(
    conn: &Connection,
    phone_index: &str,
) -> Result<Vec<OpenSession>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.clinic_id, k.name, k.timezone, k.default_language, s.language,
                s.provider, s.last_inbound_at
         FROM contacts c
         JOIN conversation_sessions s ON s.contact_id = c.id AND s.status = 'open'
         JOIN clinics k ON k.id = s.clinic_id
         WHERE c.clinic_id IN (SELECT id FROM clinics) AND c.phone_index = ?1
         ORDER BY coalesce(s.last_inbound_at, s.created_at) DESC, s.id",
    )?;
    let rows = stmt.query_map([phone_index], |r| {
        Ok(OpenSession {
            session_id: r.get(0)?,
            clinic_id: r.get(1)?,
            clinic_name: r.get(2)?,
            timezone: r.get(3)?,
            default_language: r.get(4)?,
            language: r.get(5)?,
            provider: r.get(6)?,
            last_inbound_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A chat whose latest message is a patient's, still unanswered (an LLM answer was being
/// prepared when the process stopped).
#[derive(Debug, Clone)]
pub struct UnansweredChat {
    pub session_id: String,
    pub contact_id: String,
    pub clinic_id: String,
    pub phone_index: String,
    pub provider: String,
    pub instance: String,
    pub chat_sealed: Vec<u8>,
    pub language: Option<String>,
    pub inbound_id: String,
}

/// Chats whose last message (since `since`) is an unanswered patient message, excluding
/// chats staff own at `now`.
pub fn list_unanswered(
    conn: &Connection,
    since: &str,
    now: &str,
) -> Result<Vec<UnansweredChat>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.contact_id, s.clinic_id, c.phone_index, s.provider, s.instance,
                s.chat_sealed, s.language, m.id
         FROM whatsapp_messages m
         JOIN conversation_sessions s ON s.id = m.session_id
         JOIN contacts c ON c.id = s.contact_id
         WHERE m.created_at >= ?1 AND m.direction = 'inbound'
           AND (s.human_until IS NULL OR s.human_until <= ?2)
           AND NOT EXISTS (SELECT 1 FROM whatsapp_messages later
                           WHERE later.session_id = m.session_id
                             AND (later.created_at, later.id) > (m.created_at, m.id))",
    )?;
    let rows = stmt.query_map(params![since, now], |r| {
        Ok(UnansweredChat {
            session_id: r.get(0)?,
            contact_id: r.get(1)?,
            clinic_id: r.get(2)?,
            phone_index: r.get(3)?,
            provider: r.get(4)?,
            instance: r.get(5)?,
            chat_sealed: r.get(6)?,
            language: r.get(7)?,
            inbound_id: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
