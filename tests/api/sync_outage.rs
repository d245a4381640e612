//! Sync when things go away: the central PostgreSQL stopped during a stream of messages and
//! started again, and frontdesk itself killed with SIGKILL mid-sync and restarted. Either way
//! the local and central sets end equal, without duplicates, and patients got their replies.

use crate::helpers::{
    CLOUD_TOKEN, Cli, EVOLUTION_API_KEY, INSTANCE, OutputText, TestApp, WEBHOOK_SECRET,
    evolution_text, spawn_app_with,
};
use crate::postgres::{PgServer, TestDb, shared};
use crate::smoke::start_server;
use crate::sync_support::{central, eventually, fast, local_ids_in, pending};
use frontdesk::db::rusqlite::{Connection, OpenFlags};
use frontdesk::domain::sync_table::TABLES;
use frontdesk::local_gateway::LocalGateway;
use frontdesk::resilience::BreakerState;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn assert_same_sets(local: &Connection, db: &TestDb) {
    for table in TABLES {
        assert_eq!(
            db.ids(&central(table.name)).await,
            local_ids_in(local, table.name),
            "{}",
            table.name
        );
    }
}

fn drained(app: &TestApp) -> bool {
    pending(app) == 0
        && app.count("SELECT count(*) FROM whatsapp_messages WHERE status = 'queued'") == 0
}

#[tokio::test]
async fn postgres_stopped_during_a_stream_then_started_again_loses_nothing() {
    let server = PgServer::start(false);
    let db = server.database().await;
    let url = db.url.clone();
    let app = spawn_app_with(move |c| {
        c.sync.postgres_url = Some(url.into());
        fast(&mut c.sync);
    })
    .await;
    let phone = |i: u32| format!("7900{:07}", i % 7);
    for i in 0..10 {
        app.ask(&phone(i), "Сколько стоит пломба?").await;
    }
    eventually(
        Duration::from_secs(20),
        "the first messages to sync",
        || async { drained(&app) },
    )
    .await;

    server.stop();
    for i in 10..40 {
        let started = Instant::now();
        app.ask(&phone(i), "сколько стоит чистка зубов").await;
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a reply waited on the central database"
        );
    }
    eventually(Duration::from_secs(20), "the breaker to open", || async {
        matches!(
            app.state.sync.breaker_state(),
            Some(BreakerState::Open { .. })
        )
    })
    .await;
    assert!(pending(&app) > 0, "the backlog waits on disk");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "sync trouble does not make the clinic unready"
    );
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["sync"]["breaker"], "open", "{ready}");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("frontdesk_sync_breaker_open 1"),
        "{metrics}"
    );
    assert!(metrics.contains("frontdesk_sync_backlog{table=\"whatsapp_messages\"}"));

    server.run();
    app.clock.advance(chrono::Duration::seconds(46));
    eventually(Duration::from_secs(30), "the backlog to drain", || async {
        drained(&app)
    })
    .await;
    assert_same_sets(&app.sqlite(), &db).await;
    assert_eq!(db.count("core.whatsapp_messages").await, 80);
    let dir = app.shutdown().await;
    // The service had its target from its own environment; `sync status` run without it says
    // what the service reported rather than "none configured".
    let out = Cli::new(dir.path()).run(&["sync", "status"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        out.stdout_text()
            .contains("Target:        PostgreSQL (as the service reported"),
        "{}",
        out.stdout_text()
    );
    // Once the service runs without a target, that report is gone.
    let app = crate::helpers::start_again(dir, |_| {}).await;
    let dir = app.shutdown().await;
    let out = Cli::new(dir.path()).run(&["sync", "status"]);
    assert!(
        out.stdout_text().contains("Target:        none configured"),
        "{}",
        out.stdout_text()
    );
}

/// Posts signed webhooks to a running binary until told to stop; records what was accepted.
fn stream(addr: String, accepted: Arc<Mutex<Vec<String>>>, stop: Arc<Mutex<bool>>) {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut i = 0u32;
        while !*stop.lock().unwrap() {
            let id = format!("K{i:06}");
            let body = evolution_text(&id, &format!("7911{:07}", i % 13), "Сколько стоит пломба?");
            let now = chrono::Utc::now().timestamp();
            let jwt =
                frontdesk::crypto::webhook::sign_hs256(WEBHOOK_SECRET.as_bytes(), now, now + 600);
            let sent = client
                .post(format!("{addr}/webhooks/evolution"))
                .bearer_auth(jwt)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await;
            if sent.is_ok_and(|r| r.status() == 200) {
                accepted.lock().unwrap().push(id);
            }
            i += 1;
        }
    });
}

fn read_only(path: &Path) -> Connection {
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

#[tokio::test]
async fn frontdesk_killed_with_sigkill_mid_sync_and_restarted_ends_with_equal_sets() {
    let db = shared().database().await;
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = Cli::new(&data)
        .env("SYNC_POSTGRES_URL", &db.url)
        .env("EVOLUTION_API_URL", &gateway.url())
        .env("EVOLUTION_API_KEY", EVOLUTION_API_KEY)
        .env("EVOLUTION_INSTANCE", INSTANCE)
        .env("EVOLUTION_WEBHOOK_SECRET", WEBHOOK_SECRET);
    let init = cli.run(&["init"]);
    assert!(init.status.success(), "{}", init.stderr_text());
    // Small batches, polled often: the sync is busy the whole time messages stream in.
    let toml = data.join("frontdesk.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        text.replacen("[sync]\n", "[sync]\nbatch_size = 5\ninterval_ms = 5\n", 1),
    )
    .unwrap();

    let (child, addr, _logs) = start_server(&cli);
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(Mutex::new(false));
    stream(addr, accepted.clone(), stop.clone());
    let local = data.join("frontdesk.db");
    eventually(Duration::from_secs(30), "a sync in full swing", || async {
        let backlog: i64 = read_only(&local)
            .query_row(
                "SELECT count(*) FROM sync_outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap_or(0);
        accepted.lock().unwrap().len() > 50
            && backlog > 0
            && db.count("core.whatsapp_messages").await > 0
    })
    .await;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    *stop.lock().unwrap() = true;
    let mut child = child;
    child.wait().unwrap();
    let acked: Vec<String> = accepted.lock().unwrap().clone();

    let (mut child, _addr, _logs) = start_server(&cli);
    eventually(
        Duration::from_secs(60),
        "the restarted sync to catch up",
        || async {
            let c = read_only(&local);
            let left: i64 = c
                .query_row(
                    "SELECT (SELECT count(*) FROM sync_outbox WHERE status = 'pending')
                      + (SELECT count(*) FROM whatsapp_messages WHERE status = 'queued')",
                    [],
                    |r| r.get(0),
                )
                .unwrap_or(1);
            left == 0
        },
    )
    .await;
    let c = read_only(&local);
    assert_same_sets(&c, &db).await;
    assert_eq!(
        c.query_row(
            "SELECT count(*) FROM sync_outbox WHERE status = 'quarantined'",
            [],
            |r| { r.get::<_, i64>(0) }
        )
        .unwrap(),
        0
    );
    // Every message acknowledged before the kill reached the central side.
    let central: Vec<String> = db
        .client()
        .await
        .query(
            "SELECT provider_message_id FROM core.whatsapp_messages WHERE direction = 'inbound'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for id in &acked {
        assert!(
            central.contains(id),
            "{id} was acknowledged but never arrived"
        );
    }
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    gateway.stop();
}
