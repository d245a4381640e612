use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).unwrap();
    (dir, db)
}

fn now() -> String {
    crate::domain::time::to_db(chrono::Utc::now())
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
    assert_eq!(writer_cache, -16_000, "the writer keeps 16 MB of pages");
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
async fn a_failing_write_rolls_back_alone_and_others_in_its_batch_commit() {
    let (_dir, db) = temp_db();
    let bad = db.write(|c| -> Result<(), DbError> {
        meta::set(c, "bad", "v", &now())?;
        // A foreign-key violation: no such clinic.
        c.execute(
            "INSERT INTO clinic_channels (provider, channel_key, clinic_id, created_at, updated_at)
             VALUES ('evolution', 'x', 'no-such-clinic', '', '')",
            [],
        )?;
        Ok(())
    });
    let good = db.write(|c| -> Result<(), DbError> { meta::set(c, "good", "v", &now()) });
    let (bad, good) = tokio::join!(bad, good);
    assert!(bad.unwrap_err().is_constraint());
    good.unwrap();
    let (bad, good) = db
        .read(|c| -> Result<_, DbError> { Ok((meta::find(c, "bad")?, meta::find(c, "good")?)) })
        .await
        .unwrap();
    assert_eq!(
        bad, None,
        "the failed write's earlier statements were rolled back"
    );
    assert_eq!(good.as_deref(), Some("v"));
}

#[tokio::test]
async fn a_write_failing_between_two_others_rolls_back_alone() {
    let (_dir, db) = temp_db();
    let set = |key: &'static str| {
        db.write(move |c| -> Result<(), DbError> { meta::set(c, key, "v", &now()) })
    };
    let bad = db.write(|c| -> Result<(), DbError> {
        meta::set(c, "bad", "v", &now())?;
        Err(DbError::Corrupt("refused".into()))
    });
    let (first, bad, last) = tokio::join!(set("first"), bad, set("last"));
    first.unwrap();
    assert!(bad.is_err());
    last.unwrap();
    let found = db
        .read(|c| -> Result<_, DbError> {
            Ok((
                meta::find(c, "first")?,
                meta::find(c, "bad")?,
                meta::find(c, "last")?,
            ))
        })
        .await
        .unwrap();
    assert_eq!(found, (Some("v".into()), None, Some("v".into())));
}

/// Holds the writer busy for a moment, so that the writes submitted meanwhile form one batch.
async fn occupy_writer(db: &Db) -> tokio::task::JoinHandle<()> {
    let db = db.clone();
    let (started_tx, started) = tokio::sync::oneshot::channel();
    let mut started_tx = Some(started_tx);
    let busy = tokio::spawn(async move {
        db.write(move |_| -> Result<(), DbError> {
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
    busy
}

/// Appends `value` to a table with no key, counting the job's runs.
fn append(
    value: &'static str,
    runs: &Arc<AtomicUsize>,
    fail: bool,
) -> impl FnMut(&rusqlite::Connection) -> Result<(), DbError> + Send + 'static {
    let runs = runs.clone();
    move |c| {
        runs.fetch_add(1, Ordering::SeqCst);
        c.execute("INSERT INTO scratch (v) VALUES (?1)", [value])?;
        if fail {
            return Err(DbError::Corrupt("refused".into()));
        }
        Ok(())
    }
}

async fn scratch_rows(db: &Db) -> Vec<String> {
    db.read(|c| -> Result<Vec<String>, DbError> {
        let mut stmt = c.prepare("SELECT v FROM scratch ORDER BY rowid")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_failing_write_makes_its_batch_run_again_without_it_and_nothing_lands_twice() {
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)")?)
    })
    .await
    .unwrap();
    let runs: Vec<_> = (0..3).map(|_| Arc::default()).collect();
    let busy = occupy_writer(&db).await;
    let before = db.writer_stats();
    // Polled in this order, so queued in this order behind the busy writer: one batch.
    let (first, bad, last) = tokio::join!(
        db.write(append("first", &runs[0], false)),
        db.write(append("bad", &runs[1], true)),
        db.write(append("last", &runs[2], false)),
    );
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    first.unwrap();
    assert!(bad.is_err());
    last.unwrap();
    assert_eq!(scratch_rows(&db).await, ["first", "last"]);
    let runs: Vec<usize> = runs
        .iter()
        .map(|r: &Arc<AtomicUsize>| r.load(Ordering::SeqCst))
        .collect();
    assert_eq!(
        runs,
        [2, 2, 1],
        "the jobs up to the failure ran again after the rollback; the last ran once"
    );
}

#[tokio::test]
async fn writes_in_a_batch_without_failures_run_once() {
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)")?)
    })
    .await
    .unwrap();
    let runs: Arc<AtomicUsize> = Arc::default();
    let busy = occupy_writer(&db).await;
    let before = db.writer_stats();
    let (a, b) = tokio::join!(
        db.write(append("a", &runs, false)),
        db.write(append("b", &runs, false)),
    );
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    a.unwrap();
    b.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(scratch_rows(&db).await, ["a", "b"]);
}

#[tokio::test]
async fn a_write_panicking_in_a_batch_is_not_run_again_and_the_others_commit() {
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)")?)
    })
    .await
    .unwrap();
    let (runs, panics): (Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
    let busy = occupy_writer(&db).await;
    let before = db.writer_stats();
    let p = panics.clone();
    let (first, boom, last) = tokio::join!(
        db.write(append("first", &runs, false)),
        db.write(move |c| -> Result<(), DbError> {
            p.fetch_add(1, Ordering::SeqCst);
            c.execute("INSERT INTO scratch (v) VALUES ('boom')", [])?;
            panic!("boom")
        }),
        db.write(append("last", &runs, false)),
    );
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    first.unwrap();
    assert!(matches!(boom, Err(DbError::WriterGone)));
    last.unwrap();
    assert_eq!(panics.load(Ordering::SeqCst), 1);
    assert_eq!(scratch_rows(&db).await, ["first", "last"]);
}

#[tokio::test]
async fn a_write_panicking_when_run_again_is_not_reported_as_stored() {
    let (_dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)")?)
    })
    .await
    .unwrap();
    let runs: Arc<AtomicUsize> = Arc::default();
    let busy = occupy_writer(&db).await;
    let before = db.writer_stats();
    let r = runs.clone();
    let (fragile, bad, last) = tokio::join!(
        // Succeeds the first time; panics when the batch runs again after `bad` failed.
        db.write(move |c| -> Result<(), DbError> {
            c.execute("INSERT INTO scratch (v) VALUES ('fragile')", [])?;
            assert_eq!(r.fetch_add(1, Ordering::SeqCst), 0, "run again");
            Ok(())
        }),
        db.write(append("bad", &runs, true)),
        db.write(append("last", &runs, false)),
    );
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    assert!(
        matches!(fragile, Err(DbError::WriterGone)),
        "not told its rolled-back write is stored: {fragile:?}"
    );
    assert!(bad.is_err());
    last.unwrap();
    assert_eq!(scratch_rows(&db).await, ["last"]);
}

#[tokio::test]
async fn a_panicking_write_does_not_take_the_writer_down() {
    let (_dir, db) = temp_db();
    let r = db
        .write(|_| -> Result<(), DbError> { panic!("boom") })
        .await;
    assert!(matches!(r, Err(DbError::WriterGone)));
    db.write(|c| meta::set(c, "after", "v", &now()))
        .await
        .unwrap();
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
async fn a_deferred_write_rides_in_the_next_commit_and_keeps_its_place_in_order() {
    let (_dir, db) = temp_db();
    let before = db.writer_stats();
    // `join` polls the deferred write first, so it is queued first.
    let (deferred, seen) = futures::future::join(
        db.write_deferred(|c| meta::set(c, "deferred", "first", &now())),
        db.write(|c| meta::find(c, "deferred")),
    )
    .await;
    deferred.unwrap();
    assert_eq!(
        seen.unwrap().as_deref(),
        Some("first"),
        "run in submission order"
    );
    let after = db.writer_stats();
    assert_eq!(after.jobs - before.jobs, 2);
    assert_eq!(
        after.commits - before.commits,
        1,
        "the two jobs shared one commit"
    );
}

#[tokio::test]
async fn a_deferred_write_alone_commits_within_its_limit() {
    let (_dir, db) = temp_db();
    let started = std::time::Instant::now();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        db.write_deferred(|c| meta::set(c, "alone", "yes", &now())),
    )
    .await
    .expect("a deferred write with nothing after it still commits")
    .unwrap();
    assert!(
        started.elapsed() >= MAX_DEFER / 2,
        "it waited for company first"
    );
    let stored = db.read(|c| meta::find(c, "alone")).await.unwrap();
    assert_eq!(stored.as_deref(), Some("yes"));
}

#[tokio::test]
async fn closing_commits_a_deferred_write_still_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let db = Db::open(&path).unwrap();
    let (deferred, closed) = futures::future::join(
        db.write_deferred(|c| meta::set(c, "late", "kept", &now())),
        db.close(),
    )
    .await;
    deferred.unwrap();
    closed.unwrap();
    drop(db);
    let db = Db::open(&path).unwrap();
    let kept = db.read(|c| meta::find(c, "late")).await.unwrap();
    assert_eq!(kept.as_deref(), Some("kept"));
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

/// A clinic, a contact and a session to hang messages on.
async fn with_a_chat(db: &Db) {
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch(
            "INSERT INTO organisations VALUES ('o1', 'Chain', 't', 't');
             INSERT INTO clinics (id, organisation_id, name, created_at, updated_at)
                 VALUES ('c1', 'o1', 'Clinic', 't', 't');
             INSERT INTO contacts (id, clinic_id, phone_index, phone_sealed, created_at,
                 updated_at) VALUES ('k1', 'c1', 'p1', x'01', 't', 't');
             INSERT INTO conversation_sessions (id, clinic_id, contact_id, provider, instance,
                 chat_sealed, created_at, updated_at)
                 VALUES ('s1', 'c1', 'k1', 'evolution', 'i', x'02', 't', 't');",
        )?)
    })
    .await
    .unwrap();
}

/// The sync entries queued after `after_seq`, as (table, row id).
async fn queued_after(db: &Db, after_seq: i64) -> Vec<(String, String)> {
    db.read(move |c| -> Result<Vec<(String, String)>, DbError> {
        let mut stmt =
            c.prepare("SELECT table_name, row_id FROM sync_outbox WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([after_seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    })
    .await
    .unwrap()
}

async fn last_seq(db: &Db) -> i64 {
    db.read(|c| -> Result<i64, DbError> {
        Ok(
            c.query_row("SELECT coalesce(max(seq), 0) FROM sync_outbox", [], |r| {
                r.get(0)
            })?,
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_message_path_writes_queue_each_row_they_change_for_sync() {
    let (_dir, db) = temp_db();
    with_a_chat(&db).await;
    let start = last_seq(&db).await;
    db.write(|c| -> Result<(), DbError> {
        let message = |id, direction, author, pmid, status| messages::NewMessage {
            id,
            clinic_id: "c1",
            session_id: "s1",
            contact_id: "k1",
            direction,
            author,
            provider: "evolution",
            instance: "i",
            provider_message_id: pmid,
            kind: "text",
            body_sealed: None,
            language: None,
            intent: None,
            reply_to: None,
            status,
            sent_at: None,
        };
        let inbound = message("m1", "inbound", "patient", Some("G1"), "received");
        assert!(messages::insert_message_if_new(c, &inbound, "t")?);
        assert!(
            !messages::insert_message_if_new(c, &inbound, "t")?,
            "a duplicate"
        );
        messages::insert_reply(c, &message("m2", "outbound", "bot", None, "queued"), "t")?;
        messages::insert_metric(
            c,
            &messages::NewMetric {
                id: "x1",
                message_id: "m2",
                inbound_message_id: Some("m1"),
                clinic_id: "c1",
                route: "fast_price",
                intent: None,
                language: None,
                received_to_queued_us: 1,
                remote_calls_before_send: 0,
                model: None,
                tokens_in: None,
                tokens_out: None,
                ttft_ms: None,
                llm_total_ms: None,
            },
            "t",
        )?;
        conversations::touch_inbound(c, "s1", Some("en"), "t", "t")?;
        messages::mark_sent(c, "m2", Some("G2"), "t")?;
        assert!(messages::apply_receipt(
            c,
            "evolution",
            "i",
            "G2",
            "delivered",
            None,
            "t"
        )?);
        assert!(
            !messages::apply_receipt(c, "evolution", "i", "G2", "sent", None, "t")?,
            "statuses only move forward"
        );
        messages::mark_failed(c, "no-such-message", "x", "t")?;
        conversations::set_human_until(c, "s1", Some("t9"), "t")?;
        Ok(())
    })
    .await
    .unwrap();
    let queued = queued_after(&db, start).await;
    let expected = [
        ("whatsapp_messages", "m1"),
        ("whatsapp_messages", "m2"),
        ("message_metrics", "x1"),
        ("conversation_sessions", "s1"),
        ("whatsapp_messages", "m2"),
        ("whatsapp_messages", "m2"),
        ("conversation_sessions", "s1"),
    ];
    let queued: Vec<(&str, &str)> = queued
        .iter()
        .map(|(t, id)| (t.as_str(), id.as_str()))
        .collect();
    assert_eq!(
        queued, expected,
        "one entry per row changed, none for a duplicate, a receipt that changed nothing or \
         an update that found no row"
    );
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn in_debug_builds_a_message_path_write_that_forgets_its_sync_entry_fails_to_commit() {
    let (_dir, db) = temp_db();
    with_a_chat(&db).await;
    let busy = occupy_writer(&db).await;
    let before = db.writer_stats();
    let (forgot, fine) = tokio::join!(
        db.write(|c| -> Result<usize, DbError> {
            Ok(c.execute(
                "UPDATE conversation_sessions SET language = 'en' WHERE id = 's1'",
                [],
            )?)
        }),
        // Another row: a later write queueing s1 itself would cover for the one that forgot
        // (harmlessly: the entry syncs the row's latest state).
        db.write(|c| {
            messages::insert_message_if_new(
                c,
                &messages::NewMessage {
                    id: "m1",
                    clinic_id: "c1",
                    session_id: "s1",
                    contact_id: "k1",
                    direction: "inbound",
                    author: "patient",
                    provider: "evolution",
                    instance: "i",
                    provider_message_id: Some("G1"),
                    kind: "text",
                    body_sealed: None,
                    language: None,
                    intent: None,
                    reply_to: None,
                    status: "received",
                    sent_at: None,
                },
                "t",
            )
        }),
    );
    busy.await.unwrap();
    assert_eq!(db.writer_stats().commits - before.commits, 1, "one batch");
    fine.expect("only the write that forgot is refused");
    let err = forgot.unwrap_err().to_string();
    assert!(
        err.contains("conversation_sessions (row s1) did not queue it for sync"),
        "{err}"
    );
    let language = db
        .read(|c| -> Result<Option<String>, DbError> {
            Ok(c.query_row(
                "SELECT language FROM conversation_sessions WHERE id = 's1'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(language, None, "nothing of it was committed");
    db.write(|c| conversations::touch_inbound(c, "s1", Some("en"), "t", "t"))
        .await
        .unwrap();
}
