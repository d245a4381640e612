//! The HTTP surface: routes, limits, timeouts, request tracing. Handlers parse and delegate;
//! they run no SQL and make no outbound calls themselves.

mod health;
mod metrics;
pub mod webhooks;

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use std::time::Duration;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub fn router(state: AppState) -> Router {
    let http = &state.config.http;
    let body_limit = http.body_limit_bytes;
    let timeout = Duration::from_secs(http.request_timeout_secs);
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        .route("/webhooks/evolution", post(webhooks::evolution))
        .route("/webhooks/evolution/{event}", post(webhooks::evolution_by_event))
        .route("/webhooks/whatsapp", get(webhooks::cloud_verify).post(webhooks::cloud))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, timeout))
        .layer(
            // Method and route only: query strings and bodies can carry PHI. Debug level: a
            // span per request is measurable at thousands of requests a second, so it is only
            // built when RUST_LOG asks for it.
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::debug_span!("http", method = %req.method(), path = req.uri().path())
            }),
        )
        .with_state(state)
}
