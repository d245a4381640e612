//! LLM answers for what the fast path cannot answer.
//!
//! The turn stores the patient's message (and acknowledges the webhook) first; the answer is
//! prepared here, off the request. One chat has at most one answer in preparation: messages
//! arriving meanwhile join it (the fast path too, so a chat's answers stay in order), and if
//! they arrive while the model is already working, the answer is prepared again with them
//! while the budget allows, so several quick messages get one answer. The reply, its metric
//! (model, tokens, time to first token, latency, remote calls) and outbox row are stored in
//! one transaction, then handed to the sender.

mod answer;
pub mod price_guard;
pub mod prompt;
pub mod registry;
pub mod tools;

use crate::cache::ChatKey;
use crate::clients::llm::LlmClient;
use crate::config::OpenAiConfig;
use crate::crypto::Aad;
use crate::db::DbError;
use crate::domain::message::Provider;
use crate::domain::time;
use crate::jobs::sender::OutgoingSend;
use crate::resilience::Breaker;
use crate::services::followups::{self, FollowupError, NewFollowup, Source};
use crate::services::reply_write::{BotReply, store_bot_reply};
use crate::services::shared::Shared;
use answer::Answer;
use registry::ModelRegistry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::task::TaskTracker;

/// A chat waiting for an LLM answer: what the latest message was, and where to reply.
#[derive(Debug, Clone)]
pub struct LlmJob {
    pub key: ChatKey,
    pub session_id: String,
    pub contact_id: String,
    pub provider: Provider,
    pub address: String,
    pub language: String,
    /// The latest patient message the answer is for.
    pub inbound_id: String,
    /// When the first message still waiting for an answer arrived.
    pub received: Instant,
}

struct Pending {
    job: LlmJob,
    /// Bumped by every message that joins; the worker compares before sending.
    generation: u64,
}

pub struct LlmAnswerer {
    ctx: Shared,
    config: OpenAiConfig,
    client: LlmClient,
    registry: Arc<ModelRegistry>,
    breaker: Breaker,
    pending: Mutex<HashMap<String, Pending>>,
    tasks: TaskTracker,
    nudge_template_past_window: bool,
}

/// Kept back from each turn's budget for storing the reply and sending it to the gateway.
const DELIVERY_RESERVE: Duration = Duration::from_millis(400);
/// Pauses between attempts to store an answer the database refused.
const DELIVER_PAUSES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

impl LlmAnswerer {
    /// `nudge_template_past_window`: a Cloud API template is configured for the model's
    /// follow-ups (kind `nudge`), so they may be scheduled past WhatsApp's 24-hour window.
    pub async fn new(
        ctx: Shared,
        config: OpenAiConfig,
        nudge_template_past_window: bool,
    ) -> Result<LlmAnswerer, DbError> {
        let registry = ModelRegistry::init(ctx.db.clone(), "openai", &config.model).await?;
        let budget = Duration::from_millis(config.budget_ms);
        let client = LlmClient::new(
            &config.base_url,
            config.api_key.clone(),
            Duration::from_secs(2),
            budget,
        );
        Ok(LlmAnswerer {
            breaker: Breaker::new("llm", 5, Duration::from_secs(30), ctx.clock.clone()),
            ctx,
            config,
            client,
            registry: Arc::new(registry),
            pending: Mutex::default(),
            tasks: TaskTracker::new(),
            nudge_template_past_window,
        })
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether an answer is being prepared for this chat (its new messages must join it).
    pub fn is_pending(&self, session_id: &str) -> bool {
        self.pending().contains_key(session_id)
    }

    /// Asks for an answer to the chat's latest messages. Call with the chat's lock held,
    /// after the message is committed.
    pub fn enqueue(self: &Arc<Self>, job: LlmJob) {
        let session = job.session_id.clone();
        {
            let mut pending = self.pending();
            if let Some(p) = pending.get_mut(&session) {
                p.generation += 1;
                p.job.inbound_id = job.inbound_id;
                p.job.language = job.language;
                return;
            }
            pending.insert(session.clone(), Pending { job, generation: 0 });
        }
        let me = self.clone();
        self.tasks.spawn(async move { me.work(session).await });
    }

    fn snapshot(&self, session: &str) -> Option<(LlmJob, u64)> {
        self.pending()
            .get(session)
            .map(|p| (p.job.clone(), p.generation))
    }

    async fn work(self: Arc<Self>, session: String) {
        tokio::time::sleep(Duration::from_millis(self.config.gather_ms)).await;
        // The budget is the patient's wait until the reply is on its way, so the model gets
        // it less the time to store the answer (or the fallback) and hand it to the sender.
        let budget = Duration::from_millis(self.config.budget_ms).saturating_sub(DELIVERY_RESERVE);
        while let Some((job, generation)) = self.snapshot(&session) {
            let deadline = job.received + budget;
            let answer = self.answer(&job, deadline).await;
            let _in_order = self.ctx.locks.lock(&job.key.lock_name()).await;
            let (latest, now_generation) = match self.snapshot(&session) {
                Some(s) => s,
                None => return,
            };
            let more_arrived = now_generation != generation;
            // Newer messages came while the model worked: prepare it again with them, if the
            // budget still allows a real attempt.
            if more_arrived && Instant::now() + Duration::from_millis(1500) < deadline {
                continue;
            }
            self.deliver_retrying(&latest, answer).await;
            let mut pending = self.pending();
            match pending.get_mut(&session) {
                Some(p) if p.generation != generation && more_arrived => {
                    // The answer covered the older messages; the newer ones get their own.
                    p.job.received = Instant::now();
                    p.generation = generation;
                }
                _ => {
                    pending.remove(&session);
                    return;
                }
            }
        }
    }

    /// Stores the answer with its metric and outbox row, and hands it to the sender. Called
    /// with the chat's lock held. If staff took the chat over meanwhile, nothing is sent.
    /// Stores and queues the answer, trying again a few times if the database refuses the
    /// write (the patient's message is committed; dropping its answer would leave silence).
    /// Still failing after that, the chat is answered by the next start's recovery.
    async fn deliver_retrying(&self, job: &LlmJob, answer: Answer) {
        for (attempt, pause) in DELIVER_PAUSES.iter().map(Some).chain([None]).enumerate() {
            let Err(e) = self.deliver(job, answer.clone()).await else {
                return;
            };
            let Some(pause) = pause else {
                tracing::error!(error = %e, attempts = attempt + 1,
                    "cannot store the LLM answer; the next start answers the chat");
                return;
            };
            tracing::warn!(error = %e, "cannot store the LLM answer; trying again");
            tokio::time::sleep(*pause).await;
        }
    }

    async fn deliver(&self, job: &LlmJob, answer: Answer) -> Result<(), DbError> {
        let now = self.ctx.clock.now();
        if let Ok(crate::cache::ChatLookup::Known(state)) = self.ctx.sessions.get(&job.key).await
            && state.human_until.is_some_and(|t| t > now)
        {
            return Ok(());
        }
        let ids = crate::services::chat_write::TurnIds::new();
        let body = self.ctx.keys.phi.seal_str(
            &answer.text,
            Aad::new("whatsapp_messages", "body", &ids.reply),
        );
        let (j, a, i) = (job.clone(), answer, ids.clone());
        let at = time::to_db(now);
        let route = a.route;
        let keys = self.ctx.keys.clone();
        let us = self
            .ctx
            .db
            .write(move |c| {
                for f in &a.effects.followups {
                    let new = NewFollowup {
                        text: Some(f.message.clone()),
                        ..NewFollowup::new(&j.session_id, "nudge", f.due_at, Source::Llm)
                    };
                    match followups::schedule(c, &keys.phi, &new, now) {
                        Ok(_) => {}
                        Err(FollowupError::Db(e)) => return Err(e),
                        Err(e) => {
                            tracing::warn!(error = %e, "the LLM's follow-up was not scheduled")
                        }
                    }
                }
                store_bot_reply(
                    c,
                    &BotReply {
                        reply_id: &i.reply,
                        metric_id: &i.metric,
                        outbox_id: &i.outbox,
                        handoff_id: &i.handoff,
                        clinic_id: &j.key.clinic_id,
                        session_id: &j.session_id,
                        contact_id: &j.contact_id,
                        provider: j.provider.as_str(),
                        instance: &j.key.instance,
                        reply_to: &j.inbound_id,
                        body_sealed: &body,
                        language: &j.language,
                        intent: None,
                        route: a.route,
                        handoff: a.handoff,
                        received: j.received,
                        remote_calls_before_send: a.calls,
                        llm: a.figures.as_ref(),
                    },
                    &at,
                )
                .map(|queued| (queued, a.text.clone()))
            })
            .await;
        let (queued, text) = us?;
        self.ctx.sender.enqueue(OutgoingSend {
            outbox_id: ids.outbox,
            message_id: queued.id,
            session_id: job.session_id.clone(),
            provider: job.provider,
            instance: job.key.instance.clone(),
            to: job.address.clone(),
            text,
            attempts: 0,
            not_before: None,
            not_after: None,
            template: None,
            quiet: None,
        });
        self.ctx.metrics.replies.inc(&[route]);
        self.ctx
            .metrics
            .turn_latency
            .observe_us(queued.received_to_queued_us.max(0) as u64);
        Ok(())
    }

    /// Waits for answers in preparation (they are bounded by the budget) before shutdown.
    pub async fn finish(&self, wait: Duration) {
        self.tasks.close();
        let _ = tokio::time::timeout(wait, self.tasks.wait()).await;
    }
}

/// How far back a start-up looks for chats left unanswered by a stop.
const RECOVER_WITHIN: chrono::Duration = chrono::Duration::minutes(15);

impl LlmAnswerer {
    /// Answers the chats whose answer was being prepared when the process last stopped.
    pub async fn recover_unanswered(self: &Arc<Self>) {
        let now = self.ctx.clock.now();
        let (since, at) = (time::to_db(now - RECOVER_WITHIN), time::to_db(now));
        let chats = match self
            .ctx
            .db
            .read(move |c| crate::db::conversations::list_unanswered(c, &since, &at))
            .await
        {
            Ok(chats) => chats,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for unanswered chats");
                return;
            }
        };
        for chat in chats {
            let address = self.ctx.keys.phi.open_string(
                &chat.chat_sealed,
                Aad::new("conversation_sessions", "chat", &chat.session_id),
            );
            let (Ok(address), Some(provider)) = (address, Provider::parse(&chat.provider)) else {
                continue;
            };
            let language = chat.language.unwrap_or_else(|| {
                self.ctx
                    .clinics
                    .get(&chat.clinic_id)
                    .map_or_else(|| "en".into(), |c| c.facts.default_language.clone())
            });
            self.enqueue(LlmJob {
                key: ChatKey {
                    clinic_id: chat.clinic_id,
                    chat_index: chat.phone_index,
                    provider: provider.as_str(),
                    instance: chat.instance,
                },
                session_id: chat.session_id,
                contact_id: chat.contact_id,
                provider,
                address,
                language,
                inbound_id: chat.inbound_id,
                received: Instant::now(),
            });
        }
    }
}
