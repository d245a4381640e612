//! Admin commands beside a running server.

use super::{EX_CONFIG, open_db};
use crate::config::Config;
use crate::data_lock::{DataDirLock, Use};
use crate::db::{Db, migrate};

fn config(dir: &tempfile::TempDir) -> Config {
    Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    }
}

/// A database an older binary made and left at schema version 6.
fn version_6(config: &Config) {
    let path = config.db_path();
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "application_id", crate::db::APPLICATION_ID)
        .unwrap();
    migrate::run_to(&mut conn, &path, 6).unwrap();
}

#[test]
fn a_command_needing_a_migration_refuses_while_the_server_runs_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    version_6(&config);
    let server = DataDirLock::acquire(&config.data_dir, Use::Serve).unwrap();

    let refused = open_db(&config).unwrap_err();
    assert_eq!(refused.code, EX_CONFIG);
    let message = refused.message();
    assert!(message.contains("schema version 6"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");
    assert_eq!(Db::schema_version(&config.db_path()).unwrap(), 6);

    drop(server);
    let db = open_db(&config).unwrap();
    assert_eq!(
        Db::schema_version(&config.db_path()).unwrap(),
        migrate::latest()
    );
    // The command let go of the data dir once the database was open: a server can start.
    DataDirLock::acquire(&config.data_dir, Use::Serve).unwrap();
    drop(db);
}

#[test]
fn a_command_on_a_current_database_runs_beside_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    drop(Db::open(&config.db_path()).unwrap());
    let _server = DataDirLock::acquire(&config.data_dir, Use::Serve).unwrap();
    open_db(&config).unwrap();
}

#[test]
fn a_command_needing_a_migration_while_another_command_upgrades_asks_to_wait() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir);
    version_6(&config);
    let _other = DataDirLock::acquire(&config.data_dir, Use::Upgrade).unwrap();

    let refused = open_db(&config).unwrap_err();
    assert_eq!(refused.code, EX_CONFIG);
    let message = refused.message();
    assert!(message.contains("upgrading the database"), "{message}");
    assert!(message.contains("wait for it to finish"), "{message}");
    assert!(!message.contains("older version"), "{message}");
    assert_eq!(Db::schema_version(&config.db_path()).unwrap(), 6);
}
