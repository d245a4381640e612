//! The sync outbox (filled by the triggers of schema/0002_sync.sql, and on the message path by
//! the writes themselves through [`queue`]: see schema/0008_message_path_sync.sql): pending
//! entries in commit order, the current state of the rows they name, and settling entries once
//! the central side answered: synced, or quarantined with the reason. Settled rows are kept as
//! a bounded history for `frontdesk sync status`. The worker's last reported state lives in
//! `meta`.

use super::{DbError, meta};
use crate::domain::sync_table::SyncedTable;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

const STATE_KEY: &str = "sync_state";

/// Queues `row_id` of `table` for the central side, as the sync triggers do for the tables that
/// keep them. Every write to the message path's tables calls this in the same transaction,
/// once per row written (see schema/0008_message_path_sync.sql; `sync_guard` checks it).
pub fn queue(conn: &Connection, table: &'static str, row_id: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
         VALUES (?1, ?2, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
    )?
    .execute(params![table, row_id])?;
    Ok(())
}

/// [`queue`], if the UPDATE that named `row_id` changed it (`changed` rows).
pub fn queue_if_changed(
    conn: &Connection,
    changed: usize,
    table: &'static str,
    row_id: &str,
) -> Result<(), DbError> {
    if changed > 0 {
        queue(conn, table, row_id)?;
    }
    Ok(())
}

/// One outbox entry waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub seq: i64,
    pub table: String,
    pub row_id: String,
}

/// Pending entries after `after_seq`, oldest first. The worker passes the highest seq it has
/// settled, so this walks the rowid from there instead of needing an index on `status`.
pub fn list_pending(
    conn: &Connection,
    after_seq: i64,
    limit: usize,
) -> Result<Vec<Pending>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, table_name, row_id FROM sync_outbox
         WHERE seq > ?1 AND status = 'pending' ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_seq, limit as i64], |r| {
        Ok(Pending {
            seq: r.get(0)?,
            table: r.get(1)?,
            row_id: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The current values of one synced row, in the table's column order; `None` if it is gone.
pub fn find_row(
    conn: &Connection,
    table: &SyncedTable,
    id: &str,
) -> Result<Option<Vec<Value>>, DbError> {
    let columns: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    // Names come from the fixed catalog in `domain::sync_table`, never from input.
    let sql = format!(
        "SELECT {} FROM {} WHERE id = ?1",
        columns.join(", "),
        table.source
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let values = (0..columns.len())
        .map(|i| row.get::<_, Value>(i))
        .collect::<Result<_, _>>()?;
    Ok(Some(values))
}

/// Records what the central side answered. Only entries still pending change, so settling
/// twice (a retried write job) is harmless.
pub fn settle(
    conn: &Connection,
    synced: &[i64],
    quarantined: &[(i64, String)],
    now_ms: i64,
) -> Result<(), DbError> {
    let mut ok = conn.prepare_cached(
        "UPDATE sync_outbox SET status = 'synced', attempts = attempts + 1, last_error = NULL,
             settled_at_ms = ?2 WHERE seq = ?1 AND status = 'pending'",
    )?;
    for seq in synced {
        ok.execute(params![seq, now_ms])?;
    }
    let mut bad = conn.prepare_cached(
        "UPDATE sync_outbox SET status = 'quarantined', attempts = attempts + 1, last_error = ?2,
             settled_at_ms = ?3 WHERE seq = ?1 AND status = 'pending'",
    )?;
    for (seq, error) in quarantined {
        bad.execute(params![seq, error, now_ms])?;
    }
    Ok(())
}

/// Per table: pending rows and the oldest one's queue time; plus totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    pub pending: Vec<(String, i64)>,
    pub oldest_pending_ms: Option<i64>,
    pub quarantined: i64,
    /// Synced entries still kept as history, and when the last one was settled.
    pub synced_kept: i64,
    pub last_synced_ms: Option<i64>,
}

impl Backlog {
    pub fn total_pending(&self) -> i64 {
        self.pending.iter().map(|(_, n)| n).sum()
    }
}

pub fn backlog(conn: &Connection) -> Result<Backlog, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT table_name, status, count(*), min(queued_at_ms), max(settled_at_ms)
         FROM sync_outbox GROUP BY table_name, status ORDER BY table_name",
    )?;
    let mut rows = stmt.query([])?;
    let mut out = Backlog::default();
    while let Some(r) = rows.next()? {
        let (table, status, n): (String, String, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let (oldest, settled): (Option<i64>, Option<i64>) = (r.get(3)?, r.get(4)?);
        match status.as_str() {
            "pending" => {
                out.pending.push((table, n));
                out.oldest_pending_ms = match (out.oldest_pending_ms, oldest) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            "quarantined" => out.quarantined += n,
            "synced" => {
                out.synced_kept += n;
                out.last_synced_ms = out.last_synced_ms.max(settled);
            }
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub seq: i64,
    pub table: String,
    pub row_id: String,
    pub error: String,
    pub settled_at_ms: Option<i64>,
}

/// The most recently quarantined entries, newest first.
pub fn list_quarantined(conn: &Connection, limit: usize) -> Result<Vec<Quarantined>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, table_name, row_id, coalesce(last_error, ''), settled_at_ms FROM sync_outbox
         WHERE status = 'quarantined' ORDER BY seq DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| {
        Ok(Quarantined {
            seq: r.get(0)?,
            table: r.get(1)?,
            row_id: r.get(2)?,
            error: r.get(3)?,
            settled_at_ms: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queues every quarantined row again (as new entries, so commit order still holds) and marks
/// the old entries `requeued`. Returns how many rows were queued.
pub fn requeue_quarantined(conn: &Connection, now_ms: i64) -> Result<usize, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
             SELECT table_name, row_id, ?1 FROM sync_outbox WHERE status = 'quarantined'
             GROUP BY table_name, row_id ORDER BY min(seq)",
        )?
        .execute([now_ms])?;
    conn.prepare_cached(
        "UPDATE sync_outbox SET status = 'requeued', settled_at_ms = ?1
         WHERE status = 'quarantined'",
    )?
    .execute([now_ms])?;
    Ok(n)
}

/// Deletes settled entries beyond the newest `keep` (at most `max` per call, so one call never
/// holds the writer long). The newest entry is never deleted: rowids must keep growing, or a
/// new entry could reuse a seq the worker has already passed.
pub fn prune_history(conn: &Connection, keep: usize, max: usize) -> Result<usize, DbError> {
    let n = conn
        .prepare_cached(
            "DELETE FROM sync_outbox WHERE seq IN (
                 SELECT seq FROM sync_outbox
                 WHERE status IN ('synced', 'requeued')
                   AND seq < (SELECT max(seq) FROM sync_outbox)
                   AND seq <= coalesce((SELECT seq FROM sync_outbox
                                        WHERE status IN ('synced', 'requeued')
                                        ORDER BY seq DESC LIMIT 1 OFFSET ?1), -1)
                 ORDER BY seq LIMIT ?2)",
        )?
        .execute(params![keep as i64, max as i64])?;
    Ok(n)
}

/// The sync worker's last reported state (JSON), for `frontdesk sync status`.
pub fn find_state(conn: &Connection) -> Result<Option<String>, DbError> {
    meta::find(conn, STATE_KEY)
}

/// Forgets the reported state: the service now syncs nowhere, so it reports nothing.
pub fn clear_state(conn: &Connection) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?
        .execute([STATE_KEY])?;
    Ok(())
}

pub fn set_state(conn: &Connection, json: &str, now: &str) -> Result<(), DbError> {
    meta::set(conn, STATE_KEY, json, now)
}

pub fn node_id(conn: &Connection) -> Result<Option<String>, DbError> {
    meta::find(conn, "node_id")
}
