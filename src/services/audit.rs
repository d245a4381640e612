//! The tamper-evident audit trail. Each entry is MACed with `HIPAA_AUDIT_KEY` together with
//! the previous entry's MAC; the head (last seq and MAC, MACed again) is anchored in `meta`.
//! Any edit, deletion, insertion, reordering or cut tail breaks the chain, and `verify` names
//! the first entry where it breaks. Entries hold no PHI: ids, counts and reasons only.

use crate::crypto::{AuditFields, AuditMac, audit_mac::MAC_LEN};
use crate::db::audit::{self as rows, AuditHead, AuditRow};
use crate::db::{DbError, rusqlite::Connection};
use crate::domain::time;
use chrono::{DateTime, Utc};

/// Actions recorded in the trail.
pub mod action {
    pub const KEYS_CREATED: &str = "keys.created";
    pub const KEYS_BOUND: &str = "keys.bound";
    pub const KEYS_CHECKED: &str = "keys.checked";
    pub const STARTUP: &str = "service.startup";
    pub const SHUTDOWN: &str = "service.shutdown";
    pub const MIGRATED: &str = "database.migrated";
    pub const RESTORED: &str = "database.restored";
    pub const WEBHOOK_REJECTED: &str = "webhook.rejected";
}

pub struct AuditEvent<'a> {
    /// Who: "system", "cli", "staff:<id>", "webhook".
    pub actor: &'a str,
    pub action: &'a str,
    /// What it concerns: a row id, a key name; never PHI.
    pub subject: Option<&'a str>,
    pub detail: serde_json::Value,
}

impl<'a> AuditEvent<'a> {
    pub fn new(actor: &'a str, action: &'a str) -> Self {
        Self {
            actor,
            action,
            subject: None,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    pub fn subject(mut self, subject: &'a str) -> Self {
        self.subject = Some(subject);
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Appends one entry. Call inside a write transaction (the single writer serialises appends,
/// so reading the head and writing the next entry cannot interleave).
pub fn record(
    conn: &Connection,
    mac: &AuditMac,
    now: DateTime<Utc>,
    event: &AuditEvent<'_>,
) -> Result<i64, DbError> {
    let (prev_seq, prev_mac) = match rows::find_head(conn)? {
        Some(head) => (head.seq, head.mac),
        None => (0, vec![0u8; MAC_LEN]),
    };
    let seq = prev_seq + 1;
    let id = uuid::Uuid::now_v7().to_string();
    let at = time::to_db(now);
    let detail = event.detail.to_string();
    let fields = AuditFields {
        seq,
        id: &id,
        at: &at,
        actor: event.actor,
        action: event.action,
        subject: event.subject,
        detail: &detail,
    };
    let entry_mac = mac.entry(&prev_mac, &fields).to_vec();
    rows::insert(
        conn,
        &AuditRow {
            seq,
            id: id.clone(),
            at: at.clone(),
            actor: event.actor.into(),
            action: event.action.into(),
            subject: event.subject.map(Into::into),
            detail,
            prev_mac,
            mac: entry_mac.clone(),
        },
    )?;
    let head = AuditHead {
        seq,
        head_mac: mac.head(seq, &entry_mac).to_vec(),
        mac: entry_mac,
    };
    rows::set_head(conn, &head, &at)?;
    Ok(seq)
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    #[error("audit entry #{seq} ({at}, {action}) {problem}")]
    Entry {
        seq: i64,
        at: String,
        action: String,
        problem: String,
    },
    #[error("{0}")]
    Head(String),
}

impl AuditBreak {
    fn at(row: &AuditRow, problem: impl Into<String>) -> Self {
        AuditBreak::Entry {
            seq: row.seq,
            at: row.at.clone(),
            action: row.action.clone(),
            problem: problem.into(),
        }
    }
}

/// Walks the whole chain. `Ok(Ok(n))`: n entries, all intact. `Ok(Err(b))`: broken at `b`.
///
/// The entries and the head anchor are read in one transaction, so from one snapshot: read
/// apart, an entry a running server appends in between would make an intact log look
/// truncated.
pub fn verify(conn: &Connection, mac: &AuditMac) -> Result<Result<i64, AuditBreak>, DbError> {
    let own_transaction = conn.is_autocommit();
    if own_transaction {
        conn.execute_batch("BEGIN")?;
    }
    let outcome = verify_in_snapshot(conn, mac);
    if own_transaction {
        conn.execute_batch("ROLLBACK")?;
    }
    outcome
}

fn verify_in_snapshot(
    conn: &Connection,
    mac: &AuditMac,
) -> Result<Result<i64, AuditBreak>, DbError> {
    let mut prev_mac = vec![0u8; MAC_LEN];
    let mut expected = 1i64;
    let mut broken = None;
    rows::for_each(conn, |row| {
        let fields = AuditFields {
            seq: row.seq,
            id: &row.id,
            at: &row.at,
            actor: &row.actor,
            action: &row.action,
            subject: row.subject.as_deref(),
            detail: &row.detail,
        };
        broken = if row.seq > expected {
            Some(AuditBreak::at(
                &row,
                format!(
                    "follows a gap: entries #{expected}..#{} were deleted",
                    row.seq - 1
                ),
            ))
        } else if row.seq < expected {
            Some(AuditBreak::at(&row, "is numbered out of sequence"))
        } else if row.prev_mac != prev_mac {
            Some(AuditBreak::at(
                &row,
                "does not chain to the entry before it (entries were inserted, removed or reordered)",
            ))
        } else if !mac.verify_entry(&prev_mac, &fields, &row.mac) {
            Some(AuditBreak::at(
                &row,
                "does not match its MAC (it was edited, or written without HIPAA_AUDIT_KEY)",
            ))
        } else {
            None
        };
        prev_mac = row.mac;
        expected += 1;
        broken.is_none()
    })?;
    if let Some(b) = broken {
        return Ok(Err(b));
    }
    let last = expected - 1;
    let head = match rows::find_head(conn) {
        Ok(head) => head,
        Err(DbError::Corrupt(m)) => return Ok(Err(AuditBreak::Head(m))),
        Err(e) => return Err(e),
    };
    let Some(head) = head else {
        // Binding the keys writes the first entry, so a bound database with no entries and
        // no head was wiped, rows and anchor together.
        let bound = crate::db::meta::find(
            conn,
            &crate::db::meta::fingerprint_key(crate::config::KeyName::HipaaAudit.env_name()),
        )?
        .is_some();
        return Ok(if last == 0 && !bound {
            Ok(0)
        } else if last == 0 {
            Err(AuditBreak::Head(
                "the audit log is empty although keys were bound to this database: \
                 every entry and the head anchor were deleted"
                    .into(),
            ))
        } else {
            Err(AuditBreak::Head(
                "the audit head anchor is missing (it was deleted)".into(),
            ))
        });
    };
    if !mac.verify_head(head.seq, &head.mac, &head.head_mac) {
        return Ok(Err(AuditBreak::Head(
            "the audit head anchor does not match its MAC (it was edited)".into(),
        )));
    }
    if head.seq > last {
        return Ok(Err(AuditBreak::Head(format!(
            "the log was truncated: it ends at entry #{last} but the anchored head is entry #{}; \
             entries #{}..#{} are missing",
            head.seq,
            last + 1,
            head.seq
        ))));
    }
    if head.seq < last || head.mac != prev_mac {
        return Ok(Err(AuditBreak::Head(format!(
            "entries after the anchored head (#{}) were appended without HIPAA_AUDIT_KEY; \
             the first is #{}",
            head.seq,
            head.seq + 1
        ))));
    }
    Ok(Ok(last))
}
