//! Loading, checking and generating the three keys.
//!
//! A key that is missing, malformed, too weak or readable by group/others is refused with a
//! message naming the key and the fix, and never its material. Generation only ever creates
//! files that do not exist yet: an existing key is never overwritten.

use super::{AuditMac, BlindIndex, Sealer};
use crate::config::{KeyName, KeySource, KeySources};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Size of the RSA key `frontdesk init` generates.
pub const RSA_BITS: usize = 3072;
/// Smallest RSA key accepted; anything shorter is refused.
pub const RSA_MIN_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{name} is missing (looked at {where_}). Run `frontdesk init` to create keys for a new \
         installation, or restore the key from your backup; never create new keys for existing data"
    )]
    Missing { name: KeyName, where_: String },
    #[error(
        "{name} in {path} is readable by group or others (mode {mode:04o}); run `chmod 600 {path}` \
         (and make it owned by the user frontdesk runs as)"
    )]
    Permissions {
        name: KeyName,
        path: PathBuf,
        mode: u32,
    },
    #[error("{name}: cannot read {path}: {source}")]
    Read {
        name: KeyName,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{name} is not valid base64; it must be 32 random bytes, base64-encoded (as `frontdesk init` writes it)"
    )]
    BadBase64 { name: KeyName },
    #[error("{name} decodes to {len} bytes; it must be exactly 32 bytes, base64-encoded")]
    WrongLength { name: KeyName, len: usize },
    #[error(
        "{name} is not a PEM-encoded RSA private key (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`)"
    )]
    BadPem { name: KeyName },
    #[error("{name} is a {bits}-bit RSA key; at least {min} bits are required (frontdesk init makes {RSA_BITS})", min = RSA_MIN_BITS)]
    TooShort { name: KeyName, bits: usize },
    #[error(
        "{name} is missing, but the database {db} holds data sealed under it; a new key would \
         make that data unreadable. Restore {name} from your backup of the keys"
    )]
    WouldOrphan { name: KeyName, db: PathBuf },
    #[error("{name}: cannot write {path}: {source}")]
    Write {
        name: KeyName,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Public fingerprints of the keys: safe to store and print, they identify a key without
/// revealing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    pub phi_master: String,
    pub hipaa_audit: String,
    pub phi_rsa_private: String,
}

impl Fingerprints {
    pub fn get(&self, name: KeyName) -> &str {
        match name {
            KeyName::PhiMaster => &self.phi_master,
            KeyName::HipaaAudit => &self.hipaa_audit,
            KeyName::PhiRsaPrivate => &self.phi_rsa_private,
        }
    }
}

/// The loaded keys, with everything derived from them.
pub struct Keys {
    pub phi: Sealer,
    pub blind: BlindIndex,
    pub audit: AuditMac,
    pub rsa: rsa::PrivateKey,
    pub fingerprints: Fingerprints,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("fingerprints", &self.fingerprints)
            .finish_non_exhaustive()
    }
}

impl Keys {
    /// Loads and checks all three keys. The first problem found is returned.
    pub fn load(sources: &KeySources) -> Result<Keys, KeyError> {
        let master = read_symmetric(KeyName::PhiMaster, sources)?;
        let audit = read_symmetric(KeyName::HipaaAudit, sources)?;
        let rsa = read_rsa(sources)?;
        Ok(Self::from_parts(&master, &audit, rsa))
    }

    /// Loads only `HIPAA_AUDIT_KEY`, for commands that just check the audit chain.
    pub fn load_audit(sources: &KeySources) -> Result<AuditMac, KeyError> {
        Ok(AuditMac::new(*read_symmetric(
            KeyName::HipaaAudit,
            sources,
        )?))
    }

    /// Builds keys from raw material (tests and `init` use this after generating).
    pub fn from_parts(master: &[u8; 32], audit: &[u8; 32], rsa: rsa::PrivateKey) -> Keys {
        let fingerprints = Fingerprints {
            phi_master: fingerprint(KeyName::PhiMaster, master),
            hipaa_audit: fingerprint(KeyName::HipaaAudit, audit),
            phi_rsa_private: fingerprint(KeyName::PhiRsaPrivate, &rsa_public_der(&rsa)),
        };
        let key_id = key_id(&fingerprints.phi_master);
        let seal_key = derive(master, b"frontdesk/phi-seal/v1");
        let blind_key = derive(master, b"frontdesk/blind-index/v1");
        Keys {
            phi: Sealer::new(&seal_key, key_id),
            blind: BlindIndex::new(*blind_key),
            audit: AuditMac::new(*audit),
            rsa,
            fingerprints,
        }
    }
}

fn derive(master: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(None, master)
        .expand(info, out.as_mut())
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    out
}

fn fingerprint(name: KeyName, material: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"frontdesk key fingerprint v1\0");
    h.update(name.env_name().as_bytes());
    h.update([0]);
    h.update(material);
    hex::encode(&h.finalize()[..16])
}

fn key_id(fingerprint: &str) -> [u8; 4] {
    let bytes = hex::decode(&fingerprint[..8]).unwrap_or_else(|_| unreachable!("hex fingerprint"));
    [bytes[0], bytes[1], bytes[2], bytes[3]]
}

fn rsa_public_der(key: &rsa::PrivateKey) -> Vec<u8> {
    key.to_public_key()
        .to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .unwrap_or_default()
}

/// Reads a key's text from its source, checking file permissions first.
fn read_text(name: KeyName, sources: &KeySources) -> Result<Zeroizing<String>, KeyError> {
    match sources.get(name) {
        Some(KeySource::Inline(value)) => Ok(Zeroizing::new(value.expose_secret().to_owned())),
        Some(source @ (KeySource::File(path) | KeySource::Credential(path))) => {
            // systemd owns the credentials directory's access rules (see `KeySource`).
            let systemd_credential = matches!(source, KeySource::Credential(_));
            let meta = fs::metadata(path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => KeyError::Missing {
                    name,
                    where_: format!(
                        "${env}, ${env}_FILE, $CREDENTIALS_DIRECTORY/{env} and {path}",
                        env = name.env_name(),
                        path = path.display()
                    ),
                },
                _ => KeyError::Read {
                    name,
                    path: path.clone(),
                    source,
                },
            })?;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !systemd_credential {
                return Err(KeyError::Permissions {
                    name,
                    path: path.clone(),
                    mode,
                });
            }
            fs::read_to_string(path)
                .map(Zeroizing::new)
                .map_err(|source| KeyError::Read {
                    name,
                    path: path.clone(),
                    source,
                })
        }
        None => Err(KeyError::Missing {
            name,
            where_: format!("${}", name.env_name()),
        }),
    }
}

fn read_symmetric(name: KeyName, sources: &KeySources) -> Result<Zeroizing<[u8; 32]>, KeyError> {
    let text = read_text(name, sources)?;
    let bytes = Zeroizing::new(
        STANDARD
            .decode(text.trim())
            .map_err(|_| KeyError::BadBase64 { name })?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::WrongLength {
            name,
            len: bytes.len(),
        })?;
    Ok(Zeroizing::new(key))
}

fn read_rsa(sources: &KeySources) -> Result<rsa::PrivateKey, KeyError> {
    let name = KeyName::PhiRsaPrivate;
    let text = read_text(name, sources)?;
    // .env files often carry a PEM on one line with literal "\n" escapes.
    let pem = if !text.contains('\n') && text.contains("\\n") {
        Zeroizing::new(text.replace("\\n", "\n"))
    } else {
        text
    };
    let pem = pem.trim();
    let key = rsa::PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| KeyError::BadPem { name })?;
    let bits = key.n().as_ref().bit_width() as usize;
    if bits < RSA_MIN_BITS {
        return Err(KeyError::TooShort { name, bits });
    }
    Ok(key)
}

/// What `generate_missing` did for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOutcome {
    Created(PathBuf),
    KeptFile(PathBuf),
    /// The key comes from the environment, so there is nothing to create.
    FromEnvironment,
}

/// Creates every key that does not exist yet, leaving existing ones untouched.
/// `allowed` decides whether a missing key may be created (init refuses when the database
/// already holds data sealed under a key that is now missing).
pub fn generate_missing(
    sources: &KeySources,
    mut allowed: impl FnMut(KeyName) -> Result<(), KeyError>,
) -> Result<Vec<(KeyName, KeyOutcome)>, KeyError> {
    let mut report = Vec::new();
    for name in KeyName::ALL {
        let outcome = match sources.get(name) {
            Some(KeySource::Inline(_)) => KeyOutcome::FromEnvironment,
            Some(KeySource::File(path)) if path.exists() => KeyOutcome::KeptFile(path.clone()),
            Some(KeySource::Credential(path)) => KeyOutcome::KeptFile(path.clone()),
            Some(KeySource::File(path)) => {
                allowed(name)?;
                let material = new_key_material(name);
                write_new_file(path, material.as_bytes()).map_err(|source| KeyError::Write {
                    name,
                    path: path.clone(),
                    source,
                })?;
                KeyOutcome::Created(path.clone())
            }
            None => KeyOutcome::FromEnvironment,
        };
        report.push((name, outcome));
    }
    Ok(report)
}

fn new_key_material(name: KeyName) -> Zeroizing<String> {
    match name {
        KeyName::PhiMaster | KeyName::HipaaAudit => {
            let bytes = Zeroizing::new(super::random_bytes::<32>());
            Zeroizing::new(format!("{}\n", STANDARD.encode(bytes.as_slice())))
        }
        KeyName::PhiRsaPrivate => {
            let key = rsa::PrivateKey::new(&mut rand::rngs::SysRng, RSA_BITS)
                .unwrap_or_else(|e| panic!("RSA key generation failed: {e}"));
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap_or_else(|e| panic!("RSA key encoding failed: {e}"));
            Zeroizing::new(pem.to_string())
        }
    }
}

/// Writes a 0600 file that must not exist yet: written in full to a temporary name, synced,
/// then hard-linked into place (which fails if the name was taken meanwhile), so a crash never
/// leaves half a key and nothing is ever overwritten.
pub fn write_new_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        hex::encode(super::random_bytes::<6>())
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Env, Overrides};

    fn sources_in(dir: &Path) -> KeySources {
        let flags = Overrides {
            data_dir: Some(dir.into()),
            ..Default::default()
        };
        Config::load(&flags, &Env::default()).unwrap().keys
    }

    #[test]
    fn generated_keys_load_and_a_second_run_keeps_them() {
        let dir = tempfile::tempdir().unwrap();
        let sources = sources_in(dir.path());
        let first = generate_missing(&sources, |_| Ok(())).unwrap();
        assert!(
            first
                .iter()
                .all(|(_, o)| matches!(o, KeyOutcome::Created(_)))
        );
        let keys = Keys::load(&sources).unwrap();
        assert_eq!(keys.rsa.n().as_ref().bit_width() as usize, RSA_BITS);
        let bytes = fs::read(dir.path().join("keys/PHI_MASTER_KEY")).unwrap();
        let mode = fs::metadata(dir.path().join("keys/PHI_MASTER_KEY"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let second = generate_missing(&sources, |_| Ok(())).unwrap();
        assert!(
            second
                .iter()
                .all(|(_, o)| matches!(o, KeyOutcome::KeptFile(_)))
        );
        assert_eq!(
            fs::read(dir.path().join("keys/PHI_MASTER_KEY")).unwrap(),
            bytes
        );
        assert_eq!(
            Keys::load(&sources).unwrap().fingerprints,
            keys.fingerprints
        );
    }

    #[test]
    fn error_messages_never_contain_key_material() {
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let env = Env::from_pairs([("PHI_MASTER_KEY", secret)]);
        let dir = tempfile::tempdir().unwrap();
        let flags = Overrides {
            data_dir: Some(dir.path().into()),
            ..Default::default()
        };
        let sources = Config::load(&flags, &env).unwrap().keys;
        let err = Keys::load(&sources).unwrap_err();
        assert!(matches!(
            err,
            KeyError::WrongLength { .. } | KeyError::BadBase64 { .. }
        ));
        assert!(!err.to_string().contains(secret));
        assert!(err.to_string().contains("PHI_MASTER_KEY"));
    }
}
