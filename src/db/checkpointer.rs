//! Background WAL checkpoints on a connection of their own. Left to SQLite, a checkpoint runs
//! inside whichever commit crosses the threshold, stalling that commit (and every write job in
//! its batch) while pages are copied into the main file and fsynced. A PASSIVE checkpoint here
//! never blocks the writer or readers; the writer keeps a high auto-checkpoint threshold only
//! as a safety net in case this thread cannot keep up.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

const EVERY: Duration = Duration::from_millis(500);

pub(super) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(super) fn spawn(path: &Path) -> rusqlite::Result<Checkpointer> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        super::configure(&conn)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "background WAL checkpoint failed");
                    }
                }
            })
            .unwrap_or_else(|e| panic!("cannot start the checkpoint thread: {e}"));
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }

    pub(super) fn stop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
