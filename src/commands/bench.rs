//! `frontdesk bench`: drives signed Evolution webhooks into a throwaway Frontdesk (temp data
//! dir, local gateway) and prints JSON figures:
//! - end-to-end latency (webhook sent → `sendText` arrives at the gateway) at a fixed rate;
//! - maximum sustained throughput, and, with the same client, the throughput of a bare HTTP
//!   endpoint that does nothing, with the ratio between the two;
//! - a correctness run: many chats, redeliveries mixed in; every message answered exactly once.
//!
//! Client, server and gateway share this machine's cores, so the figures are conservative.

use super::Failure;
use super::sandbox::{INSTANCE, Sandbox};
use crate::db::DbError;
use crate::local_gateway::evolution_text_webhook;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Messages per second in the fixed-rate phase.
    #[arg(long, default_value_t = 500)]
    pub rate: u64,
    /// Length of the fixed-rate and flat-out phases, in seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent connections in the flat-out phases.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Messages in the correctness run (spread over chats of 20 messages each).
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
}

/// Mostly price questions, in three languages, with the other fast intents mixed in.
const QUESTIONS: &[&str] = &[
    "Сколько стоит пломба?",
    "сколько стоит чистка зубов",
    "цена на удаление зуба",
    "почём отбеливание?",
    "сколько стоит коронка",
    "сколько стоит имплант",
    "how much is a filling?",
    "how much does teeth whitening cost?",
    "price of a crown",
    "¿cuánto cuesta una limpieza?",
    "precio de un empaste",
    "Сколько стоит консультация?",
    "сколько стоит рентген",
    "how much is a dental implant?",
    "когда вы работаете?",
    "where are you located?",
    "Здравствуйте!",
    "какие у вас цены",
    "¿cuánto cuesta una extracción?",
    "how much is teeth cleaning",
];

/// Records when each chat's replies reach the gateway.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Vec<Instant>>>>);

impl Arrivals {
    fn count(&self, number: &str) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .map_or(0, Vec::len)
    }
    fn first(&self, number: &str) -> Option<Instant> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(number)
            .and_then(|v| v.first().copied())
    }
    async fn wait(&self, numbers: &[String], each: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if numbers.iter().all(|n| self.count(n) >= each) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }
}

struct Poster {
    client: reqwest::Client,
    url: String,
    auth: String,
    seq: AtomicU64,
}

impl Poster {
    async fn post(&self, number: &str, id: &str, text: &str) -> bool {
        let body = evolution_text_webhook(
            INSTANCE,
            id,
            number,
            "Bench",
            text,
            chrono::Utc::now().timestamp(),
        );
        self.client
            .post(&self.url)
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    fn next(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

fn number(n: u64) -> String {
    format!("7990{n:07}")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    let sandbox = Sandbox::start().await?;
    let arrivals = Arrivals::default();
    let mut rx = sandbox.gateway.subscribe();
    let a = arrivals.clone();
    tokio::spawn(async move {
        while let Ok(send) = rx.recv().await {
            a.0.lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(send.number)
                .or_default()
                .push(send.at);
        }
    });
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .build()?;
    let poster = Arc::new(Poster {
        client: client.clone(),
        url: sandbox.webhook_url(),
        auth: sandbox.bearer(),
        seq: AtomicU64::new(0),
    });

    eprintln!("warming up…");
    let warm: Vec<String> = (0..300).map(|_| number(poster.next())).collect();
    flat_out(&poster, &warm, args.concurrency).await;
    arrivals.wait(&warm, 1, Duration::from_secs(30)).await;

    eprintln!("fixed rate: {} msg/s for {} s…", args.rate, args.seconds);
    let latency = fixed_rate(&poster, &arrivals, args.rate, args.seconds).await;

    eprintln!(
        "flat out: {} connections for {} s…",
        args.concurrency, args.seconds
    );
    let w0 = sandbox.state.db.writer_stats();
    let (throughput, acknowledged) =
        max_throughput(&poster, &sandbox.gateway, args.concurrency, args.seconds).await;
    let w1 = sandbox.state.db.writer_stats();
    let flat_db = json!({
        "commits": w1.commits - w0.commits,
        "jobs_per_commit": ((w1.jobs - w0.jobs) as f64 / (w1.commits - w0.commits).max(1) as f64 * 10.0).round() / 10.0,
        "exec_us_per_job": (w1.exec_us - w0.exec_us) / (w1.jobs - w0.jobs).max(1),
        "commit_us_per_commit": (w1.commit_us - w0.commit_us) / (w1.commits - w0.commits).max(1),
    });
    let bare = bare_throughput(&client, args.concurrency, args.seconds).await?;

    eprintln!("correctness: {} messages…", args.messages);
    let correctness = correctness(&poster, &arrivals, args.messages, args.concurrency).await;

    let figures = sandbox
        .state
        .db
        .read(|c| -> Result<_, DbError> {
            Ok(c.query_row(
                "SELECT coalesce(max(remote_calls_before_send), 0), count(*),
                        sum(route LIKE 'fallback') FROM message_metrics",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?)
        })
        .await?;
    let writer = sandbox.state.db.writer_stats();
    let report = json!({
        "machine": { "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()) },
        "fixed_rate": latency,
        "throughput": {
            "frontdesk_messages_per_sec": throughput.round(),
            "webhooks_acknowledged_per_sec": acknowledged.round(),
            "bare_endpoint_requests_per_sec": bare.round(),
            "ratio": (throughput / bare * 1000.0).round() / 1000.0,
            "concurrency": args.concurrency,
            "database_while_flat_out": flat_db,
        },
        "correctness": correctness,
        "fast_path": {
            "replies": figures.1,
            "fallback_replies": figures.2,
            "max_remote_calls_before_send": figures.0,
        },
        "database": {
            "write_jobs": writer.jobs,
            "commits": writer.commits,
            "jobs_per_commit": ((writer.jobs as f64 / writer.commits.max(1) as f64) * 10.0).round() / 10.0,
            "exec_us_per_job": writer.exec_us / writer.jobs.max(1),
            "commit_us_per_commit": writer.commit_us / writer.commits.max(1),
        },
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    sandbox.stop().await
}

async fn fixed_rate(
    poster: &Arc<Poster>,
    arrivals: &Arrivals,
    rate: u64,
    seconds: u64,
) -> serde_json::Value {
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let sent: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        ticker.tick().await;
        let (poster, sent) = (poster.clone(), sent.clone());
        tasks.spawn(async move {
            let n = poster.next();
            let chat = number(n);
            let at = Instant::now();
            sent.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((chat.clone(), at));
            poster
                .post(
                    &chat,
                    &format!("RATE{n:010}"),
                    QUESTIONS[(i as usize) % QUESTIONS.len()],
                )
                .await
        });
    }
    while tasks.join_next().await.is_some() {}
    let sent = sent.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let chats: Vec<String> = sent.iter().map(|(c, _)| c.clone()).collect();
    arrivals.wait(&chats, 1, Duration::from_secs(30)).await;
    let mut ms: Vec<f64> = sent
        .iter()
        .filter_map(|(chat, at)| {
            Some(
                arrivals
                    .first(chat)?
                    .saturating_duration_since(*at)
                    .as_secs_f64()
                    * 1000.0,
            )
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    json!({
        "rate_per_sec": rate,
        "messages": total,
        "answered": ms.len(),
        "latency_ms": {
            "p50": round(percentile(&ms, 0.50)),
            "p90": round(percentile(&ms, 0.90)),
            "p99": round(percentile(&ms, 0.99)),
            "max": round(ms.last().copied().unwrap_or(f64::NAN)),
        },
    })
}

/// Sends one message per chat in `chats` with `concurrency` workers.
async fn flat_out(poster: &Arc<Poster>, chats: &[String], concurrency: usize) {
    let queue = Arc::new(Mutex::new(chats.to_vec()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (poster, queue) = (poster.clone(), queue.clone());
        workers.spawn(async move {
            loop {
                let Some(chat) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                    return;
                };
                let n = poster.next();
                poster
                    .post(
                        &chat,
                        &format!("FLAT{n:010}"),
                        QUESTIONS[(n as usize) % QUESTIONS.len()],
                    )
                    .await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

/// Patients writing during the flat-out phase. Real traffic is mostly returning chats; the
/// fixed-rate phase covers first contacts (a new chat per message).
const RETURNING_CHATS: u64 = 2_000;

/// Messages fully answered per second, with `concurrency` clients posting as fast as they can
/// across a pool of returning chats; and webhooks acknowledged (stored) per second.
async fn max_throughput(
    poster: &Arc<Poster>,
    gateway: &crate::local_gateway::LocalGateway,
    concurrency: usize,
    seconds: u64,
) -> (f64, f64) {
    let first_chat = poster.seq.fetch_add(RETURNING_CHATS, Ordering::Relaxed);
    let sent_before = gateway.sent_count();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let acknowledged = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (poster, acknowledged) = (poster.clone(), acknowledged.clone());
        workers.spawn(async move {
            while Instant::now() < deadline {
                let n = poster.next();
                let chat = number(first_chat + n % RETURNING_CHATS);
                let text = QUESTIONS[(n as usize) % QUESTIONS.len()];
                if poster.post(&chat, &format!("MAX{n:010}"), text).await {
                    acknowledged.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let acknowledged = acknowledged.load(Ordering::Relaxed) as usize;
    let intake = acknowledged as f64 / start.elapsed().as_secs_f64();
    let give_up = Instant::now() + Duration::from_secs(60);
    while gateway.sent_count() < sent_before + acknowledged && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let answered = (gateway.sent_count() - sent_before) as f64 / start.elapsed().as_secs_f64();
    (answered, intake)
}

/// Requests per second against an endpoint that does nothing, with the same client.
async fn bare_throughput(
    client: &reqwest::Client,
    concurrency: usize,
    seconds: u64,
) -> Result<f64, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/bare", listener.local_addr()?);
    let app = axum::Router::new().route("/bare", axum::routing::post(|| async { "ok" }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let body = evolution_text_webhook(INSTANCE, "BARE", "79900000000", "Bench", QUESTIONS[0], 0);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, body, done) = (client.clone(), url.clone(), body.clone(), done.clone());
        workers.spawn(async move {
            while Instant::now() < deadline {
                if client
                    .post(&url)
                    .body(body.clone())
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    server.abort();
    Ok(done.load(Ordering::Relaxed) as f64 / seconds as f64)
}

/// `messages` messages over chats of 20 (each chat sequential, chats concurrent), 5% of them
/// delivered twice. Every message must get exactly one reply.
async fn correctness(
    poster: &Arc<Poster>,
    arrivals: &Arrivals,
    messages: u64,
    concurrency: usize,
) -> serde_json::Value {
    const PER_CHAT: u64 = 20;
    let chats: Vec<String> = (0..messages.div_ceil(PER_CHAT))
        .map(|_| number(poster.next()))
        .collect();
    let queue = Arc::new(Mutex::new(chats.clone()));
    let (redelivered, posted) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (poster, queue, redelivered, posted) = (
            poster.clone(),
            queue.clone(),
            redelivered.clone(),
            posted.clone(),
        );
        workers.spawn(async move {
            loop {
                let Some(chat) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else {
                    return;
                };
                for i in 0..PER_CHAT {
                    let n = poster.next();
                    let id = format!("OK{n:012}");
                    let text = QUESTIONS[(n as usize) % QUESTIONS.len()];
                    posted.fetch_add(
                        u64::from(poster.post(&chat, &id, text).await),
                        Ordering::Relaxed,
                    );
                    if (n + i) % 20 == 0 {
                        poster.post(&chat, &id, text).await;
                        redelivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let complete = arrivals
        .wait(&chats, PER_CHAT as usize, Duration::from_secs(120))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await; // let any double answer arrive
    let (mut lost, mut twice, mut replies) = (0u64, 0u64, 0u64);
    for chat in &chats {
        let got = arrivals.count(chat) as u64;
        replies += got;
        lost += PER_CHAT.saturating_sub(got);
        twice += got.saturating_sub(PER_CHAT);
    }
    json!({
        "messages": chats.len() as u64 * PER_CHAT,
        "chats": chats.len(),
        "acknowledged": posted.load(Ordering::Relaxed),
        "redelivered_duplicates": redelivered.load(Ordering::Relaxed),
        "replies": replies,
        "lost": lost,
        "answered_twice": twice,
        "all_answered_within_timeout": complete,
    })
}
