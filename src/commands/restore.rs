//! `frontdesk restore FILE`: puts a backup in place of the database while the server is
//! stopped. The backup is checked on a copy before anything is replaced: a Frontdesk database
//! whose keys are these keys and whose audit chain is intact (migrated first if it came from
//! an older release). The database it replaces is kept beside it, never deleted, and the
//! restore is recorded in the restored audit log.

use super::Failure;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, KeyName};
use crate::crypto::Keys;
use crate::data_lock::{DataDirLock, Use, give_to_data_dir_owner};
use crate::db::{Db, DbError, meta, rusqlite};
use crate::services::audit::{self, AuditEvent, action};
use crate::services::keys as key_binding;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Exit code for a backup whose audit chain is broken, as `audit verify` uses.
const EX_AUDIT_BROKEN: u8 = 2;

pub async fn run(config: Config, from: &Path) -> Result<(), Failure> {
    if !from.is_file() {
        return Err(Failure::config(anyhow::anyhow!(
            "no backup file at {}",
            from.display()
        )));
    }
    let keys = Arc::new(Keys::load(&config.keys).map_err(Failure::config)?);
    crate::app::create_private_dir(&config.data_dir).map_err(Failure::config)?;
    let _ours = DataDirLock::acquire(&config.data_dir, Use::Restore).map_err(Failure::config)?;

    let live = config.db_path();
    let staged = sibling(&live, "restoring");
    remove_database_files(&staged)?;
    std::fs::copy(from, &staged)?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
    let replaced = live
        .exists()
        .then(|| sibling(&live, &format!("before-restore-{}", stamp())));
    let checked = check_and_record(from, &staged, &keys, replaced.as_deref()).await;
    let entries = match checked {
        Ok(entries) => entries,
        Err(failure) => {
            remove_database_files(&staged)?;
            return Err(failure);
        }
    };

    // Closing folds the staged copy's WAL (its migrations, the RESTORED entry) into the file
    // when it can do so at once; dropping the WAL below would lose what it still holds.
    if wal_unfolded(&staged) {
        let folded = fold_wal(&staged);
        if folded.is_err() || wal_unfolded(&staged) {
            remove_database_files(&staged)?;
            let why = folded.err().map_or_else(String::new, |e| format!(" ({e})"));
            return Err(anyhow::anyhow!(
                "the restored copy's journal could not be folded into it{why}; nothing was \
                 changed, try again"
            )
            .into());
        }
    }
    if let Some(aside) = &replaced
        && let Err(e) = move_aside(&live, aside)
    {
        remove_database_files(&staged)?;
        return Err(e.into());
    }
    remove_sidecars(&staged)?;
    std::fs::rename(&staged, &live)?;
    if let Err(e) = give_to_data_dir_owner(&live, &config.data_dir) {
        eprintln!(
            "warning: {} could not be given to the owner of {} ({e}); fix its ownership before \
             starting the server",
            live.display(),
            config.data_dir.display()
        );
    }
    std::fs::File::open(&config.data_dir)?.sync_all()?;

    println!(
        "Restored {} into {}: keys match, audit log intact ({entries} entries).",
        from.display(),
        live.display()
    );
    if let Some(aside) = replaced {
        println!("The database it replaced is kept as {}.", aside.display());
    }
    println!("Start the server again (on an installed server: sudo systemctl start frontdesk).");
    Ok(())
}

/// Checks the staged copy of `from` (migrating it if it is older) and records the restore in
/// its audit log; returns the number of audit entries verified.
async fn check_and_record(
    from: &Path,
    staged: &Path,
    keys: &Arc<Keys>,
    replaced: Option<&Path>,
) -> Result<i64, Failure> {
    let not_a_backup = |why: String| {
        Failure::config(anyhow::anyhow!(
            "{} is not a Frontdesk backup: {why}; nothing was restored",
            from.display()
        ))
    };
    let db = match Db::open_existing(staged) {
        Ok(db) => db,
        Err(e @ DbError::TooNew { .. }) => return Err(Failure::config(e)),
        Err(e) => return Err(not_a_backup(e.to_string())),
    };
    let k = keys.clone();
    let checked = db
        .read(move |c| -> Result<_, DbError> {
            let bound =
                meta::find(c, &meta::fingerprint_key(KeyName::HipaaAudit.env_name()))?.is_some();
            let keys_match = key_binding::check(c, &k);
            let chain = audit::verify(c, &k.audit)?;
            Ok((bound, keys_match, chain))
        })
        .await;
    let outcome = match checked {
        Ok((false, ..)) => Err(not_a_backup("no keys were ever bound to it".into())),
        Ok((true, Err(mismatch), _)) => Err(Failure::config(anyhow::anyhow!(
            "the backup was sealed under other keys ({mismatch}); restore the keys that were \
             in use when it was made, or pick a backup made with these; nothing was restored"
        ))),
        Ok((true, Ok(()), Err(broken))) => Err(Failure::new(
            EX_AUDIT_BROKEN,
            anyhow::anyhow!("the backup's audit log is NOT intact: {broken}; nothing was restored"),
        )),
        Ok((true, Ok(()), Ok(entries))) => {
            let (k, now) = (keys.clone(), SystemClock.now());
            let kept = replaced
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned());
            db.write(move |c| {
                let event = AuditEvent::new("cli", action::RESTORED)
                    .detail(serde_json::json!({ "replaced_kept_as": kept }));
                audit::record(c, &k.audit, now, &event)
            })
            .await
            .map(|_| entries + 1)
            .map_err(Failure::from)
        }
        Err(e) => Err(Failure::from(e)),
    };
    db.close().await?;
    outcome
}

/// `frontdesk.db` → `frontdesk.db.<suffix>`, in the same directory (so renames are atomic).
fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    db.with_file_name(name)
}

/// SQLite's `-wal` and `-shm` belong to the database file they sit beside; left next to a
/// different file they would corrupt it.
/// SQLite's files beside a WAL-mode database: `<db>-wal` and `<db>-shm`.
const SIDECARS: [&str; 2] = ["wal", "shm"];

fn wal_unfolded(db: &Path) -> bool {
    std::fs::metadata(sidecar(db, "wal")).is_ok_and(|m| m.len() > 0)
}

/// Folds `db`'s WAL into it, waiting for readers; whether it could, `wal_unfolded` tells.
/// Closing the database does not wait (it may share the file with a running server), so a
/// reader still finishing as it closed (a pool connection being opened in the background)
/// left the WAL behind and failed the restore now and then. Nobody else uses the staged
/// copy: waiting here costs nothing.
fn fold_wal(db: &Path) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    conn.close().map_err(|(_, e)| e)
}

fn sidecar(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(format!("-{suffix}"));
    PathBuf::from(name)
}

fn remove_sidecars(db: &Path) -> std::io::Result<()> {
    for suffix in SIDECARS {
        match std::fs::remove_file(sidecar(db, suffix)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Moves the live database aside, whatever state it is in: a restore is what one reaches for
/// when it is damaged, or too new after rolling an upgrade back, so it is not opened as a
/// Frontdesk database (no checks, no migrations). A plain checkpoint folds its WAL into the
/// file first; if even that fails, the file moves with its WAL and shared-memory files, under
/// the same new name, so nothing in them is lost.
fn move_aside(live: &Path, aside: &Path) -> std::io::Result<()> {
    let folded =
        rusqlite::Connection::open_with_flags(live, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .and_then(|c| {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .is_ok_and(|busy| busy == 0);
    if folded {
        remove_sidecars(live)?;
    } else {
        for suffix in SIDECARS {
            match std::fs::rename(sidecar(live, suffix), sidecar(aside, suffix)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    std::fs::rename(live, aside)
}

fn remove_database_files(db: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(db) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    remove_sidecars(db)
}

fn stamp() -> String {
    SystemClock.now().format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::{fold_wal, sidecar, wal_unfolded};
    use crate::db::rusqlite::Connection;
    use std::time::Duration;

    #[test]
    fn folding_the_staged_wal_waits_for_a_reader_still_finishing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staged.db");
        // Kept open so the WAL is not folded and removed when it closes.
        let writer = Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3);",
            )
            .unwrap();
        assert!(wal_unfolded(&path));
        let (reading, read) = std::sync::mpsc::channel();
        let reader_path = path.clone();
        let reader = std::thread::spawn(move || {
            let conn = Connection::open(reader_path).unwrap();
            conn.execute_batch("BEGIN").unwrap();
            let n: i64 = conn
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            reading.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            conn.execute_batch("COMMIT").unwrap();
            n
        });
        read.recv().unwrap();
        fold_wal(&path).unwrap();
        assert_eq!(reader.join().unwrap(), 3);
        assert!(!wal_unfolded(&path), "{:?}", sidecar(&path, "wal"));
        drop(writer);
        let n: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }
}
