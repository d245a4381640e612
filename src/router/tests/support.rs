//! Shared test fixtures: the demo price list, a clinic, and one-line helpers to ask the
//! router something the way the conversation turn will.

use std::sync::LazyLock;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};

use crate::domain::clinic::{ClinicFacts, WeeklyHours};
use crate::domain::service::Service;
use crate::router::{PriceIndex, PriceMatch, Reply, Router, Understanding};

/// The demo price list through the importer's own parser; ids are the codes.
pub fn parse_price_csv(csv: &str) -> Vec<Service> {
    crate::services::price_list::parse(csv.as_bytes())
        .unwrap()
        .into_iter()
        .map(|s| {
            let id = s.code.clone();
            s.with_id(id)
        })
        .collect()
}

pub fn demo_services() -> Vec<Service> {
    parse_price_csv(include_str!("../../../static/demo/prices.csv"))
}

pub static ROUTER: LazyLock<Router> = LazyLock::new(Router::builtin);
pub static PRICES: LazyLock<PriceIndex> = LazyLock::new(|| ROUTER.index_prices(&demo_services()));

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

/// Mon–Fri 09:00–20:00, Sat 10:00–16:00, Sun closed; Moscow time.
pub fn clinic() -> ClinicFacts {
    let weekday = vec![(t(9, 0), t(20, 0))];
    ClinicFacts {
        id: "clinic-1".into(),
        name: "Улыбка".into(),
        address: Some("Москва, ул. Тверская, 1".into()),
        phone: Some("+7 495 123-45-67".into()),
        timezone: chrono_tz::Europe::Moscow,
        default_language: "ru".into(),
        hours: WeeklyHours {
            days: [
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday,
                vec![(t(10, 0), t(16, 0))],
                vec![],
            ],
        },
    }
}

/// Moscow local time on Wednesday 25 November 2026 (UTC+3).
pub fn moscow(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
        - chrono::Duration::hours(3)
}

/// A new chat of a Russian clinic.
pub fn ask(text: &str) -> Understanding {
    ROUTER.understand(text, None, "ru", &PRICES)
}

/// The reply on a Wednesday at noon, Moscow time.
pub fn answer(text: &str) -> Reply {
    ROUTER.reply(&ask(text), &clinic(), &PRICES, moscow(25, 12, 0))
}

/// Reply text with no-break spaces shown as plain ones, for readable assertions.
pub fn plain(text: &str) -> String {
    text.replace('\u{a0}', " ")
}

/// The demo list's two fillings, as an ambiguous match lists them.
pub fn both_fillings() -> PriceMatch {
    PriceMatch::Ambiguous(vec!["THER-FILL-LC".into(), "THER-FILL-CEM".into()])
}
