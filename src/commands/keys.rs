//! `frontdesk keys check`: every key present, well-formed, private, and matching the database.
//! Prints fingerprints (never material) and records the check in the audit log.

use super::Failure;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, KeyName, KeySource};
use crate::crypto::Keys;
use crate::services::audit::{self, AuditEvent, action};
use crate::services::keys as key_binding;
use std::sync::Arc;

pub async fn check(config: Config) -> Result<(), Failure> {
    let keys = Arc::new(Keys::load(&config.keys).map_err(Failure::config)?);
    let db = super::open_db(&config)?;
    let k = keys.clone();
    db.read(move |c| key_binding::check(c, &k).map_err(Failure::config))
        .await?;
    let (k, now) = (keys.clone(), SystemClock.now());
    db.write(move |c| {
        audit::record(
            c,
            &k.audit,
            now,
            &AuditEvent::new("cli", action::KEYS_CHECKED),
        )
    })
    .await?;
    db.close().await?;
    for name in KeyName::ALL {
        let from = match config.keys.get(name) {
            Some(KeySource::File(path) | KeySource::Credential(path)) => path.display().to_string(),
            _ => format!("${}", name.env_name()),
        };
        println!(
            "{:<20} ok  fingerprint {}  from {from}",
            name.env_name(),
            keys.fingerprints.get(name)
        );
    }
    println!(
        "All keys are valid and match {}",
        config.db_path().display()
    );
    Ok(())
}
