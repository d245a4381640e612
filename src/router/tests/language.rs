//! Language detection: script, marker words, Spanish-only characters, the chat's earlier
//! language for short texts, and the clinic default as the last word.

use super::support::*;
use crate::router::{LanguageSource, normalize};

fn language_of(text: &str, session: Option<&str>, default: &str) -> (String, LanguageSource) {
    let u = ROUTER.understand(text, session, default, &PRICES);
    (u.language, u.language_source)
}

#[test]
fn russian_english_and_spanish_messages_are_recognised_from_their_text() {
    for (text, code) in [
        ("Сколько стоит пломба?", "ru"),
        ("how much is a filling", "en"),
        ("¿cuánto cuesta una limpieza?", "es"),
        ("cuanto cuesta una limpieza", "es"),
        ("Thank you so much!", "en"),
        ("emergencia", "es"),
        ("aceptan seguro?", "es"),
        ("aceptan tarjeta?", "es"),
        ("holaa", "es"),
        ("holaaa doctora", "es"),
        ("hiii", "en"),
    ] {
        assert_eq!(
            language_of(text, None, "ru"),
            (code.to_string(), LanguageSource::Text),
            "{text}"
        );
    }
}

#[test]
fn spanish_only_characters_tell_spanish_from_english() {
    assert_eq!(language_of("¿Limpieza?", Some("en"), "en").0, "es");
    assert_eq!(language_of("Señor", None, "en").0, "es");
    assert_eq!(language_of("hacen frenectomia?", None, "en").0, "es");
}

#[test]
fn replies_come_in_the_patients_language() {
    assert!(answer("когда вы работаете").text.contains("Часы работы"));
    assert!(answer("opening hours").text.contains("Opening hours"));
    assert!(answer("horario").text.contains("Horario"));
}

#[test]
fn short_texts_without_words_of_a_language_keep_the_chats_language() {
    for (text, session) in [
        ("ok", "ru"),
        ("?", "en"),
        ("4500", "es"),
        ("4500?", "ru"),
        ("ок", "en"),
    ] {
        assert_eq!(
            language_of(text, Some(session), "ru"),
            (session.to_string(), LanguageSource::Session),
            "{text:?} in a {session} chat"
        );
    }
}

#[test]
fn a_latin_text_without_markers_stays_in_a_latin_chats_language() {
    assert_eq!(language_of("Invisalign?", Some("es"), "ru").0, "es");
    assert_eq!(language_of("Invisalign?", None, "ru").0, "en");
}

#[test]
fn a_brand_name_does_not_switch_a_chat_to_another_language() {
    for text in [
        "Цена Straumann",
        "А Straumann?",
        "Invisalign?",
        "Straumann или Osstem?",
    ] {
        assert_eq!(
            language_of(text, Some("ru"), "ru"),
            ("ru".into(), LanguageSource::Session),
            "{text}"
        );
    }
}

#[test]
fn a_clear_message_in_another_language_switches_the_chat() {
    assert_eq!(
        language_of("hola", Some("ru"), "ru"),
        ("es".into(), LanguageSource::Text)
    );
    assert_eq!(
        language_of("пломба?", Some("en"), "en"),
        ("ru".into(), LanguageSource::Text)
    );
    assert_eq!(language_of("hi", Some("ru"), "ru").0, "en");
}

#[test]
fn a_new_chat_with_an_unclear_text_gets_the_clinic_language() {
    assert_eq!(
        language_of("4500", None, "es"),
        ("es".into(), LanguageSource::ClinicDefault)
    );
    assert_eq!(
        language_of("👍", None, "ru"),
        ("ru".into(), LanguageSource::ClinicDefault)
    );
}

#[test]
fn unknown_chat_or_clinic_languages_fall_back_to_english() {
    assert_eq!(language_of("4500", Some("de"), "fr").0, "en");
}

#[test]
fn normalising_is_exposed_for_callers_that_compare_texts() {
    assert_eq!(normalize("Ёлка!! 🎄  Почём?"), "елка почем");
}
