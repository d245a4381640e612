//! The single writer. One thread owns the write connection; callers send closures. The thread
//! takes everything queued, runs the closures one after another inside one transaction and
//! commits once (group commit): with `synchronous=FULL` the fsync is shared by the batch, which
//! is what keeps durable writes fast. A closure's result is released only after commit.
//!
//! A failing job must lose only its own writes. Savepoints around each job would do that, but
//! a savepoint copies every page its job changes into a statement journal first: under
//! `frontdesk bench` that copying was a fifth of the writer's instructions, spent for jobs that
//! almost never fail. So a batch runs optimistically, with no savepoints; if a job fails (or
//! panics) the whole transaction rolls back and the batch runs again, each job in a savepoint
//! of its own. That is why callers hand in `FnMut` closures: a job may run twice, and only its
//! last run's writes and result count. Its only effects must be on the connection it is given.
//!
//! A job may also be *deferred*: it waits (at most `MAX_DEFER`) for the next ordinary job and
//! rides in that job's commit instead of paying a commit of its own. Each commit writes every
//! page it touched to the WAL and fsyncs; the sender's bookkeeping after each delivery, left
//! to commit alone, made two commits of every message at a steady few hundred messages per
//! second (`frontdesk bench` at 500/s: 1.07 commits per message with it deferred, and 113
//! instead of 135 KB written to disk per message).
//! Jobs still run in the order they were submitted: a deferred job stays in the channel's
//! order, so an ordinary job submitted after it (a delivery receipt for that message, say)
//! runs after it in the same transaction.

use super::DbError;
use rusqlite::Connection;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::Span;

/// Most jobs in one transaction; bounds the latency one batch can add to the next.
const MAX_BATCH: usize = 512;
/// Queue depth before callers wait (backpressure instead of unbounded memory).
const QUEUE: usize = 4096;
/// Longest a deferred job waits for an ordinary one to share its commit.
pub const MAX_DEFER: Duration = Duration::from_millis(20);

type Job = Box<dyn WriteJob>;

/// A caller's closure as the writer thread sees it.
trait WriteJob: Send {
    /// Runs the closure inside the open transaction, keeping its result; `false` when it
    /// failed, so its writes must be undone. May be called again after a rollback.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Replaces the last run's result with a failure the writer found (debug builds' sync
    /// check): the job's writes are undone and its caller is told why.
    #[cfg(debug_assertions)]
    fn refuse(&mut self, why: String);
    /// Hands the caller the last run's result, once the batch committed (`Ok`) or did not.
    fn finish(self: Box<Self>, commit: Result<(), String>);
}

struct Pending<F, T, E> {
    f: F,
    span: Span,
    /// The last run's result; `None` until the job has run.
    result: Option<Result<T, E>>,
    done: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> WriteJob for Pending<F, T, E>
where
    F: FnMut(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<DbError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let _entered = self.span.enter();
        // An earlier run's result must not outlive this run: if this one panics, its writes
        // are undone and nothing of it may reach the caller.
        self.result = None;
        let result = (self.f)(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    #[cfg(debug_assertions)]
    fn refuse(&mut self, why: String) {
        self.result = Some(Err(DbError::Commit(why).into()));
    }

    fn finish(self: Box<Self>, commit: Result<(), String>) {
        let out = match (self.result, commit) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)) | None, Err(e)) => Err(DbError::Commit(e).into()),
            (None, Ok(())) => Err(DbError::Commit("not run".into()).into()),
        };
        let _ = self.done.send(out);
    }
}

enum Msg {
    Job(Job),
    /// A job that does not need a commit of its own (see the module docs).
    Deferred(Job),
    /// Commit what is waiting, deferred jobs included (sent `MAX_DEFER` after one arrives).
    Flush,
    Close(oneshot::Sender<Result<(), DbError>>),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WriterStats {
    pub commits: u64,
    pub jobs: u64,
    /// Time spent running jobs' SQL, and in COMMIT (WAL writes and fsync), in microseconds.
    pub exec_us: u64,
    pub commit_us: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    jobs: AtomicU64,
    exec_us: AtomicU64,
    commit_us: AtomicU64,
}

pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    /// A `Flush` is on its way for the deferred jobs queued so far.
    flush_scheduled: Arc<AtomicBool>,
}

impl Writer {
    pub(super) fn spawn(conn: Connection) -> Writer {
        let (tx, rx) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, &c))
            .unwrap_or_else(|e| panic!("cannot start the database writer thread: {e}"));
        Writer {
            tx,
            counters,
            flush_scheduled: Arc::default(),
        }
    }

    pub(super) async fn submit<T, E, F>(&self, f: F, span: Span, deferred: bool) -> Result<T, E>
    where
        F: FnMut(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (done, done_rx) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(Pending {
            f,
            span,
            result: None,
            done,
        });
        let msg = if deferred {
            Msg::Deferred(job)
        } else {
            Msg::Job(job)
        };
        self.tx.send(msg).await.map_err(|_| DbError::WriterGone)?;
        if deferred && !self.flush_scheduled.swap(true, Ordering::AcqRel) {
            let (tx, scheduled) = (self.tx.clone(), self.flush_scheduled.clone());
            tokio::spawn(async move {
                tokio::time::sleep(MAX_DEFER).await;
                // Cleared before sending: a deferred job queued after this point schedules a
                // flush of its own, one queued before it is ahead of this one in the channel.
                scheduled.store(false, Ordering::Release);
                let _ = tx.send(Msg::Flush).await;
            });
        }
        done_rx.await.map_err(|_| DbError::WriterGone)?
    }

    pub(super) async fn close(&self) -> Result<(), DbError> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Close(tx)).await.is_err() {
            return Ok(()); // already closed
        }
        rx.await.map_err(|_| DbError::WriterGone)?
    }

    pub(super) fn stats(&self) -> WriterStats {
        WriterStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
            exec_us: self.counters.exec_us.load(Ordering::Relaxed),
            commit_us: self.counters.commit_us.load(Ordering::Relaxed),
        }
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Msg>, counters: &Counters) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Whether `batch` holds an ordinary job, or a flush was asked for: then it commits now;
    // deferred jobs alone wait in it for the next message.
    let mut due = false;
    while let Some(first) = rx.blocking_recv() {
        let mut close = None;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Job(job) => {
                    batch.push(job);
                    due = true;
                }
                Msg::Deferred(job) => batch.push(job),
                Msg::Flush => due = true,
                Msg::Close(reply) => close = Some(reply),
            }
            if close.is_none() && batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let full = batch.len() >= MAX_BATCH;
        if !batch.is_empty() && (due || full || close.is_some()) {
            commit_batch(&mut conn, &mut batch, counters);
        }
        if batch.is_empty() {
            due = false;
        }
        if let Some(reply) = close {
            rx.close();
            // Jobs queued behind the close are refused rather than silently dropped.
            while let Ok(msg) = rx.try_recv() {
                if let Msg::Job(job) | Msg::Deferred(job) = msg {
                    job.finish(Err("the database is closing".into()));
                }
            }
            let result = truncate_wal(&conn);
            // Closed before the caller hears back: whoever closed the database may rely on
            // this connection being gone (a restore replacing the file, a test's checks).
            drop(conn);
            let _ = reply.send(result);
            return;
        }
    }
    // Every sender is gone: deferred jobs still waiting are committed, not dropped.
    if !batch.is_empty() {
        commit_batch(&mut conn, &mut batch, counters);
    }
}

/// Folds the WAL into the main file and empties it, leaving one self-contained file, if
/// that can be done at once. Another process may be using the database (an admin command
/// closing beside the running server): a TRUNCATE checkpoint waiting on its readers would
/// hold off its writes for the whole busy timeout, so it does not wait; the server's own
/// checkpoints carry on.
fn truncate_wal(conn: &Connection) -> Result<(), DbError> {
    conn.busy_timeout(Duration::ZERO)?;
    // The row says whether the checkpoint could not finish (busy), not an error.
    let outcome = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    match outcome {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs one transaction-control statement from the statement cache. (rusqlite's
/// `Transaction` and `Savepoint` re-parse their SQL every time, which under load cost more
/// than the jobs' own statements.)
fn control(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs and commits every job in `batch`, leaving it empty.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Job>, counters: &Counters) {
    counters
        .jobs
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    counters.commits.fetch_add(1, Ordering::Relaxed);
    let conn: &Connection = conn;
    let started = std::time::Instant::now();
    // Jobs that panicked are not run again, and their callers see `WriterGone`: the job, and
    // with it the reply channel, is dropped.
    let mut panicked = vec![false; batch.len()];
    let mut executed = started;
    let outcome = match run_optimistically(conn, batch, &mut panicked, &mut executed) {
        Ok(true) => Ok(()),
        Ok(false) => run_carefully(conn, batch, &mut panicked, &mut executed),
        Err(e) => Err(e),
    };
    let micros = |d: std::time::Duration| d.as_micros() as u64;
    counters
        .exec_us
        .fetch_add(micros(executed - started), Ordering::Relaxed);
    counters
        .commit_us
        .fetch_add(micros(executed.elapsed()), Ordering::Relaxed);
    let outcome = outcome.map_err(|e| e.to_string());
    if let Err(e) = &outcome {
        tracing::error!(error = %e, jobs = batch.len(), "database commit failed");
    }
    for (job, panicked) in batch.drain(..).zip(panicked) {
        if !panicked {
            job.finish(outcome.clone());
        }
    }
}

/// Runs `job`, telling a panic (`None`) from a failure (`Some(false)`).
fn run_one(job: &mut Job, conn: &Connection) -> Option<bool> {
    std::panic::catch_unwind(AssertUnwindSafe(|| job.run(conn))).ok()
}

/// Runs every job in one transaction without savepoints, and commits. `Ok(false)`: a job
/// failed or panicked (marked in `panicked`), the transaction is rolled back, and the jobs
/// after it have not run.
fn run_optimistically(
    conn: &Connection,
    batch: &mut [Job],
    panicked: &mut [bool],
    executed: &mut std::time::Instant,
) -> rusqlite::Result<bool> {
    in_transaction(conn, || {
        for (job, panicked) in batch.iter_mut().zip(panicked.iter_mut()) {
            let ran = run_one(job, conn);
            if ran != Some(true) {
                *panicked = ran.is_none();
                control(conn, "ROLLBACK")?;
                return Ok(false);
            }
        }
        // A write that forgot its sync entry: the careful run finds which job it was.
        #[cfg(debug_assertions)]
        if super::sync_guard::check(conn).is_err() {
            control(conn, "ROLLBACK")?;
            return Ok(false);
        }
        *executed = std::time::Instant::now();
        control(conn, "COMMIT")?;
        Ok(true)
    })
}

/// Runs the jobs again, each in a savepoint of its own so that a failed or panicking job
/// loses only its own writes, and commits. Jobs that panicked before are left out; those that
/// panic now are marked in `panicked`.
fn run_carefully(
    conn: &Connection,
    batch: &mut [Job],
    panicked: &mut [bool],
    executed: &mut std::time::Instant,
) -> rusqlite::Result<()> {
    in_transaction(conn, || {
        // Nothing written in the transaction yet: the next job needs no savepoint, as undoing
        // it is undoing the transaction.
        let mut fresh = true;
        for (job, panicked) in batch.iter_mut().zip(panicked.iter_mut()) {
            if *panicked {
                continue;
            }
            if !fresh {
                control(conn, "SAVEPOINT job")?;
            }
            let ran = run_one(job, conn);
            *panicked = ran.is_none();
            #[allow(unused_mut)]
            let mut kept = ran == Some(true);
            // Checked job by job here, so that only the job that forgot is refused.
            #[cfg(debug_assertions)]
            if kept && let Err(e) = super::sync_guard::check(conn) {
                job.refuse(e.to_string());
                kept = false;
            }
            match (fresh, kept) {
                (true, true) => fresh = false,
                (true, false) => {
                    control(conn, "ROLLBACK")?;
                    control(conn, "BEGIN IMMEDIATE")?;
                }
                (false, true) => control(conn, "RELEASE job")?,
                (false, false) => {
                    control(conn, "ROLLBACK TO job")?;
                    control(conn, "RELEASE job")?;
                }
            }
        }
        *executed = std::time::Instant::now();
        control(conn, "COMMIT")
    })
}

/// Begins a write transaction and runs `body`, which ends it (COMMIT or ROLLBACK); if `body`
/// fails midway, whatever it left open is rolled back.
fn in_transaction<T>(
    conn: &Connection,
    body: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    control(conn, "BEGIN IMMEDIATE")?;
    let result = body();
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}
