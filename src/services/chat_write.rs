//! What a turn writes, as one transaction: the chat's contact and session (created on first
//! contact), the inbound message (deduplicated), and, when there is one, the reply with its
//! metric, handoff and send-outbox row. PHI arrives here already sealed; nothing here decides.

use super::reply_write::{BotReply, QueuedReply, store_bot_reply};
use crate::cache::{ChatKey, ChatLookup, ChatState};
use crate::db::conversations::{self, NewContact, NewSession};
use crate::db::messages::{self, NewMessage};
use crate::db::{DbError, rusqlite::Connection};
use std::time::Instant;

/// Ids generated before the write, so every row's id (and the AAD of its sealed fields) is
/// known up front and returned to the caller as stored.
#[derive(Debug, Clone)]
pub struct TurnIds {
    pub contact: String,
    pub session: String,
    pub inbound: String,
    pub reply: String,
    pub metric: String,
    pub outbox: String,
    pub handoff: String,
}

impl TurnIds {
    pub fn new() -> Self {
        let id = || uuid::Uuid::now_v7().to_string();
        Self {
            contact: id(),
            session: id(),
            inbound: id(),
            reply: id(),
            metric: id(),
            outbox: id(),
            handoff: id(),
        }
    }
}

impl Default for TurnIds {
    fn default() -> Self {
        Self::new()
    }
}

/// A chat not seen before: its sealed contact and session fields.
pub struct NewChat {
    pub phone_sealed: Vec<u8>,
    pub name_sealed: Option<Vec<u8>>,
    pub lid_sealed: Option<Vec<u8>>,
    pub chat_sealed: Vec<u8>,
}

pub struct ChatWrite {
    pub key: ChatKey,
    pub ids: TurnIds,
    /// What the turn found out about the chat, under the chat's lock.
    pub lookup: ChatLookup,
    pub new_chat: Option<NewChat>,
    /// The message's @lid sealed for a contact that exists already: kept if it has none.
    pub known_contact_lid: Option<Vec<u8>>,
    /// Blind index of the message's @lid, if it named one.
    pub lid_index: Option<String>,
}

impl ChatWrite {
    pub fn known(&self) -> Option<&ChatState> {
        self.lookup.state()
    }

    /// The contact and open session of the chat, creating what is missing; the third value
    /// says whether the session was created (with `language` and `last_inbound_at` set).
    ///
    /// No lookups happen here: the turn looked the chat up while holding the chat's lock,
    /// and only this process writes chats, so what it found still holds. (Were it ever
    /// wrong, the UNIQUE constraints refuse the duplicate and the gateway retries.)
    pub fn ensure_chat(
        &self,
        c: &Connection,
        now: &str,
        language: Option<&str>,
        last_inbound_at: Option<&str>,
    ) -> Result<(String, String, bool), DbError> {
        let k = &self.key;
        let new = self
            .new_chat
            .as_ref()
            .ok_or_else(|| DbError::Corrupt("a new chat without its sealed contact data".into()));
        if let (Some(contact_id), Some(lid), Some(lid_index)) = (
            self.lookup.existing_contact_id(),
            &self.known_contact_lid,
            &self.lid_index,
        ) {
            conversations::set_contact_lid_if_missing(c, contact_id, lid, lid_index, now)?;
        }
        let contact_id = match &self.lookup {
            ChatLookup::Known(known) => {
                return Ok((known.contact_id.clone(), known.session_id.clone(), false));
            }
            ChatLookup::ContactOnly { contact_id } => contact_id.clone(),
            ChatLookup::New => {
                let new = new.as_ref().map_err(|e| DbError::Corrupt(e.to_string()))?;
                conversations::insert_contact(
                    c,
                    &NewContact {
                        id: &self.ids.contact,
                        clinic_id: &k.clinic_id,
                        phone_index: &k.chat_index,
                        phone_sealed: &new.phone_sealed,
                        name_sealed: new.name_sealed.as_deref(),
                        lid_sealed: new.lid_sealed.as_deref(),
                        lid_index: self.lid_index.as_deref(),
                    },
                    now,
                )?;
                self.ids.contact.clone()
            }
        };
        conversations::insert_session(
            c,
            &NewSession {
                id: &self.ids.session,
                clinic_id: &k.clinic_id,
                contact_id: &contact_id,
                provider: k.provider,
                instance: &k.instance,
                chat_sealed: &new?.chat_sealed,
                language,
                last_inbound_at,
            },
            now,
        )?;
        Ok((contact_id, self.ids.session.clone(), true))
    }
}

pub struct InboundWrite {
    pub provider_message_id: String,
    pub kind: &'static str,
    pub body_sealed: Option<Vec<u8>>,
    pub language: Option<String>,
    pub intent: Option<&'static str>,
    pub sent_at: String,
}

pub struct ReplyWrite {
    pub body_sealed: Vec<u8>,
    pub language: String,
    pub intent: Option<&'static str>,
    pub route: &'static str,
    pub handoff: Option<(&'static str, bool)>,
    pub remote_calls_before_send: i64,
    /// When the webhook arrived; the metric records the time from here to the queue.
    pub received: Instant,
}

#[derive(Debug)]
pub enum Stored {
    Duplicate,
    Stored {
        contact_id: String,
        session_id: String,
        /// The reply stored with the message, if the turn answered at once.
        reply: Option<QueuedReply>,
    },
}

/// Stores a patient's message and, if given, the reply: all or nothing.
pub fn store_turn(
    c: &Connection,
    chat: &ChatWrite,
    inbound: &InboundWrite,
    reply: Option<&ReplyWrite>,
    now: &str,
) -> Result<Stored, DbError> {
    let (contact_id, session_id, created) =
        chat.ensure_chat(c, now, inbound.language.as_deref(), Some(&inbound.sent_at))?;
    let k = &chat.key;
    let ids = &chat.ids;
    let inserted = messages::insert_message_if_new(
        c,
        &NewMessage {
            id: &ids.inbound,
            clinic_id: &k.clinic_id,
            session_id: &session_id,
            contact_id: &contact_id,
            direction: "inbound",
            author: "patient",
            provider: k.provider,
            instance: &k.instance,
            provider_message_id: Some(&inbound.provider_message_id),
            kind: inbound.kind,
            body_sealed: inbound.body_sealed.as_deref(),
            language: inbound.language.as_deref(),
            intent: inbound.intent,
            reply_to: None,
            status: "received",
            sent_at: Some(&inbound.sent_at),
        },
        now,
    )?;
    if !inserted {
        return Ok(Stored::Duplicate);
    }
    if !created {
        conversations::touch_inbound(
            c,
            &session_id,
            inbound.language.as_deref(),
            &inbound.sent_at,
            now,
        )?;
    }
    let route = reply.map(|r| r.route);
    super::followups::after_patient_turn(c, &k.clinic_id, &session_id, inbound.intent, route, now)?;
    let Some(reply) = reply else {
        return Ok(Stored::Stored {
            contact_id,
            session_id,
            reply: None,
        });
    };
    let queued = store_bot_reply(
        c,
        &BotReply {
            reply_id: &ids.reply,
            metric_id: &ids.metric,
            outbox_id: &ids.outbox,
            handoff_id: &ids.handoff,
            clinic_id: &k.clinic_id,
            session_id: &session_id,
            contact_id: &contact_id,
            provider: k.provider,
            instance: &k.instance,
            reply_to: &ids.inbound,
            body_sealed: &reply.body_sealed,
            language: &reply.language,
            intent: reply.intent,
            route: reply.route,
            handoff: reply.handoff,
            received: reply.received,
            remote_calls_before_send: reply.remote_calls_before_send,
            llm: None,
        },
        now,
    )?;
    Ok(Stored::Stored {
        contact_id,
        session_id,
        reply: Some(queued),
    })
}

/// Gives contacts stored before migration 6 the blind index of their @lid, so a message
/// naming the chat by its @lid alone (staff typing on the phone) finds their chat from the
/// first start of this release, not only after the patient writes again. Once done (every
/// later write stores both), a mark in `meta` spares the next starts the scan; a database
/// restored from an older backup has no mark and is indexed again.
pub fn index_stored_lids(
    c: &Connection,
    keys: &crate::crypto::keys::Keys,
    now: &str,
) -> Result<usize, DbError> {
    const DONE: &str = "contacts_lid_indexed";
    if crate::db::meta::find(c, DONE)?.is_some() {
        return Ok(0);
    }
    let mut indexed = 0;
    for (contact_id, sealed) in conversations::contacts_without_lid_index(c)? {
        let aad = crate::crypto::Aad::new("contacts", "lid", &contact_id);
        let Ok(lid) = keys.phi.open_string(&sealed, aad) else {
            // Sealed under something else: left as it is, and said once per start.
            tracing::warn!(contact = %contact_id, "cannot open a contact's @lid to index it");
            continue;
        };
        conversations::set_contact_lid_index(c, &contact_id, &keys.blind.index("lid", &lid))?;
        indexed += 1;
    }
    if indexed > 0 {
        tracing::info!(
            contacts = indexed,
            "indexed the @lid of contacts stored before it was"
        );
    }
    crate::db::meta::set(c, DONE, "1", now)?;
    Ok(indexed)
}
