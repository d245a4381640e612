//! Where each of the three keys comes from. Keys are never read from the TOML file: only from
//! the variable itself, `NAME_FILE`, a systemd credential, or the key file in the keys dir.
//! Reading and checking the material is `crypto::keys`' job.

use super::Env;
use secrecy::SecretString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyName {
    PhiMaster,
    HipaaAudit,
    PhiRsaPrivate,
}

impl KeyName {
    pub const ALL: [KeyName; 3] = [
        KeyName::PhiMaster,
        KeyName::HipaaAudit,
        KeyName::PhiRsaPrivate,
    ];

    /// The environment variable, credential name and key file name: all the same.
    pub fn env_name(self) -> &'static str {
        match self {
            KeyName::PhiMaster => "PHI_MASTER_KEY",
            KeyName::HipaaAudit => "HIPAA_AUDIT_KEY",
            KeyName::PhiRsaPrivate => "PHI_RSA_PRIVATE_KEY",
        }
    }
}

impl std::fmt::Display for KeyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.env_name())
    }
}

#[derive(Debug, Clone)]
pub enum KeySource {
    /// The value itself, from the environment variable of the same name.
    Inline(SecretString),
    /// A file the operator manages: `NAME_FILE` or `<keys_dir>/NAME`. Its mode is checked.
    File(PathBuf),
    /// A systemd credential, `$CREDENTIALS_DIRECTORY/NAME`. systemd makes that directory
    /// private to the service and decides how the file is shared with the service user: 0400
    /// owned by it on ramfs, or a user ACL on tmpfs (newer systemd), which shows as group-read
    /// in the mode bits. So its mode is not ours to check; the source file in
    /// `/etc/frontdesk/credentials` is root-only instead.
    Credential(PathBuf),
}

#[derive(Debug, Clone, Default)]
pub struct KeySources {
    sources: Vec<(KeyName, KeySource)>,
}

impl KeySources {
    pub(super) fn resolve(keys_dir: &Path, env: &Env) -> Self {
        let sources = KeyName::ALL
            .into_iter()
            .map(|name| {
                let source = if let Some(value) = env.get(name.env_name()) {
                    KeySource::Inline(value.into())
                } else if let Some(path) = env.named_file(name.env_name()) {
                    KeySource::File(path)
                } else if let Some(path) = env.credential(name.env_name()) {
                    KeySource::Credential(path)
                } else {
                    KeySource::File(keys_dir.join(name.env_name()))
                };
                (name, source)
            })
            .collect();
        Self { sources }
    }

    pub fn get(&self, name: KeyName) -> Option<&KeySource> {
        self.sources
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
    }
}
