//! Storing a bot reply: the outbound message, its metric row (referencing the reply's real
//! id), any handoff, and the send-outbox row. Used inside the fast path's single turn
//! transaction and by the LLM path's reply transaction alike.

use crate::db::conversations::{self, NewHandoff};
use crate::db::messages::{self, NewMessage, NewMetric};
use crate::db::{DbError, outbox, rusqlite::Connection};
use std::time::Instant;

/// Measurements of the LLM call that produced a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmFigures {
    pub model: String,
    pub tokens_in: i64,
    pub tokens_out: i64,
    pub ttft_ms: Option<i64>,
    pub total_ms: i64,
}

pub struct BotReply<'a> {
    pub reply_id: &'a str,
    pub metric_id: &'a str,
    pub outbox_id: &'a str,
    pub handoff_id: &'a str,
    pub clinic_id: &'a str,
    pub session_id: &'a str,
    pub contact_id: &'a str,
    pub provider: &'a str,
    pub instance: &'a str,
    /// The (latest) patient message this answers.
    pub reply_to: &'a str,
    pub body_sealed: &'a [u8],
    pub language: &'a str,
    pub intent: Option<&'a str>,
    pub route: &'a str,
    pub handoff: Option<(&'a str, bool)>,
    /// When the (first) message being answered arrived.
    pub received: Instant,
    pub remote_calls_before_send: i64,
    pub llm: Option<&'a LlmFigures>,
}

/// A reply stored and queued for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedReply {
    /// The reply's message id, which its metric, handoff and outbox rows reference.
    pub id: String,
    /// From `received` to the reply being queued.
    pub received_to_queued_us: i64,
}

/// Stores the reply and everything that goes with it.
pub fn store_bot_reply(
    c: &Connection,
    r: &BotReply<'_>,
    now: &str,
) -> Result<QueuedReply, DbError> {
    let reply_id = messages::insert_reply(
        c,
        &NewMessage {
            id: r.reply_id,
            clinic_id: r.clinic_id,
            session_id: r.session_id,
            contact_id: r.contact_id,
            direction: "outbound",
            author: "bot",
            provider: r.provider,
            instance: r.instance,
            provider_message_id: None,
            kind: "text",
            body_sealed: Some(r.body_sealed),
            language: Some(r.language),
            intent: r.intent,
            reply_to: Some(r.reply_to),
            status: "queued",
            sent_at: None,
        },
        now,
    )?;
    if let Some((reason, urgent)) = r.handoff {
        conversations::insert_handoff(
            c,
            &NewHandoff {
                id: r.handoff_id,
                clinic_id: r.clinic_id,
                session_id: r.session_id,
                message_id: Some(r.reply_to),
                reason,
                urgent,
            },
            now,
        )?;
    }
    outbox::insert_outbox(c, r.outbox_id, &reply_id, now)?;
    let us = r.received.elapsed().as_micros() as i64;
    messages::insert_metric(
        c,
        &NewMetric {
            id: r.metric_id,
            message_id: &reply_id,
            inbound_message_id: Some(r.reply_to),
            clinic_id: r.clinic_id,
            route: r.route,
            intent: r.intent,
            language: Some(r.language),
            received_to_queued_us: us,
            remote_calls_before_send: r.remote_calls_before_send,
            model: r.llm.map(|l| l.model.as_str()),
            tokens_in: r.llm.map(|l| l.tokens_in),
            tokens_out: r.llm.map(|l| l.tokens_out),
            ttft_ms: r.llm.and_then(|l| l.ttft_ms),
            llm_total_ms: r.llm.map(|l| l.total_ms),
        },
        now,
    )?;
    Ok(QueuedReply {
        id: reply_id,
        received_to_queued_us: us,
    })
}
