//! `frontdesk bench --llm`: what the LLM path costs on top of the LLM itself. A local OpenAI
//! stand-in answers (streamed) after a fixed delay; the figure reported is end-to-end latency
//! (webhook sent → reply at the gateway) minus that delay. Then, with the LLM unreachable,
//! how long a patient waits for the fallback reply. The gather window (waiting for a chat's
//! next quick message) is set to 0 here, to measure the machinery; in production it adds its
//! configured `gather_ms` (400 ms by default) on purpose.

use super::super::Failure;
use super::super::sandbox::Sandbox;
use super::client::{Poster, number, percentile};
use crate::local_llm::LocalLlm;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

const LLM_DELAY: Duration = Duration::from_millis(200);
const MESSAGES: u64 = 200;
const QUESTION: &str = "можно ли взять с собой собаку?";
const KEY: &str = "bench-llm-key";

pub async fn run() -> Result<(), Failure> {
    let llm = LocalLlm::start(KEY).await?;
    llm.set_delay(LLM_DELAY);
    llm.set_chunk_gap(Duration::ZERO);
    llm.set_default_text("Да, с небольшой собакой можно.");
    let url = llm.base_url();
    eprintln!(
        "LLM path: {MESSAGES} messages, stand-in delay {} ms…",
        LLM_DELAY.as_millis()
    );
    let answered = latencies(move |c| {
        c.openai.base_url = url;
        c.openai.api_key = Some(KEY.into());
        c.openai.gather_ms = 0;
    })
    .await?;
    let added: Vec<f64> = answered
        .iter()
        .map(|ms| ms - LLM_DELAY.as_secs_f64() * 1000.0)
        .collect();
    eprintln!("LLM unreachable: {MESSAGES} messages…");
    let fallback = latencies(|c| {
        c.openai.base_url = "http://127.0.0.1:9/v1".into();
        c.openai.api_key = Some(KEY.into());
        c.openai.gather_ms = 0;
    })
    .await?;
    let figures = |v: &[f64]| json!({"p50": round(percentile(v, 0.5)), "p99": round(percentile(v, 0.99)), "max": round(v.last().copied().unwrap_or(f64::NAN))});
    let report = json!({
        "llm_stand_in_delay_ms": LLM_DELAY.as_millis() as u64,
        "messages": MESSAGES,
        "added_by_llm_path_ms": figures(&added),
        "fallback_when_llm_unreachable_ms": figures(&fallback),
        "note": "gather_ms=0 here; production waits gather_ms (default 400 ms) for a chat's next quick message first",
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    llm.stop();
    Ok(())
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Sends `MESSAGES` questions the fast path cannot answer, one chat each, ten at a time, and
/// returns each end-to-end latency in ms, sorted.
async fn latencies(
    customise: impl FnOnce(&mut crate::config::Config),
) -> Result<Vec<f64>, Failure> {
    let sandbox = Sandbox::start_with(customise).await?;
    let poster = Arc::new(Poster {
        client: reqwest::Client::new(),
        url: sandbox.webhook_url(),
        auth: sandbox.bearer(),
        seq: AtomicU64::new(0),
    });
    let mut arrivals = sandbox.gateway.subscribe();
    let mut ms = Vec::new();
    for batch in 0..MESSAGES / 10 {
        let mut sent = std::collections::HashMap::new();
        for i in 0..10 {
            let n = batch * 10 + i;
            let chat = number(8_000_000 + n);
            sent.insert(chat.clone(), Instant::now());
            let poster = poster.clone();
            tokio::spawn(async move { poster.post(&chat, &format!("LLM{n:08}"), QUESTION).await });
        }
        while !sent.is_empty() {
            let reply = tokio::time::timeout(Duration::from_secs(20), arrivals.recv())
                .await
                .map_err(|_| Failure::new(1, anyhow::anyhow!("no reply within 20 s")))?
                .map_err(|e| Failure::new(1, anyhow::anyhow!("{e}")))?;
            if let Some(at) = sent.remove(&reply.number) {
                ms.push(reply.at.saturating_duration_since(at).as_secs_f64() * 1000.0);
            }
        }
    }
    ms.sort_by(f64::total_cmp);
    sandbox.stop().await?;
    Ok(ms)
}
