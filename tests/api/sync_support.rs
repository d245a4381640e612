//! Helpers for the sync tests: fast sync settings, a worker stepped by hand, local row sets to
//! compare with the central ones, and polling with a deadline.

use crate::helpers::TestApp;
use frontdesk::clients::sync_target::SyncTarget;
use frontdesk::config::SyncConfig;
use frontdesk::db::rusqlite::Connection;
use frontdesk::domain::sync_table::TABLES;
use frontdesk::jobs::sync::{Step, SyncDeps, SyncMonitor, SyncWorker, breaker};
use frontdesk::resilience::Breaker;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Settings that make the background worker quick to notice, retry and give up.
pub fn fast(config: &mut SyncConfig) {
    config.interval_ms = 20;
    config.retry_min_ms = 20;
    config.retry_max_ms = 200;
    config.connect_timeout_ms = 500;
    config.read_timeout_ms = 500;
    config.write_timeout_ms = 500;
    config.pool_timeout_ms = 1_000;
    config.batch_size = 50;
    config.pull_interval_secs = 3_600;
}

pub struct Stepper {
    pub worker: SyncWorker,
    pub breaker: Arc<Breaker>,
    pub monitor: Arc<SyncMonitor>,
}

/// A worker over the app's database, stepped by the test (the app runs no sync of its own).
pub fn stepper(app: &TestApp, target: SyncTarget, config: SyncConfig) -> Stepper {
    let breaker = breaker(&config, app.state.shared.clock.clone());
    let monitor = Arc::new(SyncMonitor::new(target.name(), Some(breaker.clone())));
    let worker = SyncWorker::new(SyncDeps {
        db: app.state.shared.db.clone(),
        keys: app.state.shared.keys.clone(),
        clock: app.state.shared.clock.clone(),
        target: Arc::new(target),
        breaker: breaker.clone(),
        monitor: monitor.clone(),
        config,
    });
    Stepper {
        worker,
        breaker,
        monitor,
    }
}

impl Stepper {
    /// Steps until nothing is pending; returns the rows sent. Panics on anything else.
    pub async fn drain(&mut self) -> usize {
        let mut rows = 0;
        loop {
            match self.worker.run_once().await {
                Step::Idle => return rows,
                Step::Synced { rows: n, .. } => rows += n,
                other => panic!("the drain stopped: {other:?}"),
            }
        }
    }
}

/// Ids of a local synced table, sorted.
pub fn local_ids(app: &TestApp, table: &str) -> Vec<String> {
    local_ids_in(&app.sqlite(), table)
}

pub fn local_ids_in(conn: &Connection, table: &str) -> Vec<String> {
    let source = TABLES.iter().find(|t| t.name == table).unwrap().source;
    let mut stmt = conn
        .prepare(&format!("SELECT id FROM {source} ORDER BY id"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

pub fn pending(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM sync_outbox WHERE status = 'pending'")
}

/// The central name of a synced table.
pub fn central(table: &str) -> String {
    let t = TABLES.iter().find(|t| t.name == table).unwrap();
    format!("{}.{}", t.schema, t.name)
}

/// Polls `check` until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
