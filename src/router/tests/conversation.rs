//! Questions about the clinic: opening hours in clinic time, address, greetings, and several
//! questions in one message, with the replies a patient would see.

use chrono::NaiveTime;

use super::support::*;
use crate::domain::clinic::WeeklyHours;
use crate::router::{Intent, Route};

#[test]
fn hours_questions_in_each_language_are_answered_with_the_week() {
    for text in [
        "когда вы работаете",
        "до скольки открыты",
        "работаете в субботу?",
        "вы сейчас работаете?",
    ] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Hours, "{text}");
        assert_eq!(
            reply.text,
            "Часы работы:\nПн–Пт: 09:00–20:00\nСб: 10:00–16:00\nВс: выходной\n\nСейчас мы открыты до 20:00."
        );
    }
    for text in [
        "opening hours",
        "what time do you close",
        "are you open on sunday",
    ] {
        assert!(
            answer(text)
                .text
                .contains("Sun: closed\n\nWe're open now until 20:00."),
            "{text}"
        );
    }
    assert!(answer("horario").text.contains("Dom: cerrado"));
}

#[test]
fn an_hour_from_now_is_no_question_about_opening_hours() {
    for text in [
        "I'll be there in an hour",
        "I'm an hour late, sorry",
        "running two hours late",
    ] {
        let reply = answer(text);
        assert_ne!(reply.route, Route::Hours, "{text}: {}", reply.text);
        assert!(reply.needs_llm, "{text}: {}", reply.text);
    }
    for text in ["What are your hours?", "hours?", "business hours"] {
        assert_eq!(answer(text).route, Route::Hours, "{text}");
    }
}

#[test]
fn holidays_are_not_answered_with_the_weekly_hours() {
    for text in [
        "are you open on christmas?",
        "open on new year?",
        "¿abren en navidad?",
        "работаете в новогодние праздники?",
    ] {
        let reply = answer(text);
        assert!(reply.needs_llm, "{text}: {}", reply.text);
    }
    // "Do you work on Sundays?" is an hours question in Spanish too.
    for text in ["¿trabajan los domingos?", "trabajan el sábado"] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Hours, "{text}: {}", reply.text);
        assert!(reply.text.contains("Dom: cerrado"), "{text}");
    }
}

fn hours_at(utc_day: u32, utc_hour: u32, utc_minute: u32) -> String {
    let now = chrono::TimeZone::with_ymd_and_hms(
        &chrono::Utc,
        2026,
        11,
        utc_day,
        utc_hour,
        utc_minute,
        0,
    )
    .unwrap();
    ROUTER
        .reply(&ask("когда вы работаете"), &clinic(), &PRICES, now)
        .text
}

#[test]
fn hours_say_what_is_open_now_in_clinic_time_not_utc() {
    // 25 Nov 2026 is a Wednesday; Moscow is UTC+3.
    assert!(hours_at(25, 5, 0).ends_with("Сегодня откроемся в 09:00."));
    assert!(hours_at(25, 16, 59).ends_with("Сейчас мы открыты до 20:00."));
    assert!(hours_at(25, 17, 30).ends_with("Сейчас мы закрыты, откроемся завтра в 09:00."));
    assert!(
        hours_at(28, 14, 0).ends_with("откроемся в понедельник в 09:00."),
        "Saturday 17:00"
    );
}

#[test]
fn days_with_a_break_show_every_interval() {
    let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
    let mut clinic = clinic();
    clinic.hours.days[0] = vec![(t(9), t(13)), (t(14), t(18))];
    let reply = ROUTER.reply(&ask("часы работы"), &clinic, &PRICES, moscow(25, 12, 0));
    assert!(
        reply
            .text
            .contains("Пн: 09:00–13:00, 14:00–18:00\nВт–Пт: 09:00–20:00"),
        "{}",
        reply.text
    );
}

#[test]
fn a_clinic_without_hours_or_address_hands_the_question_on_instead_of_inventing() {
    let mut clinic = clinic();
    clinic.hours = WeeklyHours::default();
    clinic.address = None;
    for text in ["когда вы работаете", "где вы находитесь"] {
        let reply = ROUTER.reply(&ask(text), &clinic, &PRICES, moscow(25, 12, 0));
        assert!(reply.needs_llm, "{text}");
        assert_eq!(reply.route, Route::Unanswered);
        assert_eq!(reply.text, ROUTER.template("ru", "fallback", &[]));
    }
}

#[test]
fn address_questions_get_the_address_and_phone() {
    for (text, expected) in [
        (
            "где вы находитесь",
            "Наш адрес: Москва, ул. Тверская, 1.\nТелефон: +7 495 123-45-67.",
        ),
        (
            "address",
            "Our address: Москва, ул. Тверская, 1.\nPhone: +7 495 123-45-67.",
        ),
        (
            "dirección",
            "Nuestra dirección: Москва, ул. Тверская, 1.\nTeléfono: +7 495 123-45-67.",
        ),
    ] {
        let reply = answer(text);
        assert_eq!(
            (reply.route, reply.text.as_str()),
            (Route::Address, expected),
            "{text}"
        );
    }
    let mut clinic = clinic();
    clinic.phone = None;
    let reply = ROUTER.reply(&ask("адрес"), &clinic, &PRICES, moscow(25, 12, 0));
    assert_eq!(reply.text, "Наш адрес: Москва, ул. Тверская, 1.");
}

#[test]
fn two_questions_in_one_message_get_both_answers() {
    let reply = answer("What's your address and opening hours?");
    assert_eq!(reply.route, Route::Hours);
    assert!(reply.text.contains("Opening hours:") && reply.text.contains("Our address:"));
}

#[test]
fn greetings_get_a_short_greeting_naming_the_clinic() {
    for text in [
        "здравствуйте",
        "Добрый вечер!",
        "hi",
        "hola",
        "приветик",
        "ola buenas",
    ] {
        let reply = answer(text);
        assert_eq!(reply.route, Route::Greeting, "{text}");
        assert!(reply.text.contains("Улыбка"), "{text}");
        assert!(reply.text.chars().count() < 250);
    }
}

#[test]
fn a_greeting_with_a_question_answers_the_question_after_a_short_hello() {
    let u = ask("Здравствуйте, сколько стоит пломба?");
    assert_eq!(u.intents, vec![Intent::Price, Intent::Greeting]);
    let reply = answer("Здравствуйте, сколько стоит пломба?");
    assert_eq!(reply.route, Route::Price);
    assert!(
        reply.text.starts_with("Здравствуйте!\nУточните"),
        "{}",
        reply.text
    );
    let reply = answer("Hola, cuánto cuesta una limpieza");
    assert!(plain(&reply.text).starts_with("¡Hola! Limpieza dental profesional: 5.500 ₽."));
}
