//! The model registry: which model is used, what it supports (so requests carry only the
//! parameters it accepts), and how fast it has been. A row without measured figures is
//! valid: the factory starts anyway. Figures are updated from real calls: moving averages of
//! output speed and time to first token, and a rolling p95 of total latency.

use crate::clients::llm::{Completion, ModelParams};
use crate::db::llm_models::{self, ModelRow};
use crate::db::{Db, DbError};
use crate::domain::time;
use chrono::Utc;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Weight of the newest call in the moving averages.
const ALPHA: f64 = 0.2;
/// Calls the rolling p95 looks back over.
const WINDOW: usize = 100;

#[derive(Default)]
struct Figures {
    tokens_per_sec: Option<f64>,
    ttft_ms: Option<f64>,
    latencies_ms: VecDeque<f64>,
}

pub struct ModelRegistry {
    db: Db,
    row_id: String,
    params: ModelParams,
    figures: Mutex<Figures>,
}

/// What is known about a model family when the registry has no row for it yet.
pub fn inferred(provider: &str, model: &str) -> ModelRow {
    let name = model.to_ascii_lowercase();
    let reasoning = ["gpt-5", "o1", "o3", "o4"]
        .iter()
        .any(|p| name.starts_with(p));
    let context_window = if name.starts_with("gpt-5") {
        Some(400_000)
    } else if reasoning {
        Some(200_000)
    } else if name.starts_with("gpt-4.1") {
        Some(1_047_576)
    } else if name.starts_with("gpt-4o") {
        Some(128_000)
    } else {
        None
    };
    ModelRow {
        id: uuid::Uuid::now_v7().to_string(),
        provider: provider.into(),
        model: model.into(),
        context_window,
        supports_tools: true,
        supports_streaming: true,
        // Reasoning models reject any temperature but the default.
        supports_temperature: !reasoning,
        avg_output_tokens_per_sec: None,
        avg_ttft_ms: None,
        p95_latency_ms: None,
        calls: 0,
    }
}

impl ModelRegistry {
    /// Finds the model's row, adding one with what is known of its family if there is none.
    pub async fn init(db: Db, provider: &str, model: &str) -> Result<ModelRegistry, DbError> {
        let (p, m) = (provider.to_owned(), model.to_owned());
        let row = db
            .write(move |c| {
                if let Some(row) = llm_models::find_model(c, &p, &m)? {
                    return Ok::<_, DbError>(row);
                }
                let row = inferred(&p, &m);
                llm_models::insert_model(c, &row, &time::to_db(Utc::now()))?;
                Ok(llm_models::find_model(c, &p, &m)?.unwrap_or(row))
            })
            .await?;
        let figures = Figures {
            tokens_per_sec: row.avg_output_tokens_per_sec,
            ttft_ms: row.avg_ttft_ms,
            // The stored p95 stands in for the calls before this start until new ones push it
            // out of the window, so one fast call after a restart does not erase it.
            latencies_ms: row.p95_latency_ms.into_iter().collect(),
        };
        // A row may say more than the model family allows (edited by hand, or from an older
        // release); what the family is known to reject is never sent.
        let family = inferred(provider, model);
        tracing::info!(
            model = %row.model,
            figures = row.avg_ttft_ms.is_some(),
            "INIT LLM Factory - Complete"
        );
        Ok(ModelRegistry {
            db,
            row_id: row.id,
            params: ModelParams {
                name: row.model,
                supports_tools: row.supports_tools,
                supports_streaming: row.supports_streaming,
                supports_temperature: row.supports_temperature && family.supports_temperature,
            },
            figures: Mutex::new(figures),
        })
    }

    pub fn params(&self) -> &ModelParams {
        &self.params
    }

    /// Folds one successful call into the figures and stores them.
    pub async fn record(&self, c: &Completion) {
        let total_ms = c.elapsed.as_secs_f64() * 1000.0;
        let (tps, ttft, p95) = {
            let mut f = self.figures.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(first) = c.first_token {
                let ttft = first.as_secs_f64() * 1000.0;
                f.ttft_ms = Some(ewma(f.ttft_ms, ttft));
                let generating = (c.elapsed - first).as_secs_f64();
                if c.usage.completion_tokens > 0 && generating > 0.0 {
                    let tps = f64::from(c.usage.completion_tokens) / generating;
                    f.tokens_per_sec = Some(ewma(f.tokens_per_sec, tps));
                }
            }
            if f.latencies_ms.len() == WINDOW {
                f.latencies_ms.pop_front();
            }
            f.latencies_ms.push_back(total_ms);
            (f.tokens_per_sec, f.ttft_ms, Some(p95(&f.latencies_ms)))
        };
        let (id, now) = (self.row_id.clone(), time::to_db(Utc::now()));
        if let Err(e) = self
            .db
            .write(move |c| llm_models::update_figures(c, &id, tps, ttft, p95, &now))
            .await
        {
            tracing::warn!(error = %e, "cannot store the model's figures");
        }
    }
}

fn ewma(previous: Option<f64>, sample: f64) -> f64 {
    previous.map_or(sample, |p| p + ALPHA * (sample - p))
}

fn p95(samples: &VecDeque<f64>) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_models_get_no_temperature_and_others_do() {
        assert!(!inferred("openai", "gpt-5-nano").supports_temperature);
        assert!(!inferred("openai", "o3-mini").supports_temperature);
        assert!(inferred("openai", "gpt-4o-mini").supports_temperature);
        assert!(inferred("ollama", "llama3.1:8b").supports_temperature);
        assert_eq!(inferred("ollama", "llama3.1:8b").context_window, None);
    }

    #[test]
    fn p95_of_a_window_and_moving_averages() {
        let samples: VecDeque<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p95(&samples), 95.0);
        assert_eq!(p95(&VecDeque::from(vec![7.0])), 7.0);
        assert_eq!(ewma(None, 10.0), 10.0);
        assert_eq!(ewma(Some(10.0), 20.0), 12.0);
    }

    async fn registry_over(row: ModelRow) -> (tempfile::TempDir, Db, ModelRegistry) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db")).unwrap();
        let stored = row.clone();
        db.write(move |c| llm_models::insert_model(c, &stored, "2026-11-30T10:00:00.000000Z"))
            .await
            .unwrap();
        let registry = ModelRegistry::init(db.clone(), &row.provider, &row.model)
            .await
            .unwrap();
        (dir, db, registry)
    }

    #[tokio::test]
    async fn a_row_cannot_switch_on_temperature_for_a_reasoning_model() {
        let row = ModelRow {
            supports_temperature: true,
            ..inferred("openai", "gpt-5-nano")
        };
        let (_dir, _db, registry) = registry_over(row).await;
        assert!(!registry.params().supports_temperature);
    }

    #[tokio::test]
    async fn the_stored_p95_survives_a_restart_and_one_fast_call() {
        let row = ModelRow {
            p95_latency_ms: Some(900.0),
            ..inferred("openai", "gpt-4o-mini")
        };
        let (_dir, db, registry) = registry_over(row).await;
        registry
            .record(&Completion {
                elapsed: std::time::Duration::from_millis(100),
                ..Default::default()
            })
            .await;
        let stored = db
            .read(|c| llm_models::find_model(c, "openai", "gpt-4o-mini"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.p95_latency_ms, Some(900.0));
    }
}
