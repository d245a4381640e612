//! The LLM model registry: what each model supports, and its measured figures (optional:
//! a row without them is valid).

use super::{DbError, optional};
use rusqlite::{Connection, Row, params};

#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    pub id: String,
    pub provider: String,
    pub model: String,
    pub context_window: Option<i64>,
    pub supports_tools: bool,
    pub supports_streaming: bool,
    pub supports_temperature: bool,
    pub avg_output_tokens_per_sec: Option<f64>,
    pub avg_ttft_ms: Option<f64>,
    pub p95_latency_ms: Option<f64>,
    pub calls: i64,
}

const COLUMNS: &str = "id, provider, model, context_window, supports_tools, supports_streaming,
    supports_temperature, avg_output_tokens_per_sec, avg_ttft_ms, p95_latency_ms, calls";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ModelRow> {
    Ok(ModelRow {
        id: r.get(0)?,
        provider: r.get(1)?,
        model: r.get(2)?,
        context_window: r.get(3)?,
        supports_tools: r.get(4)?,
        supports_streaming: r.get(5)?,
        supports_temperature: r.get(6)?,
        avg_output_tokens_per_sec: r.get(7)?,
        avg_ttft_ms: r.get(8)?,
        p95_latency_ms: r.get(9)?,
        calls: r.get(10)?,
    })
}

pub fn find_model(
    conn: &Connection,
    provider: &str,
    model: &str,
) -> Result<Option<ModelRow>, DbError> {
    optional(
        conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM llm_models WHERE provider = ?1 AND model = ?2"
        ))?
        .query_row(params![provider, model], from_row),
    )
}

pub fn list_models(conn: &Connection) -> Result<Vec<ModelRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM llm_models ORDER BY provider, model"
    ))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_model(conn: &Connection, m: &ModelRow, now: &str) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO llm_models (id, provider, model, context_window, supports_tools,
             supports_streaming, supports_temperature, avg_output_tokens_per_sec, avg_ttft_ms,
             p95_latency_ms, calls, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)
         ON CONFLICT (provider, model) DO NOTHING",
    )?
    .execute(params![
        m.id,
        m.provider,
        m.model,
        m.context_window,
        m.supports_tools,
        m.supports_streaming,
        m.supports_temperature,
        m.avg_output_tokens_per_sec,
        m.avg_ttft_ms,
        m.p95_latency_ms,
        m.calls,
        now
    ])?;
    Ok(())
}

/// Stores freshly measured figures; `None` keeps what is stored.
pub fn update_figures(
    conn: &Connection,
    id: &str,
    avg_output_tokens_per_sec: Option<f64>,
    avg_ttft_ms: Option<f64>,
    p95_latency_ms: Option<f64>,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "UPDATE llm_models SET
             avg_output_tokens_per_sec = coalesce(?2, avg_output_tokens_per_sec),
             avg_ttft_ms = coalesce(?3, avg_ttft_ms),
             p95_latency_ms = coalesce(?4, p95_latency_ms),
             calls = calls + 1, updated_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        avg_output_tokens_per_sec,
        avg_ttft_ms,
        p95_latency_ms,
        now
    ])?;
    Ok(())
}
