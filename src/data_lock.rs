//! One process owns a data dir at a time: `serve` (and `restore`) hold an exclusive lock on
//! `<data dir>/frontdesk.lock` for as long as they run. Two servers on one database would
//! each run a sender and deliver every queued reply twice; a restore under a running server
//! would be overwritten by its next write. The kernel releases the lock when the process
//! ends, however it ends, so a crash never leaves a stale lock behind.
//!
//! The lock file names its holder: `<pid> <use>`. A server starting while an admin command
//! holds the data dir (a restore, or a newer binary's command upgrading the database) waits
//! for it to finish rather than failing: systemd does not restart a service that exits with
//! EX_CONFIG, so a `systemctl start` during a long restore would otherwise leave the clinic
//! without its front desk. Against another server it fails at once, as before.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const LOCK_FILE: &str = "frontdesk.lock";

/// What a process holds the data dir for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// `serve`: for as long as it runs.
    Serve,
    /// `restore`: while it puts a backup in place.
    Restore,
    /// An admin command upgrading the database's schema, while it migrates.
    Upgrade,
}

impl Use {
    fn as_str(self) -> &'static str {
        match self {
            Use::Serve => "serve",
            Use::Restore => "restore",
            Use::Upgrade => "upgrade",
        }
    }

    /// Files written before the lock named its use (servers and restores of earlier
    /// releases) count as a server: the one holder worth not waiting for.
    fn parse(s: &str) -> Use {
        match s {
            "restore" => Use::Restore,
            "upgrade" => Use::Upgrade,
            _ => Use::Serve,
        }
    }
}

/// Who holds the data dir, as its lock file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub using: Use,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "pid {pid}")?,
            None => write!(f, "pid unknown")?,
        }
        match self.using {
            Use::Serve => Ok(()),
            Use::Restore => write!(f, ", frontdesk restore"),
            Use::Upgrade => write!(f, ", a frontdesk command upgrading the database"),
        }
    }
}

impl Holder {
    fn advice(&self) -> &'static str {
        match self.using {
            Use::Serve => "stop it first (on an installed server: sudo systemctl stop frontdesk)",
            Use::Restore | Use::Upgrade => "wait for it to finish, then run this again",
        }
    }

    /// The holder writes its line right after taking the lock; a file read in between is
    /// empty, or holds a line not yet ended, and is read again for a moment rather than
    /// taken for an older release's server (which a starting server would not wait for).
    fn read(path: &Path) -> Holder {
        let mut text = String::new();
        for _ in 0..20 {
            text = std::fs::read_to_string(path).unwrap_or_default();
            if text.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut words = text.split_whitespace();
        Holder {
            pid: words.next().and_then(|w| w.parse().ok()),
            using: Use::parse(words.next().unwrap_or_default()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another frontdesk process ({holder}) is using {dir}; {}", .holder.advice())]
    Busy { dir: PathBuf, holder: Holder },
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
    /// Takes the data dir for `using`, or says who has it. Never waits.
    pub fn acquire(data_dir: &Path, using: Use) -> Result<DataDirLock, LockError> {
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
                return Err(LockError::Busy {
                    dir: data_dir.to_owned(),
                    holder: Holder::read(&path),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // The holder's pid and use, for the message a second process prints and for a
        // starting server to know whether to wait.
        if writable {
            file.set_len(0).map_err(io)?;
            // One write, so a reader sees the whole line or none of it.
            let line = format!("{} {}\n", std::process::id(), using.as_str());
            file.write_all(line.as_bytes()).map_err(io)?;
        }
        Ok(DataDirLock { _file: file })
    }

    /// Takes the data dir for a server. An admin command holding it is waited for, up to
    /// `patience` (`waiting` is told who, once); another server is refused.
    ///
    /// A server is believed on the second reading: a holder that has just taken the lock
    /// has not yet replaced the line of the one before it, most often the server that just
    /// stopped, and refusing then (exit 78, never retried by systemd) would leave the clinic
    /// without its front desk.
    pub async fn acquire_for_server(
        data_dir: &Path,
        patience: Duration,
        waiting: impl FnOnce(&Holder),
    ) -> Result<DataDirLock, LockError> {
        let give_up = Instant::now() + patience;
        let mut waiting = Some(waiting);
        // A server's line has been read once and is to be read again before believing it.
        let mut doubting = false;
        loop {
            match DataDirLock::acquire(data_dir, Use::Serve) {
                Err(LockError::Busy { holder, .. }) if holder.using == Use::Serve && !doubting => {
                    doubting = true;
                    tokio::time::sleep(RETRY).await;
                }
                Err(LockError::Busy { holder, .. })
                    if holder.using != Use::Serve && Instant::now() < give_up =>
                {
                    doubting = false;
                    if let Some(tell) = waiting.take() {
                        tell(&holder);
                    }
                    tokio::time::sleep(RETRY).await;
                }
                done => return done,
            }
        }
    }
}

/// How often a waiting server tries the lock again.
const RETRY: Duration = Duration::from_millis(200);

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
        let first = DataDirLock::acquire(dir.path(), Use::Serve).unwrap();
        let err = DataDirLock::acquire(dir.path(), Use::Restore)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains("systemctl stop frontdesk"), "{err}");
        drop(first);
        DataDirLock::acquire(dir.path(), Use::Serve).unwrap();
    }

    #[test]
    fn a_command_holding_the_data_dir_is_named_and_asks_to_be_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let _restore = DataDirLock::acquire(dir.path(), Use::Restore).unwrap();
        let err = DataDirLock::acquire(dir.path(), Use::Upgrade)
            .unwrap_err()
            .to_string();
        assert!(err.contains("frontdesk restore"), "{err}");
        assert!(err.contains("wait for it to finish"), "{err}");
        assert!(!err.contains("systemctl stop"), "{err}");
    }

    #[test]
    fn a_lock_file_of_an_earlier_release_names_a_server() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "4242\n").unwrap();
        assert_eq!(
            Holder::read(&path),
            Holder {
                pid: Some(4242),
                using: Use::Serve
            }
        );
    }

    #[tokio::test]
    async fn a_server_line_left_by_the_last_holder_is_read_twice_before_refusing() {
        let dir = tempfile::tempdir().unwrap();
        // A restore has just taken the lock; the stopped server's line is still there.
        let restore = DataDirLock::acquire(dir.path(), Use::Restore).unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "4242 serve\n").unwrap();
        let rewrite = {
            let path = path.clone();
            tokio::spawn(async move {
                tokio::time::sleep(RETRY / 2).await;
                std::fs::write(&path, format!("{} restore\n", std::process::id())).unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                drop(restore);
            })
        };
        DataDirLock::acquire_for_server(dir.path(), Duration::from_secs(600), |_| {})
            .await
            .expect("waited for the restore instead of refusing");
        rewrite.await.unwrap();
    }

    #[test]
    fn a_holder_caught_before_it_wrote_its_line_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        std::fs::write(&path, "").unwrap();
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                std::fs::write(&path, "4242 restore\n").unwrap();
            })
        };
        assert_eq!(Holder::read(&path).using, Use::Restore);
        writer.join().unwrap();
    }

    #[tokio::test]
    async fn a_starting_server_waits_for_a_command_but_not_for_another_server() {
        let dir = tempfile::tempdir().unwrap();
        let upgrade = DataDirLock::acquire(dir.path(), Use::Upgrade).unwrap();
        let path = dir.path().to_owned();
        let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let t = told.clone();
        let server = tokio::spawn(async move {
            DataDirLock::acquire_for_server(&path, Duration::from_secs(600), move |h| {
                t.lock().unwrap().push(h.clone())
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(!server.is_finished(), "the server did not wait");
        drop(upgrade);
        let server = server
            .await
            .unwrap()
            .expect("the server takes the data dir");
        assert_eq!(
            told.lock().unwrap().as_slice(),
            [Holder {
                pid: Some(std::process::id()),
                using: Use::Upgrade
            }],
            "told once, about the command"
        );

        // Against that server, a second one gives up at once.
        let refused = DataDirLock::acquire_for_server(dir.path(), Duration::from_secs(600), |_| {
            panic!("waited for a server")
        })
        .await
        .unwrap_err();
        assert!(refused.to_string().contains("systemctl stop"), "{refused}");
        drop(server);
    }

    #[tokio::test]
    async fn a_server_stops_waiting_after_its_patience() {
        let dir = tempfile::tempdir().unwrap();
        let _restore = DataDirLock::acquire(dir.path(), Use::Restore).unwrap();
        let started = Instant::now();
        let err = DataDirLock::acquire_for_server(dir.path(), Duration::from_millis(500), |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, LockError::Busy { .. }), "{err}");
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "gave up after {:?}",
            started.elapsed()
        );
    }
}
