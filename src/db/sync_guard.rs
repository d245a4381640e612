//! Debug builds only: the check that the message path's writes queue their own sync entries.
//!
//! Four (table, operation) pairs have no sync trigger any more; their writes call
//! [`super::sync::queue`] instead (see schema/0008_message_path_sync.sql). A write that forgot
//! would leave the central copy of the row stale, silently. So in debug builds, which is every
//! test run, the writer connection gets temporary triggers on those pairs that note each row
//! written, and the writer checks before every commit that each noted row had an entry queued
//! after it: if not, the commit fails, naming the table. Release builds carry none of this.

use rusqlite::{Connection, OptionalExtension};

/// The (table, operation) pairs whose writes queue their rows themselves.
pub const QUEUED_BY_THE_WRITE: [(&str, &str); 4] = [
    ("whatsapp_messages", "INSERT"),
    ("whatsapp_messages", "UPDATE"),
    ("message_metrics", "INSERT"),
    ("conversation_sessions", "UPDATE"),
];

/// Puts the noting triggers on the writer connection.
pub(super) fn install(conn: &Connection) -> rusqlite::Result<()> {
    let mut sql = String::from(
        "CREATE TEMP TABLE sync_expected (
             table_name TEXT NOT NULL,
             row_id     TEXT NOT NULL,
             -- The outbox's last entry when the row was written: its entry must come later.
             after_seq  INTEGER NOT NULL
         );",
    );
    for (table, op) in QUEUED_BY_THE_WRITE {
        sql.push_str(&format!(
            "CREATE TEMP TRIGGER expect_sync_{table}_{op} AFTER {op} ON main.{table} BEGIN
                 INSERT INTO sync_expected (table_name, row_id, after_seq)
                 VALUES ('{table}', NEW.id,
                         (SELECT coalesce(max(seq), 0) FROM main.sync_outbox));
             END;",
            op = op.to_lowercase()
        ));
    }
    conn.execute_batch(&sql)
}

/// Fails if a row written in the open transaction has no sync entry queued after it; else
/// forgets the rows noted so far.
pub(super) fn check(conn: &Connection) -> rusqlite::Result<()> {
    let missing: Option<(String, String)> = conn
        .prepare_cached(
            "SELECT e.table_name, e.row_id FROM temp.sync_expected e
             WHERE NOT EXISTS (SELECT 1 FROM main.sync_outbox s
                               WHERE s.seq > e.after_seq AND s.table_name = e.table_name
                                 AND s.row_id = e.row_id)
             LIMIT 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    if let Some((table, id)) = missing {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!(
                "a write to {table} (row {id}) did not queue it for sync: \
                 call db::sync::queue in the same transaction"
            )),
        ));
    }
    conn.prepare_cached("DELETE FROM temp.sync_expected")?
        .execute([])?;
    Ok(())
}
