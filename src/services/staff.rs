//! Events that are not patient messages: staff typing in a chat from the clinic's phone
//! (the bot steps back for a quiet period, or returns at once on the hand-back keyword), our
//! own sends echoed back by the gateway, and delivery receipts.

use super::chat_write::ChatWrite;
use super::turn::{Conversations, TurnError, TurnOutcome};
use crate::cache::ChatState;
use crate::db::messages::{self, NewMessage};
use crate::db::{DbError, conversations};
use crate::domain::message::{InboundMessage, StatusUpdate};
use crate::domain::time;

enum StaffStored {
    Echo,
    Stored {
        contact_id: String,
        session_id: String,
    },
}

impl Conversations {
    pub(super) async fn staff(&self, m: InboundMessage) -> Result<TurnOutcome, TurnError> {
        let recent = &self.ctx.sender.recent;
        let our_text = m
            .reply_address()
            .zip(m.text.as_deref())
            .is_some_and(|(to, text)| recent.contains_text(&to, text));
        if recent.contains(&m.provider_message_id) || our_text {
            return Ok(TurnOutcome::Echo);
        }
        let Some((mut chat, address)) = self.chat(&m).await? else {
            return Ok(TurnOutcome::Ignored("message without a chat address"));
        };
        let _in_order = self.ctx.locks.lock(&chat.key.lock_name()).await;
        self.load_chat(&mut chat, &m, &address).await?;
        let now = self.ctx.clock.now();
        let keyword = self.config.handback_keyword.trim();
        let handed_back = !keyword.is_empty()
            && m.text
                .as_deref()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(keyword));
        let until = (!handed_back)
            .then(|| now + chrono::Duration::minutes(self.config.human_quiet_minutes as i64));
        let body = m
            .text
            .as_deref()
            .map(|t| self.seal("whatsapp_messages", "body", &chat.ids.staff_message(), t));
        let (at, until_text) = (time::to_db(now), until.map(time::to_db));
        let sent_at = time::to_db(m.sent_at);
        let (pmid, kind) = (m.provider_message_id.clone(), m.kind.as_str());
        // Shared with the write, which may run twice (see `db::writer`).
        let chat = std::sync::Arc::new(chat);
        let writing = chat.clone();
        let stored = self
            .ctx
            .db
            .write(move |c| {
                store_staff(
                    c,
                    &writing,
                    &pmid,
                    kind,
                    body.as_deref(),
                    &sent_at,
                    until_text.as_deref(),
                    &at,
                )
            })
            .await?;
        let StaffStored::Stored {
            contact_id,
            session_id,
        } = stored
        else {
            self.ctx.metrics.events.inc(&[m.provider.as_str(), "echo"]);
            return Ok(TurnOutcome::Echo);
        };
        self.ctx.metrics.events.inc(&[m.provider.as_str(), "staff"]);
        let previous = chat.known();
        self.ctx.sessions.put(
            chat.key.clone(),
            ChatState {
                contact_id,
                session_id,
                language: previous.and_then(|s| s.language.clone()),
                human_until: until,
                last_inbound_at: previous.and_then(|s| s.last_inbound_at),
            },
        );
        if handed_back {
            tracing::info!("chat handed back to the bot by staff");
        }
        Ok(TurnOutcome::StaffMessage { handed_back })
    }

    pub(super) async fn receipt(&self, s: StatusUpdate) -> Result<TurnOutcome, TurnError> {
        let at = time::to_db(self.ctx.clock.now());
        let provider = s.provider.as_str();
        self.ctx.metrics.events.inc(&[provider, "status"]);
        let early = self.ctx.sender.early.clone();
        let changed = self
            .ctx
            .db
            .write(move |c| {
                let (instance, id) = (&s.instance, &s.provider_message_id);
                let status = s.status.as_str();
                let changed = messages::apply_receipt(
                    c,
                    provider,
                    instance,
                    id,
                    status,
                    s.error.as_deref(),
                    &at,
                )?;
                // No such message yet: the gateway may have sent this before our record of
                // the send reached the database (see `early_receipts`).
                if !changed && messages::find_by_provider_id(c, provider, instance, id)?.is_none() {
                    early.park(id, status, s.error.as_deref());
                }
                Ok::<_, DbError>(changed)
            })
            .await?;
        Ok(TurnOutcome::Receipt { changed })
    }
}

impl super::chat_write::TurnIds {
    /// A staff message reuses the id slot of an inbound message.
    pub fn staff_message(&self) -> String {
        self.inbound.clone()
    }
}

#[allow(clippy::too_many_arguments)]
fn store_staff(
    c: &crate::db::rusqlite::Connection,
    chat: &ChatWrite,
    provider_message_id: &str,
    kind: &str,
    body_sealed: Option<&[u8]>,
    sent_at: &str,
    human_until: Option<&str>,
    now: &str,
) -> Result<StaffStored, DbError> {
    let k = &chat.key;
    // Our own send, already stored under the id the gateway gave it.
    if messages::find_by_provider_id(c, k.provider, &k.instance, provider_message_id)?.is_some() {
        return Ok(StaffStored::Echo);
    }
    let (contact_id, session_id, _) = chat.ensure_chat(c, now, None, None)?;
    let inserted = messages::insert_message_if_new(
        c,
        &NewMessage {
            id: &chat.ids.staff_message(),
            clinic_id: &k.clinic_id,
            session_id: &session_id,
            contact_id: &contact_id,
            direction: "outbound",
            author: "staff",
            provider: k.provider,
            instance: &k.instance,
            provider_message_id: Some(provider_message_id),
            kind,
            body_sealed,
            language: None,
            intent: None,
            reply_to: None,
            status: "sent",
            sent_at: Some(sent_at),
        },
        now,
    )?;
    if !inserted {
        return Ok(StaffStored::Echo); // a redelivery of a staff message already handled
    }
    conversations::set_human_until(c, &session_id, human_until, now)?;
    if human_until.is_some() {
        crate::db::followups::withdraw_undelivered(
            c,
            &session_id,
            crate::db::followups::Withdraw::BotsOwn,
            "staff took over the chat",
            now,
        )?;
    }
    Ok(StaffStored::Stored {
        contact_id,
        session_id,
    })
}
