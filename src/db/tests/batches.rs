//! The writer: group commit, a failing or panicking job losing only its own writes (a batch
//! runs once without savepoints, and again with them when a job fails), deferred jobs.

use super::*;

/// A database with a table to append to.
async fn scratch_db() -> (tempfile::TempDir, Db) {
    let (dir, db) = temp_db();
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch("CREATE TABLE scratch (v TEXT NOT NULL)")?)
    })
    .await
    .unwrap();
    (dir, db)
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
    let (_dir, db) = scratch_db().await;
    let runs: Vec<_> = (0..3).map(|_| Arc::default()).collect();
    let (first, bad, last) = in_one_batch(&db, async {
        tokio::join!(
            db.write(append("first", &runs[0], false)),
            db.write(append("bad", &runs[1], true)),
            db.write(append("last", &runs[2], false)),
        )
    })
    .await;
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
    let (_dir, db) = scratch_db().await;
    let runs: Arc<AtomicUsize> = Arc::default();
    let (a, b) = in_one_batch(&db, async {
        tokio::join!(
            db.write(append("a", &runs, false)),
            db.write(append("b", &runs, false)),
        )
    })
    .await;
    a.unwrap();
    b.unwrap();
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(scratch_rows(&db).await, ["a", "b"]);
}

#[tokio::test]
async fn a_write_panicking_in_a_batch_is_not_run_again_and_the_others_commit() {
    let (_dir, db) = scratch_db().await;
    let (runs, panics): (Arc<AtomicUsize>, Arc<AtomicUsize>) = Default::default();
    let p = panics.clone();
    let (first, boom, last) = in_one_batch(&db, async {
        tokio::join!(
            db.write(append("first", &runs, false)),
            db.write(move |c| -> Result<(), DbError> {
                p.fetch_add(1, Ordering::SeqCst);
                c.execute("INSERT INTO scratch (v) VALUES ('boom')", [])?;
                panic!("boom")
            }),
            db.write(append("last", &runs, false)),
        )
    })
    .await;
    first.unwrap();
    assert!(matches!(boom, Err(DbError::WriterGone)));
    last.unwrap();
    assert_eq!(panics.load(Ordering::SeqCst), 1);
    assert_eq!(scratch_rows(&db).await, ["first", "last"]);
}

#[tokio::test]
async fn a_write_panicking_when_run_again_is_not_reported_as_stored() {
    let (_dir, db) = scratch_db().await;
    let runs: Arc<AtomicUsize> = Arc::default();
    let r = runs.clone();
    let (fragile, bad, last) = in_one_batch(&db, async {
        tokio::join!(
            // Succeeds the first time; panics when the batch runs again after `bad` failed.
            db.write(move |c| -> Result<(), DbError> {
                c.execute("INSERT INTO scratch (v) VALUES ('fragile')", [])?;
                assert_eq!(r.fetch_add(1, Ordering::SeqCst), 0, "run again");
                Ok(())
            }),
            db.write(append("bad", &runs, true)),
            db.write(append("last", &runs, false)),
        )
    })
    .await;
    assert!(
        matches!(fragile, Err(DbError::WriterGone)),
        "not told its rolled-back write is stored: {fragile:?}"
    );
    assert!(bad.is_err());
    last.unwrap();
    assert_eq!(scratch_rows(&db).await, ["last"]);
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
