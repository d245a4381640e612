//! What the sender is handed: a committed reply or follow-up to deliver, and the handle that
//! hands it over (woken by the writer's commit, not by polling).

use super::RecentSends;
use crate::domain::cloud_template::CloudTemplate;
use crate::domain::message::Provider;
use crate::domain::quiet_hours::QuietHours;
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

#[derive(Clone)]
pub struct SenderHandle {
    tx: mpsc::UnboundedSender<OutgoingSend>,
    pub recent: Arc<RecentSends>,
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
        },
        rx,
    )
}
