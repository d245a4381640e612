//! SQLite storage: one writer thread with group commit, an r2d2 pool of read-only
//! connections, forward-only migrations from `schema/`. All SQL lives under this module;
//! it stores and fetches, it does not decide.

pub mod audit;
pub mod central;
mod checkpointer;
pub mod clinics;
pub mod conversations;
pub mod followup_rules;
pub mod followups;
pub mod llm_models;
pub mod messages;
pub mod meta;
pub mod migrate;
pub mod outbox;
pub mod prices;
pub mod sync;
pub mod sync_down;
#[cfg(debug_assertions)]
mod sync_guard;
mod writer;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::Span;

pub use rusqlite;
pub use writer::{MAX_DEFER, WriterStats};

pub type ReadPool = r2d2::Pool<SqliteConnectionManager>;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const READ_POOL_SIZE: u32 = 8;
/// "FDES": marks the file as Frontdesk's, so another application's database is refused.
pub(crate) const APPLICATION_ID: i64 = 0x4644_4553;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("database read pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("the database writer has stopped")]
    WriterGone,
    #[error("commit failed: {0}")]
    Commit(String),
    #[error(
        "the database {path} is at schema version {db}, newer than this frontdesk understands \
         (up to {binary}); run the newer frontdesk binary, or restore a backup made by this version"
    )]
    TooNew { path: PathBuf, db: i64, binary: i64 },
    #[error("{0} is not a Frontdesk database")]
    Foreign(PathBuf),
    #[error("no database at {0}; run `frontdesk init` first")]
    Missing(PathBuf),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: rusqlite::Error,
    },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl DbError {
    /// Worth retrying: the database was busy, or the writer could not commit right now.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            DbError::Pool(_) | DbError::WriterGone | DbError::Commit(_) => true,
            _ => false,
        }
    }

    /// A UNIQUE or other constraint stopped the write.
    pub fn is_constraint(&self) -> bool {
        matches!(self, DbError::Sqlite(e)
            if e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation))
    }
}

/// The database: cheap to clone, shared by every part of the app.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    checkpointer: std::sync::Mutex<checkpointer::Checkpointer>,
    applied: Vec<i64>,
    writer: writer::Writer,
    pool: ReadPool,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Db {
    /// Opens (creating if needed, mode 0600) and migrates the database.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if !path.exists() {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|source| DbError::Create {
                    path: path.to_owned(),
                    source,
                })?;
        }
        Self::open_inner(path)
    }

    /// The schema version of the database at `path`, read without changing anything; 0 when
    /// there is no database there yet.
    pub fn schema_version(path: &Path) -> Result<i64, DbError> {
        if !path.is_file() {
            return Ok(0);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        migrate::current(&conn)
    }

    /// Opens a database that must already exist (for commands that only inspect it).
    pub fn open_existing(path: &Path) -> Result<Db, DbError> {
        if !path.is_file() {
            return Err(DbError::Missing(path.to_owned()));
        }
        Self::open_inner(path)
    }

    fn open_inner(path: &Path) -> Result<Db, DbError> {
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        check_application_id(&conn, path)?;
        let applied = migrate::run(&mut conn, path)?;
        // Checkpoints run in the background (see checkpointer.rs); this is the safety net.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        #[cfg(debug_assertions)]
        sync_guard::install(&conn)?;
        let checkpointer = checkpointer::Checkpointer::spawn(path)?;

        let manager = SqliteConnectionManager::file(path)
            .with_flags(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_init(|c| {
                configure(c)?;
                c.pragma_update(None, "query_only", true)
            });
        // No `SELECT 1` on every checkout (r2d2's default): a connection to a local file does
        // not go stale the way a network connection does, and a failing read reports its own
        // error. The check cost a parse and a read transaction of its own on every read.
        let pool = r2d2::Pool::builder()
            .max_size(READ_POOL_SIZE)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .build(manager)?;
        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                checkpointer: std::sync::Mutex::new(checkpointer),
                applied,
                writer: writer::Writer::spawn(conn),
                pool,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Migrations this process applied when it opened the database.
    pub fn applied_migrations(&self) -> &[i64] {
        &self.inner.applied
    }

    /// Runs `f` inside the writer's current transaction; if `f` fails, its writes are undone and
    /// the rest of the batch still commits. Resolves only after the batch holding it is durably
    /// committed: an `Ok` here is on disk.
    ///
    /// `f` may run twice (when any job of its batch fails, itself included: see `writer`), and
    /// only its last run counts, so its only effects must be on the connection it is given:
    /// caches, counters and channels are updated by the caller once this resolves.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.writer.submit(f, Span::current(), false).await
    }

    /// Like [`Db::write`], for bookkeeping nobody is waiting on: instead of a commit of its
    /// own, the job joins the next ordinary write's commit, or commits on its own after at
    /// most [`MAX_DEFER`]. It still runs in submission order; it resolves once committed.
    pub async fn write_deferred<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        self.inner.writer.submit(f, Span::current(), true).await
    }

    /// Runs `f` on a pooled read-only connection, off the async threads.
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.inner.pool.clone();
        let span = Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let conn = pool.get().map_err(DbError::from)?;
            f(&conn)
        })
        .await
        .map_err(|_| DbError::WriterGone)?
    }

    /// Writes a consistent, compacted copy of the database to `target` (which must not
    /// exist), from one read snapshot: safe while the writer keeps writing. Uses a connection
    /// of its own: the pool's are `query_only` and the writer always holds a transaction,
    /// where `VACUUM` is not allowed.
    pub async fn backup_to(&self, target: &Path) -> Result<(), DbError> {
        let (source, target) = (
            self.inner.path.clone(),
            target.to_string_lossy().into_owned(),
        );
        tokio::task::spawn_blocking(move || -> Result<(), DbError> {
            let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.execute("VACUUM INTO ?1", [&target])?;
            Ok(())
        })
        .await
        .map_err(|_| DbError::WriterGone)?
    }

    /// Whether a write round trip through the single writer completes within `within`: the
    /// writer thread is alive and not wedged (the watchdog and `/readyz` ask this).
    pub async fn writer_responds(&self, within: Duration) -> bool {
        let probe = self
            .write(|c| -> Result<i64, DbError> { Ok(c.query_row("SELECT 1", [], |r| r.get(0))?) });
        matches!(tokio::time::timeout(within, probe).await, Ok(Ok(1)))
    }

    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Finishes queued writes, checkpoints the WAL into the main file and stops the writer.
    /// Later writes fail with `WriterGone`.
    pub async fn close(&self) -> Result<(), DbError> {
        self.inner
            .checkpointer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .stop();
        self.inner.writer.close().await
    }
}

/// Per-connection settings, busy timeout first so the others wait instead of failing.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Savepoint sub-journals in memory: on disk each one is a temp file opened and closed per
    // write job. Nothing durable lives there; the WAL is what makes commits durable.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // About 2 MB of page cache per connection (negative = KiB; SQLite's default, stated so it
    // does not change under us), the writer's too. A larger cache costs the writer more than
    // it saves: when a b-tree split swaps page numbers, SQLite parks a page at the locking
    // page's number (page 262,145) for a moment, and the commit that follows scans the whole
    // page cache for pages past the end of the file. Under `frontdesk bench`, after ~100,000
    // messages, 16 MB put 9-12% of the writer's time in that scan and 2 MB 2%, while reading
    // pages back from the OS cost about 3% with either (the random pages outgrow both).
    conn.pragma_update(None, "cache_size", -2_000)?;
    // Every statement in `db/` goes through `prepare_cached`: parsing SQL costs more than
    // running these small statements.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

fn check_application_id(conn: &Connection, path: &Path) -> Result<(), DbError> {
    let id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    match id {
        APPLICATION_ID => Ok(()),
        0 => {
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
            if tables > 0 {
                return Err(DbError::Foreign(path.to_owned()));
            }
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
            Ok(())
        }
        _ => Err(DbError::Foreign(path.to_owned())),
    }
}

/// Maps "no row" to `None`, for the `find_*` functions.
pub(crate) fn optional<T>(r: rusqlite::Result<T>) -> Result<Option<T>, DbError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests;
