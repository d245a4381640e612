//! What the sender is handed: a committed reply or follow-up to deliver (from the turn, or read
//! back from the outbox at start-up and by the rescan), and the handle that hands it over
//! (woken by the writer's commit, not by polling).

use super::RecentSends;
use crate::crypto::{Aad, Keys};
use crate::db::outbox;
use crate::domain::cloud_template::CloudTemplate;
use crate::domain::message::Provider;
use crate::domain::quiet_hours::QuietHours;
use crate::domain::{time, window};
use crate::jobs::early_receipts::EarlyReceipts;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One reply to deliver; plaintext lives only in memory.
#[derive(Clone)]
pub struct OutgoingSend {
    pub outbox_id: String,
    pub message_id: String,
    pub session_id: String,
    pub provider: Provider,
    pub instance: String,
    pub to: String,
    pub text: String,
    /// Set for a Cloud API template (outside the 24-hour window); `text` then holds its JSON.
    pub template: Option<CloudTemplate>,
    pub attempts: u32,
    pub not_before: Option<DateTime<Utc>>,
    /// Free text nobody asked for (a follow-up) must reach the gateway before this (WhatsApp's
    /// 24-hour window): retries or a restart that carry it past then give up instead of sending
    /// what WhatsApp refuses and the patient no longer expects. Replies and templates have no
    /// such limit (a reply's window is the message it answers; the gateway timestamps that,
    /// and a late delivery or a skewed clock must not cost the patient the answer).
    pub not_after: Option<DateTime<Utc>>,
    /// A follow-up's clinic quiet hours (and time zone): claimed outside them, it may still
    /// wait in the queue into them (a gateway outage), and is then held until they end.
    pub quiet: Option<(QuietHours, Tz)>,
}

impl OutgoingSend {
    /// A pending outbox row, decrypted (start-up and the periodic rescan); `None` if it
    /// cannot be opened with these keys or is malformed.
    pub(super) fn open(
        row: &outbox::PendingSend,
        keys: &Keys,
        followup_quiet: Option<QuietHours>,
    ) -> Option<OutgoingSend> {
        let to = keys
            .phi
            .open_string(
                &row.chat_sealed,
                Aad::new("conversation_sessions", "chat", &row.session_id),
            )
            .ok()?;
        let text = keys
            .phi
            .open_string(
                row.body_sealed.as_deref()?,
                Aad::new("whatsapp_messages", "body", &row.message_id),
            )
            .ok()?;
        let template = match row.kind.as_str() {
            "template" => Some(CloudTemplate::from_json(&text)?),
            _ => None,
        };
        Some(OutgoingSend {
            outbox_id: row.outbox_id.clone(),
            message_id: row.message_id.clone(),
            session_id: row.session_id.clone(),
            provider: Provider::parse(&row.provider)?,
            instance: row.instance.clone(),
            to,
            text,
            template,
            attempts: row.attempts,
            not_before: time::from_db(&row.next_attempt_at).ok(),
            not_after: window::closes_at(
                row.unsolicited_since
                    .as_deref()
                    .and_then(|t| time::from_db(t).ok()),
            ),
            quiet: row
                .unsolicited_since
                .as_ref()
                .and(followup_quiet)
                .zip(row.timezone.parse::<Tz>().ok()),
        })
    }
}

#[derive(Clone)]
pub struct SenderHandle {
    tx: mpsc::UnboundedSender<OutgoingSend>,
    pub recent: Arc<RecentSends>,
    /// Receipts that came before their send was recorded; the sender's record applies them.
    pub early: Arc<EarlyReceipts>,
}

impl SenderHandle {
    /// Queues a committed reply for delivery.
    pub fn enqueue(&self, send: OutgoingSend) {
        // A closed channel means we are shutting down: the row stays pending for next start.
        let _ = self.tx.send(send);
    }
}

pub fn channel() -> (SenderHandle, mpsc::UnboundedReceiver<OutgoingSend>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (
        SenderHandle {
            tx,
            recent: Arc::default(),
            early: Arc::default(),
        },
        rx,
    )
}
