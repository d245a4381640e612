//! What the sync worker last knew, shared with `/metrics` and `/readyz` (memory only: a probe
//! never waits on the database or on the central side). Sync trouble is reported, never a
//! reason to be unready: the clinic keeps working offline and the backlog waits on disk.

use crate::resilience::{Breaker, BreakerState};
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Pending rows per table, as last counted.
    pub backlog: Vec<(String, i64)>,
    /// Unix ms (wall clock) of the oldest pending row.
    pub oldest_pending_ms: Option<i64>,
    pub quarantined: i64,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub last_success_at: Option<String>,
    pub synced_total: u64,
    pub quarantined_total: u64,
    pub failures_total: u64,
    pub last_pull_at: Option<String>,
    pub last_pull_error: Option<String>,
}

impl Snapshot {
    pub fn total_backlog(&self) -> i64 {
        self.backlog.iter().map(|(_, n)| n).sum()
    }
}

pub struct SyncMonitor {
    target: &'static str,
    breaker: Option<Arc<Breaker>>,
    inner: Mutex<Snapshot>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl SyncMonitor {
    pub fn new(target: &'static str, breaker: Option<Arc<Breaker>>) -> Self {
        Self {
            target,
            breaker,
            inner: Mutex::default(),
        }
    }

    pub fn target(&self) -> &'static str {
        self.target
    }

    pub fn snapshot(&self) -> Snapshot {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn update(&self, f: impl FnOnce(&mut Snapshot)) {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()));
    }

    pub fn breaker_state(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(|b| b.state())
    }

    fn oldest_age_secs(s: &Snapshot) -> Option<f64> {
        s.oldest_pending_ms
            .map(|at| ((now_ms() - at).max(0) as f64) / 1000.0)
    }

    /// The `sync` entry of `/readyz`'s checks.
    pub fn readiness(&self) -> Value {
        let s = self.snapshot();
        json!({
            "target": self.target,
            "backlog": s.total_backlog(),
            "oldest_pending_secs": Self::oldest_age_secs(&s),
            "breaker": self.breaker_state().map(|b| b.name()),
            "quarantined": s.quarantined,
            "last_error": s.last_error,
            "last_success_at": s.last_success_at,
        })
    }

    /// Appends the sync figures in Prometheus text.
    pub fn render(&self, out: &mut String) {
        let s = self.snapshot();
        let mut gauge = |name: &str, help: &str, kind: &str, lines: &[(String, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in lines {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        gauge(
            "frontdesk_sync_target_info",
            "Where rows are copied to (none, supabase, postgres).",
            "gauge",
            &[(format!("{{target=\"{}\"}}", self.target), 1.0)],
        );
        let backlog: Vec<(String, f64)> = s
            .backlog
            .iter()
            .map(|(t, n)| (format!("{{table=\"{t}\"}}"), *n as f64))
            .collect();
        gauge(
            "frontdesk_sync_backlog",
            "Rows waiting to be copied to the central database, by table.",
            "gauge",
            &backlog,
        );
        gauge(
            "frontdesk_sync_oldest_pending_seconds",
            "Age of the oldest row waiting to be copied (0 when none waits).",
            "gauge",
            &one(Self::oldest_age_secs(&s).unwrap_or(0.0)),
        );
        gauge(
            "frontdesk_sync_quarantined",
            "Rows the central database refused, set aside.",
            "gauge",
            &one(s.quarantined as f64),
        );
        let open = matches!(self.breaker_state(), Some(BreakerState::Open { .. }));
        gauge(
            "frontdesk_sync_breaker_open",
            "1 while the sync circuit breaker is open.",
            "gauge",
            &one(if open { 1.0 } else { 0.0 }),
        );
        gauge(
            "frontdesk_sync_rows_total",
            "Rows settled by outcome.",
            "counter",
            &[
                ("{outcome=\"synced\"}".into(), s.synced_total as f64),
                (
                    "{outcome=\"quarantined\"}".into(),
                    s.quarantined_total as f64,
                ),
            ],
        );
        gauge(
            "frontdesk_sync_failures_total",
            "Batches that failed and were retried.",
            "counter",
            &one(s.failures_total as f64),
        );
    }
}
