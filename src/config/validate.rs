//! Checks of a loaded configuration: what would make the server unsafe (an empty secret) or
//! unable to work (a zero timeout, an unknown time zone, a URL without a host) is refused with
//! the setting's name, before anything starts.

use super::{Config, ConfigError, MIN_WEBHOOK_SECRET};
use secrecy::ExposeSecret;

/// Longest silence after a staff takeover: 30 days.
const MAX_HUMAN_QUIET_MINUTES: u64 = 30 * 24 * 60;

impl Config {
    /// A secret set to nothing is refused rather than used: an empty webhook secret would
    /// authenticate anyone who signs with an empty key. (A short one is only warned about by
    /// `serve`, see `weak_webhook_secrets`: refusing it would take an upgraded server down
    /// until both ends of the secret were changed.)
    fn check_secrets(&self) -> Result<(), ConfigError> {
        let secrets = [
            (
                "evolution.webhook_secret (EVOLUTION_WEBHOOK_SECRET)",
                &self.evolution.webhook_secret,
            ),
            (
                "whatsapp_cloud.app_secret (WHATSAPP_CLOUD_APP_SECRET)",
                &self.whatsapp_cloud.app_secret,
            ),
            (
                "whatsapp_cloud.verify_token (WHATSAPP_CLOUD_VERIFY_TOKEN)",
                &self.whatsapp_cloud.verify_token,
            ),
            (
                "whatsapp_cloud.access_token (WHATSAPP_CLOUD_ACCESS_TOKEN)",
                &self.whatsapp_cloud.access_token,
            ),
            (
                "evolution.api_key (EVOLUTION_API_KEY)",
                &self.evolution.api_key,
            ),
            ("openai.api_key (OPENAI_API_KEY)", &self.openai.api_key),
            (
                "supabase.service_role_key (SUPABASE_SERVICE_ROLE_KEY)",
                &self.supabase.service_role_key,
            ),
            (
                "sync.postgres_url (SYNC_POSTGRES_URL)",
                &self.sync.postgres_url,
            ),
        ];
        for (key, secret) in secrets {
            if secret
                .as_ref()
                .is_some_and(|s| s.expose_secret().trim().is_empty())
            {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    message: "is empty; leave it out instead if it is not used".into(),
                });
            }
        }
        Ok(())
    }

    /// The webhook-authenticating secrets shorter than `MIN_WEBHOOK_SECRET`, by name.
    pub fn weak_webhook_secrets(&self) -> Vec<&'static str> {
        [
            ("EVOLUTION_WEBHOOK_SECRET", &self.evolution.webhook_secret),
            ("WHATSAPP_CLOUD_APP_SECRET", &self.whatsapp_cloud.app_secret),
        ]
        .into_iter()
        .filter(|(_, s)| {
            s.as_ref()
                .is_some_and(|s| s.expose_secret().trim().chars().count() < MIN_WEBHOOK_SECRET)
        })
        .map(|(name, _)| name)
        .collect()
    }

    /// What only the server needs: each remote side it talks to configured in full. Checked
    /// by `serve` and not at load, so that admin commands (a nightly backup, `prices import`)
    /// run with the installed config even when the server's secrets reach it only as systemd
    /// credentials or environment, which those commands do not see.
    pub fn check_services(&self) -> Result<(), ConfigError> {
        if self.evolution.api_url.is_some() && self.evolution.api_key.is_none() {
            // Every send would go out with an empty `apikey` and be refused.
            return Err(ConfigError::Invalid {
                key: "evolution.api_key (EVOLUTION_API_KEY)".into(),
                message:
                    "is missing, and EVOLUTION_API_URL is set: the gateway refuses sends without it"
                        .into(),
            });
        }
        self.sync.check_target(&self.supabase)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        if self.clinic.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "clinic.timezone",
                format!(
                    "{:?} is not an IANA time zone such as \"Europe/Moscow\"",
                    self.clinic.timezone
                ),
            ));
        }
        self.clinic.weekly_hours()?;
        self.check_secrets()?;
        self.followups.validate()?;
        self.sync.validate()?;
        if self.prices.cache_ttl_secs < 10 {
            return Err(invalid(
                "prices.cache_ttl_secs",
                "must be at least 10".into(),
            ));
        }
        if self.openai.budget_ms < 500 || self.openai.gather_ms >= self.openai.budget_ms {
            return Err(invalid(
                "openai.budget_ms / gather_ms",
                "the budget must be at least 500 ms and longer than gather_ms".into(),
            ));
        }
        if self.http.request_timeout_secs == 0 {
            // Zero would answer every webhook 503 before it could be stored.
            return Err(invalid(
                "http.request_timeout_secs",
                "must be at least 1".into(),
            ));
        }
        if self.sender.connect_timeout_ms == 0 || self.sender.read_timeout_ms == 0 {
            return Err(invalid(
                "sender.connect_timeout_ms / read_timeout_ms",
                "must be more than 0".into(),
            ));
        }
        if self.conversation.human_quiet_minutes > MAX_HUMAN_QUIET_MINUTES {
            return Err(invalid(
                "conversation.human_quiet_minutes",
                format!(
                    "must be at most {MAX_HUMAN_QUIET_MINUTES} (30 days); staff hand a chat back \
                     with the handback keyword"
                ),
            ));
        }
        if self.sender.concurrency == 0 || self.sender.max_attempts == 0 {
            return Err(invalid(
                "sender",
                "concurrency and max_attempts must be at least 1".into(),
            ));
        }
        if self.http.body_limit_bytes < 1024 {
            return Err(invalid(
                "http.body_limit_bytes",
                "must be at least 1024".into(),
            ));
        }
        for (key, url) in [
            (
                "evolution.api_url (EVOLUTION_API_URL)",
                self.evolution.api_url.as_deref(),
            ),
            (
                "openai.base_url (OPENAI_BASE_URL)",
                Some(self.openai.base_url.as_str()),
            ),
            ("supabase.url (SUPABASE_URL)", self.supabase.url.as_deref()),
            (
                "whatsapp_cloud.api_url (WHATSAPP_CLOUD_API_URL)",
                Some(self.whatsapp_cloud.api_url.as_str()),
            ),
        ] {
            if let Some(url) = url {
                check_http_url(url).map_err(|m| invalid(key, m))?;
            }
        }
        Ok(())
    }
}

fn check_http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("{url:?} has no host"));
    }
    Ok(())
}
