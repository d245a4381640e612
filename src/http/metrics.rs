//! `GET /metrics`: Prometheus text. Counters from memory, plus gauges read at scrape time.

use crate::db::{followups, outbox};
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use std::fmt::Write as _;

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let pending = state
        .shared
        .db
        .read(outbox::count_pending)
        .await
        .unwrap_or(-1);
    let writer = state.shared.db.writer_stats();
    let body = state.shared.metrics.render(&[
        (
            "frontdesk_send_outbox_pending",
            "Replies waiting to be sent.",
            pending as f64,
        ),
        (
            "frontdesk_price_cache_services",
            "Services in the price cache.",
            state.shared.prices.total_services() as f64,
        ),
        (
            "frontdesk_db_commits",
            "Transactions committed by the single writer.",
            writer.commits as f64,
        ),
        (
            "frontdesk_db_writes",
            "Write jobs committed (several share one commit).",
            writer.jobs as f64,
        ),
    ]);
    let mut body = body;
    if let Ok(counts) = state.shared.db.read(followups::count_by_status).await {
        body.push_str(
            "# HELP frontdesk_followups Follow-ups by status.\n# TYPE frontdesk_followups gauge\n",
        );
        for (status, n) in counts {
            let _ = writeln!(body, "frontdesk_followups{{status=\"{status}\"}} {n}");
        }
    }
    state.sync.render(&mut body);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
