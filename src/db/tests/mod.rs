use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

mod batches;
mod sync_queue;

fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).unwrap();
    (dir, db)
}

fn now() -> String {
    crate::domain::time::to_db(chrono::Utc::now())
}

/// Runs `writes` as one batch, and checks that it was one: the writer is held busy for a
/// moment, so the writes `writes` submits (polled in order, so queued in order) wait behind it
/// together.
async fn in_one_batch<T>(db: &Db, writes: impl std::future::Future<Output = T>) -> T {
    let busy_db = db.clone();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let mut started_tx = Some(started_tx);
    let busy = tokio::spawn(async move {
        busy_db
            .write(move |_| -> Result<(), DbError> {
                if let Some(tx) = started_tx.take() {
                    let _ = tx.send(());
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
                Ok(())
            })
            .await
            .unwrap();
    });
    started.await.unwrap();
    let before = db.writer_stats();
    let out = writes.await;
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    out
}

#[tokio::test]
async fn connections_use_wal_full_sync_and_foreign_keys() {
    let (_dir, db) = temp_db();
    let (mode, sync, fk): (String, i64, i64) = db
        .read(|c| -> Result<_, DbError> {
            Ok((
                c.pragma_query_value(None, "journal_mode", |r| r.get(0))?,
                c.pragma_query_value(None, "synchronous", |r| r.get(0))?,
                c.pragma_query_value(None, "foreign_keys", |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(sync, 2, "synchronous=FULL");
    assert_eq!(fk, 1);
    let (writer_fk, writer_cache): (i64, i64) = db
        .write(|c| -> Result<_, DbError> {
            Ok((
                c.pragma_query_value(None, "foreign_keys", |r| r.get(0))?,
                c.pragma_query_value(None, "cache_size", |r| r.get(0))?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(writer_fk, 1);
    assert_eq!(
        writer_cache, -2_000,
        "the writer keeps 2 MB of pages (see `configure`)"
    );
    let reader_cache: i64 = db
        .read(|c| -> Result<i64, DbError> {
            Ok(c.pragma_query_value(None, "cache_size", |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(reader_cache, -2_000, "each reader 2 MB");
}

#[tokio::test]
async fn concurrent_writes_share_commits() {
    let (_dir, db) = temp_db();
    let mut tasks = Vec::new();
    for i in 0..400 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            db.write(move |c| -> Result<(), DbError> {
                meta::set(c, &format!("k{i}"), "v", &now())?;
                Ok(())
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let stats = db.writer_stats();
    assert_eq!(stats.jobs, 400);
    assert!(
        stats.commits < 400,
        "400 writes took {} commits",
        stats.commits
    );
    let n: i64 = db
        .read(|c| -> Result<i64, DbError> {
            Ok(
                c.query_row("SELECT count(*) FROM meta WHERE key LIKE 'k%'", [], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
        .unwrap();
    assert_eq!(n, 400);
}

#[tokio::test]
async fn the_read_pool_cannot_write() {
    let (_dir, db) = temp_db();
    let r = db.read(|c| meta::set(c, "k", "v", &now())).await;
    assert!(r.is_err());
}

#[tokio::test]
async fn audit_rows_cannot_be_updated_or_deleted() {
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        c.execute(
            "INSERT INTO audit_log (seq, id, at, actor, action, detail, prev_mac, mac)
             VALUES (1, 'a', 't', 'x', 'y', '{}', x'00', x'00')",
            [],
        )?;
        Ok(())
    })
    .await
    .unwrap();
    let update = db
        .write(|c| -> Result<usize, DbError> {
            Ok(c.execute("UPDATE audit_log SET actor = 'z'", [])?)
        })
        .await;
    let delete = db
        .write(|c| -> Result<usize, DbError> { Ok(c.execute("DELETE FROM audit_log", [])?) })
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));
    assert!(delete.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn reopening_applies_no_migration_twice_and_close_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = Db::open(&path).unwrap();
    let every: Vec<i64> = super::migrate::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(db.applied_migrations(), every.as_slice());
    db.write(|c| meta::set(c, "k", "v", &now())).await.unwrap();
    db.close().await.unwrap();
    let wal = std::fs::metadata(dir.path().join("t.db-wal"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert_eq!(wal, 0, "close truncates the WAL into the main file");
    let db = Db::open(&path).unwrap();
    assert!(db.applied_migrations().is_empty());
    let v = db.read(|c| meta::find(c, "k")).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    Db::open(&path).unwrap().close().await.unwrap();
    let c = Connection::open(&path).unwrap();
    c.pragma_update(None, "user_version", 99).unwrap();
    drop(c);
    let err = Db::open(&path).unwrap_err();
    assert!(matches!(err, DbError::TooNew { db: 99, .. }), "{err}");
    assert!(err.to_string().contains("newer"));
}

#[test]
fn another_applications_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let c = Connection::open(&path).unwrap();
    c.execute_batch("CREATE TABLE notes (x)").unwrap();
    drop(c);
    assert!(matches!(Db::open(&path), Err(DbError::Foreign(_))));
}

#[tokio::test]
async fn a_gateway_id_already_taken_is_not_recorded_and_does_not_fail_the_write() {
    use crate::db::messages::{self, NewMessage};
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        let at = now();
        c.execute_batch(&format!(
            "INSERT INTO clinics (id, name, created_at, updated_at) VALUES ('k', 'K', '{at}', '{at}');
             INSERT INTO contacts (id, clinic_id, phone_index, phone_sealed, created_at, updated_at)
                 VALUES ('p', 'k', 'i', x'00', '{at}', '{at}');
             INSERT INTO conversation_sessions (id, clinic_id, contact_id, provider, instance,
                 chat_sealed, created_at, updated_at)
                 VALUES ('s', 'k', 'p', 'evolution', 'i', x'00', '{at}', '{at}');"
        ))?;
        for id in ["m1", "m2"] {
            messages::insert_message_if_new(
                c,
                &NewMessage {
                    id,
                    clinic_id: "k",
                    session_id: "s",
                    contact_id: "p",
                    direction: "outbound",
                    author: "bot",
                    provider: "evolution",
                    instance: "i",
                    provider_message_id: None,
                    kind: "text",
                    body_sealed: None,
                    language: None,
                    intent: None,
                    reply_to: None,
                    status: "queued",
                    sent_at: None,
                },
                &at,
            )?;
        }
        messages::mark_sent(c, "m1", Some("SAME"), &at)?;
        messages::mark_sent(c, "m2", Some("SAME"), &at)?;
        Ok(())
    })
    .await
    .unwrap();
    let rows: Vec<(String, Option<String>, String)> = db
        .read(|c| -> Result<_, DbError> {
            let mut s = c.prepare(
                "SELECT id, provider_message_id, status FROM whatsapp_messages ORDER BY id",
            )?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(rows[0], ("m1".into(), Some("SAME".into()), "sent".into()));
    assert_eq!(
        rows[1],
        ("m2".into(), None, "sent".into()),
        "sent, its id not taken twice"
    );
}

#[test]
fn a_failing_migration_leaves_the_database_at_its_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    // Migration 4 adds `services.names`; everything before it applied.
    let earlier: Vec<_> = migrate::MIGRATIONS
        .iter()
        .filter(|m| m.version < 4)
        .collect();
    for m in &earlier {
        conn.execute_batch(m.sql).unwrap();
        conn.pragma_update(None, "user_version", m.version).unwrap();
    }
    // What migration 4 creates already exists, so it fails.
    conn.execute_batch("ALTER TABLE services ADD COLUMN names TEXT")
        .unwrap();
    let err = migrate::run(&mut conn, &path).unwrap_err();
    assert!(
        matches!(err, DbError::Migration { version: 4, .. }),
        "{err}"
    );
    assert_eq!(migrate::current(&conn).unwrap(), 3);
    assert_eq!(
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r
            .get::<_, i64>(0))
            .unwrap(),
        {
            // The same count as a database that never tried it.
            let fresh = rusqlite::Connection::open_in_memory().unwrap();
            for m in &earlier {
                fresh.execute_batch(m.sql).unwrap();
            }
            fresh
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                    r.get::<_, i64>(0)
                })
                .unwrap()
        }
    );
}

#[tokio::test]
async fn an_undelivered_follow_up_is_found_by_index_not_by_scan() {
    let (_dir, db) = temp_db();
    let plan = db
        .read(|c| -> Result<Vec<String>, DbError> {
            let mut stmt = c.prepare(&format!(
                "EXPLAIN QUERY PLAN {}",
                super::followups::MARK_UNDELIVERED
            ))?;
            let rows = stmt.query_map(["m", "failed", "x", "now"], |r| r.get::<_, String>(3))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
        .unwrap();
    assert!(
        plan.iter()
            .any(|step| step.contains("USING INDEX followups_message")),
        "{plan:?}"
    );
}

#[tokio::test]
async fn the_follow_up_probes_of_every_message_use_indexes() {
    let (_dir, db) = temp_db();
    for (sql, index) in [
        (
            super::followups::ANY_TO_CANCEL_ON_REPLY,
            "followups_session",
        ),
        (
            super::followups::ANY_CANCELLED_FOR_MESSAGE,
            "followups_message",
        ),
    ] {
        let plan = db
            .read(move |c| -> Result<Vec<String>, DbError> {
                let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                let rows = stmt.query_map(["k"], |r| r.get::<_, String>(3))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains(index)),
            "{sql}: {plan:?}"
        );
    }
}

#[tokio::test]
async fn an_admin_command_closing_beside_a_busy_server_does_not_wait_on_its_readers() {
    let (dir, server) = temp_db();
    let path = dir.path().join("t.db");
    server
        .write(|c| -> Result<(), DbError> {
            c.execute_batch("CREATE TABLE t (x INTEGER)")?;
            Ok(())
        })
        .await
        .unwrap();
    // A reader of the server's, part way through a read of an older snapshot.
    let reader = rusqlite::Connection::open(&path).unwrap();
    reader
        .execute_batch("BEGIN; SELECT count(*) FROM t;")
        .unwrap();
    server
        .write(|c| -> Result<(), DbError> {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            Ok(())
        })
        .await
        .unwrap();
    // `frontdesk followups list` (say) opens the database and closes it again: its closing
    // checkpoint must not sit waiting for that reader (blocking the server's writes
    // meanwhile) for the whole busy timeout.
    let admin = Db::open_existing(&path).unwrap();
    let closed = tokio::time::timeout(BUSY_TIMEOUT / 2, admin.close()).await;
    assert!(matches!(closed, Ok(Ok(()))), "{closed:?}");
    reader.execute_batch("COMMIT").unwrap();
    server.close().await.unwrap();
}
