//! What the LLM is told: a system prompt with the rules and the clinic's public facts, then
//! the chat's recent turns. Nothing else leaves the machine: no phone numbers (even ones the
//! patient typed are masked), no names, nothing about other patients.

use crate::clients::llm::Message;
use crate::domain::clinic::ClinicFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Patient,
    Clinic,
}

#[derive(Debug, Clone)]
pub struct Turn {
    pub author: Author,
    pub text: String,
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The system prompt and the conversation, ready to send.
pub fn messages(
    clinic: &ClinicFacts,
    services: &[String],
    language: &str,
    now_local: &str,
    history: &[Turn],
) -> Vec<Message> {
    let mut out = Vec::with_capacity(history.len() + 1);
    out.push(Message::System {
        content: system_prompt(clinic, services, language, now_local),
    });
    for turn in history {
        let content = scrub_numbers(&turn.text);
        out.push(match turn.author {
            Author::Patient => Message::User { content },
            Author::Clinic => Message::Assistant {
                content: Some(content),
                tool_calls: Vec::new(),
            },
        });
    }
    out
}

fn system_prompt(
    clinic: &ClinicFacts,
    services: &[String],
    language: &str,
    now_local: &str,
) -> String {
    let hours = clinic
        .hours
        .days
        .iter()
        .zip(DAYS)
        .map(|(ranges, day)| {
            let spans: Vec<String> = ranges
                .iter()
                .map(|(a, b)| format!("{}-{}", a.format("%H:%M"), b.format("%H:%M")))
                .collect();
            format!(
                "{day} {}",
                if spans.is_empty() {
                    "closed".into()
                } else {
                    spans.join(", ")
                }
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "You are the WhatsApp assistant of {name}, a medical/dental clinic. It is now {now_local} \
         (clinic time).\n\
         Rules:\n\
         - Answer in {language}, whatever language these instructions are in. Be brief (at most \
         three short sentences), warm and plain; no markdown except *bold*.\n\
         - Never diagnose, never interpret symptoms, never recommend medicines or treatment. \
         Suggest a visit; a doctor decides.\n\
         - Never confirm a booking, a time or a doctor. Say an administrator will confirm, and \
         call handoff_to_staff with reason \"booking\".\n\
         - Emergencies (severe pain, bleeding, swelling, trauma, high fever, trouble breathing): \
         tell them to call 112 (or 103) if it is severe, and call handoff_to_staff with \
         reason \"emergency\" and urgent true.\n\
         - Prices: state only prices returned by the price_lookup tool, exactly as returned. \
         Never estimate, add up or invent a price. If a service is not on the list, say so.\n\
         - If you cannot help, or the patient asks for a person, call handoff_to_staff.\n\
         - Reply to the patient's latest messages (there may be several); do not greet again \
         in an ongoing chat.\n\
         Clinic facts:\n\
         - Address: {address}\n\
         - Phone: {phone}\n\
         - Opening hours: {hours}\n\
         - Services (names only; use price_lookup for prices): {services}",
        name = clinic.name,
        address = clinic
            .address
            .as_deref()
            .unwrap_or("not given; offer to pass the question to staff"),
        phone = clinic.phone.as_deref().unwrap_or("not given"),
        services = if services.is_empty() {
            "not listed".into()
        } else {
            services.join("; ")
        },
    )
}

/// Masks anything that looks like a phone number (7 or more digits, with the usual
/// separators), so a number a patient typed never reaches the LLM.
pub fn scrub_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit()
            || (chars[i] == '+' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            let mut digits = 0;
            let mut end = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || " -()+.\u{a0}".contains(chars[i]))
            {
                if chars[i].is_ascii_digit() {
                    digits += 1;
                    end = i + 1;
                }
                i += 1;
            }
            if digits >= 7 {
                out.push_str("[number]");
                out.extend(&chars[end..i]);
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_masked_and_short_numbers_kept() {
        assert_eq!(
            scrub_numbers("мой номер +7 999 000-11-22, перезвоните"),
            "мой номер [number], перезвоните"
        );
        assert_eq!(scrub_numbers("79990001122"), "[number]");
        assert_eq!(
            scrub_numbers("пломба за 4500 в 10:30, 2 зуба"),
            "пломба за 4500 в 10:30, 2 зуба"
        );
    }

    #[test]
    fn the_prompt_holds_the_rules_and_facts_and_the_turns_in_order() {
        let clinic = ClinicFacts {
            id: "c".into(),
            name: "Улыбка".into(),
            address: Some("ул. Тверская, 12".into()),
            phone: None,
            timezone: chrono_tz::Europe::Moscow,
            default_language: "ru".into(),
            hours: Default::default(),
        };
        let history = vec![
            Turn {
                author: Author::Patient,
                text: "можно с собакой?".into(),
            },
            Turn {
                author: Author::Clinic,
                text: "Уточню у администратора.".into(),
            },
            Turn {
                author: Author::Patient,
                text: "и сколько стоит пломба?".into(),
            },
        ];
        let m = messages(
            &clinic,
            &["Пломба световая".into()],
            "Русский",
            "2026-11-25 10:00",
            &history,
        );
        let Message::System { content } = &m[0] else {
            panic!()
        };
        assert!(content.contains("Answer in Русский") && content.contains("ул. Тверская, 12"));
        assert!(content.contains("Never diagnose") && content.contains("Never confirm a booking"));
        assert!(content.contains("Mon closed"));
        assert_eq!(m.len(), 4);
        assert!(matches!(&m[3], Message::User { content } if content == "и сколько стоит пломба?"));
    }
}
