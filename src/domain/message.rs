//! One model for what the gateways send: a patient's message, a message staff typed on the
//! clinic's phone, a delivery receipt for one of our sends, or something to ignore.
//! Texts, names and phones are PHI: `Debug` never shows them.

use super::phone::Phone;
use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Evolution,
    Cloud,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Evolution => "evolution",
            Provider::Cloud => "cloud",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "evolution" => Some(Provider::Evolution),
            "cloud" => Some(Provider::Cloud),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Text,
    Image,
    Audio,
    Video,
    Document,
    Sticker,
    Location,
    Contact,
    Other,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::Audio => "audio",
            MessageKind::Video => "video",
            MessageKind::Document => "document",
            MessageKind::Sticker => "sticker",
            MessageKind::Location => "location",
            MessageKind::Contact => "contact",
            MessageKind::Other => "other",
        }
    }
}

/// A message in a one-to-one chat, normalised from any gateway.
#[derive(Clone)]
pub struct InboundMessage {
    pub provider: Provider,
    /// Evolution instance name, or Cloud API phone-number id.
    pub instance: String,
    pub provider_message_id: String,
    /// The patient's phone, when the gateway revealed it.
    pub phone: Option<Phone>,
    /// WhatsApp's @lid id of the chat, when there is one.
    pub lid: Option<String>,
    pub name: Option<String>,
    /// Text, extended text, or a media caption.
    pub text: Option<String>,
    pub kind: MessageKind,
    pub sent_at: DateTime<Utc>,
}

impl InboundMessage {
    /// Where replies go: the phone digits, else the @lid JID.
    pub fn reply_address(&self) -> Option<String> {
        self.phone
            .as_ref()
            .map(|p| p.digits().to_owned())
            .or_else(|| self.lid.clone())
    }

    /// The stable key of the chat for ordering and lookups.
    pub fn chat_key(&self) -> Option<String> {
        self.phone
            .as_ref()
            .map(|p| p.digits().to_owned())
            .or_else(|| self.lid.clone())
    }
}

impl fmt::Debug for InboundMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InboundMessage")
            .field("provider", &self.provider)
            .field("instance", &self.instance)
            .field("provider_message_id", &self.provider_message_id)
            .field("kind", &self.kind)
            .field("has_text", &self.text.is_some())
            .field("sent_at", &self.sent_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// A receipt for a message we sent.
#[derive(Debug, Clone)]
pub struct StatusUpdate {
    pub provider: Provider,
    pub instance: String,
    pub provider_message_id: String,
    pub status: DeliveryStatus,
    /// Gateway's reason for a failure (an error code and title, no PHI).
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub enum InboundEvent {
    /// A patient wrote.
    Patient(InboundMessage),
    /// Someone on the clinic's side typed in the chat from the phone (not our own send).
    Staff(InboundMessage),
    Status(StatusUpdate),
    /// Nothing to do; the reason is for logs and metrics.
    Ignored(&'static str),
}
