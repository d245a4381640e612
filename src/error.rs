//! The one error type at the HTTP boundary. Every variant maps to a status code (500 unless
//! said otherwise) and a short, safe message: internal error text and PHI never reach the
//! client; they are logged here, once, without PHI.

use crate::db::DbError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input that can never succeed; the gateway must not retry it.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("payload too large")]
    PayloadTooLarge,
    /// A transient fault: the gateway should retry.
    #[error("temporarily unavailable: {0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<DbError> for AppError {
    fn from(e: DbError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "transient database error");
            AppError::Unavailable("database busy")
        } else {
            AppError::Internal(e.into())
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            AppError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized".into()),
            AppError::PayloadTooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload too large".into())
            }
            AppError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, (*m).into()),
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}
