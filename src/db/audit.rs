//! Rows of the append-only audit log and its anchored head. The chain logic (MACs, what
//! counts as broken) is `services::audit`'s; this file only stores and fetches.

use super::{DbError, meta};
use rusqlite::{Connection, params};

#[derive(Debug, Clone)]
pub struct AuditRow {
    pub seq: i64,
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub detail: String,
    pub prev_mac: Vec<u8>,
    pub mac: Vec<u8>,
}

/// The anchored end of the chain: last sequence number, its MAC, and a MAC over both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub mac: Vec<u8>,
    pub head_mac: Vec<u8>,
}

pub fn insert(conn: &Connection, row: &AuditRow) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (seq, id, at, actor, action, subject, detail, prev_mac, mac)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        row.seq,
        row.id,
        row.at,
        row.actor,
        row.action,
        row.subject,
        row.detail,
        row.prev_mac,
        row.mac
    ])?;
    Ok(())
}

pub fn find_head(conn: &Connection) -> Result<Option<AuditHead>, DbError> {
    let Some(text) = meta::find(conn, meta::AUDIT_HEAD)? else {
        return Ok(None);
    };
    let mut parts = text.split(':');
    let parse = |p: Option<&str>| p.and_then(|s| hex::decode(s).ok());
    let seq = parts.next().and_then(|s| s.parse().ok());
    match (seq, parse(parts.next()), parse(parts.next()), parts.next()) {
        (Some(seq), Some(mac), Some(head_mac), None) => Ok(Some(AuditHead { seq, mac, head_mac })),
        _ => Err(DbError::Corrupt(
            "the audit head record is malformed".into(),
        )),
    }
}

pub fn set_head(conn: &Connection, head: &AuditHead, now: &str) -> Result<(), DbError> {
    let text = format!(
        "{}:{}:{}",
        head.seq,
        hex::encode(&head.mac),
        hex::encode(&head.head_mac)
    );
    meta::set(conn, meta::AUDIT_HEAD, &text, now)
}

/// Calls `f` for every entry in sequence order; stops early when `f` returns false.
pub fn for_each(conn: &Connection, mut f: impl FnMut(AuditRow) -> bool) -> Result<(), DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, id, at, actor, action, subject, detail, prev_mac, mac FROM audit_log ORDER BY seq",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let row = AuditRow {
            seq: r.get(0)?,
            id: r.get(1)?,
            at: r.get(2)?,
            actor: r.get(3)?,
            action: r.get(4)?,
            subject: r.get(5)?,
            detail: r.get(6)?,
            prev_mac: r.get(7)?,
            mac: r.get(8)?,
        };
        if !f(row) {
            break;
        }
    }
    Ok(())
}

pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM audit_log")?
        .query_row([], |r| r.get(0))?)
}

/// Entries of one action at or after `since` (for rate limits such as rejected webhooks).
pub fn count_action_since(conn: &Connection, action: &str, since: &str) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM audit_log WHERE action = ?1 AND at >= ?2")?
        .query_row(params![action, since], |r| r.get(0))?)
}
