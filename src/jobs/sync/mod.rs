//! Copies rows to the central database (Supabase or PostgreSQL) in the background.
//!
//! `run` loops over `run_once` (one batch: `step.rs`): straight on while a backlog remains,
//! every `interval_ms` when idle, after a capped, jittered backoff (or the server's
//! `Retry-After`) when a batch fails, and not at all while the circuit breaker is open. Nothing
//! the clinic does waits on this: the backlog grows on disk. At shutdown it keeps draining for
//! a bounded time. `pull.rs` brings the price list and clinic directory down.

pub mod monitor;
pub mod pull;
mod step;

use crate::clients::sync_target::SyncTarget;
use crate::clock::SharedClock;
use crate::config::SyncConfig;
use crate::crypto::Keys;
use crate::db::{Db, DbError, sync};
use crate::domain::time;
use crate::resilience::{Backoff, Breaker, BreakerState, ErrorLog};
use crate::services::sync::PlaintextFields;
pub use monitor::SyncMonitor;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often backlog figures are recounted, old history pruned, and state saved.
const STATUS_EVERY: Duration = Duration::from_secs(2);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const SAVE_EVERY: Duration = Duration::from_secs(10);
const PRUNE_MAX: usize = 5_000;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing was pending.
    Idle,
    Synced {
        rows: usize,
        quarantined: usize,
        /// A full batch was read: more is probably waiting.
        more: bool,
    },
    /// The batch failed; try again after this long.
    Backoff(Duration),
    /// The breaker is open: nothing was sent; it lets a probe through at this time.
    BreakerOpen(chrono::DateTime<chrono::Utc>),
}

pub struct SyncDeps {
    pub db: Db,
    pub keys: Arc<Keys>,
    pub clock: SharedClock,
    pub target: Arc<SyncTarget>,
    pub breaker: Arc<Breaker>,
    pub monitor: Arc<SyncMonitor>,
    pub config: SyncConfig,
}

pub struct SyncWorker {
    d: SyncDeps,
    plaintext: PlaintextFields,
    /// Every entry up to here is settled (synced or quarantined).
    after_seq: i64,
    /// Consecutive failed batches, for the backoff.
    failures: u32,
    backoff: Backoff,
    log: ErrorLog,
    last_status: Option<Instant>,
    last_prune: Option<Instant>,
    last_save: Option<Instant>,
    saved: Option<String>,
}

/// The breaker shared by pushing and pulling: both talk to the same central database.
pub fn breaker(config: &SyncConfig, clock: SharedClock) -> Arc<Breaker> {
    Arc::new(Breaker::new(
        "sync",
        config.breaker_failures,
        Duration::from_secs(config.breaker_open_secs),
        clock,
    ))
}

impl SyncWorker {
    pub fn new(d: SyncDeps) -> Self {
        let log = ErrorLog::new("sync", Duration::from_secs(60), d.clock.clone());
        let (min, max) = (d.config.retry_min_ms, d.config.retry_max_ms);
        let backoff = Backoff::new(
            Duration::from_millis(min),
            Duration::from_millis(max.max(min)),
        );
        Self {
            plaintext: PlaintextFields::new(&d.config.plaintext_fields),
            d,
            after_seq: 0,
            failures: 0,
            backoff,
            log,
            last_status: None,
            last_prune: None,
            last_save: None,
            saved: None,
        }
    }

    pub async fn run(mut self, cancel: CancellationToken, flush_for: Duration) {
        let idle = Duration::from_millis(self.d.config.interval_ms);
        tracing::info!(target = self.d.target.name(), "sync started");
        loop {
            let step = self.run_once().await;
            self.housekeeping(false).await;
            let wait = match step {
                Step::Synced { more: true, .. } => Duration::ZERO,
                Step::Synced { .. } | Step::Idle => idle,
                Step::Backoff(delay) => delay,
                // Checked again each interval: the open period is on the injected clock.
                Step::BreakerOpen(until) => (until - self.d.clock.now())
                    .to_std()
                    .unwrap_or_default()
                    .clamp(Duration::from_millis(10), idle),
            };
            if cancel.is_cancelled() {
                break;
            }
            if !wait.is_zero() {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
        self.flush(flush_for).await;
    }

    /// Drains what it can within `limit` (shutdown): stops early when the backlog is empty or
    /// the central side is failing. A batch cut off mid-way is sent again at the next start.
    pub async fn flush(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut rows = 0;
        let left = loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.run_once()).await {
                Ok(Step::Synced {
                    rows: n,
                    more: true,
                    ..
                }) => rows += n,
                Ok(Step::Synced { rows: n, .. }) => {
                    rows += n;
                    break false;
                }
                Ok(Step::Idle) => break false,
                Ok(Step::Backoff(_) | Step::BreakerOpen(_)) | Err(_) => break true,
            }
        };
        self.housekeeping(true).await;
        if left {
            tracing::warn!(
                rows,
                "sync stopped with rows still queued; they go at the next start"
            );
        } else if rows > 0 {
            tracing::info!(rows, "sync flushed its backlog before stopping");
        }
    }

    /// Recounts the backlog, prunes old history, saves the state for `frontdesk sync status`;
    /// each at most as often as its interval, unless `now`.
    pub async fn housekeeping(&mut self, now: bool) {
        let due = |last: Option<Instant>, every: Duration| {
            now || last.is_none_or(|at| at.elapsed() >= every)
        };
        if due(self.last_status, STATUS_EVERY) {
            self.last_status = Some(Instant::now());
            self.refresh_status().await;
            self.d.target.close_idle();
        }
        if due(self.last_prune, PRUNE_EVERY) {
            self.last_prune = Some(Instant::now());
            let keep = self.d.config.history_rows;
            let pruned = self
                .d
                .db
                .write(move |c| sync::prune_history(c, keep, PRUNE_MAX))
                .await;
            if let Err(e) = pruned {
                tracing::warn!(error = %e, "cannot prune the sync history");
            }
        }
        if due(self.last_save, SAVE_EVERY) {
            self.last_save = Some(Instant::now());
            self.save_state().await;
        }
    }

    pub async fn refresh_status(&self) {
        match self.d.db.read(sync::backlog).await {
            Ok(b) => self.d.monitor.update(|s| {
                s.backlog = b.pending;
                s.oldest_pending_ms = b.oldest_pending_ms;
                s.quarantined = b.quarantined;
            }),
            Err(e) => tracing::warn!(error = %e, "cannot count the sync backlog"),
        }
    }

    /// Saves what `frontdesk sync status` shows about the running worker, when it changed.
    async fn save_state(&mut self) {
        let s = self.d.monitor.snapshot();
        let (breaker, until) = match self.d.breaker.state() {
            BreakerState::Open { until } => ("open", Some(time::to_db(until))),
            other => (other.name(), None),
        };
        let state = serde_json::json!({
            "target": self.d.target.name(),
            "breaker": breaker,
            "breaker_open_until": until,
            "last_error": s.last_error,
            "last_error_at": s.last_error_at,
            "last_success_at": s.last_success_at,
            "last_pull_at": s.last_pull_at,
            "last_pull_error": s.last_pull_error,
        })
        .to_string();
        if self.saved.as_ref() == Some(&state) {
            return;
        }
        let (json, now) = (state.clone(), time::to_db(self.d.clock.now()));
        match self
            .d
            .db
            .write(move |c| sync::set_state(c, &json, &now))
            .await
        {
            Ok(()) => self.saved = Some(state),
            Err(e) => tracing::warn!(error = %e, "cannot save the sync state"),
        }
    }

    fn db_trouble(&mut self, e: &DbError) -> Step {
        tracing::warn!(error = %e, "sync cannot use the local database");
        Step::Backoff(self.backoff.delay(1))
    }
}
