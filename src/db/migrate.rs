//! Forward-only migrations, embedded from `schema/`. Each runs in its own transaction together
//! with the `user_version` bump, so a crash leaves the database at the old or the new version,
//! never between. A database newer than this binary is refused, never touched.

use super::DbError;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../../schema/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "sync",
        sql: include_str!("../../schema/0002_sync.sql"),
    },
    Migration {
        version: 3,
        name: "followups",
        sql: include_str!("../../schema/0003_followups.sql"),
    },
    Migration {
        version: 4,
        name: "service_names",
        sql: include_str!("../../schema/0004_service_names.sql"),
    },
    Migration {
        version: 5,
        name: "followup_message_index",
        sql: include_str!("../../schema/0005_followup_message_index.sql"),
    },
    Migration {
        version: 6,
        name: "contact_lid_index",
        sql: include_str!("../../schema/0006_contact_lid_index.sql"),
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
    let mut version = current(conn)?;
    if version > latest() {
        return Err(DbError::TooNew {
            path: path.to_owned(),
            db: version,
            binary: latest(),
        });
    }
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        if m.version <= version {
            continue;
        }
        let fail = |source| DbError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        // Another process may have migrated while we waited for the write lock.
        version = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(fail)?;
        if version >= m.version {
            continue;
        }
        tx.execute_batch(m.sql).map_err(fail)?;
        tx.pragma_update(None, "user_version", m.version)
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        tracing::info!(version = m.version, name = m.name, "database migrated");
        applied.push(m.version);
    }
    Ok(applied)
}
