//! Preparing one LLM answer for a chat within its time budget: the chat's recent turns
//! (decrypted in memory only), the prompt, the model with its tools, the invented-price
//! guard. Any failure (timeout, 5xx, 429 beyond the budget, network, open breaker, refusal)
//! becomes the polite fallback in the patient's language with a handoff: never silence.

use super::prompt::{self, Author, Turn};
use super::tools::{self, Effects, ToolContext};
use super::{LlmAnswerer, LlmJob, price_guard};
use crate::clients::llm::{Completion, LlmError, Settings};
use crate::crypto::Aad;
use crate::db::messages;
use crate::domain::message::Provider;
use crate::resilience::Admission;
use crate::router::{Intent, LanguageSource, PriceMatch, Understanding};
use crate::services::reply_write::LlmFigures;
use std::time::{Duration, Instant};

/// The reply decided for a chat, before it is stored.
#[derive(Clone)]
pub struct Answer {
    pub text: String,
    pub route: &'static str,
    pub handoff: Option<(&'static str, bool)>,
    pub effects: Effects,
    pub figures: Option<LlmFigures>,
    /// LLM requests made before this reply could be sent.
    pub calls: i64,
}

/// Below this much budget left, another request is not worth starting.
const MIN_REQUEST: Duration = Duration::from_millis(250);

impl LlmAnswerer {
    pub(super) async fn answer(&self, job: &LlmJob, deadline: Instant) -> Answer {
        let mut calls = 0;
        if !self.config.is_enabled() {
            return self.fallback(job, "the LLM is not configured", calls);
        }
        let admission = self.breaker.admit();
        if let Admission::Wait(_) = admission {
            return self.fallback(job, "the LLM circuit breaker is open", calls);
        }
        // A probe that ends without a verdict on the LLM's health (the request refused as
        // malformed, no history, cancelled) is handed back; otherwise the breaker would stay
        // half-open and every later question would get the fallback until a restart.
        let _probe = self.breaker.hold(admission);
        let history = match self.history(job).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the chat history for the LLM");
                return self.fallback(job, "history unavailable", calls);
            }
        };
        let Some(clinic) = self.ctx.clinics.get(&job.key.clinic_id) else {
            return self.fallback(job, "unknown clinic", calls);
        };
        let prices = self.ctx.prices.clinic(&job.key.clinic_id);
        let services: Vec<String> = prices.services.iter().map(|s| s.name.clone()).collect();
        let language_name = self
            .ctx
            .router
            .language_name(&job.language)
            .unwrap_or("the patient's language")
            .to_owned();
        let now = self.ctx.clock.now();
        let local = now
            .with_timezone(&clinic.facts.timezone)
            .format("%Y-%m-%d %H:%M (%A)")
            .to_string();
        let mut conversation =
            prompt::messages(&clinic.facts, &services, &language_name, &local, &history);
        let followup_hours = tools::followup_hours(
            job.provider == Provider::Cloud && self.nudge_template_past_window,
        );
        let specs = tools::specs(followup_hours);
        let settings = Settings {
            model: self.registry.params(),
            max_completion_tokens: self.config.max_completion_tokens,
            temperature: Some(self.config.temperature),
        };
        let ctx = ToolContext {
            router: &self.ctx.router,
            prices: &prices,
            clinic: &clinic.facts,
            language: &job.language,
            now,
            followup_hours,
        };
        let mut effects = Effects::default();
        let result: Result<Completion, LlmError> = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < MIN_REQUEST {
                break Err(LlmError::Timeout);
            }
            calls += 1;
            let mut execute =
                |c: &crate::clients::llm::ToolCall| tools::execute(&ctx, &mut effects, c);
            let call = self.client.generate_with_tools(
                &settings,
                &mut conversation,
                &specs,
                self.config.max_tool_rounds,
                &mut execute,
            );
            match tokio::time::timeout(left, call).await {
                Err(_) => break Err(LlmError::Timeout),
                Ok(Err(LlmError::RateLimited {
                    retry_after: Some(wait),
                })) if Instant::now() + wait + MIN_REQUEST < deadline => {
                    tokio::time::sleep(wait).await;
                }
                Ok(other) => break other,
            }
        };
        let completion = match result {
            Ok(c) => {
                self.breaker.success();
                calls += i64::from(c.calls.saturating_sub(1));
                c
            }
            Err(e) => {
                match &e {
                    LlmError::Refused { .. } | LlmError::Malformed(_) => {
                        tracing::error!(error = %e, "the LLM refused our request; check OPENAI_MODEL and OPENAI_BASE_URL");
                    }
                    _ => {
                        self.breaker.failure();
                        tracing::warn!(error = %e, "no LLM answer; sending the fallback");
                    }
                }
                return self.fallback(job, "no LLM answer", calls);
            }
        };
        // The figures are bookkeeping: stored off the patient's critical path.
        let (registry, measured) = (self.registry.clone(), completion.clone());
        self.tasks
            .spawn(async move { registry.record(&measured).await });
        let figures = LlmFigures {
            model: self.registry.params().name.clone(),
            tokens_in: i64::from(completion.usage.prompt_tokens),
            tokens_out: i64::from(completion.usage.completion_tokens),
            ttft_ms: completion.first_token.map(|t| t.as_millis() as i64),
            total_ms: completion.elapsed.as_millis() as i64,
        };
        let text = completion.content.unwrap_or_default().trim().to_owned();
        if text.is_empty() {
            return Answer {
                figures: Some(figures),
                ..self.fallback(job, "empty LLM answer", calls)
            };
        }
        let listed: Vec<i64> = prices.services.iter().map(|s| s.price_minor).collect();
        if price_guard::invents_a_price(&text, &listed) {
            tracing::warn!(
                "the LLM quoted a price that is not on the list; sending the price list instead"
            );
            let u = Understanding {
                language: job.language.clone(),
                language_source: LanguageSource::Session,
                intents: vec![Intent::PriceList],
                price: PriceMatch::None,
            };
            let list = self.ctx.router.reply(&u, &clinic.facts, &prices.index, now);
            return Answer {
                text: list.text,
                route: "llm_price_list",
                handoff: effects.handoff,
                effects,
                figures: Some(figures),
                calls,
            };
        }
        Answer {
            text,
            route: "llm",
            handoff: effects.handoff,
            effects,
            figures: Some(figures),
            calls,
        }
    }

    fn fallback(&self, job: &LlmJob, why: &'static str, calls: i64) -> Answer {
        tracing::debug!(why, "LLM fallback");
        Answer {
            text: self.ctx.router.template(&job.language, "fallback", &[]),
            route: "llm_fallback",
            handoff: Some(("llm_unavailable", false)),
            effects: Effects::default(),
            figures: None,
            calls,
        }
    }

    /// The chat's recent turns, oldest first, decrypted in memory only.
    async fn history(&self, job: &LlmJob) -> Result<Vec<Turn>, crate::db::DbError> {
        let (session, limit) = (job.session_id.clone(), self.config.history_messages);
        let rows = self
            .ctx
            .db
            .read(move |c| messages::list_session_messages(c, &session, limit))
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| {
                let text = match &m.body_sealed {
                    Some(sealed) => self
                        .ctx
                        .keys
                        .phi
                        .open_string(sealed, Aad::new("whatsapp_messages", "body", &m.id))
                        .ok()?,
                    None => format!("[{} without text]", m.kind),
                };
                let author = if m.direction == "inbound" {
                    Author::Patient
                } else {
                    Author::Clinic
                };
                Some(Turn { author, text })
            })
            .collect())
    }
}
