//! `frontdesk migrate`: apply pending migrations (serve also does this at start) and report.

use super::Failure;
use crate::config::Config;
use crate::db::{Db, DbError, migrate};

pub async fn run(config: Config) -> Result<(), Failure> {
    let path = config.db_path();
    let _migrating = super::migration_lock(&config)?;
    let db = Db::open_existing(&path).map_err(|e| match e {
        DbError::TooNew { .. } | DbError::Missing(_) => Failure::config(e),
        other => Failure::from(other),
    })?;
    let applied = db.applied_migrations().to_vec();
    db.close().await?;
    if applied.is_empty() {
        println!(
            "{}: schema is current (version {})",
            path.display(),
            migrate::latest()
        );
    } else {
        println!(
            "{}: applied migrations {:?}; schema is now version {}",
            path.display(),
            applied,
            migrate::latest()
        );
    }
    Ok(())
}
