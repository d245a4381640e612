//! `frontdesk init`: create the data dir (0700), the database, the three keys and a starter
//! config. Safe to run again: every existing key, the database and the config are kept, and
//! the report says so. Refuses to create a key the existing data was sealed under.

use super::Failure;
use crate::app::create_private_dir;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, KeyName, starter_config};
use crate::crypto::keys::{KeyOutcome, generate_missing, write_new_file};
use crate::crypto::{KeyError, Keys, random_bytes};
use crate::db::Db;
use crate::services::audit::{self, AuditEvent, action};
use crate::services::keys as key_binding;
use base64::Engine;
use std::path::Path;
use std::sync::Arc;

/// What `initialise` did, for the report.
pub struct InitReport {
    pub db_existed: bool,
    pub keys: Vec<(KeyName, KeyOutcome)>,
    pub config_created: bool,
}

pub async fn run(config: Config) -> Result<(), Failure> {
    let InitReport {
        db_existed,
        keys: report,
        config_created,
    } = initialise(&config).await?;
    let db_path = config.db_path();
    let config_path = config.config_path();
    let created: Vec<&'static str> = report
        .iter()
        .filter(|(_, o)| matches!(o, KeyOutcome::Created(_)))
        .map(|(n, _)| n.env_name())
        .collect();
    print_report(
        &config,
        &db_path,
        db_existed,
        &report,
        &config_path,
        config_created,
        &created,
    );
    Ok(())
}

/// Creates whatever is missing (data dir, database, keys, config) and keeps the rest.
pub async fn initialise(config: &Config) -> Result<InitReport, Failure> {
    create_private_dir(&config.data_dir).map_err(Failure::config)?;
    create_private_dir(&config.keys_dir()).map_err(Failure::config)?;
    let db_path = config.db_path();
    let db_existed = db_path.exists();
    let migrating = super::migration_lock(config)?;
    let db = Db::open(&db_path).map_err(Failure::config)?;
    drop(migrating);

    let bound = db.read(key_binding::bound_keys).await?;
    let report = generate_missing(&config.keys, |name| {
        if bound.contains(&name) {
            Err(KeyError::WouldOrphan {
                name,
                db: db_path.clone(),
            })
        } else {
            Ok(())
        }
    })
    .map_err(Failure::config)?;
    let keys = Arc::new(Keys::load(&config.keys).map_err(Failure::config)?);

    let created: Vec<&'static str> = report
        .iter()
        .filter(|(_, o)| matches!(o, KeyOutcome::Created(_)))
        .map(|(n, _)| n.env_name())
        .collect();
    let (k, now) = (keys.clone(), SystemClock.now());
    let created_names = created.clone();
    db.write(move |c| -> Result<(), Failure> {
        if !created_names.is_empty() {
            let event = AuditEvent::new("cli", action::KEYS_CREATED)
                .detail(serde_json::json!({ "keys": created_names }));
            audit::record(c, &k.audit, now, &event)?;
        }
        key_binding::bind_or_check(c, &k, "cli", now).map_err(Failure::config)?;
        Ok(())
    })
    .await?;
    db.close().await?;

    let config_path = config.config_path();
    let config_created = if config_path.exists() {
        false
    } else {
        write_starter_config(config, &config_path)?;
        true
    };
    Ok(InitReport {
        db_existed,
        keys: report,
        config_created,
    })
}

fn print_report(
    config: &Config,
    db_path: &Path,
    db_existed: bool,
    report: &[(KeyName, KeyOutcome)],
    config_path: &Path,
    config_created: bool,
    created: &[&str],
) {
    println!("Frontdesk data dir: {}", config.data_dir.display());
    println!(
        "  database   {} ({})",
        db_path.display(),
        if db_existed { "kept" } else { "created" }
    );
    for (name, outcome) in report {
        let line = match outcome {
            KeyOutcome::Created(path) => format!("created     {}", path.display()),
            KeyOutcome::KeptFile(path) => format!("kept (exists) {}", path.display()),
            KeyOutcome::FromEnvironment => "kept (given in the environment)".into(),
        };
        println!("  {:<20} {line}", name.env_name());
    }
    println!(
        "  config     {} ({})",
        config_path.display(),
        if config_created {
            "created, with a new webhook secret"
        } else {
            "kept"
        }
    );
    if created.len() == KeyName::ALL.len() {
        println!(
            "\nBack up {} now, and keep that copy apart from database backups:\n\
             without these keys the patient data cannot be read.",
            config.keys_dir().display()
        );
    } else if created.is_empty() {
        println!("\nEvery existing key was kept; nothing was overwritten.");
    }
    if config_path.parent() == Some(config.data_dir.as_path()) {
        println!(
            "\nStart it with: frontdesk serve --data-dir {}",
            config.data_dir.display()
        );
    } else {
        println!(
            "\nStart it with: frontdesk serve --config {}",
            config_path.display()
        );
    }
}

fn write_starter_config(config: &Config, path: &Path) -> Result<(), Failure> {
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let dir = path.parent().unwrap_or(Path::new("."));
    // Written relative to the config file when it sits in the data dir, so the directory can
    // be moved as a whole; absolute otherwise.
    let data_dir = if dir == config.data_dir {
        ".".to_owned()
    } else {
        config.data_dir.display().to_string()
    };
    let keys_dir = config.keys_dir.as_ref().map(|d| d.display().to_string());
    let text = starter_config(&data_dir, keys_dir.as_deref(), &secret);
    write_new_file(path, text.as_bytes())
        .map_err(|e| Failure::config(anyhow::anyhow!("cannot write {}: {e}", path.display())))
}
