//! Pings the systemd watchdog, but only while the database still answers: a wedged writer or
//! a dead pool stops the pings and systemd restarts the service.

use crate::db::Db;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub async fn run(db: Db, interval: Duration, cancel: CancellationToken) {
    // Ping at half the interval systemd gave, as sd_watchdog_enabled(3) recommends.
    let mut ticker = tokio::time::interval(interval / 2);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {
                if run_once(&db).await {
                    crate::systemd::notify_watchdog();
                }
            }
        }
    }
}

/// One health probe: a write round trip through the single writer.
pub async fn run_once(db: &Db) -> bool {
    db.writer_responds(Duration::from_secs(5)).await
}
