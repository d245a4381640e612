//! `frontdesk bench`: drives signed Evolution webhooks into a throwaway Frontdesk (temp data
//! dir, local gateway) and prints JSON figures:
//! - end-to-end latency (webhook sent → `sendText` arrives at the gateway) at a fixed rate,
//!   next to the machine's own floor at that rate: a do-nothing HTTP endpoint's latency and
//!   the disk's `fdatasync` time for a commit's worth of WAL;
//! - maximum sustained throughput, and, with the same client, the throughput of a bare HTTP
//!   endpoint that does nothing, with the ratio between the two;
//! - a correctness run: many chats, redeliveries mixed in; every message answered exactly once.
//!
//! - with `--llm`: the latency the LLM path adds on top of the LLM's own delay, and the time
//!   to the fallback reply when the LLM is unreachable.
//!
//! Client, server and gateway share this machine's cores, so the figures are conservative.

mod client;
mod llm;
mod phases;

use super::Failure;
use super::sandbox::Sandbox;
use crate::db::DbError;
pub use client::QUESTIONS;
use client::{Arrivals, Poster, number};
use phases::{bare_throughput, correctness, fixed_rate, flat_out, max_throughput};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

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
    /// Measure the LLM path instead (against a local OpenAI stand-in with a fixed delay).
    #[arg(long)]
    pub llm: bool,
}

/// What the single writer did between two readings: commits, jobs per commit, time per job
/// and per commit, and the share of the interval it was busy (a queue forms as that nears 1).
fn writer_figures(
    before: crate::db::WriterStats,
    after: crate::db::WriterStats,
    over: Duration,
) -> serde_json::Value {
    let commits = after.commits - before.commits;
    let jobs = after.jobs - before.jobs;
    let (exec, commit) = (
        after.exec_us - before.exec_us,
        after.commit_us - before.commit_us,
    );
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "commits": commits,
        "jobs_per_commit": round(jobs as f64 / commits.max(1) as f64),
        "exec_us_per_job": exec / jobs.max(1),
        "commit_us_per_commit": commit / commits.max(1),
        "busy": round((exec + commit) as f64 / over.as_micros().max(1) as f64),
    })
}

pub async fn run(args: BenchArgs) -> Result<(), Failure> {
    if args.llm {
        return llm::run().await;
    }
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
    let w0 = sandbox.state.shared.db.writer_stats();
    let started = std::time::Instant::now();
    let mut latency = fixed_rate(&poster, &arrivals, args.rate, args.seconds).await;
    latency["database"] = writer_figures(
        w0,
        sandbox.state.shared.db.writer_stats(),
        started.elapsed(),
    );
    // The server's share of it: webhook received → reply committed to the send queue.
    let queued_us: Vec<f64> = sandbox
        .state
        .shared
        .db
        .read(|c| -> Result<Vec<f64>, DbError> {
            let mut stmt = c.prepare(
                "SELECT m.received_to_queued_us FROM message_metrics m
                 JOIN whatsapp_messages w ON w.id = m.inbound_message_id
                 WHERE w.provider_message_id LIKE 'RATE%'",
            )?;
            let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
            Ok(rows
                .filter_map(Result::ok)
                .map(|us| us as f64 / 1000.0)
                .collect())
        })
        .await?;
    latency["bare_endpoint_latency_ms"] =
        phases::bare_fixed_rate(&client, args.rate, args.seconds).await?;
    latency["disk_fsync_ms"] =
        phases::disk_fixed_rate(sandbox.dir.path(), args.rate, args.seconds).await?;
    latency["received_to_queued_ms"] = phases::summary(queued_us);

    eprintln!(
        "flat out: {} connections for {} s…",
        args.concurrency, args.seconds
    );
    let (w0, started) = (
        sandbox.state.shared.db.writer_stats(),
        std::time::Instant::now(),
    );
    let (throughput, acknowledged) =
        max_throughput(&poster, &sandbox.gateway, args.concurrency, args.seconds).await;
    let flat_db = writer_figures(
        w0,
        sandbox.state.shared.db.writer_stats(),
        started.elapsed(),
    );
    let bare = bare_throughput(&client, args.concurrency, args.seconds).await?;

    eprintln!("correctness: {} messages…", args.messages);
    let correctness = correctness(&poster, &arrivals, args.messages, args.concurrency).await;

    let figures = sandbox
        .state
        .shared
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
    let report = json!({
        "machine": {
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
            "async_workers": tokio::runtime::Handle::current().metrics().num_workers(),
        },
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
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    sandbox.stop().await
}
