//! Evolution API webhooks, v2.3 and v1.8 shapes: `messages.upsert` (text, extended text,
//! captions, media, `@lid` chats, `fromMe`), `messages.update` receipts, and the events we
//! ignore (connection updates, our own `send.message` echoes, groups, broadcasts, newsletters).

use super::{ParseError, text_field, unix_time};
use crate::domain::message::{
    DeliveryStatus, InboundEvent, InboundMessage, MessageKind, Provider, StatusUpdate,
};
use crate::domain::phone::Phone;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Parses one webhook body. `path_event` is the by-events URL suffix (`messages-upsert`),
/// used when the body does not name its event. `now` stands in for a missing timestamp.
pub fn parse(
    body: &[u8],
    path_event: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<InboundEvent>, ParseError> {
    let root: Value = serde_json::from_slice(body).map_err(|_| ParseError::NotJson)?;
    let root = root
        .as_object()
        .ok_or(ParseError::Invalid("body is not a JSON object"))?;
    let event = root
        .get("event")
        .and_then(Value::as_str)
        .or(path_event)
        .map(normalise_event)
        .ok_or(ParseError::Invalid("no event name in the body or the URL"))?;
    let instance = root
        .get("instance")
        .and_then(|v| v.as_str().or_else(|| v.get("instanceName")?.as_str()))
        .map(str::to_owned);
    let data = root.get("data").unwrap_or(&Value::Null);

    match event.as_str() {
        "messages.upsert" => {
            let instance = instance
                .or_else(|| text_field(data.get("owner")))
                .ok_or(ParseError::Invalid("messages.upsert without an instance"))?;
            each_item(data)
                .map(|item| upsert(item, &instance, now))
                .collect()
        }
        "messages.update" => {
            let instance = instance.unwrap_or_default();
            Ok(each_item(data)
                .map(|item| update(item, &instance))
                .collect())
        }
        "send.message" => Ok(vec![InboundEvent::Ignored("own send echo")]),
        "connection.update" => Ok(vec![InboundEvent::Ignored("connection event")]),
        _ => Ok(vec![InboundEvent::Ignored("event not handled")]),
    }
}

/// "MESSAGES_UPSERT", "messages-upsert" and "messages.upsert" are the same event.
fn normalise_event(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['_', '-'], ".")
}

/// `data` is one object, an array of them, or Baileys' `{messages: [...]}`.
fn each_item(data: &Value) -> Box<dyn Iterator<Item = &Value> + '_> {
    match data {
        Value::Array(items) => Box::new(items.iter()),
        Value::Object(o) => match o.get("messages") {
            Some(Value::Array(items)) => Box::new(items.iter()),
            _ => Box::new(std::iter::once(data)),
        },
        _ => Box::new(std::iter::empty()),
    }
}

fn upsert(item: &Value, instance: &str, now: DateTime<Utc>) -> Result<InboundEvent, ParseError> {
    let key = item
        .get("key")
        .ok_or(ParseError::Invalid("message without a key"))?;
    let id = text_field(key.get("id")).ok_or(ParseError::Invalid("message key without an id"))?;
    let remote = text_field(key.get("remoteJid"))
        .ok_or(ParseError::Invalid("message key without remoteJid"))?;
    if remote.ends_with("@g.us") {
        return Ok(InboundEvent::Ignored("group"));
    }
    if remote.ends_with("@newsletter") {
        return Ok(InboundEvent::Ignored("newsletter"));
    }
    if remote.ends_with("@broadcast") {
        return Ok(InboundEvent::Ignored("broadcast"));
    }
    let message = item.get("message").unwrap_or(&Value::Null);
    let Some((kind, text)) = content(message) else {
        return Ok(InboundEvent::Ignored("reaction, edit or protocol message"));
    };

    // `@lid` chats hide the number in remoteJidAlt (v2.3.5+) or senderPn.
    let alt = text_field(key.get("remoteJidAlt"));
    let sender_pn = text_field(key.get("senderPn")).or_else(|| text_field(item.get("senderPn")));
    let (phone, lid) = if remote.ends_with("@lid") {
        let phone = alt
            .as_deref()
            .and_then(jid_phone)
            .or_else(|| sender_pn.as_deref().and_then(Phone::parse));
        (phone, Some(remote.clone()))
    } else {
        (jid_phone(&remote), alt.filter(|a| a.ends_with("@lid")))
    };
    if phone.is_none() && lid.is_none() {
        return Ok(InboundEvent::Ignored("chat is not a person"));
    }
    let from_me = key.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let msg = InboundMessage {
        provider: Provider::Evolution,
        instance: instance.to_owned(),
        provider_message_id: id,
        phone,
        lid,
        // On our own side pushName is the clinic's account name, not the patient's.
        name: if from_me {
            None
        } else {
            text_field(item.get("pushName"))
        },
        text,
        kind,
        sent_at: unix_time(item.get("messageTimestamp")).unwrap_or(now),
    };
    Ok(if from_me {
        InboundEvent::Staff(msg)
    } else {
        InboundEvent::Patient(msg)
    })
}

fn jid_phone(jid: &str) -> Option<Phone> {
    (jid.ends_with("@s.whatsapp.net") || jid.ends_with("@c.us"))
        .then(|| Phone::parse(jid))
        .flatten()
}

/// Kind and text of a WhatsApp message object; `None` for content that is not a message a
/// person wrote (reactions, edits, deletes, poll votes).
fn content(message: &Value) -> Option<(MessageKind, Option<String>)> {
    let obj = message.as_object()?;
    // Wrappers that carry another message inside.
    for wrapper in [
        "ephemeralMessage",
        "viewOnceMessage",
        "viewOnceMessageV2",
        "viewOnceMessageV2Extension",
        "documentWithCaptionMessage",
        "editedMessage",
    ] {
        if let Some(inner) = obj.get(wrapper).and_then(|w| w.get("message")) {
            return content(inner);
        }
    }
    if let Some(text) = text_field(obj.get("conversation")) {
        return Some((MessageKind::Text, Some(text)));
    }
    if let Some(ext) = obj.get("extendedTextMessage") {
        return Some((MessageKind::Text, text_field(ext.get("text"))));
    }
    for (field, kind) in [
        ("imageMessage", MessageKind::Image),
        ("videoMessage", MessageKind::Video),
        ("documentMessage", MessageKind::Document),
        ("audioMessage", MessageKind::Audio),
        ("stickerMessage", MessageKind::Sticker),
        ("locationMessage", MessageKind::Location),
        ("liveLocationMessage", MessageKind::Location),
        ("contactMessage", MessageKind::Contact),
        ("contactsArrayMessage", MessageKind::Contact),
    ] {
        if let Some(media) = obj.get(field) {
            return Some((kind, text_field(media.get("caption"))));
        }
    }
    for (field, text_key) in [
        ("buttonsResponseMessage", "selectedDisplayText"),
        ("templateButtonReplyMessage", "selectedDisplayText"),
        ("listResponseMessage", "title"),
    ] {
        if let Some(reply) = obj.get(field) {
            return Some((MessageKind::Text, text_field(reply.get(text_key))));
        }
    }
    let not_a_message = [
        "reactionMessage",
        "protocolMessage",
        "pollUpdateMessage",
        "senderKeyDistributionMessage",
        "keepInChatMessage",
    ];
    if obj.keys().any(|k| not_a_message.contains(&k.as_str())) {
        return None;
    }
    Some((MessageKind::Other, None))
}

fn update(item: &Value, instance: &str) -> InboundEvent {
    let key = item.get("key");
    let id = text_field(item.get("keyId")).or_else(|| key.and_then(|k| text_field(k.get("id"))));
    let from_me = item
        .get("fromMe")
        .or_else(|| key.and_then(|k| k.get("fromMe")))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let status = item
        .get("status")
        .or_else(|| item.get("update").and_then(|u| u.get("status")));
    let (Some(id), true, Some(status)) = (id, from_me, status.and_then(delivery_status)) else {
        return InboundEvent::Ignored("receipt not for one of our sends");
    };
    InboundEvent::Status(StatusUpdate {
        provider: Provider::Evolution,
        instance: instance.to_owned(),
        provider_message_id: id,
        status,
        error: (status == DeliveryStatus::Failed).then(|| "gateway reported ERROR".to_owned()),
    })
}

/// Baileys' statuses, by name (v2) or number (v1): 0 ERROR, 1 PENDING, 2 SERVER_ACK,
/// 3 DELIVERY_ACK, 4 READ, 5 PLAYED.
fn delivery_status(v: &Value) -> Option<DeliveryStatus> {
    let code = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => match s.to_ascii_uppercase().as_str() {
            "ERROR" | "FAILED" => 0,
            "PENDING" => 1,
            "SERVER_ACK" | "SENT" => 2,
            "DELIVERY_ACK" | "DELIVERED" => 3,
            "READ" => 4,
            "PLAYED" => 5,
            _ => return None,
        },
        _ => return None,
    };
    match code {
        0 => Some(DeliveryStatus::Failed),
        2 => Some(DeliveryStatus::Sent),
        3 => Some(DeliveryStatus::Delivered),
        4 | 5 => Some(DeliveryStatus::Read),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::fixtures::wire;

    fn one(name: &str) -> InboundEvent {
        let mut events = parse(&wire(name), None, Utc::now()).unwrap();
        assert_eq!(events.len(), 1, "{name}");
        events.remove(0)
    }

    fn patient(name: &str) -> InboundMessage {
        match one(name) {
            InboundEvent::Patient(m) => m,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn v2_text_gives_phone_name_text_and_the_message_timestamp() {
        let m = patient("evolution_messages_upsert_text.json");
        assert_eq!(m.instance, "clinic-main");
        assert_eq!(m.provider_message_id, "A3F1C9E27B5D4086B1E2F3A4C5D6E7F8");
        assert_eq!(m.phone.unwrap().digits(), "79990001122");
        assert_eq!(m.lid.as_deref(), Some("205838167351412@lid"));
        assert_eq!(m.name.as_deref(), Some("Анна Петрова"));
        assert_eq!(m.text.as_deref(), Some("Сколько стоит пломба?"));
        assert_eq!(m.kind, MessageKind::Text);
        // messageTimestamp, not date_time (which is local time with a false Z).
        assert_eq!(m.sent_at.timestamp(), 1761040800);
    }

    #[test]
    fn lid_chats_take_the_phone_from_remote_jid_alt_and_keep_both_ids() {
        let m = patient("evolution_messages_upsert_lid.json");
        assert_eq!(m.phone.unwrap().digits(), "79990001122");
        assert_eq!(m.lid.as_deref(), Some("205838167351412@lid"));
        assert_eq!(m.text.as_deref(), Some("Можно записаться на завтра?"));
    }

    #[test]
    fn lid_chats_fall_back_to_sender_pn() {
        let body = br#"{"event":"messages.upsert","instance":"i","data":{"key":{"remoteJid":"1@lid","fromMe":false,"id":"X","senderPn":"79990001122@s.whatsapp.net"},"message":{"conversation":"hi"},"messageTimestamp":"1761041100"}}"#;
        let InboundEvent::Patient(m) = parse(body, None, Utc::now()).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(m.phone.unwrap().digits(), "79990001122");
        assert_eq!(
            m.sent_at.timestamp(),
            1761041100,
            "string timestamps parse too"
        );
    }

    #[test]
    fn v1_extended_text_uses_owner_as_instance_when_needed() {
        let m = patient("evolution_messages_upsert_extended_text.json");
        assert_eq!(m.text.as_deref(), Some("Сколько стоит пломба?"));
        assert_eq!(m.instance, "clinic-main");
    }

    #[test]
    fn image_caption_is_the_text_and_audio_has_none() {
        let image = patient("evolution_messages_upsert_image.json");
        assert_eq!(image.kind, MessageKind::Image);
        assert_eq!(image.text.as_deref(), Some("Вот снимок зуба"));
        let audio = patient("evolution_messages_upsert_audio.json");
        assert_eq!(audio.kind, MessageKind::Audio);
        assert_eq!(audio.text, None);
    }

    #[test]
    fn from_me_is_a_staff_message_without_the_clinic_name_as_patient_name() {
        match one("evolution_messages_upsert_from_me.json") {
            InboundEvent::Staff(m) => {
                assert_eq!(m.phone.unwrap().digits(), "79990001122");
                assert_eq!(m.name, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn groups_connection_events_and_send_echoes_are_ignored() {
        for name in [
            "evolution_messages_upsert_group.json",
            "evolution_connection_update.json",
            "evolution_send_message_echo.json",
        ] {
            assert!(matches!(one(name), InboundEvent::Ignored(_)), "{name}");
        }
        for jid in ["status@broadcast", "120363@newsletter"] {
            let body = format!(
                r#"{{"event":"messages.upsert","instance":"i","data":{{"key":{{"remoteJid":"{jid}","id":"X"}},"message":{{"conversation":"x"}}}}}}"#
            );
            assert!(matches!(
                parse(body.as_bytes(), None, Utc::now()).unwrap()[0],
                InboundEvent::Ignored(_)
            ));
        }
    }

    #[test]
    fn status_receipts_become_status_updates_of_our_message() {
        match one("evolution_messages_update_status.json") {
            InboundEvent::Status(s) => {
                assert_eq!(s.provider_message_id, "3EB0C7A9F1E24D6B8A1F3C");
                assert_eq!(s.status, DeliveryStatus::Read);
            }
            other => panic!("{other:?}"),
        }
        let v1 = br#"{"event":"messages.update","instance":"i","data":[{"key":{"id":"B1","fromMe":true},"update":{"status":3}}]}"#;
        assert!(matches!(&parse(v1, None, Utc::now()).unwrap()[0],
            InboundEvent::Status(s) if s.status == DeliveryStatus::Delivered && s.provider_message_id == "B1"));
    }

    #[test]
    fn the_event_name_may_come_from_the_by_events_url_suffix() {
        let mut body: Value =
            serde_json::from_slice(&wire("evolution_messages_upsert_text.json")).unwrap();
        body.as_object_mut().unwrap().remove("event");
        let bytes = serde_json::to_vec(&body).unwrap();
        assert!(matches!(
            parse(&bytes, Some("messages-upsert"), Utc::now()).unwrap()[0],
            InboundEvent::Patient(_)
        ));
        assert!(matches!(
            parse(&bytes, None, Utc::now()),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn bodies_that_can_never_be_valid_are_errors() {
        assert_eq!(
            parse(b"{not json", None, Utc::now()).unwrap_err(),
            ParseError::NotJson
        );
        assert!(parse(b"[1,2]", None, Utc::now()).is_err());
        let no_key = br#"{"event":"messages.upsert","instance":"i","data":{"message":{"conversation":"x"}}}"#;
        assert!(parse(no_key, None, Utc::now()).is_err());
    }

    #[test]
    fn reactions_are_ignored_and_wrapped_messages_are_unwrapped() {
        let reaction = br#"{"event":"messages.upsert","instance":"i","data":{"key":{"remoteJid":"79990001122@s.whatsapp.net","id":"R"},"message":{"reactionMessage":{"text":"x"}}}}"#;
        assert!(matches!(
            parse(reaction, None, Utc::now()).unwrap()[0],
            InboundEvent::Ignored(_)
        ));
        let ephemeral = br#"{"event":"messages.upsert","instance":"i","data":{"key":{"remoteJid":"79990001122@s.whatsapp.net","id":"E"},"message":{"ephemeralMessage":{"message":{"extendedTextMessage":{"text":"hello"}}}}}}"#;
        let InboundEvent::Patient(m) = parse(ephemeral, None, Utc::now()).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(m.text.as_deref(), Some("hello"));
    }
}
