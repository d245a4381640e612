//! `frontdesk backup FILE`: a consistent copy of the database, safe while the server runs
//! (SQLite's `VACUUM INTO` reads one snapshot). Patient data in it stays sealed: the copy is
//! useless without the keys, which are backed up separately, once.

use super::Failure;
use crate::config::Config;
use crate::db::Db;
use std::path::Path;

pub async fn run(config: Config, to: &Path) -> Result<(), Failure> {
    if to.exists() {
        return Err(Failure::config(anyhow::anyhow!(
            "{} exists; refusing to overwrite it",
            to.display()
        )));
    }
    let db = Db::open_existing(&config.db_path()).map_err(Failure::config)?;
    db.backup_to(to).await?;
    db.close().await?;
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    println!(
        "Backed up {} to {} ({} bytes). Keep the keys ({}) backed up separately: without them \
         this copy cannot be read.",
        config.db_path().display(),
        to.display(),
        std::fs::metadata(to)?.len(),
        config.keys_dir().display()
    );
    Ok(())
}
