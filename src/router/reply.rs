//! The fast path's reply to an understood message, rendered from the language pack's
//! templates and the clinic's facts. It answers only from data it has: missing hours or
//! address, or an unknown question, become `needs_llm` with the fallback text. Handoffs never
//! confirm a booking or give medical advice; an emergency always wins.

use chrono::{DateTime, Utc};

use super::hours::hours_text;
use super::intent::Intent;
use super::pack::LanguagePack;
use super::price_index::{PriceIndex, PricedService};
use super::template::fill;
use super::understand::{PriceMatch, Understanding};
use crate::domain::clinic::ClinicFacts;

/// Candidates listed for an ambiguous price question.
const MAX_CANDIDATES: usize = 6;
/// The full price list is cut to stay a readable WhatsApp message (the hard limit is 4096).
const MAX_PRICE_LIST_CHARS: usize = 1800;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    pub route: Route,
    pub handoff: Option<Handoff>,
    /// The fast path has no answer: use the LLM, or send `text` (the fallback template).
    pub needs_llm: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Price,
    PriceList,
    Hours,
    Address,
    Greeting,
    Thanks,
    Booking,
    Human,
    Emergency,
    Unanswered,
}

impl Route {
    /// Metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Price => "fast_price",
            Route::PriceList => "fast_price_list",
            Route::Hours => "fast_hours",
            Route::Address => "fast_address",
            Route::Greeting => "fast_greeting",
            Route::Thanks => "fast_thanks",
            Route::Booking => "fast_booking",
            Route::Human => "fast_human",
            Route::Emergency => "fast_emergency",
            Route::Unanswered => "unanswered",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoffReason {
    Booking,
    Human,
    Emergency,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handoff {
    pub reason: HandoffReason,
    /// Staff must look now (emergencies).
    pub urgent: bool,
}

struct Context<'a> {
    pack: &'a LanguagePack,
    clinic: &'a ClinicFacts,
    prices: &'a PriceIndex,
}

impl Context<'_> {
    fn say(&self, key: &str, vars: &[(&str, &str)]) -> String {
        fill(self.pack.template(key).unwrap_or_default(), vars)
    }

    fn price_of(&self, service: &PricedService) -> String {
        self.pack
            .money
            .format(service.price_minor, &service.currency)
    }

    fn item(&self, service: &PricedService) -> String {
        self.say(
            "price_item",
            &[
                ("service", &service.name),
                ("price", &self.price_of(service)),
            ],
        )
    }

    fn unanswered(&self) -> Reply {
        Reply {
            text: self.say("fallback", &[]),
            route: Route::Unanswered,
            handoff: None,
            needs_llm: true,
        }
    }
}

pub fn compose(
    u: &Understanding,
    pack: &LanguagePack,
    clinic: &ClinicFacts,
    prices: &PriceIndex,
    now: DateTime<Utc>,
) -> Reply {
    let cx = Context {
        pack,
        clinic,
        prices,
    };
    let handoff = |reason, urgent, route, text: String| Reply {
        text,
        route,
        handoff: Some(Handoff { reason, urgent }),
        needs_llm: false,
    };
    let greeted = |text: String| with_greeting(&cx, u, text);
    match u.primary() {
        Intent::Emergency => {
            let text = cx.say("emergency", &[("clinic", &clinic.name)]);
            return handoff(HandoffReason::Emergency, true, Route::Emergency, text);
        }
        Intent::Human => {
            let text = greeted(cx.say("human", &[]));
            return handoff(HandoffReason::Human, false, Route::Human, text);
        }
        Intent::Booking => {
            let booking = cx.say("booking", &[]);
            let text = match price_section(&cx, &u.price) {
                Some(price) if u.has(Intent::Price) => format!("{price}\n\n{booking}"),
                _ => booking,
            };
            return handoff(HandoffReason::Booking, false, Route::Booking, greeted(text));
        }
        _ => {}
    }
    if u.has(Intent::Unknown) {
        return cx.unanswered();
    }
    let questions = [
        (Intent::Price, Route::Price),
        (Intent::PriceList, Route::PriceList),
        (Intent::Hours, Route::Hours),
        (Intent::Address, Route::Address),
    ];
    let mut sections = Vec::new();
    let mut route = None;
    for (intent, intent_route) in questions.into_iter().filter(|(i, _)| u.has(*i)) {
        let section = match intent {
            Intent::Price => {
                price_section(&cx, &u.price).map(|text| invite_to_book(&cx, &u.price, text))
            }
            Intent::PriceList => price_list_section(&cx),
            Intent::Hours => hours_text(pack, &clinic.hours, clinic.timezone, now),
            _ => address_section(&cx),
        };
        let Some(section) = section else {
            return cx.unanswered();
        };
        sections.push(section);
        route.get_or_insert(intent_route);
    }
    let (text, route) = match route {
        Some(route) => (greeted(sections.join("\n\n")), route),
        None if u.has(Intent::Greeting) => (
            cx.say("greeting", &[("clinic", &clinic.name)]),
            Route::Greeting,
        ),
        None if u.has(Intent::Thanks) => {
            (cx.say("thanks", &[("clinic", &clinic.name)]), Route::Thanks)
        }
        None => return cx.unanswered(),
    };
    Reply {
        text,
        route,
        handoff: None,
        needs_llm: false,
    }
}

/// Adds "Would you like to book?" after a single price, when no booking is under way.
fn invite_to_book(cx: &Context<'_>, price: &PriceMatch, text: String) -> String {
    match price {
        PriceMatch::One(_) => format!("{text} {}", cx.say("price_invite", &[])),
        _ => text,
    }
}

/// Puts the pack's short greeting before an answer when the patient greeted first.
fn with_greeting(cx: &Context<'_>, u: &Understanding, text: String) -> String {
    if !u.has(Intent::Greeting) {
        return text;
    }
    let hello = cx.say("greeting_prefix", &[]);
    let joiner = if text.contains('\n') { "\n" } else { " " };
    format!("{hello}{joiner}{text}")
}

fn price_section(cx: &Context<'_>, price: &PriceMatch) -> Option<String> {
    let find = |id: &str| cx.prices.services.iter().find(|s| s.id == id);
    match price {
        PriceMatch::One(id) => {
            let service = find(id)?;
            Some(cx.say(
                "price_one",
                &[("service", &service.name), ("price", &cx.price_of(service))],
            ))
        }
        PriceMatch::Ambiguous(ids) => {
            let items: Vec<String> = ids
                .iter()
                .filter_map(|id| find(id))
                .take(MAX_CANDIDATES)
                .map(|s| cx.item(s))
                .collect();
            (!items.is_empty()).then(|| cx.say("price_many", &[("items", &items.join("\n"))]))
        }
        PriceMatch::NotOffered(asked) => Some(cx.say("price_not_offered", &[("service", asked)])),
        PriceMatch::None if cx.prices.is_empty() => None,
        PriceMatch::None => Some(cx.say("price_ask_which", &[])),
    }
}

/// The whole list, services with the same code prefix together, cut to a readable length.
fn price_list_section(cx: &Context<'_>) -> Option<String> {
    if cx.prices.is_empty() {
        return None;
    }
    let mut groups: Vec<(&str, Vec<&PricedService>)> = Vec::new();
    for service in &cx.prices.services {
        match groups.iter_mut().find(|(g, _)| *g == service.group) {
            Some((_, members)) => members.push(service),
            None => groups.push((&service.group, vec![service])),
        }
    }
    let total = cx.prices.services.len();
    let mut items = String::new();
    let mut shown = 0;
    'groups: for (_, members) in &groups {
        if !items.is_empty() {
            items.push('\n');
        }
        for service in members {
            let line = cx.item(service);
            if items.chars().count() + line.chars().count() > MAX_PRICE_LIST_CHARS {
                break 'groups;
            }
            items.push_str(&line);
            items.push('\n');
            shown += 1;
        }
    }
    let mut items = items.trim_end().to_string();
    if shown < total {
        let more = (total - shown).to_string();
        items.push_str("\n\n");
        items.push_str(&cx.say("price_list_more", &[("count", &more)]));
    }
    Some(cx.say("price_list", &[("items", &items)]))
}

fn address_section(cx: &Context<'_>) -> Option<String> {
    let address = cx
        .clinic
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())?;
    let mut text = cx.say(
        "address",
        &[("address", address), ("clinic", &cx.clinic.name)],
    );
    if let Some(phone) = cx
        .clinic
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        text.push('\n');
        text.push_str(&cx.say("address_phone", &[("phone", phone)]));
    }
    Some(text)
}
