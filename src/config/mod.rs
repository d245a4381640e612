//! Typed configuration, layered: defaults → TOML file → environment → command-line flags.
//! This is the only module that reads the environment, and it reads it as an injected list
//! ([`Env`]) so tests never touch the process environment. Secrets are `SecretString`:
//! redacted in `Debug`, never logged.

mod env;
mod followups;
mod keys;
mod peers;
mod sync;
mod template;
mod validate;

pub use env::Env;
pub use followups::{CloudTemplateConfig, FollowupRule, FollowupsConfig, RuleConfig};
pub use keys::{KeyName, KeySource, KeySources};
pub use peers::{CloudConfig, EvolutionApiVersion, EvolutionConfig, OpenAiConfig};
pub use sync::{SyncConfig, SyncTargetConfig, TargetChoice};
pub use template::starter_config;

use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Name of the config file looked for inside the data dir when `--config` is not given.
pub const CONFIG_FILE_NAME: &str = "frontdesk.toml";
pub const DEFAULT_DATA_DIR: &str = "frontdesk-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Shortest secret accepted for authenticating webhooks (HMAC keys, Evolution's `jwt_key`).
pub const MIN_WEBHOOK_SECRET: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid {key}: {message}")]
    Invalid { key: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Holds `frontdesk.db` and, unless `keys_dir` says otherwise, the keys.
    pub data_dir: PathBuf,
    /// Where `init` writes and `serve` looks for key files (default `<data_dir>/keys`).
    pub keys_dir: Option<PathBuf>,
    pub listen: SocketAddr,
    pub http: HttpConfig,
    pub clinic: ClinicConfig,
    pub evolution: EvolutionConfig,
    pub whatsapp_cloud: CloudConfig,
    pub openai: OpenAiConfig,
    pub supabase: SupabaseConfig,
    pub sync: SyncConfig,
    pub conversation: ConversationConfig,
    pub prices: PricesConfig,
    pub sender: SenderConfig,
    pub followups: FollowupsConfig,
    /// Where each key comes from; resolved from the environment, never from the TOML file.
    #[serde(skip)]
    pub keys: KeySources,
    /// The file this configuration was read from, if any.
    #[serde(skip)]
    pub config_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Larger request bodies get 413. WhatsApp text webhooks are a few KB.
    pub body_limit_bytes: usize,
    pub request_timeout_secs: u64,
    /// How long a graceful shutdown waits for in-flight work before giving up.
    pub shutdown_grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClinicConfig {
    /// Name used for the clinic created on first start when the database has none.
    pub name: String,
    /// IANA time zone of the clinic, used at the edges (hours, quiet hours, listings).
    pub timezone: String,
    /// Language used when a patient's language cannot be told.
    pub default_language: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// Opening hours by weekday: `mon = "09:00-20:00"`, `sat = "10:00-14:00"`, `sun = "closed"`.
    pub hours: std::collections::BTreeMap<String, String>,
}

impl ClinicConfig {
    pub const DAYS: [&'static str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

    /// The hours as parsed values; days not given are closed.
    pub fn weekly_hours(&self) -> Result<crate::domain::clinic::WeeklyHours, ConfigError> {
        let mut hours = crate::domain::clinic::WeeklyHours::default();
        for (day, spec) in &self.hours {
            let i =
                Self::DAYS
                    .iter()
                    .position(|d| d == day)
                    .ok_or_else(|| ConfigError::Invalid {
                        key: format!("clinic.hours.{day}"),
                        message: "days are mon, tue, wed, thu, fri, sat, sun".into(),
                    })?;
            hours.days[i] =
                crate::domain::clinic::WeeklyHours::parse_day(spec).map_err(|message| {
                    ConfigError::Invalid {
                        key: format!("clinic.hours.{day}"),
                        message,
                    }
                })?;
        }
        Ok(hours)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversationConfig {
    /// After staff type in a chat from the phone, the bot stays silent this long.
    pub human_quiet_minutes: u64,
    /// Staff send this in a chat to hand it back to the bot at once.
    pub handback_keyword: String,
    /// Extra language packs (`*.toml`); default `<data_dir>/languages` when it exists.
    pub languages_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricesConfig {
    /// How long a loaded price list is trusted; refreshed in the background before it runs out.
    pub cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderConfig {
    /// Sends in flight at once (across chats; one chat is always sent in order).
    pub concurrency: usize,
    /// Transient failures tolerated before a send is given up and marked failed.
    pub max_attempts: u32,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
    /// How often the outbox is re-read for pending sends nobody handed over (a safety net;
    /// replies are handed over as they commit, and the queue is loaded at start). Not a file
    /// setting: tests shorten it.
    #[serde(skip)]
    pub rescan_every: std::time::Duration,
}

impl Default for ConversationConfig {
    fn default() -> Self {
        Self {
            human_quiet_minutes: 120,
            handback_keyword: "#bot".into(),
            languages_dir: None,
        }
    }
}

impl Default for PricesConfig {
    fn default() -> Self {
        Self {
            cache_ttl_secs: 20 * 60,
        }
    }
}

impl Default for SenderConfig {
    fn default() -> Self {
        Self {
            concurrency: 64,
            max_attempts: 12,
            connect_timeout_ms: 2_000,
            read_timeout_ms: 15_000,
            rescan_every: std::time::Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupabaseConfig {
    pub url: Option<String>,
    pub service_role_key: Option<SecretString>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            keys_dir: None,
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| unreachable!()),
            http: HttpConfig::default(),
            clinic: ClinicConfig::default(),
            evolution: EvolutionConfig::default(),
            whatsapp_cloud: CloudConfig::default(),
            openai: OpenAiConfig::default(),
            supabase: SupabaseConfig::default(),
            sync: SyncConfig::default(),
            conversation: ConversationConfig::default(),
            prices: PricesConfig::default(),
            sender: SenderConfig::default(),
            followups: FollowupsConfig::default(),
            keys: KeySources::default(),
            config_file: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            body_limit_bytes: 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
        }
    }
}

impl Default for ClinicConfig {
    fn default() -> Self {
        Self {
            name: "Clinic".into(),
            timezone: "UTC".into(),
            default_language: "ru".into(),
            address: None,
            phone: None,
            hours: Default::default(),
        }
    }
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub keys_dir: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    /// `init` may be pointed at a config file it is about to create.
    pub config_may_be_missing: bool,
}

impl Config {
    /// Builds the configuration from every layer. `env` is the process environment in
    /// production and a literal list in tests.
    pub fn load(flags: &Overrides, env: &Env) -> Result<Config, ConfigError> {
        let explicit = flags
            .config
            .clone()
            .or_else(|| env.get("FRONTDESK_CONFIG").map(PathBuf::from));
        let mut config = match explicit {
            Some(path) if flags.config_may_be_missing && !path.exists() => Config {
                config_file: Some(path),
                ..Config::default()
            },
            Some(path) => Self::from_file(&path)?,
            None => {
                let data_dir = flags
                    .data_dir
                    .clone()
                    .or_else(|| env.get("FRONTDESK_DATA_DIR").map(PathBuf::from))
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
                let candidate = data_dir.join(CONFIG_FILE_NAME);
                if candidate.is_file() {
                    Self::from_file(&candidate)?
                } else {
                    Config::default()
                }
            }
        };
        env.apply(&mut config)?;
        if let Some(dir) = &flags.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(dir) = &flags.keys_dir {
            config.keys_dir = Some(dir.clone());
        }
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        config.finish(env)
    }

    /// Parses one TOML file over the defaults. Unknown keys are an error naming the key.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        // Relative paths in a file are relative to the file, not to wherever we were started.
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.keys_dir = config.keys_dir.map(|d| base.join(d));
        config.conversation.languages_dir = config.conversation.languages_dir.map(|d| base.join(d));
        config.sync.postgres_ca_file = config.sync.postgres_ca_file.map(|f| base.join(f));
        config.config_file = Some(path.to_owned());
        Ok(config)
    }

    /// Makes paths absolute, resolves key sources and validates. Call after the last change.
    pub fn finish(mut self, env: &Env) -> Result<Config, ConfigError> {
        self.data_dir = absolute(&self.data_dir, "data_dir")?;
        if let Some(dir) = &self.keys_dir {
            self.keys_dir = Some(absolute(dir, "keys_dir")?);
        }
        self.keys = KeySources::resolve(&self.keys_dir(), env);
        // Language codes are lower case in the packs; "RU" means "ru".
        self.clinic.default_language = self.clinic.default_language.trim().to_lowercase();
        self.validate()?;
        Ok(self)
    }

    pub fn keys_dir(&self) -> PathBuf {
        self.keys_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keys"))
    }

    /// Extra language packs: the configured directory, else `<data_dir>/languages` if it exists.
    pub fn languages_dir(&self) -> Option<PathBuf> {
        self.conversation
            .languages_dir
            .clone()
            .or_else(|| Some(self.data_dir.join("languages")).filter(|d| d.is_dir()))
    }

    pub fn db_path(&self) -> PathBuf {
        self.data_dir.join("frontdesk.db")
    }

    /// Where `init` writes the starter config: the file given, else the data dir.
    pub fn config_path(&self) -> PathBuf {
        self.config_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(CONFIG_FILE_NAME))
    }
}

fn absolute(path: &Path, key: &str) -> Result<PathBuf, ConfigError> {
    std::path::absolute(path).map_err(|e| ConfigError::Invalid {
        key: key.into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests;
