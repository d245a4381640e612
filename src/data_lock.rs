//! One process owns a data dir at a time: `serve` (and `restore`) hold an exclusive lock on
//! `<data dir>/frontdesk.lock` for as long as they run. Two servers on one database would
//! each run a sender and deliver every queued reply twice; a restore under a running server
//! would be overwritten by its next write. The kernel releases the lock when the process
//! ends, however it ends, so a crash never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "frontdesk.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another frontdesk process ({holder}) is using {dir}; stop it first \
         (on an installed server: sudo systemctl stop frontdesk)"
    )]
    Busy { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Held for the process's lifetime; dropping it releases the data dir.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Takes the data dir, or says who has it. Never waits.
    pub fn acquire(data_dir: &Path) -> Result<DataDirLock, LockError> {
        let path = data_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let existed = path.exists();
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path);
        let (mut file, writable) = match opened {
            Ok(file) => (file, true),
            // Made by another user (root running `restore`): a lock needs no write access.
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                (File::open(&path).map_err(io)?, false)
            }
            Err(e) => return Err(io(e)),
        };
        if !existed {
            // Best effort: the lock works whoever owns the file.
            let _ = give_to_data_dir_owner(&path, data_dir);
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .map_or_else(|| "pid unknown".into(), |pid| format!("pid {pid}"));
                return Err(LockError::Busy {
                    dir: data_dir.to_owned(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's pid, for the message a second process prints.
        if writable {
            file.set_len(0).map_err(io)?;
            writeln!(file, "{}", std::process::id()).map_err(io)?;
        }
        Ok(DataDirLock { _file: file })
    }
}

/// Gives `path` to the owner of `data_dir` unless it has it already: a file root makes on an
/// installed server (`restore`, or this lock) must still belong to the service user.
pub fn give_to_data_dir_owner(path: &Path, data_dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = std::fs::metadata(data_dir)?;
    let file = std::fs::metadata(path)?;
    if (file.uid(), file.gid()) == (dir.uid(), dir.gid()) {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(dir.uid()), Some(dir.gid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("systemctl stop frontdesk"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }
}
