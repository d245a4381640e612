//! The environment layer: plain variables, and for secrets also `NAME_FILE` and systemd
//! credentials (`$CREDENTIALS_DIRECTORY/NAME`). The old backend's variable names work as-is.

use super::{Config, ConfigError};
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::PathBuf;

/// A snapshot of environment variables, injected so tests can build one from a literal list.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

type Apply = fn(&mut Config, String) -> Result<(), String>;
type ApplySecret = fn(&mut Config, SecretString);

/// Plain variables and the config field each sets.
const VARS: &[(&str, Apply)] = &[
    ("FRONTDESK_DATA_DIR", |c, v| {
        c.data_dir = v.into();
        Ok(())
    }),
    ("FRONTDESK_KEYS_DIR", |c, v| {
        c.keys_dir = Some(v.into());
        Ok(())
    }),
    ("FRONTDESK_LISTEN", |c, v| {
        c.listen = v
            .parse()
            .map_err(|_| format!("{v:?} is not an address such as 127.0.0.1:8080"))?;
        Ok(())
    }),
    ("FRONTDESK_CLINIC_NAME", |c, v| {
        c.clinic.name = v;
        Ok(())
    }),
    ("FRONTDESK_CLINIC_TIMEZONE", |c, v| {
        c.clinic.timezone = v;
        Ok(())
    }),
    ("EVOLUTION_API_URL", |c, v| {
        c.evolution.api_url = Some(v);
        Ok(())
    }),
    ("FRONTDESK_CLINIC_LANGUAGE", |c, v| {
        c.clinic.default_language = v;
        Ok(())
    }),
    ("EVOLUTION_API_VERSION", |c, v| {
        c.evolution.api_version = match v.as_str() {
            "v1" => super::EvolutionApiVersion::V1,
            "v2" => super::EvolutionApiVersion::V2,
            _ => return Err(format!("{v:?} is neither v1 nor v2")),
        };
        Ok(())
    }),
    ("EVOLUTION_INSTANCE", |c, v| {
        c.evolution.instance = Some(v);
        Ok(())
    }),
    ("WHATSAPP_CLOUD_API_URL", |c, v| {
        c.whatsapp_cloud.api_url = v;
        Ok(())
    }),
    ("WHATSAPP_CLOUD_PHONE_NUMBER_ID", |c, v| {
        c.whatsapp_cloud.phone_number_id = Some(v);
        Ok(())
    }),
    ("OPENAI_BASE_URL", |c, v| {
        c.openai.base_url = v;
        Ok(())
    }),
    ("OPENAI_MODEL", |c, v| {
        c.openai.model = v;
        Ok(())
    }),
    ("SUPABASE_URL", |c, v| {
        c.supabase.url = Some(v);
        Ok(())
    }),
    ("SYNC_POSTGRES_CA_FILE", |c, v| {
        c.sync.postgres_ca_file = Some(v.into());
        Ok(())
    }),
];

/// Secret variables. Each may also come from `NAME_FILE` or `$CREDENTIALS_DIRECTORY/NAME`.
const SECRETS: &[(&str, ApplySecret)] = &[
    ("EVOLUTION_API_KEY", |c, v| c.evolution.api_key = Some(v)),
    ("EVOLUTION_WEBHOOK_SECRET", |c, v| {
        c.evolution.webhook_secret = Some(v)
    }),
    ("WHATSAPP_CLOUD_APP_SECRET", |c, v| {
        c.whatsapp_cloud.app_secret = Some(v)
    }),
    ("WHATSAPP_CLOUD_VERIFY_TOKEN", |c, v| {
        c.whatsapp_cloud.verify_token = Some(v)
    }),
    ("WHATSAPP_CLOUD_ACCESS_TOKEN", |c, v| {
        c.whatsapp_cloud.access_token = Some(v)
    }),
    ("OPENAI_API_KEY", |c, v| c.openai.api_key = Some(v)),
    ("SUPABASE_SERVICE_ROLE_KEY", |c, v| {
        c.supabase.service_role_key = Some(v)
    }),
    ("SYNC_POSTGRES_URL", |c, v| c.sync.postgres_url = Some(v)),
];

/// Where a secret value was found, for messages that must not contain the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretOrigin {
    Variable(String),
    File(PathBuf),
}

impl Env {
    pub fn from_pairs<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The real process environment. Only `main` should call this.
    pub fn from_process() -> Self {
        Self::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// A variable's value; empty values count as unset, as most deployment tools write them.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).filter(|v| !v.is_empty()).cloned()
    }

    fn credentials_dir(&self) -> Option<PathBuf> {
        self.get("CREDENTIALS_DIRECTORY").map(PathBuf::from)
    }

    /// Where a file-borne secret lives: `NAME_FILE`, else a systemd credential named `NAME`.
    pub fn secret_file(&self, name: &str) -> Option<PathBuf> {
        self.named_file(name).or_else(|| self.credential(name))
    }

    /// The file `NAME_FILE` points at.
    pub fn named_file(&self, name: &str) -> Option<PathBuf> {
        self.get(&format!("{name}_FILE")).map(PathBuf::from)
    }

    /// The systemd credential `NAME` (`$CREDENTIALS_DIRECTORY/NAME`), when it exists.
    pub fn credential(&self, name: &str) -> Option<PathBuf> {
        let credential = self.credentials_dir()?.join(name);
        credential.is_file().then_some(credential)
    }

    /// A secret from `NAME`, `NAME_FILE` or the credentials directory, in that order.
    pub fn secret(&self, name: &str) -> Result<Option<(SecretString, SecretOrigin)>, ConfigError> {
        if let Some(value) = self.get(name) {
            return Ok(Some((value.into(), SecretOrigin::Variable(name.into()))));
        }
        let Some(path) = self.secret_file(name) else {
            return Ok(None);
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        // Files written by editors and `echo` end in a newline that is not part of the secret.
        let value = text.trim_end_matches(['\n', '\r']).to_owned();
        // An empty variable counts as unset, but an empty file is a mistake (a failed
        // `openssl rand > file`, a credential never filled in): taken as a secret, an empty
        // webhook secret would let anyone sign webhooks.
        if value.trim().is_empty() {
            return Err(ConfigError::Invalid {
                key: name.into(),
                message: format!("{} is empty", path.display()),
            });
        }
        Ok(Some((value.into(), SecretOrigin::File(path))))
    }

    pub(super) fn apply(&self, config: &mut Config) -> Result<(), ConfigError> {
        for (name, apply) in VARS {
            if let Some(value) = self.get(name) {
                apply(config, value).map_err(|message| ConfigError::Invalid {
                    key: (*name).into(),
                    message,
                })?;
            }
        }
        for (name, apply) in SECRETS {
            if let Some((value, _)) = self.secret(name)? {
                apply(config, value);
            }
        }
        Ok(())
    }
}
