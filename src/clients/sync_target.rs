//! One interface over the two places rows are copied to: Supabase's REST API (PostgREST) and
//! PostgreSQL directly. Both take a batch of one table's rows as a JSON array (the same bytes),
//! upsert it keyed by `id` in one statement, and classify failures the same way, so the sync
//! worker never needs to know which target it talks to.

use super::postgres::{PostgresClient, PostgresSetupError};
use super::postgrest::PostgrestClient;
use crate::config::{Config, SyncTargetConfig};
use crate::domain::sync_table::SyncedTable;
use std::time::Duration;

/// What went wrong, as the sync worker must act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Network trouble, timeouts, overload: back off and retry the same rows.
    #[error("{reason}")]
    Retryable {
        reason: String,
        /// The server's `Retry-After` (429, 503), when it gave one.
        retry_after: Option<Duration>,
    },
    /// The central side is set up wrong (credentials, schema not applied, permissions). No row
    /// is to blame: back off and retry until someone fixes it.
    #[error("{0}")]
    Misconfigured(String),
    /// The central side refused the rows' data. Retrying these rows cannot help: the worker
    /// splits the batch to find the rows to quarantine.
    #[error("{0}")]
    Rejected(String),
}

impl SyncError {
    pub fn retryable(reason: impl Into<String>) -> Self {
        SyncError::Retryable {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

pub enum SyncTarget {
    Rest(PostgrestClient),
    Postgres(PostgresClient),
}

impl SyncTarget {
    /// The target the configuration selects, or `None` when sync is not configured.
    pub fn from_config(config: &Config) -> Result<Option<SyncTarget>, PostgresSetupError> {
        Ok(match config.sync.target(&config.supabase) {
            SyncTargetConfig::None => None,
            SyncTargetConfig::Supabase {
                url,
                service_role_key,
            } => Some(SyncTarget::Rest(PostgrestClient::new(
                &url,
                service_role_key,
                &config.sync,
            ))),
            SyncTargetConfig::Postgres { url } => Some(SyncTarget::Postgres(PostgresClient::new(
                &url,
                &config.sync,
            )?)),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            SyncTarget::Rest(_) => "supabase",
            SyncTarget::Postgres(_) => "postgres",
        }
    }

    /// Inserts or updates every row of `rows` (a JSON array of objects with the same keys,
    /// no id twice) in the central copy of `table`, in one statement.
    pub async fn upsert(&self, table: &SyncedTable, rows: &str) -> Result<(), SyncError> {
        match self {
            SyncTarget::Rest(c) => c.upsert(table, rows).await,
            SyncTarget::Postgres(c) => c.upsert(table, rows).await,
        }
    }

    /// Central rows of `table` whose `column` is one of `values`, as JSON objects.
    pub async fn fetch(
        &self,
        table: &SyncedTable,
        column: &str,
        values: &[String],
    ) -> Result<Vec<serde_json::Value>, SyncError> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            SyncTarget::Rest(c) => c.fetch(table, column, values).await,
            SyncTarget::Postgres(c) => c.fetch(table, column, values).await,
        }
    }

    /// Closes connections idle for longer than configured (called between batches).
    pub fn close_idle(&self) {
        if let SyncTarget::Postgres(c) = self {
            c.close_idle();
        }
    }
}

/// Classifies a PostgreSQL error code (also what PostgREST reports in its `code` field).
/// `None`: the code says nothing either way; the caller decides by transport.
pub(crate) fn classify_sqlstate(code: &str, message: &str) -> Option<SyncError> {
    let class = code.get(..2).unwrap_or("");
    let rejected = || SyncError::Rejected(format!("{code}: {message}"));
    let misconfigured = || SyncError::Misconfigured(format!("{code}: {message}"));
    Some(match (class, code) {
        // Data the central side refuses: types, constraints, duplicates within one statement.
        (_, "PGRST102") | ("21" | "22" | "23", _) | (_, "P0001") => rejected(),
        // Credentials, missing schema objects, permissions: nothing a row can fix.
        ("28" | "3D" | "3F" | "42" | "0L" | "0P", _) => misconfigured(),
        (_, c) if c.starts_with("PGRST") => misconfigured(),
        // Connection trouble, conflicts, resources, shutdown, system errors.
        ("08" | "40" | "53" | "55" | "57" | "58" | "XX", _) => {
            SyncError::retryable(format!("{code}: {message}"))
        }
        _ => return None,
    })
}

/// A server message fit to store and log: values the server quotes after a colon (`invalid
/// input syntax for type uuid: "…"`) are dropped, as they could be patient data; names of
/// constraints and types are kept. Also shortened.
pub(crate) fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(240));
    let mut rest = message;
    while let Some(i) = rest.find(": \"") {
        out.push_str(&rest[..i + 3]);
        let after = &rest[i + 3..];
        match after.find('"') {
            Some(j) => {
                out.push_str("…\"");
                rest = &after[j + 1..];
            }
            None => {
                out.push_str("…\"");
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_are_rejections_and_setup_errors_are_not() {
        assert!(matches!(
            classify_sqlstate("23503", "fk"),
            Some(SyncError::Rejected(_))
        ));
        assert!(matches!(
            classify_sqlstate("21000", "dup"),
            Some(SyncError::Rejected(_))
        ));
        assert!(matches!(
            classify_sqlstate("42P01", "no table"),
            Some(SyncError::Misconfigured(_))
        ));
        assert!(matches!(
            classify_sqlstate("PGRST205", "no table"),
            Some(SyncError::Misconfigured(_))
        ));
        assert!(matches!(
            classify_sqlstate("57P01", "shutdown"),
            Some(SyncError::Retryable { .. })
        ));
        assert_eq!(classify_sqlstate("0A000", "x"), None);
    }

    #[test]
    fn quoted_values_are_redacted_but_constraint_names_kept() {
        assert_eq!(
            redact("invalid input syntax for type uuid: \"Анна Петрова\""),
            "invalid input syntax for type uuid: \"…\""
        );
        assert_eq!(
            redact("duplicate key value violates unique constraint \"x_pkey\""),
            "duplicate key value violates unique constraint \"x_pkey\""
        );
    }
}
