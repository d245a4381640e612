//! `/healthz`: the process answers. `/readyz`: it can do its job (a database read and a write
//! round trip through the single writer, migrations current, keys loaded, not shutting down),
//! else 503 with the reason as JSON. Sync figures are included as details only.

use crate::db::migrate;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

/// How long `/readyz` waits for a write round trip; a busy writer answers in milliseconds.
const WRITER_PROBE: std::time::Duration = std::time::Duration::from_secs(2);

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "alive" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut checks = serde_json::Map::new();
    let mut reason = None;

    match state.shared.db.read(migrate::current).await {
        Ok(version) => {
            checks.insert("database".into(), json!("ok"));
            if version == migrate::latest() {
                checks.insert(
                    "migrations".into(),
                    json!(format!("current (version {version})")),
                );
            } else {
                let m = format!(
                    "database at version {version}, expected {}",
                    migrate::latest()
                );
                checks.insert("migrations".into(), json!(m.clone()));
                reason.get_or_insert(m);
            }
        }
        Err(e) => {
            checks.insert("database".into(), json!("unavailable"));
            reason.get_or_insert(format!("database: {e}"));
        }
    }
    // Keys are loaded before the server binds; reporting their fingerprints lets an operator
    // confirm which keys a running instance holds without exposing them.
    checks.insert(
        "keys".into(),
        json!({ "loaded": true, "phi_master": state.shared.keys.fingerprints.phi_master }),
    );
    // Reported, never a reason to be unready: the clinic works offline and sync catches up.
    checks.insert("sync".into(), state.sync.readiness());
    // Reads alone would say ready with a dead or wedged writer, which cannot store a message.
    if !state.shared.db.writer_responds(WRITER_PROBE).await {
        checks.insert("writer".into(), json!("not responding"));
        reason.get_or_insert("database writer not responding".into());
    } else {
        checks.insert("writer".into(), json!("ok"));
    }
    if state.is_draining() {
        reason.get_or_insert("shutting down".into());
    }

    match reason {
        None => (
            StatusCode::OK,
            Json(json!({ "status": "ready", "checks": checks })),
        ),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": reason, "checks": checks })),
        ),
    }
}
