//! Down-sync: a price or clinic edited in the central database reaches the clinic's replies
//! at once after a pull, survives a restart with an unchanged config file, and a failed pull
//! keeps the local copy.

use crate::fake_postgrest::{FakePostgrest, KEY, Reply};
use crate::helpers::{CLOUD_TOKEN, EVOLUTION_API_KEY, TestApp, spawn_app, spawn_app_with};
use crate::postgres::{TestDb, shared};
use crate::sync_support::{eventually, fast, pending};
use frontdesk::clients::postgres::PostgresClient;
use frontdesk::clients::postgrest::PostgrestClient;
use frontdesk::clients::sync_target::SyncTarget;
use frontdesk::config::SyncConfig;
use frontdesk::jobs::sync::pull::{PullError, Puller};
use frontdesk::jobs::sync::{SyncMonitor, breaker};
use frontdesk::local_gateway::LocalGateway;
use std::sync::Arc;
use std::time::Duration;

fn puller(app: &TestApp, target: SyncTarget) -> Puller {
    let config = SyncConfig::default();
    Puller {
        db: app.state.shared.db.clone(),
        clock: app.state.shared.clock.clone(),
        target: Arc::new(target),
        breaker: breaker(&config, app.state.shared.clock.clone()),
        monitor: Arc::new(SyncMonitor::new("test", None)),
        prices: app.state.shared.prices.clone(),
        clinics: app.state.shared.clinics.clone(),
        every: Duration::from_secs(3600),
    }
}

fn postgres(db: &TestDb) -> SyncTarget {
    SyncTarget::Postgres(
        PostgresClient::new(&db.url.clone().into(), &SyncConfig::default()).unwrap(),
    )
}

async fn synced_app(db: &TestDb) -> TestApp {
    let url = db.url.clone();
    let app = spawn_app_with(move |c| {
        c.sync.postgres_url = Some(url.into());
        fast(&mut c.sync);
    })
    .await;
    eventually(Duration::from_secs(20), "the first sync", || async {
        pending(&app) == 0
    })
    .await;
    app
}

const QUESTION: &str = "сколько стоит световая пломба?";

#[tokio::test]
async fn a_price_edited_centrally_reaches_the_replies_at_once_after_a_pull() {
    let db = shared().database().await;
    let app = synced_app(&db).await;
    assert!(app.ask("79001112233", QUESTION).await.contains("4 500 ₽"));
    // An edit in Supabase's table editor: the price only; the central trigger stamps the time.
    let pg = db.client().await;
    pg.execute(
        "UPDATE core.services SET price_minor = 777700 WHERE code = 'THER-FILL-LC'",
        &[],
    )
    .await
    .unwrap();
    let summary = puller(&app, postgres(&db)).run_once().await.unwrap();
    assert_eq!(summary.services_changed, 1, "{summary:?}");
    let reply = app.ask("79001112233", QUESTION).await;
    assert!(reply.contains("7 777 ₽"), "{reply}");

    // The pulled row goes back up unchanged: the central copy keeps its price and time.
    let stamped: String = pg
        .query_one(
            "SELECT updated_at::text FROM core.services WHERE code = 'THER-FILL-LC'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    eventually(Duration::from_secs(20), "the sync to settle", || async {
        pending(&app) == 0
    })
    .await;
    let row = pg
        .query_one(
            "SELECT price_minor, updated_at::text FROM core.services WHERE code = 'THER-FILL-LC'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (777700, stamped)
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_clinic_edited_centrally_survives_a_restart_with_an_unchanged_config() {
    let db = shared().database().await;
    let app = synced_app(&db).await;
    db.client()
        .await
        .execute("UPDATE healthcare.clinics SET address = 'пр. Мира, 5'", &[])
        .await
        .unwrap();
    let summary = puller(&app, postgres(&db)).run_once().await.unwrap();
    assert_eq!(summary.clinics_changed, 1);
    assert!(
        app.ask("79001112233", "где вы находитесь?")
            .await
            .contains("пр. Мира, 5")
    );
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    let app = app.restart(gateway).await;
    let reply = app.ask("79001112233", "где вы находитесь?").await;
    assert!(
        reply.contains("пр. Мира, 5"),
        "the config file did not overwrite it: {reply}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_pull_keeps_the_local_copy() {
    let app = spawn_app().await;
    let fake = FakePostgrest::start().await;
    fake.script([Reply::Status(503)]);
    let target = SyncTarget::Rest(PostgrestClient::new(
        &fake.url,
        KEY.into(),
        &SyncConfig::default(),
    ));
    let puller = puller(&app, target);
    let err = puller.run_once().await.unwrap_err();
    assert!(matches!(err, PullError::Remote(_)), "{err}");
    assert!(puller.monitor.snapshot().last_pull_error.is_some());
    assert!(
        fake.requests().iter().all(|r| r.method == "GET"),
        "a pull only reads"
    );
    assert!(app.ask("79001112233", QUESTION).await.contains("4 500 ₽"));
    // With the central side back (and empty), a pull changes nothing either.
    let summary = puller.run_once().await.unwrap();
    assert_eq!(summary.services_changed + summary.clinics_changed, 0);
    assert!(app.ask("79001112233", QUESTION).await.contains("4 500 ₽"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_price_edited_centrally_while_the_clinic_was_down_is_pulled_at_start() {
    let db = shared().database().await;
    let app = synced_app(&db).await;
    assert!(app.ask("79001112233", QUESTION).await.contains("4 500 ₽"));
    let dir = app.shutdown().await;
    db.client()
        .await
        .execute(
            "UPDATE core.services SET price_minor = 512300 WHERE code = 'THER-FILL-LC'",
            &[],
        )
        .await
        .unwrap();
    // Started again with nobody stepping the puller: the start-up pull brings the price.
    let url = db.url.clone();
    let app = crate::helpers::start_again(dir, move |c| {
        c.sync.postgres_url = Some(url.into());
        fast(&mut c.sync);
    })
    .await;
    let mut reply = String::new();
    for _ in 0..50 {
        reply = app.ask("79001112233", QUESTION).await;
        if reply.contains("5 123 ₽") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reply.contains("5 123 ₽"), "{reply}");
    app.shutdown().await;
}
