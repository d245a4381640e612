//! A conversation turn: one gateway event in, at most one reply out.
//!
//! For a patient's message: resolve the clinic (cached), take the chat's turn lock (messages of
//! one chat are answered in order), look up the chat (cached, one lookup per turn), decide the
//! reply in memory (router + price cache: no I/O), then store the message, the reply, its
//! metric, any handoff and the send-outbox row in one transaction. Only after that commit is
//! the webhook acknowledged and the reply handed to the sender.

use super::chat_write::{
    ChatWrite, InboundWrite, NewChat, ReplyWrite, Stored, TurnIds, store_turn,
};
use crate::cache::{ChatKey, ChatState};
use crate::config::ConversationConfig;
use crate::crypto::Aad;
use crate::db::{DbError, conversations};
use crate::domain::message::{InboundEvent, InboundMessage};
use crate::domain::time;
use crate::jobs::sender::OutgoingSend;
use crate::router::HandoffReason;
use crate::services::llm::{LlmAnswerer, LlmJob};
use crate::services::shared::Shared;
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("chat lookup failed: {0}")]
    Lookup(Arc<DbError>),
}

impl TurnError {
    /// Retrying later can succeed; the webhook answers 5xx so the gateway redelivers.
    pub fn is_transient(&self) -> bool {
        match self {
            TurnError::Db(e) => e.is_transient(),
            TurnError::Lookup(e) => e.is_transient(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnOutcome {
    Replied {
        inbound_id: String,
        reply_id: String,
        route: &'static str,
    },
    /// Stored, but staff own the chat: the bot stays silent.
    Silent {
        inbound_id: String,
    },
    Duplicate,
    /// Staff typed in the chat: the bot steps back (or, with the hand-back keyword, returns).
    StaffMessage {
        handed_back: bool,
    },
    /// Our own send coming back from the gateway.
    Echo,
    Receipt {
        changed: bool,
    },
    Ignored(&'static str),
    /// Stored and acknowledged; the LLM answer is being prepared.
    Deferred {
        inbound_id: String,
    },
}

pub struct Conversations {
    pub(super) ctx: Shared,
    pub(super) config: ConversationConfig,
    /// `None` when no LLM is configured: the fast path's fallback is sent at once instead.
    pub(super) llm: Option<Arc<LlmAnswerer>>,
}

/// The reply decided for a message, before anything is stored.
struct Planned {
    text: String,
    language: String,
    intent: Option<&'static str>,
    route: &'static str,
    handoff: Option<(&'static str, bool)>,
    /// The fast path has no answer: ask the LLM (when there is one).
    to_llm: bool,
}

impl Conversations {
    pub fn new(ctx: Shared, config: ConversationConfig, llm: Option<Arc<LlmAnswerer>>) -> Self {
        Self { ctx, config, llm }
    }

    /// Handles one event from a gateway. `received` is when its webhook arrived.
    pub async fn handle(
        &self,
        event: InboundEvent,
        received: Instant,
    ) -> Result<TurnOutcome, TurnError> {
        match event {
            InboundEvent::Patient(m) => {
                crate::clients::counting_remote_calls(self.patient(m, received)).await
            }
            InboundEvent::Staff(m) => self.staff(m).await,
            InboundEvent::Status(s) => self.receipt(s).await,
            InboundEvent::Ignored(reason) => Ok(TurnOutcome::Ignored(reason)),
        }
    }

    pub(super) fn seal(&self, table: &str, column: &str, id: &str, text: &str) -> Vec<u8> {
        self.ctx
            .keys
            .phi
            .seal_str(text, Aad::new(table, column, id))
    }

    /// The chat's identity and, on first contact, its sealed contact and session fields.
    pub(super) async fn chat(
        &self,
        m: &InboundMessage,
    ) -> Result<Option<(ChatWrite, String)>, TurnError> {
        let Some(address) = m.reply_address() else {
            return Ok(None);
        };
        let clinic_id = self.ctx.clinics.resolve(m.provider, &m.instance).await;
        let blind = &self.ctx.keys.blind;
        let lid_index = m.lid.as_deref().map(|lid| blind.index("lid", lid));
        let chat_index = match (&m.phone, &lid_index) {
            (Some(p), _) => blind.phone(p.digits()),
            // Named by its @lid alone: the chat of the contact known by that @lid, if any.
            (None, Some(lid)) => {
                let (clinic, by_lid) = (clinic_id.clone(), lid.clone());
                self.ctx
                    .db
                    .read(move |c| conversations::phone_index_by_lid(c, &clinic, &by_lid))
                    .await
                    .map_err(|e| TurnError::Lookup(Arc::new(e)))?
                    .unwrap_or_else(|| lid.clone())
            }
            (None, None) => blind.index("lid", &address),
        };
        let key = ChatKey {
            clinic_id,
            chat_index,
            provider: m.provider.as_str(),
            instance: m.instance.clone(),
        };
        Ok(Some((
            ChatWrite {
                key,
                ids: TurnIds::new(),
                lookup: crate::cache::ChatLookup::New,
                new_chat: None,
                known_contact_lid: None,
                lid_index,
            },
            address,
        )))
    }

    /// Fills in what the cache knows about the chat, or the sealed fields to create it.
    pub(super) async fn load_chat(
        &self,
        chat: &mut ChatWrite,
        m: &InboundMessage,
        address: &str,
    ) -> Result<(), TurnError> {
        chat.lookup = self
            .ctx
            .sessions
            .get(&chat.key)
            .await
            .map_err(TurnError::Lookup)?;
        chat.known_contact_lid = chat
            .lookup
            .existing_contact_id()
            .zip(m.lid.as_deref())
            .map(|(contact, lid)| self.seal("contacts", "lid", contact, lid));
        if chat.known().is_none() {
            let ids = &chat.ids;
            let phone = m.phone.as_ref().map_or(address, |p| p.digits());
            chat.new_chat = Some(NewChat {
                phone_sealed: self.seal("contacts", "phone", &ids.contact, phone),
                name_sealed: m
                    .name
                    .as_deref()
                    .map(|n| self.seal("contacts", "name", &ids.contact, n)),
                lid_sealed: m
                    .lid
                    .as_deref()
                    .map(|l| self.seal("contacts", "lid", &ids.contact, l)),
                chat_sealed: self.seal("conversation_sessions", "chat", &ids.session, address),
            });
        }
        Ok(())
    }

    async fn patient(
        &self,
        m: InboundMessage,
        received: Instant,
    ) -> Result<TurnOutcome, TurnError> {
        let Some((mut chat, address)) = self.chat(&m).await? else {
            return Ok(TurnOutcome::Ignored("message without a chat address"));
        };
        let _in_order = self.ctx.locks.lock(&chat.key.lock_name()).await;
        self.load_chat(&mut chat, &m, &address).await?;
        let now = self.ctx.clock.now();
        let silent = chat
            .known()
            .and_then(|s| s.human_until)
            .is_some_and(|until| until > now);
        let planned = (!silent).then(|| self.plan(&m, chat.known(), &chat.key.clinic_id, now));
        // While an LLM answer is being prepared for this chat, its new messages join it, so
        // the chat's answers stay in order.
        let llm_pending = match (&self.llm, chat.known()) {
            (Some(llm), Some(state)) => llm.is_pending(&state.session_id),
            _ => false,
        };
        // A fast-path answer that hands the chat to staff (an emergency above all, a booking
        // wish, "a human please") goes out at once with its handoff, even ahead of an answer
        // still being prepared: joining it would leave the emergency text and the urgent
        // handoff to whatever the model (or its fallback) does.
        let defer = self.llm.is_some()
            && planned
                .as_ref()
                .is_some_and(|p| p.to_llm || (llm_pending && p.handoff.is_none()));

        let ids = chat.ids.clone();
        let inbound = InboundWrite {
            provider_message_id: m.provider_message_id.clone(),
            kind: m.kind.as_str(),
            body_sealed: m
                .text
                .as_deref()
                .map(|t| self.seal("whatsapp_messages", "body", &ids.inbound, t)),
            language: planned.as_ref().map(|p| p.language.clone()),
            intent: planned.as_ref().and_then(|p| p.intent),
            sent_at: time::to_db(m.sent_at),
        };
        let reply = planned.as_ref().filter(|_| !defer).map(|p| ReplyWrite {
            body_sealed: self.seal("whatsapp_messages", "body", &ids.reply, &p.text),
            language: p.language.clone(),
            intent: p.intent,
            route: p.route,
            handoff: p.handoff,
            // Counted, not assumed: the fast path is meant to make none, and this shows it.
            remote_calls_before_send: crate::clients::remote_calls_so_far().into(),
            received,
        });
        let at = time::to_db(now);
        // Shared with the write, which may run twice (see `db::writer`).
        let chat = Arc::new(chat);
        let writing = chat.clone();
        let stored = self
            .ctx
            .db
            .write(move |c| store_turn(c, &writing, &inbound, reply.as_ref(), &at))
            .await?;

        let Stored::Stored {
            contact_id,
            session_id,
            reply: queued,
        } = stored
        else {
            self.ctx
                .metrics
                .events
                .inc(&[m.provider.as_str(), "duplicate"]);
            return Ok(TurnOutcome::Duplicate);
        };
        self.ctx
            .metrics
            .events
            .inc(&[m.provider.as_str(), "patient"]);
        let previous = chat.known();
        self.ctx.sessions.put(
            chat.key.clone(),
            ChatState {
                contact_id,
                session_id: session_id.clone(),
                language: planned
                    .as_ref()
                    .map(|p| p.language.clone())
                    .or_else(|| previous.and_then(|s| s.language.clone())),
                human_until: previous.and_then(|s| s.human_until),
                last_inbound_at: Some(m.sent_at),
            },
        );
        let Some(planned) = planned else {
            return Ok(TurnOutcome::Silent {
                inbound_id: ids.inbound,
            });
        };
        if let (true, Some(llm)) = (defer, &self.llm) {
            llm.enqueue(LlmJob {
                key: chat.key.clone(),
                session_id,
                contact_id: chat
                    .known()
                    .map_or_else(|| chat.ids.contact.clone(), |s| s.contact_id.clone()),
                provider: m.provider,
                address,
                language: planned.language,
                inbound_id: ids.inbound.clone(),
                received,
            });
            return Ok(TurnOutcome::Deferred {
                inbound_id: ids.inbound,
            });
        }
        let Some(queued) = queued else {
            return Err(TurnError::Db(DbError::Corrupt(
                "a planned reply was not stored".into(),
            )));
        };
        self.ctx.sender.enqueue(OutgoingSend {
            outbox_id: ids.outbox.clone(),
            message_id: queued.id.clone(),
            session_id,
            provider: m.provider,
            instance: m.instance.clone(),
            to: address,
            text: planned.text,
            template: None,
            attempts: 0,
            not_before: None,
            not_after: None,
            quiet: None,
        });
        self.ctx.metrics.replies.inc(&[planned.route]);
        self.ctx
            .metrics
            .turn_latency
            .observe_us(queued.received_to_queued_us.max(0) as u64);
        Ok(TurnOutcome::Replied {
            inbound_id: ids.inbound,
            reply_id: queued.id,
            route: planned.route,
        })
    }

    /// Decides the reply: the fast path from local data, or the polite fallback with a handoff
    /// when the fast path has no answer. Pure CPU: no I/O happens here.
    fn plan(
        &self,
        m: &InboundMessage,
        state: Option<&ChatState>,
        clinic_id: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Planned {
        let Some(clinic) = self.ctx.clinics.get(clinic_id) else {
            let language = state
                .and_then(|s| s.language.clone())
                .unwrap_or_else(|| "en".into());
            return Planned {
                text: self.ctx.router.template(&language, "fallback", &[]),
                language,
                intent: None,
                route: "fallback",
                handoff: Some(("unanswered", false)),
                to_llm: false,
            };
        };
        let facts = &clinic.facts;
        let session_language = state.and_then(|s| s.language.as_deref());
        let Some(text) = m.text.as_deref() else {
            let language = session_language
                .unwrap_or(&facts.default_language)
                .to_owned();
            return Planned {
                text: self.ctx.router.template(&language, "media", &[]),
                language,
                intent: None,
                route: "media",
                handoff: Some(("media", false)),
                to_llm: false,
            };
        };
        let prices = self.ctx.prices.clinic(clinic_id);
        let understood = self.ctx.router.understand(
            text,
            session_language,
            &facts.default_language,
            &prices.index,
        );
        let reply = self
            .ctx
            .router
            .reply(&understood, facts, &prices.index, now);
        let intent = understood.intents.first().map(|i| i.name());
        if reply.needs_llm {
            return Planned {
                text: reply.text,
                language: understood.language,
                intent,
                route: "fallback",
                handoff: Some(("unanswered", false)),
                to_llm: true,
            };
        }
        Planned {
            text: reply.text,
            language: understood.language,
            intent,
            route: reply.route.as_str(),
            handoff: reply.handoff.map(|h| (handoff_reason(h.reason), h.urgent)),
            to_llm: false,
        }
    }
}

/// The `handoffs.reason` stored for each kind of handoff the router asks for.
fn handoff_reason(reason: HandoffReason) -> &'static str {
    match reason {
        HandoffReason::Booking => "booking",
        HandoffReason::Human => "human",
        HandoffReason::Emergency => "emergency",
    }
}
