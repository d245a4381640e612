//! `frontdesk llm models`: the model registry with its measured figures ("—" where none were
//! measured yet; a model without figures is fine).

use super::Failure;
use crate::config::Config;
use crate::db::llm_models;

pub async fn models(config: Config) -> Result<(), Failure> {
    let db = super::open_db(&config)?;
    let rows = db.read(llm_models::list_models).await?;
    db.close().await?;
    if rows.is_empty() {
        println!("No models yet; one is added when frontdesk serve starts with an LLM configured.");
        return Ok(());
    }
    let figure =
        |v: Option<f64>, unit: &str| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} {unit}"));
    println!(
        "{:<10} {:<24} {:>9} {:>5} {:>6} {:>5} {:>12} {:>10} {:>10} {:>6}",
        "provider", "model", "context", "tools", "stream", "temp", "output", "ttft", "p95", "calls"
    );
    let yes = |b: bool| if b { "yes" } else { "no" };
    for m in rows {
        println!(
            "{:<10} {:<24} {:>9} {:>5} {:>6} {:>5} {:>12} {:>10} {:>10} {:>6}",
            m.provider,
            m.model,
            m.context_window
                .map_or_else(|| "—".into(), |c| c.to_string()),
            yes(m.supports_tools),
            yes(m.supports_streaming),
            yes(m.supports_temperature),
            figure(m.avg_output_tokens_per_sec, "tok/s"),
            figure(m.avg_ttft_ms, "ms"),
            figure(m.p95_latency_ms, "ms"),
            m.calls
        );
    }
    Ok(())
}
