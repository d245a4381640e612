//! Outbound calls, one client per peer (HTTP, and PostgreSQL for sync). Base URLs and credentials
//! come from config; nothing here reads the environment or the database. Errors say whether a
//! retry can help.

pub mod gateway;
pub mod llm;
pub mod postgres;
mod postgres_tls;
pub mod postgrest;
pub mod sync_target;

use std::time::Duration;

/// The HTTP client every peer uses: HTTP/1.1 only (the old backend stalled on HTTP/2
/// handshakes), pooled, with connect and read timeouts.
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
        .user_agent(concat!("frontdesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|e| panic!("the HTTP client cannot be built: {e}"))
}
