//! `cargo bench --bench router`: how long the fast path takes to understand one patient
//! message, in microseconds, warm (the router's share of each message in `frontdesk bench`).
//!
//! Three sets of texts against the demo price list: the questions `frontdesk bench` sends,
//! the same kinds of question with typos, and messages full of words no phrase or service
//! knows (each such word is searched for as a typo of every known word that could be one).

use frontdesk::domain::service::Service;
use frontdesk::router::Router;
use std::hint::black_box;
use std::time::{Duration, Instant};

const TYPOS: &[&str] = &[
    "сколко стоит пломаб",
    "скока стоит чиска зубов",
    "how mutch is a filing",
    "cuanto questa un empastte",
    "сколькоооо стоит пломбаааа??",
    "price of teeth whitenning",
];

const UNKNOWN_WORDS: &[&str] = &[
    "Добрый вечер, у меня вчера вечером разболелся зуб мудрости, что посоветуете делать?",
    "Hello, my daughter has been complaining about her braces rubbing against her cheek",
    "Hola, quería saber si atienden a niños pequeños los sábados por la mañana",
    "подскажите пожалуйста можно ли приехать с ребенком после школы",
];

fn demo_services() -> Vec<Service> {
    let csv = include_bytes!("../static/demo/prices.csv");
    frontdesk::services::price_list::parse(csv)
        .expect("the demo price list parses")
        .into_iter()
        .map(|s| {
            let id = s.code.clone();
            s.with_id(id)
        })
        .collect()
}

/// Mean microseconds per message over `texts`, repeated for at least `run`.
fn time(
    router: &Router,
    prices: &frontdesk::router::PriceIndex,
    texts: &[&str],
    run: Duration,
) -> f64 {
    for text in texts {
        black_box(router.understand(text, None, "ru", prices));
    }
    let (start, mut done) = (Instant::now(), 0u64);
    while done == 0 || start.elapsed() < run {
        for text in texts {
            black_box(router.understand(black_box(text), None, "ru", prices));
        }
        done += texts.len() as u64;
    }
    start.elapsed().as_secs_f64() * 1e6 / done as f64
}

fn main() {
    // `cargo test` runs this too (without `--bench`): once through, as a smoke test.
    let run = if std::env::args().any(|a| a == "--bench") {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    let router = Router::builtin();
    let prices = router.index_prices(&demo_services());
    for (name, texts) in [
        (
            "frontdesk bench questions",
            frontdesk::commands::BENCH_QUESTIONS,
        ),
        ("questions with typos", TYPOS),
        ("long messages of unknown words", UNKNOWN_WORDS),
    ] {
        let us = time(&router, &prices, texts, run);
        if run.is_zero() {
            println!("{name:32} understood (smoke run: `cargo bench` measures)");
        } else {
            println!("{name:32} {us:8.2} µs per message");
        }
    }
}
