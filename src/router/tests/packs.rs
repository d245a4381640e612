//! Language packs as data: built-ins are complete, a pack dropped into the language
//! directory adds or replaces a language, a broken one is refused naming the file, and
//! templates fall back to the clinic's language, then English.

use std::path::Path;

use super::support::*;
use crate::domain::money::MoneyFormat;
use crate::router::pack::{BUILTIN, LanguagePack, REQUIRED_TEMPLATES};
use crate::router::{PriceMatch, Route, Router, RouterError};

const PORTUGUESE: &str = include_str!("../testdata/pt.toml");

fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load_error(files: &[(&str, &str)]) -> String {
    let dir = dir_with(files);
    match Router::load(Some(dir.path())) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{files:?} should be refused"),
    }
}

#[test]
fn built_in_packs_are_english_spanish_and_russian_with_every_required_template() {
    let router = Router::builtin();
    assert_eq!(router.languages(), ["en", "es", "ru"]);
    assert!(router.has_language("ru") && !router.has_language("pt"));
    assert_eq!(router.language_name("es"), Some("Español"));
    for code in router.languages() {
        for key in REQUIRED_TEMPLATES {
            let text = router.template(code, key, &[]);
            assert!(!text.trim().is_empty(), "{code}/{key}");
        }
    }
}

#[test]
fn built_in_money_conventions_agree_with_the_domain_formatter() {
    for (file, toml) in BUILTIN {
        let pack = LanguagePack::parse(file, toml).unwrap();
        assert_eq!(pack.money, MoneyFormat::for_language(&pack.code), "{file}");
    }
}

#[test]
fn loading_without_a_directory_gives_the_built_in_languages() {
    assert_eq!(Router::load(None).unwrap().languages(), ["en", "es", "ru"]);
}

#[test]
fn a_portuguese_pack_in_the_language_directory_answers_in_portuguese() {
    let dir = dir_with(&[("pt.toml", PORTUGUESE), ("README.md", "not a pack")]);
    let router = Router::load(Some(dir.path())).unwrap();
    assert_eq!(router.languages(), ["en", "es", "pt", "ru"]);
    let prices = router.index_prices(&demo_services());
    let u = router.understand("Olá! Quanto custa uma limpeza?", Some("ru"), "ru", &prices);
    assert_eq!(u.language, "pt");
    assert_eq!(u.price, PriceMatch::One("HYG-CLEAN".into()));
    let reply = router.reply(&u, &clinic(), &prices, moscow(25, 12, 0));
    assert_eq!(reply.route, Route::Price);
    assert_eq!(
        plain(&reply.text),
        "Olá! Профессиональная чистка зубов: 5.500 ₽. Deseja marcar uma consulta?"
    );
    let hours = router.reply(
        &router.understand("qual é o horário?", None, "ru", &prices),
        &clinic(),
        &prices,
        moscow(25, 12, 0),
    );
    assert!(hours.text.contains("Dom: fechado"), "{}", hours.text);
}

#[test]
fn a_pack_in_the_directory_replaces_the_built_in_one_with_the_same_code() {
    let builtin_en = BUILTIN.iter().find(|(f, _)| *f == "en.toml").unwrap().1;
    let changed = builtin_en.replace(
        "thanks = \"You're welcome! Write any time if you have more questions.\"",
        "thanks = \"Cheers!\"",
    );
    let dir = dir_with(&[("english.toml", &changed)]);
    let router = Router::load(Some(dir.path())).unwrap();
    assert_eq!(router.languages(), ["en", "es", "ru"]);
    assert_eq!(router.template("en", "thanks", &[]), "Cheers!");
}

#[test]
fn a_pack_that_is_not_valid_toml_is_refused_naming_the_file() {
    let error = load_error(&[("broken.toml", "code = \"pt\"\nname = ")]);
    assert!(error.contains("broken.toml"), "{error}");
}

#[test]
fn a_pack_with_an_unknown_stemmer_says_which_stemmers_exist() {
    let error = load_error(&[(
        "pt.toml",
        &PORTUGUESE.replace("\"portuguese\"", "\"portugese\""),
    )]);
    assert!(
        error.contains("pt.toml") && error.contains("\"portugese\""),
        "{error}"
    );
    assert!(error.contains("portuguese, romanian"), "{error}");
}

#[test]
fn a_pack_missing_a_required_template_names_the_template() {
    let without_media: String = PORTUGUESE
        .lines()
        .filter(|l| !l.starts_with("media ="))
        .collect::<Vec<_>>()
        .join("\n");
    let error = load_error(&[("pt.toml", &without_media)]);
    assert!(
        error.contains("pt.toml") && error.contains("\"media\""),
        "{error}"
    );
}

#[test]
fn a_pack_with_mistakes_in_its_fields_is_refused_with_the_reason() {
    for (broken, reason) in [
        (
            PORTUGUESE.replace("code = \"pt\"", "code = \"PT\""),
            "lower-case language code",
        ),
        (
            PORTUGUESE.replace("weekdays = [\"Seg\", ", "weekdays = ["),
            "needs 7",
        ),
        (
            PORTUGUESE.replace("[intents]", "[intents]\nsmalltalk = [\"e aí\"]"),
            "unknown intent \"smalltalk\"",
        ),
        (
            PORTUGUESE.replace("time_format = \"%H:%M\"", "time_format = \"%Q\""),
            "strftime",
        ),
        (
            PORTUGUESE.replace("script = \"latin\"", "script = \"klingon\""),
            "klingon",
        ),
        (format!("colour = \"blue\"\n{PORTUGUESE}"), "colour"),
    ] {
        let error = load_error(&[("pt.toml", &broken)]);
        assert!(
            error.contains("pt.toml") && error.contains(reason),
            "{reason}: {error}"
        );
    }
}

#[test]
fn two_packs_for_one_language_in_the_directory_are_refused() {
    let error = load_error(&[("a.toml", PORTUGUESE), ("b.toml", PORTUGUESE)]);
    assert!(
        error.contains("a.toml") && error.contains("b.toml") && error.contains("\"pt\""),
        "{error}"
    );
}

#[test]
fn a_missing_language_directory_is_an_error_naming_it() {
    let error = Router::load(Some(Path::new("/nonexistent/frontdesk-lang")))
        .err()
        .unwrap();
    assert!(matches!(error, RouterError::ReadDir { .. }));
    assert!(error.to_string().contains("/nonexistent/frontdesk-lang"));
}

#[test]
fn templates_fall_back_to_the_clinic_language_then_english() {
    let dir = dir_with(&[("pt.toml", PORTUGUESE)]);
    let router = Router::load(Some(dir.path())).unwrap();
    let nudge_ru = router.template("ru", "followup_nudge", &[]);
    assert!(nudge_ru.starts_with("Здравствуйте!"));
    assert_eq!(
        router.template_with_default("pt", "ru", "followup_nudge", &[]),
        nudge_ru
    );
    assert_eq!(
        router.template("pt", "followup_nudge", &[]),
        router.template("en", "followup_nudge", &[])
    );
    assert_eq!(
        router.template("de", "thanks", &[]),
        router.template("en", "thanks", &[])
    );
    assert_eq!(
        router.template("pt", "thanks", &[]),
        "De nada! Escreva sempre que precisar."
    );
}

#[test]
fn an_unknown_template_key_gives_the_english_fallback_never_an_empty_text() {
    assert_eq!(
        ROUTER.template("ru", "no_such_key", &[]),
        "Thank you! A colleague will answer you shortly."
    );
}

#[test]
fn templates_fill_placeholders_from_the_given_values() {
    assert_eq!(
        ROUTER.template(
            "en",
            "price_one",
            &[("service", "Filling"), ("price", "$35")]
        ),
        "Filling: $35."
    );
}

#[test]
fn fallback_and_media_templates_read_naturally_in_each_language() {
    assert_eq!(
        ROUTER.template("en", "fallback", &[]),
        "Thank you! A colleague will answer you shortly."
    );
    assert_eq!(
        ROUTER.template("en", "media", &[]),
        "I can't open files or voice messages yet; please write your question as text — a colleague will also see it."
    );
    assert!(
        ROUTER
            .template("ru", "media", &[])
            .contains("напишите вопрос текстом")
    );
    assert!(
        ROUTER
            .template("es", "media", &[])
            .contains("escriba su pregunta como texto")
    );
}
