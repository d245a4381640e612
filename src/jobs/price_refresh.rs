//! Keeps the price cache fresh: checks every second whether the price list changed (cheap: one
//! row) and refreshes before the TTL runs out. A failed refresh keeps the stale copy and is
//! logged at a limited rate; the first success after failures says so.

use crate::cache::PriceCache;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const CHECK_EVERY: Duration = Duration::from_secs(1);

pub async fn run(cache: Arc<PriceCache>, cancel: CancellationToken) {
    let mut ticker = tokio::time::interval(CHECK_EVERY);
    let mut failures: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match cache.refresh_if_needed().await {
            Ok(_) if failures > 0 => {
                tracing::info!(failed_checks = failures, "price cache refresh recovered");
                failures = 0;
            }
            Ok(_) => {}
            Err(e) => {
                failures += 1;
                // First failure, then once a minute: enough to notice, not enough to flood.
                if failures == 1 || failures.is_multiple_of(60) {
                    tracing::warn!(error = %e, failed_checks = failures, "price cache refresh failed; keeping the loaded copy");
                }
            }
        }
    }
}
