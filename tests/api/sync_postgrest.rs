//! Sync to Supabase's REST API, against a strict fake PostgREST, stepped by hand on the app's
//! database and injected clock: headers and payload shape, duplicates collapsed, backoff and
//! Retry-After, the circuit breaker, quarantine of a refused row, a wrong key.

use crate::fake_postgrest::{FakePostgrest, KEY, Reply};
use crate::helpers::{TestApp, spawn_app};
use crate::sync_support::{Stepper, fast, local_ids, pending, stepper};
use frontdesk::clients::postgrest::PostgrestClient;
use frontdesk::clients::sync_target::{SyncError, SyncTarget};
use frontdesk::config::SyncConfig;
use frontdesk::domain::sync_table::{TABLES, find};
use frontdesk::jobs::sync::Step;
use frontdesk::resilience::BreakerState;
use std::time::Duration;

fn config() -> SyncConfig {
    let mut c = SyncConfig::default();
    fast(&mut c);
    c
}

fn rest(fake: &FakePostgrest, key: &str, config: &SyncConfig) -> SyncTarget {
    SyncTarget::Rest(PostgrestClient::new(
        &fake.url,
        key.to_owned().into(),
        config,
    ))
}

async fn setup() -> (TestApp, FakePostgrest, Stepper) {
    let app = spawn_app().await;
    app.ask("79001112233", "Сколько стоит пломба?").await;
    app.ask("79004445566", "Хочу записаться").await;
    let fake = FakePostgrest::start().await;
    let config = config();
    let stepper = stepper(&app, rest(&fake, KEY, &config), config);
    (app, fake, stepper)
}

#[tokio::test]
async fn every_row_goes_as_a_merge_duplicates_upsert_with_the_service_key_and_uniform_keys() {
    let (app, fake, mut s) = setup().await;
    app.sends_settled(2).await;
    s.drain().await;
    assert_eq!(fake.violations(), Vec::<String>::new());
    for table in TABLES {
        let central: Vec<String> = fake.rows(table.name).into_keys().collect();
        assert_eq!(central, local_ids(&app, table.name), "{}", table.name);
    }
    for r in fake.requests() {
        assert_eq!(r.status, 201, "{r:?}");
        let unique: std::collections::HashSet<_> = r.ids.iter().collect();
        assert_eq!(
            unique.len(),
            r.ids.len(),
            "no id twice in one upsert: {r:?}"
        );
    }
    // Sealed fields travel as bytea hex, with their plaintext column present but null.
    let contact = fake.rows("contacts").into_values().next().unwrap();
    assert!(contact["phone_sealed"].as_str().unwrap().starts_with("\\x"));
    assert!(contact["phone"].is_null() && contact.get("phone_index").is_none());
    assert_eq!(pending(&app), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_row_changed_many_times_goes_once_in_its_latest_state() {
    let (app, fake, mut s) = setup().await;
    app.sends_settled(2).await;
    for i in 0..5 {
        app.ask("79001112233", &format!("сколько стоит пломба {i}"))
            .await;
    }
    app.sends_settled(7).await;
    s.drain().await;
    let session_posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.table == "conversation_sessions")
        .collect();
    for r in &session_posts {
        let unique: std::collections::HashSet<_> = r.ids.iter().collect();
        assert_eq!(unique.len(), r.ids.len());
    }
    let local: String = app
        .query_string(
            "SELECT updated_at FROM conversation_sessions ORDER BY updated_at DESC LIMIT 1",
        )
        .unwrap();
    let newest = fake
        .rows("conversation_sessions")
        .into_values()
        .filter_map(|r| r["updated_at"].as_str().map(str::to_owned))
        .max()
        .unwrap();
    assert_eq!(newest, local, "the central copy holds the latest state");
    app.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_key_in_one_upsert_is_refused_as_postgrest_does() {
    let fake = FakePostgrest::start().await;
    let target = rest(&fake, KEY, &config());
    let row = r#"{"id":"0190a0b0-0000-7000-8000-000000000001","name":"Chain","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}"#;
    let err = target
        .upsert(find("organisations").unwrap(), &format!("[{row},{row}]"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Rejected(m) if m.contains("21000")),
        "{err:?}"
    );
    let mixed = format!(r#"[{row},{{"id":"0190a0b0-0000-7000-8000-000000000002"}}]"#);
    let err = target
        .upsert(find("organisations").unwrap(), &mixed)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SyncError::Rejected(m) if m.contains("PGRST102")),
        "{err:?}"
    );
}

#[tokio::test]
async fn failures_back_off_honour_retry_after_and_then_everything_arrives_once() {
    let (app, fake, mut s) = setup().await;
    fake.script([
        Reply::Status(500),
        Reply::TooMany {
            retry_after_secs: 7,
        },
        Reply::Hang(Duration::from_secs(3)),
        Reply::Unavailable {
            retry_after_secs: 4,
        },
        Reply::Created,
    ]);
    match s.worker.run_once().await {
        Step::Backoff(d) => assert!(d <= Duration::from_millis(20), "{d:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        s.worker.run_once().await,
        Step::Backoff(Duration::from_secs(7))
    );
    let started = std::time::Instant::now();
    assert!(matches!(s.worker.run_once().await, Step::Backoff(_)));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the hang was cut by the timeout"
    );
    assert_eq!(
        s.worker.run_once().await,
        Step::Backoff(Duration::from_secs(4))
    );
    assert!(s.monitor.snapshot().last_error.is_some());
    s.drain().await;
    assert_eq!(pending(&app), 0);
    let messages: Vec<String> = fake.rows("whatsapp_messages").into_keys().collect();
    assert_eq!(messages, local_ids(&app, "whatsapp_messages"));
    assert_eq!(s.monitor.snapshot().last_error, None, "recovered");
    app.shutdown().await;
}

#[tokio::test]
async fn the_breaker_opens_after_five_failures_and_lets_one_probe_through_after_45_seconds() {
    let (app, fake, mut s) = setup().await;
    fake.script((0..6).map(|_| Reply::Status(500)));
    for _ in 0..5 {
        assert!(matches!(s.worker.run_once().await, Step::Backoff(_)));
    }
    assert!(matches!(s.breaker.state(), BreakerState::Open { .. }));
    let calls = fake.requests().len();
    assert_eq!(calls, 5);
    assert!(matches!(s.worker.run_once().await, Step::BreakerOpen(_)));
    app.clock.advance(chrono::Duration::seconds(44));
    assert!(matches!(s.worker.run_once().await, Step::BreakerOpen(_)));
    assert_eq!(fake.requests().len(), calls, "nothing is sent while open");
    app.clock.advance(chrono::Duration::seconds(1));
    assert!(
        matches!(s.worker.run_once().await, Step::Backoff(_)),
        "the probe fails"
    );
    assert_eq!(fake.requests().len(), calls + 1, "exactly one probe");
    assert!(matches!(s.worker.run_once().await, Step::BreakerOpen(_)));
    app.clock.advance(chrono::Duration::seconds(45));
    assert!(matches!(s.worker.run_once().await, Step::Synced { .. }));
    assert!(matches!(s.breaker.state(), BreakerState::Closed { .. }));
    s.drain().await;
    assert_eq!(pending(&app), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_row_is_quarantined_and_the_rest_of_its_batch_goes_through() {
    let (app, fake, mut s) = setup().await;
    app.sends_settled(2).await;
    let poison = local_ids(&app, "whatsapp_messages")[1].clone();
    fake.poison(&poison);
    s.drain().await;
    let mut expected = local_ids(&app, "whatsapp_messages");
    expected.retain(|id| id != &poison);
    let central: Vec<String> = fake.rows("whatsapp_messages").into_keys().collect();
    assert_eq!(central, expected);
    let (status, error): (String, String) = app
        .sqlite()
        .query_row(
            "SELECT status, last_error FROM sync_outbox WHERE row_id = ?1 ORDER BY seq LIMIT 1",
            [&poison],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "quarantined");
    assert!(error.contains("23514"), "{error}");
    assert_eq!(pending(&app), 0);
    assert_eq!(s.monitor.snapshot().quarantined_total, 1);
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_service_role_key_backs_off_and_quarantines_nothing() {
    let app = spawn_app().await;
    let fake = FakePostgrest::start().await;
    let config = config();
    let mut s = stepper(&app, rest(&fake, "not-the-key", &config), config);
    assert!(matches!(s.worker.run_once().await, Step::Backoff(_)));
    let error = s.monitor.snapshot().last_error.unwrap();
    assert!(error.contains("SUPABASE_SERVICE_ROLE_KEY"), "{error}");
    assert_eq!(
        app.count("SELECT count(*) FROM sync_outbox WHERE status = 'quarantined'"),
        0
    );
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_flushes_the_backlog_within_its_deadline_and_never_waits_longer() {
    let (app, fake, mut s) = setup().await;
    app.sends_settled(2).await;
    // A hung central side: the flush gives up at its deadline, rows stay queued on disk.
    fake.script([Reply::Hang(Duration::from_secs(5))]);
    let started = std::time::Instant::now();
    s.worker.flush(Duration::from_millis(300)).await;
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(pending(&app) > 0, "rows kept for the next start");
    // A healthy one: everything goes before the process stops.
    s.worker.flush(Duration::from_secs(10)).await;
    assert_eq!(pending(&app), 0);
    let central: Vec<String> = fake.rows("whatsapp_messages").into_keys().collect();
    assert_eq!(central, local_ids(&app, "whatsapp_messages"));
    app.shutdown().await;
}
