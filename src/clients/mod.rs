//! Outbound calls, one client per peer (HTTP, and PostgreSQL for sync). Base URLs and credentials
//! come from config; nothing here reads the environment or the database. Errors say whether a
//! retry can help.

pub mod gateway;
pub mod llm;
pub mod postgres;
mod postgres_tls;
pub mod postgrest;
pub mod sync_target;

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    static REMOTE_CALLS: Cell<u32>;
}

/// Runs `f` counting the remote calls (HTTP requests, PostgreSQL round trips) it makes, so a
/// conversation turn can record how many happened before its reply was queued.
pub async fn counting_remote_calls<F: Future>(f: F) -> F::Output {
    REMOTE_CALLS.scope(Cell::new(0), f).await
}

/// Remote calls made so far inside [`counting_remote_calls`] (0 outside it).
pub fn remote_calls_so_far() -> u32 {
    REMOTE_CALLS.try_with(Cell::get).unwrap_or(0)
}

/// Every client calls this as it sends a request to its peer.
pub(crate) fn note_remote_call() {
    let _ = REMOTE_CALLS.try_with(|c| c.set(c.get() + 1));
}

/// The HTTP client every peer uses: HTTP/1.1 only (the old backend stalled on HTTP/2
/// handshakes), pooled, with connect and read timeouts. Redirects are not followed: an API
/// that answers a POST with one is misconfigured, and following it would send our key
/// headers (`apikey` is not one reqwest strips) to wherever it points. The 3xx is the answer,
/// and its status is the recorded reason.
pub fn http_client(connect: Duration, read: Duration, pool_idle: usize) -> reqwest::Client {
    http_client_with(connect, read, pool_idle, Duration::from_secs(30))
}

/// [`http_client`], keeping up to `pool_idle` idle connections for `idle_for`.
pub fn http_client_with(
    connect: Duration,
    read: Duration,
    pool_idle: usize,
    idle_for: Duration,
) -> reqwest::Client {
    reqwest::Client::builder()
        .http1_only()
        .connect_timeout(connect)
        .read_timeout(read)
        .pool_max_idle_per_host(pool_idle)
        .pool_idle_timeout(idle_for)
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|e| panic!("the HTTP client cannot be built: {e}"))
}
