//! Meta WhatsApp Cloud API webhooks: every entry × change × message of a batched body, and
//! delivery statuses. Timestamps are strings; the signature was checked over the raw bytes
//! before this runs.

use super::ParseError;
use crate::domain::message::{
    DeliveryStatus, InboundEvent, InboundMessage, MessageKind, Provider, StatusUpdate,
};
use crate::domain::phone::Phone;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Body {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: ChangeValue,
}

#[derive(Deserialize, Default)]
struct ChangeValue {
    metadata: Option<Metadata>,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Message>,
    #[serde(default)]
    statuses: Vec<Status>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    from: String,
    id: String,
    timestamp: Option<Value>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    #[serde(default)]
    errors: Vec<StatusError>,
}

#[derive(Deserialize)]
struct StatusError {
    code: Option<i64>,
    title: Option<String>,
}

pub fn parse(body: &[u8], now: DateTime<Utc>) -> Result<Vec<InboundEvent>, ParseError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ParseError::NotJson)?;
    let body: Body = serde_json::from_value(value)
        .map_err(|_| ParseError::Invalid("not a WhatsApp Cloud API notification"))?;
    if body.object != "whatsapp_business_account" {
        return Ok(vec![InboundEvent::Ignored(
            "not a WhatsApp business account notification",
        )]);
    }
    let mut events = Vec::new();
    for change in body.entry.into_iter().flat_map(|e| e.changes) {
        if change.field != "messages" {
            events.push(InboundEvent::Ignored("change field not handled"));
            continue;
        }
        let value = change.value;
        let instance = value
            .metadata
            .map(|m| m.phone_number_id)
            .ok_or(ParseError::Invalid(
                "change without metadata.phone_number_id",
            ))?;
        for m in value.messages {
            let name = value
                .contacts
                .iter()
                .find(|c| c.wa_id == m.from)
                .and_then(|c| c.profile.as_ref()?.name.clone());
            events.push(message(m, name, &instance, now)?);
        }
        for s in value.statuses {
            events.push(status(s, &instance));
        }
    }
    Ok(events)
}

fn message(
    m: Message,
    name: Option<String>,
    instance: &str,
    now: DateTime<Utc>,
) -> Result<InboundEvent, ParseError> {
    let phone =
        Phone::parse(&m.from).ok_or(ParseError::Invalid("message from a malformed number"))?;
    let field = |path: &[&str]| -> Option<String> {
        let mut v = m.rest.get(path[0])?;
        for p in &path[1..] {
            v = v.get(p)?;
        }
        super::text_field(Some(v))
    };
    let (kind, text) = match m.kind.as_str() {
        "text" => (MessageKind::Text, field(&["text", "body"])),
        "image" => (MessageKind::Image, field(&["image", "caption"])),
        "video" => (MessageKind::Video, field(&["video", "caption"])),
        "document" => (MessageKind::Document, field(&["document", "caption"])),
        "audio" | "voice" => (MessageKind::Audio, None),
        "sticker" => (MessageKind::Sticker, None),
        "location" => (MessageKind::Location, None),
        "contacts" => (MessageKind::Contact, None),
        "button" => (MessageKind::Text, field(&["button", "text"])),
        "interactive" => (
            MessageKind::Text,
            field(&["interactive", "button_reply", "title"])
                .or_else(|| field(&["interactive", "list_reply", "title"])),
        ),
        "reaction" => return Ok(InboundEvent::Ignored("reaction")),
        "system" | "ephemeral" | "request_welcome" => {
            return Ok(InboundEvent::Ignored("system message"));
        }
        _ => (MessageKind::Other, None),
    };
    Ok(InboundEvent::Patient(InboundMessage {
        provider: Provider::Cloud,
        instance: instance.to_owned(),
        provider_message_id: m.id,
        phone: Some(phone),
        lid: None,
        name,
        text,
        kind,
        sent_at: super::unix_time(m.timestamp.as_ref()).unwrap_or(now),
    }))
}

fn status(s: Status, instance: &str) -> InboundEvent {
    let status = match s.status.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" | "played" => DeliveryStatus::Read,
        "failed" => DeliveryStatus::Failed,
        _ => return InboundEvent::Ignored("status not handled"),
    };
    let error = s.errors.first().map(|e| {
        format!(
            "{} {}",
            e.code.map(|c| c.to_string()).unwrap_or_default(),
            e.title.clone().unwrap_or_default()
        )
        .trim()
        .to_owned()
    });
    InboundEvent::Status(StatusUpdate {
        provider: Provider::Cloud,
        instance: instance.to_owned(),
        provider_message_id: s.id,
        status,
        error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::fixtures::wire;

    #[test]
    fn a_text_message_gives_phone_name_text_and_the_phone_number_id_as_instance() {
        let events = parse(&wire("cloud_api_text_message.raw_body.txt"), Utc::now()).unwrap();
        let [InboundEvent::Patient(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.instance, "123456789012345");
        assert_eq!(m.phone.as_ref().unwrap().digits(), "79990001122");
        assert_eq!(m.name.as_deref(), Some("Анна Петрова"));
        assert_eq!(m.text.as_deref(), Some("Сколько стоит пломба?"));
        assert_eq!(m.sent_at.timestamp(), 1761040800);
    }

    #[test]
    fn statuses_update_our_messages_with_the_error_code() {
        let events = parse(&wire("cloud_api_status_failed.json"), Utc::now()).unwrap();
        let [InboundEvent::Status(s)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(s.status, DeliveryStatus::Failed);
        assert_eq!(s.error.as_deref(), Some("131047 Re-engagement message"));
        let events = parse(&wire("cloud_api_status.json"), Utc::now()).unwrap();
        assert!(
            matches!(&events[0], InboundEvent::Status(s) if s.status == DeliveryStatus::Delivered)
        );
    }

    #[test]
    fn every_entry_change_and_message_of_a_batch_is_returned() {
        let mut body: Value = serde_json::from_slice(&wire("cloud_api_text_message.json")).unwrap();
        let entry = body["entry"][0].clone();
        let mut second = entry.clone();
        second["changes"][0]["value"]["messages"][0]["id"] = "wamid.2".into();
        let mut third = second["changes"][0]["value"]["messages"][0].clone();
        third["id"] = "wamid.3".into();
        second["changes"][0]["value"]["messages"]
            .as_array_mut()
            .unwrap()
            .push(third);
        body["entry"].as_array_mut().unwrap().push(second);
        let events = parse(&serde_json::to_vec(&body).unwrap(), Utc::now()).unwrap();
        let ids: Vec<_> = events
            .iter()
            .map(|e| match e {
                InboundEvent::Patient(m) => m.provider_message_id.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(&ids[1..], ["wamid.2", "wamid.3"]);
    }

    #[test]
    fn malformed_bodies_are_errors_and_other_objects_are_ignored() {
        assert_eq!(parse(b"nope", Utc::now()).unwrap_err(), ParseError::NotJson);
        assert!(parse(b"{\"entry\":[]}", Utc::now()).is_err());
        let page = br#"{"object":"page","entry":[]}"#;
        assert!(matches!(
            parse(page, Utc::now()).unwrap()[0],
            InboundEvent::Ignored(_)
        ));
    }
}
