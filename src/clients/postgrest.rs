//! Supabase's REST API (PostgREST). Upserts: `POST /rest/v1/<table>?on_conflict=id` with
//! `Prefer: resolution=merge-duplicates,return=minimal`, the schema in `Content-Profile`, and
//! the service role key as `apikey` and `Authorization: Bearer`. Pulls: `GET` with
//! `Accept-Profile`, paged. HTTP/1.1 only, tight timeouts, at most `max_connections` requests
//! at once. reqwest has connect and read timeouts but no write timeout, so each request also
//! has a whole-request limit of connect + write + read.

use super::sync_target::{SyncError, classify_sqlstate, redact};
use crate::config::SyncConfig;
use crate::domain::sync_table::SyncedTable;
use crate::resilience::retry_after;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Rows asked for per page when pulling (Supabase caps responses at 1000 rows by default).
const PAGE: usize = 1000;
/// The longest `Retry-After` honoured.
const RETRY_AFTER_CAP: Duration = Duration::from_secs(300);

pub struct PostgrestClient {
    http: reqwest::Client,
    base: String,
    key: SecretString,
    slots: Arc<Semaphore>,
    pool_timeout: Duration,
    request_timeout: Duration,
}

impl PostgrestClient {
    pub fn new(base: &str, key: SecretString, config: &SyncConfig) -> Self {
        let ms = Duration::from_millis;
        let http = super::http_client_with(
            ms(config.connect_timeout_ms),
            ms(config.read_timeout_ms),
            config.idle_connections,
            Duration::from_secs(config.idle_timeout_secs),
        );
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            key,
            slots: Arc::new(Semaphore::new(config.max_connections)),
            pool_timeout: ms(config.pool_timeout_ms),
            request_timeout: ms(config.connect_timeout_ms
                + config.write_timeout_ms
                + config.read_timeout_ms),
        }
    }

    fn request(&self, method: reqwest::Method, table: &SyncedTable) -> reqwest::RequestBuilder {
        let key = self.key.expose_secret();
        self.http
            .request(method, format!("{}/rest/v1/{}", self.base, table.name))
            .header("apikey", key)
            .bearer_auth(key)
            .timeout(self.request_timeout)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, SyncError> {
        let _slot = tokio::time::timeout(self.pool_timeout, self.slots.acquire())
            .await
            .map_err(|_| SyncError::retryable("every Supabase connection stayed busy"))?
            .map_err(|_| SyncError::retryable("the Supabase client is closed"))?;
        super::note_remote_call();
        request.send().await.map_err(transport_error)
    }

    pub async fn upsert(&self, table: &SyncedTable, rows: &str) -> Result<(), SyncError> {
        let request = self
            .request(reqwest::Method::POST, table)
            .query(&[("on_conflict", "id")])
            .header("Content-Profile", table.schema)
            .header("Content-Type", "application/json")
            .header("Prefer", "resolution=merge-duplicates,return=minimal")
            .body(rows.to_owned());
        let response = self.send(request).await?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(failure(table, response).await)
    }

    pub async fn fetch(
        &self,
        table: &SyncedTable,
        column: &str,
        values: &[String],
    ) -> Result<Vec<Value>, SyncError> {
        let filter = format!("in.({})", values.join(","));
        let mut out = Vec::new();
        loop {
            let offset = out.len().to_string();
            let request = self
                .request(reqwest::Method::GET, table)
                .header("Accept-Profile", table.schema)
                .query(&[
                    ("select", "*"),
                    (column, filter.as_str()),
                    ("order", "id.asc"),
                    ("limit", &PAGE.to_string()),
                    ("offset", &offset),
                ]);
            let response = self.send(request).await?;
            if !response.status().is_success() {
                return Err(failure(table, response).await);
            }
            let page: Vec<Value> = response
                .json()
                .await
                .map_err(|_| SyncError::retryable("Supabase sent a response that is not JSON"))?;
            let n = page.len();
            out.extend(page);
            if n < PAGE {
                return Ok(out);
            }
        }
    }
}

/// Turns an error response into what the worker acts on. PostgREST reports the PostgreSQL
/// error code in its body, which says more than the HTTP status (a duplicate key within one
/// upsert, 21000, comes back as 500).
async fn failure(table: &SyncedTable, response: reqwest::Response) -> SyncError {
    let status = response.status().as_u16();
    let wait = retry_after(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        RETRY_AFTER_CAP,
    );
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body["code"].as_str().unwrap_or("");
    let message = redact(body["message"].as_str().unwrap_or(""));
    let name = format!("{}.{}", table.schema, table.name);
    match status {
        401 | 403 => SyncError::Misconfigured(format!(
            "Supabase refused the service role key for {name} (HTTP {status}); check \
             SUPABASE_SERVICE_ROLE_KEY"
        )),
        404 | 406 => SyncError::Misconfigured(format!(
            "Supabase does not expose {name} (HTTP {status} {code}); apply the SQL from \
             `frontdesk sync schema` and add core and healthcare to the exposed schemas"
        )),
        408 | 429 | 502 | 503 | 504 => SyncError::Retryable {
            reason: format!("Supabase answered {status} for {name}"),
            retry_after: wait.filter(|_| matches!(status, 429 | 503)),
        },
        413 => SyncError::Rejected(format!("Supabase found the batch for {name} too large")),
        _ => classify_sqlstate(code, &message).unwrap_or_else(|| {
            let text = format!("Supabase answered {status} for {name}: {code} {message}");
            if status >= 500 {
                SyncError::retryable(text)
            } else {
                SyncError::Rejected(text)
            }
        }),
    }
}

fn transport_error(e: reqwest::Error) -> SyncError {
    SyncError::retryable(if e.is_timeout() {
        "Supabase did not answer in time"
    } else if e.is_connect() {
        "cannot connect to Supabase"
    } else {
        "the connection to Supabase failed"
    })
}
