//! The whole price list on request: every language, grouped by code prefix, cut to a
//! WhatsApp-friendly length with a count of what was left out.

use super::support::*;
use crate::domain::service::Service;
use crate::router::{Intent, Route};

#[test]
fn the_whole_price_list_is_sent_on_request_in_each_language() {
    for (text, first) in [
        ("прайс", "• Консультация стоматолога — 1 000 ₽"),
        ("какие у вас цены", "Наши цены:"),
        ("price list", "• Консультация стоматолога — 1,000 ₽"),
        ("lista de precios", "• Консультация стоматолога — 1.000 ₽"),
    ] {
        let (u, reply) = (ask(text), answer(text));
        assert_eq!(u.intents, vec![Intent::PriceList], "{text}");
        assert_eq!(reply.route, Route::PriceList);
        let shown = plain(&reply.text);
        assert!(shown.contains(first), "{text}: {shown}");
        assert!(
            shown.contains("Фторирование зубов"),
            "the demo list fits whole"
        );
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
