//! `frontdesk audit verify` catches every kind of tampering and names the first bad entry.

use crate::helpers::{Cli, OutputText, spawn_app};
use frontdesk::db::rusqlite::Connection;
use frontdesk::services::audit::{self, AuditEvent};
use tempfile::TempDir;

/// A data dir whose audit log holds 8 entries: start-up, key binding, six test events,
/// shutdown; returned with the open SQLite file, its append-only triggers removed as an
/// attacker with file access would.
async fn log_with_entries() -> (TempDir, Connection, i64) {
    let app = spawn_app().await;
    for i in 0..6 {
        let keys = app.state.shared.keys.clone();
        let now = chrono::Utc::now();
        app.state
            .shared
            .db
            .write(move |c| {
                audit::record(
                    c,
                    &keys.audit,
                    now,
                    &AuditEvent::new("test", "test.event").detail(serde_json::json!({ "n": i })),
                )
            })
            .await
            .unwrap();
    }
    let dir = app.shutdown().await;
    let conn = Connection::open(dir.path().join("frontdesk.db")).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
        .unwrap();
    let n: i64 = conn
        .query_row("SELECT max(seq) FROM audit_log", [], |r| r.get(0))
        .unwrap();
    assert!(n >= 8, "{n}");
    (dir, conn, n)
}

fn verify(dir: &TempDir) -> (Option<i32>, String) {
    let out = Cli::new(dir.path()).run(&["audit", "verify"]);
    (
        out.status.code(),
        format!("{}{}", out.stdout_text(), out.stderr_text()),
    )
}

fn assert_broken_at(dir: &TempDir, needle: &str) {
    let (code, text) = verify(dir);
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("NOT intact"), "{text}");
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}

#[tokio::test]
async fn an_untouched_log_verifies() {
    let (dir, _conn, n) = log_with_entries().await;
    let (code, text) = verify(&dir);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("intact: {n} entries")), "{text}");
}

#[tokio::test]
async fn key_binding_start_up_and_shutdown_are_in_the_log() {
    let (_dir, conn, _) = log_with_entries().await;
    let mut stmt = conn
        .prepare("SELECT action FROM audit_log ORDER BY seq")
        .unwrap();
    let actions: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for expected in ["keys.bound", "service.startup", "service.shutdown"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_log_wiped_together_with_its_head_is_caught() {
    let (dir, conn, _) = log_with_entries().await;
    conn.execute_batch("DELETE FROM audit_log; DELETE FROM meta WHERE key = 'audit_head';")
        .unwrap();
    assert_broken_at(&dir, "every entry and the head anchor were deleted");
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    let (dir, conn, _) = log_with_entries().await;
    conn.execute(
        "UPDATE audit_log SET detail = '{\"n\":42}' WHERE seq = 4",
        [],
    )
    .unwrap();
    assert_broken_at(&dir, "audit entry #4");
    assert_broken_at(&dir, "does not match its MAC");
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    let (dir, conn, _) = log_with_entries().await;
    conn.execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    assert_broken_at(&dir, "audit entry #4");
    assert_broken_at(&dir, "#3..#3 were deleted");
}

#[tokio::test]
async fn an_inserted_entry_is_named() {
    let (dir, conn, n) = log_with_entries().await;
    // Make room at #3 and insert a forged entry that claims to follow #2.
    for seq in (3..=n).rev() {
        conn.execute("UPDATE audit_log SET seq = seq + 1 WHERE seq = ?1", [seq])
            .unwrap();
    }
    conn.execute(
        "INSERT INTO audit_log (seq, id, at, actor, action, subject, detail, prev_mac, mac)
         SELECT 3, 'forged', at, 'staff', 'phi.read', NULL, '{}', mac, randomblob(32)
         FROM audit_log WHERE seq = 2",
        [],
    )
    .unwrap();
    assert_broken_at(&dir, "audit entry #3");
}

#[tokio::test]
async fn reordered_entries_are_named() {
    let (dir, conn, _) = log_with_entries().await;
    conn.execute_batch(
        "UPDATE audit_log SET seq = -1 WHERE seq = 5;
         UPDATE audit_log SET seq = 5 WHERE seq = 4;
         UPDATE audit_log SET seq = 4 WHERE seq = -1;",
    )
    .unwrap();
    assert_broken_at(&dir, "audit entry #4");
    assert_broken_at(&dir, "does not chain");
}

#[tokio::test]
async fn a_truncated_tail_is_caught_by_the_anchored_head() {
    let (dir, conn, n) = log_with_entries().await;
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [n - 2])
        .unwrap();
    assert_broken_at(&dir, "truncated");
    assert_broken_at(&dir, &format!("ends at entry #{}", n - 2));
}

#[tokio::test]
async fn a_truncated_tail_with_the_head_rewound_is_caught() {
    let (dir, conn, n) = log_with_entries().await;
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [n - 2])
        .unwrap();
    // Without the key the attacker can only copy the last entry's MAC into a fake head.
    conn.execute(
        "UPDATE meta SET value = (SELECT seq || ':' || lower(hex(mac)) || ':' || lower(hex(mac))
         FROM audit_log ORDER BY seq DESC LIMIT 1) WHERE key = 'audit_head'",
        [],
    )
    .unwrap();
    assert_broken_at(&dir, "head anchor does not match its MAC");
}

#[tokio::test]
async fn a_deleted_head_anchor_is_caught() {
    let (dir, conn, _) = log_with_entries().await;
    conn.execute("DELETE FROM meta WHERE key = 'audit_head'", [])
        .unwrap();
    assert_broken_at(&dir, "head anchor is missing");
}

#[tokio::test]
async fn an_entry_appended_without_the_key_is_named() {
    let (dir, conn, n) = log_with_entries().await;
    conn.execute(
        "INSERT INTO audit_log (seq, id, at, actor, action, subject, detail, prev_mac, mac)
         SELECT seq + 1, 'forged', at, 'staff', 'x', NULL, '{}', mac, randomblob(32)
         FROM audit_log WHERE seq = ?1",
        [n],
    )
    .unwrap();
    assert_broken_at(&dir, &format!("audit entry #{}", n + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifying_while_the_server_appends_entries_finds_the_log_intact() {
    let app = spawn_app().await;
    let keys = app.state.shared.keys.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appending = {
        let (db, keys, stop) = (app.state.shared.db.clone(), keys.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let keys = keys.clone();
                db.write(move |c| {
                    let event = AuditEvent::new("test", "test.event");
                    audit::record(c, &keys.audit, chrono::Utc::now(), &event)
                })
                .await
                .unwrap();
            }
        })
    };
    let path = app.db_path();
    let verdicts = tokio::task::spawn_blocking(move || {
        let conn = Connection::open(path).unwrap();
        (0..300)
            .map(|_| audit::verify(&conn, &keys.audit).unwrap())
            .filter_map(Result::err)
            .map(|b| b.to_string())
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    appending.await.unwrap();
    assert!(verdicts.is_empty(), "false alarms: {verdicts:?}");
    app.shutdown().await;
}
