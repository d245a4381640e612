//! `[sync]`: where rows are copied (Supabase REST or PostgreSQL), how hard to push, and which
//! PHI fields, if any, may leave the box in plaintext. Validation names the key to fix.

use super::{ConfigError, SupabaseConfig};
use crate::domain::sync_table;
use secrecy::SecretString;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// Which target: "auto" picks PostgreSQL when `postgres_url` is set, else Supabase when
    /// `supabase.url` and its key are set, else none.
    pub target: TargetChoice,
    /// A PostgreSQL connection string; it usually carries a password, so it is a secret.
    pub postgres_url: Option<SecretString>,
    /// PEM file with the CA that signed the server's certificate (Supabase's, for example);
    /// otherwise the system's trusted roots are used when the URL asks for TLS.
    pub postgres_ca_file: Option<PathBuf>,
    /// Rows read from the outbox per batch (before duplicates are collapsed).
    pub batch_size: usize,
    /// How often an idle worker looks for new rows.
    pub interval_ms: u64,
    /// How often the price list and clinic directory are pulled (also once at start).
    pub pull_interval_secs: u64,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    pub write_timeout_ms: u64,
    /// Longest wait for a free connection when all `max_connections` are busy.
    pub pool_timeout_ms: u64,
    pub max_connections: usize,
    /// Idle connections kept open, and for how long.
    pub idle_connections: usize,
    pub idle_timeout_secs: u64,
    /// Backoff after a failed batch: doubling from `retry_min_ms` up to `retry_max_ms`, with
    /// jitter (a server's `Retry-After` wins).
    pub retry_min_ms: u64,
    pub retry_max_ms: u64,
    /// Consecutive failures that open the circuit breaker, and how long it stays open.
    pub breaker_failures: u32,
    pub breaker_open_secs: u64,
    /// How long a graceful shutdown keeps draining the backlog.
    pub flush_secs: u64,
    /// Synced outbox entries kept as history for `frontdesk sync status`.
    pub history_rows: usize,
    /// Sealed PHI fields sent in plaintext as well (`table.field`, e.g. "contacts.name").
    /// Empty by default: the central side stores ciphertext. Recorded in the audit log at
    /// every start while set.
    pub plaintext_fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetChoice {
    Auto,
    Supabase,
    Postgres,
    Off,
}

/// The target the configuration selects.
#[derive(Debug, Clone)]
pub enum SyncTargetConfig {
    Supabase {
        url: String,
        service_role_key: SecretString,
    },
    Postgres {
        url: SecretString,
    },
    None,
}

impl SyncTargetConfig {
    pub fn name(&self) -> &'static str {
        match self {
            SyncTargetConfig::Supabase { .. } => "supabase",
            SyncTargetConfig::Postgres { .. } => "postgres",
            SyncTargetConfig::None => "none",
        }
    }
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            target: TargetChoice::Auto,
            postgres_url: None,
            postgres_ca_file: None,
            batch_size: 500,
            interval_ms: 1_000,
            pull_interval_secs: 300,
            connect_timeout_ms: 1_500,
            read_timeout_ms: 2_500,
            write_timeout_ms: 2_500,
            pool_timeout_ms: 5_000,
            max_connections: 100,
            idle_connections: 20,
            idle_timeout_secs: 30,
            retry_min_ms: 1_000,
            retry_max_ms: 60_000,
            breaker_failures: 5,
            breaker_open_secs: 45,
            flush_secs: 10,
            history_rows: 10_000,
            plaintext_fields: Vec::new(),
        }
    }
}

impl SyncConfig {
    /// The selected target; a half-configured one is none (`serve` refuses to start with one,
    /// see `check_target`).
    pub fn target(&self, supabase: &SupabaseConfig) -> SyncTargetConfig {
        let postgres = || {
            self.postgres_url
                .clone()
                .map(|url| SyncTargetConfig::Postgres { url })
        };
        let rest = || match (&supabase.url, &supabase.service_role_key) {
            (Some(url), Some(key)) => Some(SyncTargetConfig::Supabase {
                url: url.trim_end_matches('/').to_owned(),
                service_role_key: key.clone(),
            }),
            _ => None,
        };
        match self.target {
            TargetChoice::Off => None,
            TargetChoice::Postgres => postgres(),
            TargetChoice::Supabase => rest(),
            TargetChoice::Auto => postgres().or_else(rest),
        }
        .unwrap_or(SyncTargetConfig::None)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        if !(1..=5_000).contains(&self.batch_size) {
            return Err(invalid("sync.batch_size", "must be 1 to 5000".into()));
        }
        if self.history_rows == 0 || self.max_connections == 0 || self.breaker_failures == 0 {
            return Err(invalid(
                "sync",
                "history_rows, max_connections and breaker_failures must be at least 1".into(),
            ));
        }
        for (key, ms) in [
            ("sync.interval_ms", self.interval_ms),
            ("sync.connect_timeout_ms", self.connect_timeout_ms),
            ("sync.read_timeout_ms", self.read_timeout_ms),
            ("sync.write_timeout_ms", self.write_timeout_ms),
            ("sync.pool_timeout_ms", self.pool_timeout_ms),
            ("sync.retry_min_ms", self.retry_min_ms),
        ] {
            if ms == 0 {
                return Err(invalid(key, "must be more than 0".into()));
            }
        }
        if self.retry_max_ms < self.retry_min_ms {
            return Err(invalid(
                "sync.retry_max_ms",
                format!("must be at least sync.retry_min_ms ({})", self.retry_min_ms),
            ));
        }
        for field in &self.plaintext_fields {
            if !sync_table::is_sealed_field(field) {
                return Err(invalid(
                    "sync.plaintext_fields",
                    format!(
                        "{field:?} is not a sealed field; the choices are {}",
                        sync_table::sealed_field_names().join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether the chosen target is complete: a Supabase URL without its key (or the reverse),
    /// or a target chosen by name without its URL. Checked by `serve`, which would sync to it;
    /// an admin command does not need the target's secret (kept in a systemd credential, say).
    pub(super) fn check_target(&self, supabase: &SupabaseConfig) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        let rest_half = supabase.url.is_some() != supabase.service_role_key.is_some();
        let needs_rest = matches!(self.target, TargetChoice::Supabase)
            || (self.target == TargetChoice::Auto && self.postgres_url.is_none());
        if needs_rest && rest_half {
            let missing = if supabase.url.is_none() {
                "SUPABASE_URL (supabase.url)"
            } else {
                "SUPABASE_SERVICE_ROLE_KEY (supabase.service_role_key)"
            };
            return Err(invalid(
                "supabase",
                format!("sync to Supabase needs {missing} as well"),
            ));
        }
        if self.target == TargetChoice::Supabase && supabase.url.is_none() {
            return Err(invalid(
                "sync.target",
                "\"supabase\" needs SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY".into(),
            ));
        }
        if self.target == TargetChoice::Postgres && self.postgres_url.is_none() {
            return Err(invalid(
                "sync.target",
                "\"postgres\" needs SYNC_POSTGRES_URL (sync.postgres_url)".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn supabase(url: Option<&str>, key: Option<&str>) -> SupabaseConfig {
        SupabaseConfig {
            url: url.map(Into::into),
            service_role_key: key.map(Into::into),
        }
    }

    #[test]
    fn auto_prefers_postgres_then_supabase_then_none() {
        let both = supabase(Some("https://x.supabase.co/"), Some("k"));
        let mut c = SyncConfig::default();
        assert_eq!(c.target(&both).name(), "supabase");
        assert!(
            matches!(c.target(&both), SyncTargetConfig::Supabase { url, .. } if url == "https://x.supabase.co")
        );
        c.postgres_url = Some("postgres://h/db".into());
        assert_eq!(c.target(&both).name(), "postgres");
        c.target = TargetChoice::Supabase;
        assert_eq!(c.target(&both).name(), "supabase");
        c.target = TargetChoice::Off;
        assert_eq!(c.target(&both).name(), "none");
        assert_eq!(
            SyncConfig::default().target(&supabase(None, None)).name(),
            "none"
        );
    }

    #[test]
    fn a_half_configured_supabase_is_refused_naming_what_is_missing() {
        let c = SyncConfig::default();
        let err = c
            .check_target(&supabase(Some("https://x.supabase.co"), None))
            .unwrap_err();
        assert!(
            err.to_string().contains("SUPABASE_SERVICE_ROLE_KEY"),
            "{err}"
        );
        let err = c.check_target(&supabase(None, Some("k"))).unwrap_err();
        assert!(err.to_string().contains("SUPABASE_URL"), "{err}");
        // With PostgreSQL chosen, a stray SUPABASE_URL from the old backend does not matter.
        let pg = SyncConfig {
            postgres_url: Some("postgres://h/db".into()),
            ..SyncConfig::default()
        };
        assert!(
            pg.check_target(&supabase(Some("https://x.supabase.co"), None))
                .is_ok()
        );
    }

    #[test]
    fn only_sealed_fields_may_be_sent_in_plaintext() {
        let ok = SyncConfig {
            plaintext_fields: vec!["contacts.name".into(), "whatsapp_messages.body".into()],
            ..SyncConfig::default()
        };
        assert!(ok.validate().is_ok());
        let bad = SyncConfig {
            plaintext_fields: vec!["contacts.phone_index".into()],
            ..SyncConfig::default()
        };
        let err = bad.validate().unwrap_err().to_string();
        assert!(
            err.contains("contacts.phone_index") && err.contains("contacts.name"),
            "{err}"
        );
    }
}
