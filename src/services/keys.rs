//! Binding keys to the data: the database remembers each key's fingerprint, and a key that
//! does not match the data it is meant to read is refused with an explanation.

use crate::config::KeyName;
use crate::crypto::Keys;
use crate::db::{DbError, meta, rusqlite::Connection};
use crate::domain::time;
use crate::services::audit::{self, AuditEvent, action};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
#[error(
    "{name} does not match this database: the data was sealed under the key with fingerprint \
     {stored}, the key given has fingerprint {given}. Data cannot be read with a different key. \
     Restore the original {name} (from your backup of the keys), or point --data-dir / \
     FRONTDESK_DATA_DIR at the database this key belongs to"
)]
pub struct KeyMismatch {
    pub name: KeyName,
    pub stored: String,
    pub given: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error(transparent)]
    Mismatch(#[from] KeyMismatch),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Compares the keys with the fingerprints stored in the database; stores them (and audits
/// it) where none are stored yet. Returns the keys that were newly bound.
pub fn bind_or_check(
    conn: &Connection,
    keys: &Keys,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Vec<KeyName>, BindError> {
    check(conn, keys)?;
    let at = time::to_db(now);
    let mut bound = Vec::new();
    for name in KeyName::ALL {
        let fp = keys.fingerprints.get(name);
        if meta::insert_if_absent(conn, &meta::fingerprint_key(name.env_name()), fp, &at)? {
            bound.push(name);
        }
    }
    if !bound.is_empty() {
        let names: Vec<&str> = bound.iter().map(|n| n.env_name()).collect();
        audit::record(
            conn,
            &keys.audit,
            now,
            &AuditEvent::new(actor, action::KEYS_BOUND)
                .detail(serde_json::json!({ "keys": names, "fingerprints": names.iter().zip(bound.iter()).map(|(n, k)| (n.to_string(), keys.fingerprints.get(*k).to_owned())).collect::<std::collections::BTreeMap<_, _>>() })),
        )?;
    }
    meta::insert_if_absent(conn, meta::INSTALLED_AT, &at, &at)?;
    Ok(bound)
}

/// Only compares; writes nothing.
pub fn check(conn: &Connection, keys: &Keys) -> Result<(), BindError> {
    for name in KeyName::ALL {
        if let Some(stored) = meta::find(conn, &meta::fingerprint_key(name.env_name()))? {
            let given = keys.fingerprints.get(name);
            if stored != given {
                return Err(KeyMismatch {
                    name,
                    stored,
                    given: given.to_owned(),
                }
                .into());
            }
        }
    }
    Ok(())
}

/// The keys this database already has fingerprints for.
pub fn bound_keys(conn: &Connection) -> Result<Vec<KeyName>, DbError> {
    let mut out = Vec::new();
    for name in KeyName::ALL {
        if meta::find(conn, &meta::fingerprint_key(name.env_name()))?.is_some() {
            out.push(name);
        }
    }
    Ok(out)
}
