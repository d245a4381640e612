//! The throughput and correctness phases of `frontdesk bench`.

use super::super::Failure;
use super::super::sandbox::INSTANCE;
use super::client::{Arrivals, Poster, QUESTIONS, number, percentile};
use crate::local_gateway::evolution_text_webhook;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub async fn fixed_rate(
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
pub async fn flat_out(poster: &Arc<Poster>, chats: &[String], concurrency: usize) {
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
pub async fn max_throughput(
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
pub async fn bare_throughput(
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

/// The machine's own jitter, for reading the fixed-rate figures: the same client posting to an
/// endpoint that does nothing, at the same rate, timed request to response.
pub async fn bare_fixed_rate(
    client: &reqwest::Client,
    rate: u64,
    seconds: u64,
) -> Result<serde_json::Value, Failure> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/bare", listener.local_addr()?);
    let app = axum::Router::new().route("/bare", axum::routing::post(|| async { "ok" }));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let body = evolution_text_webhook(INSTANCE, "BARE", "79900000000", "Bench", QUESTIONS[0], 0);
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..rate * seconds {
        ticker.tick().await;
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        tasks.spawn(async move {
            let at = Instant::now();
            let ok = client
                .post(&url)
                .body(body)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            ok.then(|| at.elapsed().as_secs_f64() * 1000.0)
        });
    }
    let mut ms = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Some(v)) = done {
            ms.push(v);
        }
    }
    server.abort();
    Ok(summary(ms))
}

/// p50, p99 and max of times in milliseconds, rounded to the microsecond.
pub fn summary(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    json!({
        "p50": round(percentile(&ms, 0.50)),
        "p99": round(percentile(&ms, 0.99)),
        "max": round(ms.last().copied().unwrap_or(f64::NAN)),
    })
}

/// The disk's own share of the fixed-rate latency: every reply waits for its commit's
/// `fdatasync`, so this disk's `fdatasync` times bound the end-to-end figures from below. At the
/// same rate and for as long as the fixed-rate phase, a file beside the database gets what one
/// commit writes to the WAL at that rate (`COMMIT_FRAMES` frames, appended, wrapping round
/// like a WAL restarting) and is synced; each sync is timed.
pub async fn disk_fixed_rate(
    dir: &std::path::Path,
    rate: u64,
    seconds: u64,
) -> Result<serde_json::Value, Failure> {
    use std::io::{Seek, SeekFrom, Write};
    /// WAL frames one message's commit wrote at 500 messages/s (about 113 KB; see the
    /// writer's module docs).
    const COMMIT_FRAMES: usize = 28;
    /// A WAL frame: its 24-byte header and one 4 KB page.
    const FRAME: usize = 24 + 4096;
    /// Where the probe wraps round; written once before timing, as a long-running WAL is.
    const SPAN: u64 = 16 << 20;
    let path = dir.join("disk-probe");
    let ms = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<f64>> {
        let mut file = std::fs::File::create(&path)?;
        file.write_all(&vec![0u8; SPAN as usize])?;
        file.sync_all()?;
        let commit: Vec<u8> = (0..COMMIT_FRAMES * FRAME).map(|i| i as u8).collect();
        let interval = Duration::from_nanos(1_000_000_000 / rate.max(1));
        let (start, mut offset) = (Instant::now(), 0u64);
        let mut ms = Vec::new();
        for i in 0..rate * seconds {
            let due = start + interval * i as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if offset + commit.len() as u64 > SPAN {
                offset = 0;
            }
            file.seek(SeekFrom::Start(offset))?;
            file.write_all(&commit)?;
            offset += commit.len() as u64;
            let at = Instant::now();
            file.sync_data()?;
            ms.push(at.elapsed().as_secs_f64() * 1000.0);
        }
        drop(file);
        std::fs::remove_file(&path)?;
        Ok(ms)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(summary(ms))
}

/// `messages` messages over chats of 20 (each chat sequential, chats concurrent), 5% of them
/// delivered twice. Every message must get exactly one reply.
pub async fn correctness(
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
