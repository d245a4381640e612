//! `frontdesk backup FILE`: a consistent copy of the database, safe while the server runs
//! (SQLite's `VACUUM INTO` reads one snapshot). Patient data in it stays sealed: the copy is
//! useless without the keys, which are backed up separately, once.

use super::Failure;
use crate::config::Config;
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub async fn run(config: Config, to: &Path) -> Result<(), Failure> {
    let exists = || {
        Failure::config(anyhow::anyhow!(
            "{} exists; refusing to overwrite it",
            to.display()
        ))
    };
    if to.exists() {
        return Err(exists());
    }
    let db = super::open_db(&config)?;
    // Written under a temporary name that is private from its first byte (SQLite gives its
    // journal the same mode), then linked into place, which never replaces a file (renamed
    // where the file system has no links): `to` is never readable by others nor left
    // half-written by an interrupted backup.
    let partial = partial_path(to);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", partial.display()))?;
    let copied = async {
        db.backup_to(&partial).await?;
        std::fs::File::open(&partial)?.sync_all()?;
        match std::fs::hard_link(&partial, to) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            // FAT, exFAT and some network shares have no hard links: a rename, after one
            // more look, replaces nothing that was there a moment ago.
            Err(_) if !to.exists() => std::fs::rename(&partial, to).map_err(Failure::from),
            Err(_) => Err(exists()),
        }
    }
    .await;
    let _ = std::fs::remove_file(&partial);
    copied?;
    db.close().await?;
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

/// `<dir>/.<name>.partial-<pid>`, beside the target so linking it into place stays on one
/// file system.
fn partial_path(to: &Path) -> PathBuf {
    let name = to
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    to.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}
