//! The fast path's reply to an understood message, rendered from the language pack's
//! templates and the clinic's facts. It answers only from data it has: missing hours or
//! address, or an unknown question, become `needs_llm` with the fallback text. Handoffs never
//! confirm a booking or give medical advice; an emergency always wins.

use chrono::{DateTime, Utc};

use super::hours::hours_text;
use super::intent::Intent;
use super::pack::LanguagePack;
use super::price_index::PriceIndex;
use super::price_text::PriceText;
use super::template::fill;
use super::understand::Understanding;
use crate::domain::clinic::ClinicFacts;

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
    pub const ALL: [Route; 10] = [
        Route::Price,
        Route::PriceList,
        Route::Hours,
        Route::Address,
        Route::Greeting,
        Route::Thanks,
        Route::Booking,
        Route::Human,
        Route::Emergency,
        Route::Unanswered,
    ];

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
    prices: PriceText<'a>,
}

impl Context<'_> {
    fn say(&self, key: &str, vars: &[(&str, &str)]) -> String {
        fill(self.pack.template(key).unwrap_or_default(), vars)
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
        prices: PriceText { pack, prices },
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
            // What the message also asks comes first: the price of the service, the hours
            // ("в какое время можно прийти в воскресенье": Sunday is closed), the address.
            let mut sections = Vec::new();
            if u.has(Intent::Price) {
                sections.extend(cx.prices.answer(&u.price));
            }
            if u.has(Intent::Hours) {
                sections.extend(hours_text(pack, &clinic.hours, clinic.timezone, now));
            }
            if u.has(Intent::Address) {
                sections.extend(address_section(&cx));
            }
            sections.push(cx.say("booking", &[]));
            let text = greeted(sections.join("\n\n"));
            return handoff(HandoffReason::Booking, false, Route::Booking, text);
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
            Intent::Price => cx.prices.answer_inviting_to_book(&u.price),
            Intent::PriceList => cx.prices.whole_list(),
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

/// Puts the pack's short greeting before an answer when the patient greeted first.
fn with_greeting(cx: &Context<'_>, u: &Understanding, text: String) -> String {
    if !u.has(Intent::Greeting) {
        return text;
    }
    let hello = cx.say("greeting_prefix", &[]);
    let joiner = if text.contains('\n') { "\n" } else { " " };
    format!("{hello}{joiner}{text}")
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
