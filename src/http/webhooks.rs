//! Gateway webhooks. Authentication runs over the raw body bytes before any parsing, so a
//! forged request costs a header check and an HMAC, writes nothing but a rate-limited audit
//! entry, and gets 401. A body that can never be valid gets 400; a transient fault 503 (the
//! gateway retries, and deduplication makes the retry harmless); 200 only after every event
//! of the request is committed.

use crate::crypto::webhook::{secrets_equal, verify_body_signature, verify_hs256};
use crate::error::AppError;
use crate::providers::{self, ParseError};
use crate::services::audit::{self, AuditEvent, action};
use crate::services::turn::TurnOutcome;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Instant;
use tracing::Instrument;

/// Header carrying a static shared secret (configure it in Evolution's webhook `headers`).
pub const SECRET_HEADER: &str = "x-webhook-secret";
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub async fn evolution(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    evolution_event(state, None, headers, body).await
}

/// The by-events form: `/webhooks/evolution/messages-upsert`.
pub async fn evolution_by_event(
    State(state): State<AppState>,
    Path(event): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    evolution_event(state, Some(event), headers, body).await
}

async fn evolution_event(
    state: AppState,
    event: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let received = Instant::now();
    let now = state.shared.clock.now();
    let verdict = match configured(&state.config.evolution.webhook_secret) {
        None => Err("no EVOLUTION_WEBHOOK_SECRET configured"),
        Some(secret) => authenticate_evolution(
            secret.expose_secret().as_bytes(),
            &headers,
            &body,
            now.timestamp(),
        ),
    };
    if let Err(reason) = verdict {
        return Err(reject(&state, "evolution", reason));
    }
    let events = providers::evolution::parse(&body, event.as_deref(), now)
        .map_err(|e| bad_request(&state, "evolution", e))?;
    process(&state, "evolution", events, received).await
}

/// The secret that authenticates a provider's webhooks, if one is set. Configuration refuses
/// an empty one; should one get here anyway, it authenticates nothing rather than everyone
/// who signs with an empty key.
fn configured(secret: &Option<SecretString>) -> Option<&SecretString> {
    secret.as_ref().filter(|s| !s.expose_secret().is_empty())
}

/// Evolution does not sign its webhooks; accept what it can be configured to send.
fn authenticate_evolution(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A bearer token is judged alone. Another scheme (Basic auth a reverse proxy adds, say)
    // does not authenticate, and does not stop the secret header or signature from doing so.
    if let Some(token) = header("authorization").and_then(bearer_token) {
        return verify_hs256(secret, token, now).map_err(|e| match e {
            crate::crypto::webhook::JwtError::Expired => "expired JWT",
            _ => "invalid JWT",
        });
    }
    if let Some(given) = header(SECRET_HEADER) {
        return secrets_equal(given.as_bytes(), secret)
            .then_some(())
            .ok_or("wrong webhook secret");
    }
    if let Some(signature) = header(SIGNATURE_HEADER) {
        return verify_body_signature(secret, body, signature)
            .then_some(())
            .ok_or("bad body signature");
    }
    Err("unsigned request")
}

/// The token of an `Authorization: Bearer …` header; the scheme is case-insensitive (RFC 9110).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub async fn cloud(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AppError> {
    let received = Instant::now();
    let verdict = match configured(&state.config.whatsapp_cloud.app_secret) {
        None => Err("no WHATSAPP_CLOUD_APP_SECRET configured"),
        Some(secret) => match headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()) {
            None => Err("unsigned request"),
            Some(sig) if verify_body_signature(secret.expose_secret().as_bytes(), &body, sig) => {
                Ok(())
            }
            Some(_) => Err("bad body signature"),
        },
    };
    if let Err(reason) = verdict {
        return Err(reject(&state, "cloud", reason));
    }
    let events = providers::cloud::parse(&body, state.shared.clock.now())
        .map_err(|e| bad_request(&state, "cloud", e))?;
    process(&state, "cloud", events, received).await
}

#[derive(Deserialize)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's subscription handshake: echo the challenge if the verify token matches.
pub async fn cloud_verify(State(state): State<AppState>, Query(q): Query<VerifyQuery>) -> Response {
    let expected = state.config.whatsapp_cloud.verify_token.as_ref();
    let ok = q.mode.as_deref() == Some("subscribe")
        && matches!((expected, &q.token), (Some(e), Some(t)) if secrets_equal(t.as_bytes(), e.expose_secret().as_bytes()));
    match (ok, q.challenge) {
        (true, Some(challenge)) => (StatusCode::OK, challenge).into_response(),
        _ => {
            state
                .shared
                .metrics
                .webhooks
                .inc(&["cloud", "verify_refused"]);
            (
                StatusCode::FORBIDDEN,
                Json(json!({ "error": "verification failed" })),
            )
                .into_response()
        }
    }
}

async fn process(
    state: &AppState,
    provider: &'static str,
    events: Vec<crate::domain::message::InboundEvent>,
    received: Instant,
) -> Result<Json<Value>, AppError> {
    let mut handled = 0;
    for event in events {
        // Each event runs on a task of its own, to the end, even if this request is cut off
        // (the gateway hangs up, the request times out): a turn stopped halfway would leave a
        // committed reply unsent until the sender's safety rescan, after the answers to later
        // messages, or drop a message the gateway will not send again.
        let conversations = state.conversations.clone();
        let turn = tokio::spawn(
            async move { conversations.handle(event, received).await }
                .instrument(tracing::Span::current()),
        );
        let Ok(result) = turn.await else {
            state.shared.metrics.webhooks.inc(&[provider, "error"]);
            return Err(AppError::Internal(anyhow::anyhow!("a turn panicked")));
        };
        match result {
            Ok(outcome) => {
                if let TurnOutcome::Ignored(reason) = outcome {
                    tracing::debug!(reason, "event ignored");
                    state.shared.metrics.events.inc(&[provider, "ignored"]);
                }
                handled += 1;
            }
            Err(e) if e.is_transient() => {
                state
                    .shared
                    .metrics
                    .webhooks
                    .inc(&[provider, "unavailable"]);
                tracing::warn!(error = %e, "transient fault; asking the gateway to retry");
                return Err(AppError::Unavailable("temporarily unavailable, retry"));
            }
            Err(e) => {
                state.shared.metrics.webhooks.inc(&[provider, "error"]);
                return Err(AppError::Internal(e.into()));
            }
        }
    }
    state.shared.metrics.webhooks.inc(&[provider, "accepted"]);
    Ok(Json(json!({ "status": "ok", "events": handled })))
}

fn bad_request(state: &AppState, provider: &'static str, e: ParseError) -> AppError {
    state
        .shared
        .metrics
        .webhooks
        .inc(&[provider, "bad_request"]);
    AppError::BadRequest(e.to_string())
}

/// 401, a counter, and at most one audit entry per minute per provider and reason.
fn reject(state: &AppState, provider: &'static str, reason: &'static str) -> AppError {
    state
        .shared
        .metrics
        .webhooks
        .inc(&[provider, "unauthorized"]);
    if let Some(count) = state
        .rejections
        .record(&state.shared.clock, provider, reason)
    {
        tracing::warn!(provider, reason, count, "webhook rejected");
        let (keys, now) = (state.shared.keys.clone(), state.shared.clock.now());
        let db = state.shared.db.clone();
        tokio::spawn(async move {
            let event = AuditEvent::new("webhook", action::WEBHOOK_REJECTED)
                .subject(provider)
                .detail(json!({ "reason": reason, "count": count }));
            if let Err(e) = db
                .write(move |c| audit::record(c, &keys.audit, now, &event))
                .await
            {
                tracing::warn!(error = %e, "cannot audit a rejected webhook");
            }
        });
    }
    AppError::Unauthorized
}
