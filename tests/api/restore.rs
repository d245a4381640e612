//! `frontdesk restore FILE`: a checked backup replaces the database while the server is
//! stopped; the database it replaced is kept; a running server, other keys, a broken audit
//! chain or a file that is no backup leave everything as it was.

use crate::helpers::{Cli, OutputText, TestApp, spawn_app};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

fn messages_in(db: &Path) -> i64 {
    let conn = frontdesk::db::rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM whatsapp_messages", [], |r| r.get(0))
        .unwrap()
}

/// A data dir whose database holds two conversations, and a backup taken after the first.
async fn backup_then_more() -> (TempDir, PathBuf) {
    let app = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let backup = app.dir.path().join("backup.db");
    let out = Cli::new(app.dir.path()).run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr_text());
    app.ask("79990003344", "Когда вы работаете?").await;
    (app.shutdown().await, backup)
}

fn files_beside(db: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("frontdesk.db"))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_backup_is_restored_and_the_database_it_replaced_is_kept() {
    let (dir, backup) = backup_then_more().await;
    let live = dir.path().join("frontdesk.db");
    assert_eq!(messages_in(&live), 4);
    let cli = Cli::new(dir.path());
    let out = cli.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(out.stdout_text().contains("keys match, audit log intact"));
    assert_eq!(
        messages_in(&live),
        2,
        "the database as it was at the backup"
    );
    let kept: Vec<String> = files_beside(&live)
        .into_iter()
        .filter(|n| n.contains("before-restore-"))
        .collect();
    assert_eq!(kept.len(), 1, "{:?}", files_beside(&live));
    assert_eq!(messages_in(&dir.path().join(&kept[0])), 4, "nothing lost");
    assert!(!files_beside(&live).iter().any(|n| n.contains("restoring")));

    let verify = cli.run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", verify.stderr_text());
    let conn = frontdesk::db::rusqlite::Connection::open(&live).unwrap();
    let last: String = conn
        .query_row(
            "SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(last, "database.restored");
    drop(conn);
    // And the server starts on it.
    let app = crate::helpers::start_again(dir, |_| {}).await;
    assert!(
        app.ask("79990001122", "Сколько стоит пломба?")
            .await
            .contains('₽')
    );
    app.shutdown().await;
}

#[tokio::test]
async fn restore_refuses_while_the_server_runs_and_changes_nothing() {
    let app: TestApp = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let backup = app.dir.path().join("backup.db");
    assert!(
        Cli::new(app.dir.path())
            .run(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    let before = files_beside(&app.db_path());
    let out = Cli::new(app.dir.path()).run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("another frontdesk process"),
        "{}",
        out.stderr_text()
    );
    assert_eq!(files_beside(&app.db_path()), before);
    app.shutdown().await;
}

#[tokio::test]
async fn a_backup_under_other_keys_or_with_a_broken_chain_or_no_backup_at_all_is_refused() {
    let (dir, backup) = backup_then_more().await;
    let live = dir.path().join("frontdesk.db");
    let before = files_beside(&live);

    // Other keys: a data dir of its own with fresh keys.
    let other = tempfile::tempdir().unwrap();
    assert!(Cli::new(other.path()).run(&["init"]).status.success());
    let out = Cli::new(other.path()).run(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("sealed under other keys"),
        "{}",
        out.stderr_text()
    );

    // An edited audit entry.
    let tampered = dir.path().join("tampered.db");
    std::fs::copy(&backup, &tampered).unwrap();
    let conn = frontdesk::db::rusqlite::Connection::open(&tampered).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'x' WHERE seq = 1;",
    )
    .unwrap();
    drop(conn);
    let out = Cli::new(dir.path()).run(&["restore", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("NOT intact"),
        "{}",
        out.stderr_text()
    );

    // Not a database, and an empty file.
    for (name, bytes) in [
        ("notes.txt", &b"not a database"[..]),
        ("empty.db", &b""[..]),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = Cli::new(dir.path()).run(&["restore", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(78), "{name}: {}", out.stderr_text());
        assert!(
            out.stderr_text()
                .contains(&format!("{} is not a Frontdesk backup", path.display())),
            "{}",
            out.stderr_text()
        );
    }
    assert_eq!(
        files_beside(&live),
        before,
        "nothing was replaced or left behind"
    );
    assert_eq!(messages_in(&live), 4);
}

#[tokio::test]
async fn a_damaged_or_too_new_live_database_is_kept_aside_and_the_backup_restored() {
    for damage in ["damaged", "too new"] {
        let (dir, backup) = backup_then_more().await;
        let live = dir.path().join("frontdesk.db");
        if damage == "damaged" {
            std::fs::write(&live, b"this is no longer a database").unwrap();
        } else {
            // As after rolling an upgrade back: written by a newer release.
            let conn = frontdesk::db::rusqlite::Connection::open(&live).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        let out = Cli::new(dir.path()).run(&["restore", backup.to_str().unwrap()]);
        assert!(out.status.success(), "{damage}: {}", out.stderr_text());
        assert_eq!(messages_in(&live), 2, "{damage}: the backup is in place");
        let kept: Vec<String> = files_beside(&live)
            .into_iter()
            .filter(|n| {
                n.contains("before-restore-") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
            .collect();
        assert_eq!(kept.len(), 1, "{damage}: {:?}", files_beside(&live));
        let kept = dir.path().join(&kept[0]);
        if damage == "damaged" {
            assert_eq!(
                std::fs::read(&kept).unwrap(),
                b"this is no longer a database"
            );
        } else {
            let conn = frontdesk::db::rusqlite::Connection::open(&kept).unwrap();
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, 99, "kept as it was");
            assert_eq!(messages_in(&kept), 4, "nothing lost");
        }
        assert!(!files_beside(&live).iter().any(|n| n.contains("restoring")));
    }
}

#[tokio::test]
async fn a_server_started_while_a_restore_runs_waits_for_it_then_serves() {
    use frontdesk::data_lock::{DataDirLock, Use};
    let app = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let dir = app.shutdown().await;

    let restore = DataDirLock::acquire(dir.path(), Use::Restore).unwrap();
    let starting = tokio::spawn(crate::helpers::start_again(dir, |_| {}));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        !starting.is_finished(),
        "the server started (or gave up) while a restore held its data dir"
    );
    drop(restore);
    let app = starting
        .await
        .expect("the server starts once the restore is done");
    assert!(
        app.ask("79990003344", "Сколько стоит пломба?")
            .await
            .contains('₽')
    );
    app.shutdown().await;
}
