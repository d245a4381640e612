//! `frontdesk bench-sync --postgres-url URL` (hidden): fills a throwaway database with a
//! backlog of synthetic conversations (contacts, sessions, messages with sealed bodies,
//! metrics: `--rows` outbox entries), applies the central SQL to the given PostgreSQL, drains
//! the backlog with the real sync worker, checks the central row counts, and prints JSON.

use super::Failure;
use crate::clients::postgres::PostgresClient;
use crate::clients::sync_target::SyncTarget;
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Config, Env};
use crate::crypto::{Aad, Keys};
use crate::db::conversations::{NewContact, NewSession, insert_contact, insert_session};
use crate::db::messages::{NewMessage, NewMetric, insert_message_if_new, insert_metric};
use crate::db::{Db, DbError, central, sync};
use crate::domain::sync_table::TABLES;
use crate::domain::time;
use crate::jobs::sync::{Step, SyncDeps, SyncMonitor, SyncWorker, breaker};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Clone, clap::Args)]
pub struct BenchSyncArgs {
    /// PostgreSQL to drain into (its `core` and `healthcare` schemas are created if missing).
    #[arg(long, env = "SYNC_POSTGRES_URL", hide_env_values = true)]
    pub postgres_url: String,
    /// Outbox rows in the backlog (each chat: contact, session, 6 × inbound, reply, metric).
    #[arg(long, default_value_t = 100_000)]
    pub rows: u64,
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

const ROWS_PER_CHAT: u64 = 20;

pub async fn run(args: BenchSyncArgs) -> Result<(), Failure> {
    let dir = tempfile::Builder::new()
        .prefix("frontdesk-bench-sync-")
        .tempdir()?;
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    config.sync.postgres_url = Some(args.postgres_url.clone().into());
    config.sync.batch_size = args.batch_size;
    let config = config.finish(&Env::default())?;
    super::init::initialise(&config).await?;
    let keys = Arc::new(Keys::load(&config.keys).map_err(Failure::config)?);
    let db = Db::open(&config.db_path())?;
    let clock: SharedClock = Arc::new(SystemClock);

    let started = Instant::now();
    let chats = args.rows.div_ceil(ROWS_PER_CHAT);
    let cfg = config.clone();
    let clinic = db
        .write(move |c| crate::services::clinics::ensure_default(c, &cfg, chrono::Utc::now()))
        .await?;
    for first in (0..chats).step_by(100) {
        let (k, clinic) = (keys.clone(), clinic.clone());
        let last = (first + 100).min(chats);
        db.write(move |c| {
            for chat in first..last {
                write_chat(c, &k, &clinic, chat)?;
            }
            Ok::<_, DbError>(())
        })
        .await?;
    }
    let backlog = db.read(sync::backlog).await?.total_pending();
    let fill_secs = started.elapsed().as_secs_f64();

    let client =
        PostgresClient::new(&args.postgres_url.into(), &config.sync).map_err(Failure::config)?;
    client
        .execute_script(&central::central_sql())
        .await
        .map_err(|e| anyhow::anyhow!("applying the central schema: {e}"))?;
    let before = count_all(&client).await?;
    let target = Arc::new(SyncTarget::Postgres(client));
    let mut worker = SyncWorker::new(SyncDeps {
        db: db.clone(),
        keys,
        clock: clock.clone(),
        target: target.clone(),
        breaker: breaker(&config.sync, clock),
        monitor: Arc::new(SyncMonitor::new("postgres", None)),
        config: config.sync.clone(),
    });
    let started = Instant::now();
    let (mut batches, mut rows) = (0u64, 0usize);
    loop {
        match worker.run_once().await {
            Step::Synced { rows: n, .. } => {
                batches += 1;
                rows += n;
            }
            Step::Idle => break,
            other => return Err(anyhow::anyhow!("the drain stopped: {other:?}").into()),
        }
    }
    let drain_secs = started.elapsed().as_secs_f64();
    let left = db.read(sync::backlog).await?.total_pending();
    let SyncTarget::Postgres(client) = &*target else {
        unreachable!("built above")
    };
    let arrived = count_all(client).await? - before;
    db.close().await?;
    let report = serde_json::json!({
        "backlog_outbox_entries": backlog,
        "fill_seconds": fill_secs,
        "batch_size": args.batch_size,
        "batches": batches,
        "rows_sent": rows,
        "rows_arrived": arrived,
        "left_pending": left,
        "drain_seconds": drain_secs,
        "rows_per_sec": (rows as f64 / drain_secs).round(),
    });
    println!("{report:#}");
    Ok(())
}

async fn count_all(client: &PostgresClient) -> Result<i64, Failure> {
    let mut total = 0;
    for table in TABLES {
        total += client
            .count(table)
            .await
            .map_err(|e| anyhow::anyhow!("counting {}: {e}", table.name))?;
    }
    Ok(total)
}

fn write_chat(
    c: &crate::db::rusqlite::Connection,
    keys: &Keys,
    clinic: &str,
    chat: u64,
) -> Result<(), DbError> {
    let id = || uuid::Uuid::now_v7().to_string();
    let now = time::to_db(chrono::Utc::now());
    let (contact, session) = (id(), id());
    let phone = format!("7990{chat:07}");
    insert_contact(
        c,
        &NewContact {
            id: &contact,
            clinic_id: clinic,
            phone_index: &keys.blind.phone(&phone),
            phone_sealed: &keys
                .phi
                .seal_str(&phone, Aad::new("contacts", "phone", &contact)),
            name_sealed: Some(
                &keys
                    .phi
                    .seal_str("Bench Patient", Aad::new("contacts", "name", &contact)),
            ),
            lid_sealed: None,
            lid_index: None,
        },
        &now,
    )?;
    insert_session(
        c,
        &NewSession {
            id: &session,
            clinic_id: clinic,
            contact_id: &contact,
            provider: "evolution",
            instance: "bench",
            chat_sealed: &keys
                .phi
                .seal_str(&phone, Aad::new("conversation_sessions", "chat", &session)),
            language: Some("ru"),
            last_inbound_at: Some(&now),
        },
        &now,
    )?;
    for turn in 0..6 {
        let (inbound, reply) = (id(), id());
        for (mid, direction, author, text, reply_to, pmid) in [
            (
                &inbound,
                "inbound",
                "patient",
                "Сколько стоит пломба?",
                None,
                Some(format!("B{chat}-{turn}")),
            ),
            (
                &reply,
                "outbound",
                "bot",
                "Пломба световая — 4 500 ₽.",
                Some(inbound.as_str()),
                None,
            ),
        ] {
            let body = keys
                .phi
                .seal_str(text, Aad::new("whatsapp_messages", "body", mid));
            insert_message_if_new(
                c,
                &NewMessage {
                    id: mid,
                    clinic_id: clinic,
                    session_id: &session,
                    contact_id: &contact,
                    direction,
                    author,
                    provider: "evolution",
                    instance: "bench",
                    provider_message_id: pmid.as_deref(),
                    kind: "text",
                    body_sealed: Some(&body),
                    language: Some("ru"),
                    intent: Some("price"),
                    reply_to,
                    status: if direction == "inbound" {
                        "received"
                    } else {
                        "queued"
                    },
                    sent_at: Some(&now),
                },
                &now,
            )?;
        }
        insert_metric(
            c,
            &NewMetric {
                id: &id(),
                message_id: &reply,
                inbound_message_id: Some(&inbound),
                clinic_id: clinic,
                route: "price",
                intent: Some("price"),
                language: Some("ru"),
                received_to_queued_us: 900,
                remote_calls_before_send: 0,
                model: None,
                tokens_in: None,
                tokens_out: None,
                ttft_ms: None,
                llm_total_ms: None,
            },
            &now,
        )?;
    }
    Ok(())
}
