//! Forward-only migrations, embedded from `schema/`. Each runs in its own transaction together
//! with the `user_version` bump, so a crash leaves the database at the old or the new version,
//! never between. A database newer than this binary is refused, never touched.

use super::DbError;
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashSet;
use std::path::Path;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
    /// Rebuilds tables that others reference: run with foreign keys off (a dropped parent
    /// table would otherwise fail or cascade), and checked before commit (see `apply`).
    pub rebuilds_tables: bool,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../../schema/0001_core.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 2,
        name: "sync",
        sql: include_str!("../../schema/0002_sync.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 3,
        name: "followups",
        sql: include_str!("../../schema/0003_followups.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 4,
        name: "service_names",
        sql: include_str!("../../schema/0004_service_names.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 5,
        name: "followup_message_index",
        sql: include_str!("../../schema/0005_followup_message_index.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 6,
        name: "contact_lid_index",
        sql: include_str!("../../schema/0006_contact_lid_index.sql"),
        rebuilds_tables: false,
    },
    Migration {
        version: 7,
        name: "check_lists",
        sql: include_str!("../../schema/0007_check_lists.sql"),
        rebuilds_tables: true,
    },
    Migration {
        version: 8,
        name: "message_path_sync",
        sql: include_str!("../../schema/0008_message_path_sync.sql"),
        rebuilds_tables: false,
    },
];

/// The schema version this binary writes.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub fn current(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Applies every migration the database has not seen; returns the versions applied.
pub fn run(conn: &mut Connection, path: &Path) -> Result<Vec<i64>, DbError> {
    run_to(conn, path, latest())
}

/// Applies the migrations the database has not seen, up to `target`.
pub(crate) fn run_to(conn: &mut Connection, path: &Path, target: i64) -> Result<Vec<i64>, DbError> {
    let mut version = current(conn)?;
    if version > latest() {
        return Err(DbError::TooNew {
            path: path.to_owned(),
            db: version,
            binary: latest(),
        });
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().take_while(|m| m.version <= target) {
        if m.version <= version {
            continue;
        }
        let fail = |source| DbError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        if m.rebuilds_tables {
            rebuild_mode(conn, true).map_err(fail)?;
        }
        let outcome = apply(conn, m);
        // The migration's own error, if any, is the one to report.
        let restored = if m.rebuilds_tables {
            rebuild_mode(conn, false)
        } else {
            Ok(())
        };
        let outcome = outcome.map_err(fail)?;
        restored.map_err(fail)?;
        match outcome {
            Applied::Now => {
                tracing::info!(version = m.version, name = m.name, "database migrated");
                applied.push(m.version);
            }
            Applied::Already(v) => version = v,
        }
    }
    Ok(applied)
}

/// What SQLite's table-rebuild procedure needs (https://sqlite.org/lang_altertable.html):
/// - foreign keys off, or dropping the old table fails or cascades to the rows referring to
///   it (set outside the transaction: inside one it has no effect);
/// - the legacy RENAME, which renames the new table and nothing else. The modern one first
///   checks every trigger in the schema, and the triggers feeding `sync_outbox` name a table
///   that, between its drop and its successor's rename, does not exist.
fn rebuild_mode(conn: &Connection, on: bool) -> rusqlite::Result<()> {
    conn.pragma_update(None, "foreign_keys", !on)?;
    conn.pragma_update(None, "legacy_alter_table", on)
}

enum Applied {
    Now,
    /// Another process migrated while this one waited for the write lock.
    Already(i64),
}

/// One migration and its `user_version` bump, in one transaction. A migration that rebuilt
/// tables with foreign keys off must leave every reference as it found it: checked before
/// commit. (Only new dangling references count: one the database already had, written with
/// foreign keys off by some other tool, is not the migration's to refuse.)
fn apply(conn: &mut Connection, m: &Migration) -> rusqlite::Result<Applied> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version >= m.version {
        return Ok(Applied::Already(version));
    }
    let dangling_before = if m.rebuilds_tables {
        dangling_references(&tx)?
    } else {
        HashSet::new()
    };
    tx.execute_batch(m.sql)?;
    if m.rebuilds_tables {
        let after = dangling_references(&tx)?;
        if let Some((table, ..)) = after.difference(&dangling_before).next() {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
                Some(format!("a row of {table} lost the row it refers to")),
            ));
        }
    }
    tx.pragma_update(None, "user_version", m.version)?;
    tx.commit()?;
    Ok(Applied::Now)
}

/// Rows whose foreign key names no row: (table, rowid, parent table, which key).
type Dangling = (String, Option<i64>, String, i64);

fn dangling_references(c: &Connection) -> rusqlite::Result<HashSet<Dangling>> {
    let mut stmt =
        c.prepare("SELECT \"table\", rowid, parent, fkid FROM pragma_foreign_key_check")?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect()
}

#[cfg(test)]
mod tests;
