//! `frontdesk bench-sync`: a backlog of synthetic conversations drained into a real PostgreSQL.
//! The small run keeps the command working; the 100,000-row run is the figure to report:
//!   cargo test --release --test api sync_bench -- --ignored --nocapture
//! (FRONTDESK_BENCH_BIN picks another binary, e.g. target/release/frontdesk).

use crate::helpers::{BIN, OutputText};
use crate::postgres::{PgServer, shared};
use std::process::Command;

fn bench(url: &str, rows: u64) -> serde_json::Value {
    let bin = std::env::var("FRONTDESK_BENCH_BIN").unwrap_or_else(|_| BIN.into());
    let out = Command::new(bin)
        .args([
            "bench-sync",
            "--rows",
            &rows.to_string(),
            "--postgres-url",
            url,
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    serde_json::from_str(&out.stdout_text()).unwrap()
}

#[tokio::test]
async fn bench_sync_drains_a_small_backlog_and_reports_its_rate() {
    let db = shared().empty_database().await;
    let report = bench(&db.url, 2_000);
    assert_eq!(report["left_pending"], 0, "{report}");
    let arrived = report["rows_arrived"].as_i64().unwrap();
    assert!(arrived >= 2_000, "{report}");
    assert!(arrived <= report["rows_sent"].as_i64().unwrap(), "{report}");
    assert!(report["rows_per_sec"].as_f64().unwrap() > 0.0, "{report}");
}

#[tokio::test]
#[ignore = "a benchmark: about a minute; run with --ignored --nocapture"]
async fn bench_sync_drains_100000_rows_into_a_durable_postgres() {
    let server = PgServer::start(true);
    let db = server.empty_database().await;
    let report = bench(&db.url, 100_000);
    println!("{report:#}");
    assert_eq!(report["left_pending"], 0, "{report}");
    assert!(report["rows_arrived"].as_i64().unwrap() >= 100_000);
}
