//! `frontdesk serve` refuses to start unsafely: exit 78 before binding, naming the key and
//! the fix, never printing key material.

use crate::helpers::{Cli, OutputText, test_keys, write_keys};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use frontdesk::db::rusqlite::Connection;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

const NAMES: [&str; 3] = ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY", "PHI_RSA_PRIVATE_KEY"];

/// A data dir with valid keys, initialised (database created and bound to the keys).
fn initialised() -> (TempDir, Cli) {
    let dir = tempfile::tempdir().unwrap();
    write_keys(&dir.path().join("keys"));
    let cli = Cli::new(dir.path());
    let out = cli.run(&["init"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    (dir, cli)
}

fn key_path(dir: &TempDir, name: &str) -> PathBuf {
    dir.path().join("keys").join(name)
}

fn replace_key(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Runs serve, asserts it refused (exit 78, never listened, no key material) and returns
/// what it printed.
fn refused(cli: &Cli) -> String {
    let out = cli.run(&["serve", "--listen", "127.0.0.1:0"]);
    let all = format!("{}{}", out.stdout_text(), out.stderr_text());
    assert_eq!(
        out.status.code(),
        Some(78),
        "expected refusal, got {:?}:\n{all}",
        out.status
    );
    assert!(
        !all.contains("listening on"),
        "bound before refusing:\n{all}"
    );
    let keys = test_keys();
    for material in [keys.master.trim(), keys.audit.trim()] {
        assert!(!all.contains(material), "key material printed:\n{all}");
    }
    for line in keys.rsa_pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!all.contains(line), "RSA key material printed:\n{all}");
    }
    all
}

#[test]
fn each_missing_key_is_named_with_the_fix() {
    for name in NAMES {
        let (dir, cli) = initialised();
        std::fs::remove_file(key_path(&dir, name)).unwrap();
        let msg = refused(&cli);
        assert!(msg.contains(&format!("{name} is missing")), "{msg}");
        assert!(
            msg.contains("frontdesk init") && msg.contains("backup"),
            "{msg}"
        );
    }
}

#[test]
fn symmetric_keys_that_are_not_base64_are_refused() {
    for name in ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY"] {
        let (dir, cli) = initialised();
        replace_key(&key_path(&dir, name), "this is not base64 at all!!\n");
        let msg = refused(&cli);
        assert!(
            msg.contains(name) && msg.contains("not valid base64"),
            "{msg}"
        );
    }
}

#[test]
fn symmetric_keys_of_the_wrong_length_are_refused() {
    for name in ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY"] {
        for len in [16usize, 31, 33, 64] {
            let (dir, cli) = initialised();
            replace_key(&key_path(&dir, name), &STANDARD.encode(vec![7u8; len]));
            let msg = refused(&cli);
            assert!(
                msg.contains(&format!("{name} decodes to {len} bytes")),
                "{msg}"
            );
        }
    }
}

#[test]
fn an_unparsable_pem_is_refused() {
    let (dir, cli) = initialised();
    replace_key(
        &key_path(&dir, "PHI_RSA_PRIVATE_KEY"),
        "-----BEGIN PRIVATE KEY-----\nAAAAB3NzaC1yc2E=\n-----END PRIVATE KEY-----\n",
    );
    let msg = refused(&cli);
    assert!(
        msg.contains("PHI_RSA_PRIVATE_KEY is not a PEM-encoded RSA private key"),
        "{msg}"
    );
}

#[test]
fn an_rsa_key_under_2048_bits_is_refused() {
    let (dir, cli) = initialised();
    let weak = rsa::PrivateKey::new(&mut rand::rngs::SysRng, 1024).unwrap();
    replace_key(
        &key_path(&dir, "PHI_RSA_PRIVATE_KEY"),
        &weak.to_pkcs8_pem(LineEnding::LF).unwrap(),
    );
    let msg = refused(&cli);
    assert!(
        msg.contains("PHI_RSA_PRIVATE_KEY is a 1024-bit RSA key"),
        "{msg}"
    );
    assert!(msg.contains("at least 2048"), "{msg}");
}

#[test]
fn key_files_readable_by_group_or_others_are_refused() {
    for name in NAMES {
        for mode in [0o640, 0o604, 0o644] {
            let (dir, cli) = initialised();
            let path = key_path(&dir, name);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let msg = refused(&cli);
            assert!(
                msg.contains(&format!("{name} in {}", path.display())),
                "{msg}"
            );
            assert!(
                msg.contains(&format!("chmod 600 {}", path.display())),
                "{msg}"
            );
        }
    }
}

#[test]
fn systemd_credentials_shared_through_an_acl_are_accepted_but_the_same_mode_elsewhere_is_not() {
    // Newer systemd grants the service user read access to a credential with an ACL on
    // tmpfs, which shows as 0440. The directory is the service's own, so that is safe; an
    // operator's key file with the same mode is not.
    let (dir, cli) = initialised();
    let creds = dir.path().join("credentials");
    std::fs::rename(dir.path().join("keys"), &creds).unwrap();
    for name in NAMES {
        std::fs::set_permissions(creds.join(name), std::fs::Permissions::from_mode(0o440)).unwrap();
    }
    let cli = cli.env("CREDENTIALS_DIRECTORY", creds.to_str().unwrap());
    let as_credentials = cli.run(&["keys", "check"]);
    assert!(
        as_credentials.status.success(),
        "{}",
        as_credentials.stderr_text()
    );
    assert!(
        as_credentials
            .stdout_text()
            .contains(&format!("from {}", creds.join("PHI_MASTER_KEY").display())),
        "{}",
        as_credentials.stdout_text()
    );

    let as_files = cli.env(
        "PHI_MASTER_KEY_FILE",
        creds.join("PHI_MASTER_KEY").to_str().unwrap(),
    );
    let out = as_files.run(&["keys", "check"]);
    assert_eq!(out.status.code(), Some(78), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("chmod 600"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn a_malformed_key_given_in_the_environment_is_refused_without_echoing_it() {
    let (dir, cli) = initialised();
    let _ = dir;
    let cli = cli.env("PHI_MASTER_KEY", "c2VjcmV0LWJ1dC13cm9uZy1sZW5ndGg=");
    let msg = refused(&cli);
    assert!(msg.contains("PHI_MASTER_KEY decodes to 23 bytes"), "{msg}");
    assert!(!msg.contains("c2VjcmV0LWJ1dC13cm9uZy1sZW5ndGg"), "{msg}");
}

#[test]
fn a_valid_key_that_does_not_match_the_database_is_refused_with_an_explanation() {
    for name in NAMES {
        let (dir, cli) = initialised();
        let other = if name == "PHI_RSA_PRIVATE_KEY" {
            rsa::PrivateKey::new(&mut rand::rngs::SysRng, 2048)
                .unwrap()
                .to_pkcs8_pem(LineEnding::LF)
                .unwrap()
                .to_string()
        } else {
            STANDARD.encode([9u8; 32])
        };
        replace_key(&key_path(&dir, name), &other);
        let msg = refused(&cli);
        assert!(
            msg.contains(&format!("{name} does not match this database")),
            "{msg}"
        );
        assert!(msg.contains("Restore the original"), "{msg}");
    }
}

#[test]
fn a_database_newer_than_the_binary_is_refused() {
    let (dir, cli) = initialised();
    let conn = Connection::open(dir.path().join("frontdesk.db")).unwrap();
    conn.pragma_update(None, "user_version", 999).unwrap();
    drop(conn);
    let msg = refused(&cli);
    assert!(
        msg.contains("schema version 999") && msg.contains("newer"),
        "{msg}"
    );
    // Refused untouched: still at 999.
    let conn = Connection::open(dir.path().join("frontdesk.db")).unwrap();
    let v: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 999);
}

#[test]
fn keys_check_reports_fingerprints_and_fails_on_a_bad_key() {
    let (dir, cli) = initialised();
    let ok = cli.run(&["keys", "check"]);
    assert!(ok.status.success(), "{}", ok.stderr_text());
    for name in NAMES {
        assert!(
            ok.stdout_text()
                .contains(&format!("{name:<20} ok  fingerprint"))
        );
    }
    replace_key(
        &key_path(&dir, "HIPAA_AUDIT_KEY"),
        &STANDARD.encode([1u8; 32]),
    );
    let bad = cli.run(&["keys", "check"]);
    assert_eq!(bad.status.code(), Some(78));
    assert!(
        bad.stderr_text()
            .contains("HIPAA_AUDIT_KEY does not match this database")
    );
}

#[test]
fn a_configuration_serve_cannot_start_with_exits_78_so_systemd_does_not_retry_it() {
    let (dir, cli) = initialised();
    // Each of these fails the same way on every retry until someone edits the configuration.
    let config = dir.path().join("frontdesk.toml");
    std::fs::write(&config, "[followups]\nschedule = \"a b c d e f\"\n").unwrap();
    let msg = refused(&cli);
    assert!(msg.contains("followups.schedule"), "{msg}");
    std::fs::remove_file(&config).unwrap();
    let cli = cli.env("SYNC_POSTGRES_URL", "postgres://u@h/db?sslmode=bogus");
    let msg = refused(&cli);
    assert!(msg.contains("SYNC_POSTGRES_URL"), "{msg}");
    // Said once, not once per layer of the error.
    assert_eq!(msg.matches("SYNC_POSTGRES_URL").count(), 1, "{msg}");
}

#[test]
fn a_clinic_language_without_a_pack_is_refused_before_anything_is_written() {
    let (dir, _cli) = initialised();
    let msg = refused(&Cli::new(dir.path()).env("FRONTDESK_CLINIC_LANGUAGE", "xx"));
    assert!(msg.contains("\"xx\" has no language pack"), "{msg}");
    assert!(msg.contains("en, es, ru"), "{msg}");
    let conn = Connection::open(dir.path().join("frontdesk.db")).unwrap();
    let clinics: i64 = conn
        .query_row("SELECT count(*) FROM clinics", [], |r| r.get(0))
        .unwrap();
    assert_eq!(clinics, 0, "no clinic was stored with that language");
}

/// The server's remote secrets often reach only the service (systemd credentials, its
/// environment file): admin commands run with the same config must not need them.
#[test]
fn admin_commands_run_without_the_server_s_remote_secrets_which_serve_still_requires() {
    let (dir, cli) = initialised();
    let cli = cli
        .env("EVOLUTION_API_URL", "http://127.0.0.1:9")
        .env("SUPABASE_URL", "https://xyz.supabase.co");
    let backup = dir.path().join("nightly.db");
    for args in [
        &["prices", "list"][..],
        &["keys", "check"],
        &["audit", "verify"],
        &["sync", "status"],
        &["followups", "list"],
        &["backup", backup.to_str().unwrap()],
    ] {
        let out = cli.run(args);
        assert!(out.status.success(), "{args:?}: {}", out.stderr_text());
    }
    assert!(backup.is_file());
    let said = refused(&cli);
    assert!(said.contains("EVOLUTION_API_KEY"), "{said}");
}
