//! The whole price list on request: every language, grouped by code prefix, cut to a
//! WhatsApp-friendly length with a count of what was left out.

use super::support::*;
use crate::domain::service::Service;
use crate::router::{Intent, Route};

#[test]
fn the_whole_price_list_is_sent_on_request_in_each_language() {
    // Names in the patient's language where the price list gives them (name_en, name_es).
    for (text, first, last) in [
        (
            "прайс",
            "• Консультация стоматолога — 1 000 ₽",
            "Фторирование зубов",
        ),
        ("какие у вас цены", "Наши цены:", "Фторирование зубов"),
        (
            "price list",
            "• Dental consultation — 1,000 ₽",
            "Fluoride treatment",
        ),
        (
            "lista de precios",
            "• Consulta dental — 1.000 ₽",
            "Fluorización dental",
        ),
    ] {
        let (u, reply) = (ask(text), answer(text));
        assert_eq!(u.intents, vec![Intent::PriceList], "{text}");
        assert_eq!(reply.route, Route::PriceList);
        let shown = plain(&reply.text);
        assert!(shown.contains(first), "{text}: {shown}");
        assert!(shown.contains(last), "the demo list fits whole: {shown}");
        assert!(shown.chars().count() < 2500);
    }
}

#[test]
fn the_price_list_groups_services_by_code_prefix_with_blank_lines_between_groups() {
    let text = plain(&answer("прайс").text);
    let block_of = |name: &str| {
        text.split("\n\n")
            .position(|block| block.contains(name))
            .unwrap()
    };
    assert_eq!(block_of("Пломба световая"), block_of("Лечение кариеса"));
    assert_eq!(
        block_of("Коронка металлокерамическая"),
        block_of("Винир керамический")
    );
    assert_ne!(
        block_of("Пломба световая"),
        block_of("Удаление зуба простое")
    );
}

#[test]
fn a_long_price_list_is_cut_with_a_count_of_what_is_left() {
    let services: Vec<Service> = (0..200)
        .map(|i| Service {
            id: format!("s{i}"),
            code: format!("G{}-{i}", i / 10),
            name: format!("Услуга номер {i} с довольно длинным названием"),
            names: Default::default(),
            price_minor: 100_000 + i,
            currency: "RUB".into(),
            aliases: vec![],
        })
        .collect();
    let prices = ROUTER.index_prices(&services);
    let u = ROUTER.understand("прайс", None, "ru", &prices);
    let reply = ROUTER.reply(&u, &clinic(), &prices, moscow(25, 12, 0));
    assert!(
        reply.text.chars().count() < 2200,
        "{}",
        reply.text.chars().count()
    );
    assert!(reply.text.contains("…и другие услуги ("), "{}", reply.text);
}

#[test]
fn a_service_is_found_by_its_translated_name_and_an_untranslated_one_keeps_the_clinics_name() {
    let service = |code: &str, name: &str, en: Option<&str>| Service {
        id: code.into(),
        code: code.into(),
        name: name.into(),
        names: en
            .map(|n| [("en".to_string(), n.to_string())].into())
            .unwrap_or_default(),
        price_minor: 300_000,
        currency: "RUB".into(),
        aliases: vec![],
    };
    let prices = ROUTER.index_prices(&[
        service("GUM", "Кюретаж", Some("Gum curettage")),
        service("MOLD", "Слепок", None),
    ]);
    let reply = |text: &str| {
        let u = ROUTER.understand(text, None, "ru", &prices);
        plain(&ROUTER.reply(&u, &clinic(), &prices, moscow(25, 12, 0)).text)
    };
    // No alias says "curettage": the English name alone finds it, and the reply uses it.
    let shown = reply("how much is gum curettage?");
    assert!(shown.starts_with("Gum curettage: 3,000 ₽."), "{shown}");
    let shown = reply("price list");
    assert!(shown.contains("• Gum curettage — 3,000 ₽"), "{shown}");
    assert!(shown.contains("• Слепок — 3,000 ₽"), "{shown}");
    assert!(reply("сколько стоит кюретаж").contains("Кюретаж"));
}
