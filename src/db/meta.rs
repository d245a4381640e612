//! The `meta` key/value table: key fingerprints, the audit head, installation facts.

use super::{DbError, optional};
use rusqlite::{Connection, params};

pub const INSTALLED_AT: &str = "installed_at";
pub const AUDIT_HEAD: &str = "audit_head";

pub fn fingerprint_key(env_name: &str) -> String {
    format!("key_fingerprint.{env_name}")
}

pub fn find(conn: &Connection, key: &str) -> Result<Option<String>, DbError> {
    optional(
        conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0)),
    )
}

pub fn set(conn: &Connection, key: &str, value: &str, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )?
    .execute(params![key, value, now])?;
    Ok(())
}

/// Sets the value only if the key is absent; returns whether it was set.
pub fn insert_if_absent(
    conn: &Connection,
    key: &str,
    value: &str,
    now: &str,
) -> Result<bool, DbError> {
    let n = conn.prepare_cached("INSERT INTO meta (key, value, updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO NOTHING")?.execute(params![key, value, now],
    )?;
    Ok(n == 1)
}
