//! Sync into a real PostgreSQL with the central SQL applied: rows arrive once with the right
//! values, a refused row is quarantined while the rest flow, PHI stays sealed unless a field is
//! listed, and the fixed `core.upsert_whatsapp_message` groups messages by organisation.

use crate::helpers::{Cli, OutputText, TestApp, spawn_app_with};
use crate::postgres::{TestDb, shared};
use crate::sync_support::{central, eventually, fast, local_ids, pending};
use frontdesk::domain::sync_table::TABLES;
use std::time::Duration;

async fn app_syncing_to(db: &TestDb, plaintext: &[&str]) -> TestApp {
    let url = db.url.clone();
    let fields: Vec<String> = plaintext.iter().map(|f| f.to_string()).collect();
    spawn_app_with(move |c| {
        c.sync.postgres_url = Some(url.into());
        c.sync.plaintext_fields = fields;
        fast(&mut c.sync);
    })
    .await
}

/// Waits until every reply went out and nothing is left to sync.
async fn settled(app: &TestApp) {
    eventually(Duration::from_secs(20), "the outbox to drain", || async {
        app.count("SELECT count(*) FROM whatsapp_messages WHERE status = 'queued'") == 0
            && pending(app) == 0
    })
    .await;
}

async fn assert_same_sets(app: &TestApp, db: &TestDb) {
    for table in TABLES {
        let local = local_ids(app, table.name);
        assert!(!local.is_empty() || table.name != "whatsapp_messages");
        assert_eq!(db.ids(&central(table.name)).await, local, "{}", table.name);
    }
}

#[tokio::test]
async fn rows_arrive_in_postgres_once_with_the_right_values() {
    let db = shared().database().await;
    let app = app_syncing_to(&db, &[]).await;
    app.ask("79001112233", "Сколько стоит пломба?").await;
    app.ask("79001112233", "Хочу записаться на завтра").await;
    app.ask("79004445566", "how much is teeth whitening?").await;
    settled(&app).await;
    assert_same_sets(&app, &db).await;

    let pg = db.client().await;
    let local = app.sqlite();
    // A reply: its sealed body byte for byte, no plaintext, the status after sending, times.
    let (id, body, status, created): (String, Vec<u8>, String, String) = local
        .query_row(
            "SELECT id, body_sealed, status, created_at FROM whatsapp_messages
             WHERE direction = 'outbound' ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let row = pg
        .query_one(
            "SELECT body_sealed, body, status, to_json(created_at)#>>'{}', organisation_id::text,
                    clinic_id::text, reply_to IS NOT NULL
             FROM core.whatsapp_messages WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<u8>>(0), body);
    assert_eq!(row.get::<_, Option<String>>(1), None, "PHI leaves sealed");
    assert_eq!(row.get::<_, String>(2), status);
    assert_eq!(status, "sent");
    let central_created: String = row.get(3);
    assert_eq!(
        frontdesk::domain::time::from_db(&central_created).unwrap(),
        frontdesk::domain::time::from_db(&created).unwrap()
    );
    assert_eq!(
        row.get::<_, String>(4),
        row.get::<_, String>(5),
        "a clinic in no organisation stands for itself"
    );
    assert!(row.get::<_, bool>(6));

    // The booking handoff, its urgency a boolean; the metric points at the reply's real id.
    let urgent: bool = pg
        .query_one("SELECT urgent FROM core.handoffs LIMIT 1", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!urgent);
    let orphans: i64 = pg
        .query_one(
            "SELECT count(*) FROM core.message_metrics m
             LEFT JOIN core.whatsapp_messages w ON w.id = m.message_id WHERE w.id IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(orphans, 0);
    // Prices arrive as integers of minor units; the audit chain links byte for byte.
    let price: i64 = pg
        .query_one("SELECT max(price_minor) FROM core.services", &[])
        .await
        .unwrap()
        .get(0);
    let local_price: i64 = app.count("SELECT max(price_minor) FROM services");
    assert_eq!(price, local_price);
    let (seq, mac): (i64, Vec<u8>) = local
        .query_row(
            "SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let head = pg
        .query_one("SELECT seq, mac, node_id::text FROM core.audit_heads", &[])
        .await
        .unwrap();
    assert_eq!(
        (head.get::<_, i64>(0), head.get::<_, Vec<u8>>(1)),
        (seq, mac)
    );
    let node: String = app
        .query_string("SELECT value FROM meta WHERE key = 'node_id'")
        .unwrap();
    assert_eq!(head.get::<_, String>(2), node);
    app.shutdown().await;
}

#[tokio::test]
async fn a_row_the_server_refuses_is_quarantined_and_the_rest_flow() {
    let db = shared().database().await;
    let app = app_syncing_to(&db, &[]).await;
    app.ask("79001112233", "Сколько стоит пломба?").await;
    settled(&app).await;

    // Corrupt one message locally: the central side cannot read its time and refuses it.
    let poison: String = app
        .query_string("SELECT id FROM whatsapp_messages WHERE direction = 'inbound' LIMIT 1")
        .unwrap();
    let writer = rusqlite_writer(&app);
    writer
        .execute(
            "UPDATE whatsapp_messages SET sent_at = 'Анна Петрова' WHERE id = ?1",
            [&poison],
        )
        .unwrap();
    // Messages have no sync trigger (schema 8): a write queues its row itself, as this does.
    writer
        .execute(
            "INSERT INTO sync_outbox (table_name, row_id, queued_at_ms)
             VALUES ('whatsapp_messages', ?1, 0)",
            [&poison],
        )
        .unwrap();
    app.ask("79004445566", "how much is teeth whitening?").await;
    settled(&app).await;
    assert_eq!(
        db.ids(&central("whatsapp_messages")).await,
        local_ids(&app, "whatsapp_messages")
    );
    let (status, error): (String, String) = app
        .sqlite()
        .query_row(
            "SELECT status, last_error FROM sync_outbox WHERE row_id = ?1 ORDER BY seq DESC LIMIT 1",
            [&poison],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "quarantined");
    assert!(
        error.contains("22007") || error.contains("22008"),
        "{error}"
    );
    assert!(
        !error.contains("Анна"),
        "values are not kept in the reason: {error}"
    );

    // `sync status` names it; once fixed, `sync requeue` sends it again.
    let cli = Cli::new(app.dir.path()).env("SYNC_POSTGRES_URL", &db.url);
    let out = cli.run(&["sync", "status", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let status: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
    assert_eq!(status["quarantined"]["total"], 1, "{status}");
    assert_eq!(status["quarantined"]["rows"][0]["row_id"], poison.as_str());
    assert_eq!(status["target"]["kind"], "postgres");
    writer
        .execute(
            "UPDATE whatsapp_messages SET sent_at = created_at WHERE id = ?1",
            [&poison],
        )
        .unwrap();
    let out = cli.run(&["sync", "requeue"]);
    assert!(
        out.stdout_text().contains("queued again"),
        "{}",
        out.stderr_text()
    );
    settled(&app).await;
    let sent_at: Option<String> = db
        .client()
        .await
        .query_one(
            "SELECT sent_at::text FROM core.whatsapp_messages WHERE id = $1::text::uuid",
            &[&poison],
        )
        .await
        .unwrap()
        .get(0);
    assert!(sent_at.is_some());
    app.shutdown().await;
}

/// A second writer on the app's SQLite file, as an operator's sqlite3 shell would be.
fn rusqlite_writer(app: &TestApp) -> frontdesk::db::rusqlite::Connection {
    let c = frontdesk::db::rusqlite::Connection::open(app.db_path()).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

#[tokio::test]
async fn plaintext_goes_only_for_listed_fields_and_the_setting_is_audited() {
    let db = shared().database().await;
    let app = app_syncing_to(&db, &["whatsapp_messages.body"]).await;
    app.ask("79001112233", "Сколько стоит пломба?").await;
    // Staff's own words in a follow-up are PHI too: they travel sealed, and stay so unlisted.
    let out = Cli::new(app.dir.path()).run(&[
        "followups",
        "add",
        "--chat",
        "79001112233",
        "--in",
        "2h",
        "--text",
        "Анна, ждём вас завтра",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    settled(&app).await;
    let pg = db.client().await;
    let local_text: Vec<u8> = app
        .sqlite()
        .query_row("SELECT text_sealed FROM followups", [], |r| r.get(0))
        .unwrap();
    let row = pg
        .query_one("SELECT text_sealed, text, status FROM core.followups", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Vec<u8>>(0), local_text);
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, String>(2), "scheduled");
    let body: String = pg
        .query_one(
            "SELECT body FROM core.whatsapp_messages WHERE direction = 'inbound'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(body, "Сколько стоит пломба?");
    let names: Vec<Option<String>> = pg
        .query("SELECT name FROM core.contacts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, [None], "an unlisted field stays sealed");
    assert_eq!(
        app.count("SELECT count(*) FROM audit_log WHERE action = 'sync.plaintext_fields'"),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn upsert_whatsapp_message_reads_healthcare_clinics_and_falls_back_to_the_clinic() {
    let db = shared().database().await;
    let pg = db.client().await;
    let (org, chain, solo) = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    pg.execute(
        "INSERT INTO core.organisations VALUES ($1::text::uuid, 'Chain', now(), now())",
        &[&org],
    )
    .await
    .unwrap();
    for (clinic, organisation) in [(&chain, Some(&org)), (&solo, None)] {
        pg.execute(
            "INSERT INTO healthcare.clinics (id, organisation_id, name, timezone, default_language,
                                             created_at, updated_at)
             VALUES ($1::text::uuid, $2::text::uuid, 'C', 'UTC', 'ru', now(), now())",
            &[clinic, &organisation],
        )
        .await
        .unwrap();
    }
    for clinic in [&chain, &solo] {
        let (contact, session, message) = (
            uuid::Uuid::now_v7().to_string(),
            uuid::Uuid::now_v7().to_string(),
            uuid::Uuid::now_v7().to_string(),
        );
        pg.batch_execute(&format!(
            "INSERT INTO core.contacts (id, clinic_id, phone_sealed, created_at, updated_at)
             VALUES ('{contact}', '{clinic}', '\\x00', now(), now());
             INSERT INTO core.conversation_sessions (id, clinic_id, contact_id, provider, instance,
                 chat_sealed, status, created_at, updated_at)
             VALUES ('{session}', '{clinic}', '{contact}', 'evolution', 'i', '\\x00', 'open', now(), now());"
        ))
        .await
        .unwrap();
        let m = serde_json::json!({
            "id": message, "clinic_id": clinic, "session_id": session, "contact_id": contact,
            "direction": "inbound", "author": "patient", "provider": "evolution",
            "instance": "i", "kind": "text", "status": "received",
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
        });
        let id: String = pg
            .query_one(
                "SELECT core.upsert_whatsapp_message($1::text::jsonb)::text",
                &[&m.to_string()],
            )
            .await
            .unwrap()
            .get(0);
        let organisation: String = pg
            .query_one(
                "SELECT organisation_id::text FROM core.whatsapp_messages WHERE id = $1::text::uuid",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        let expected = if clinic == &chain { &org } else { clinic };
        assert_eq!(&organisation, expected);
    }
}

#[tokio::test]
async fn the_postgres_pool_keeps_no_more_idle_connections_than_its_limit() {
    let db = shared().database().await;
    let config = frontdesk::config::SyncConfig {
        idle_connections: 3,
        ..Default::default()
    };
    let client =
        frontdesk::clients::postgres::PostgresClient::new(&db.url.clone().into(), &config).unwrap();
    // Eight statements at once hold eight connections.
    let busy = (0..8).map(|_| client.execute_script("SELECT pg_sleep(0.2)"));
    for result in futures::future::join_all(busy).await {
        result.unwrap();
    }
    assert_eq!(client.open_connections(), 8);
    client.close_idle();
    assert_eq!(
        client.open_connections(),
        3,
        "idle ones beyond the limit closed"
    );
}
