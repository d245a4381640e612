//! Prices in words: one service, a short list of candidates, "not on our list", "which
//! service?", and the whole price list grouped by code prefix and cut to a readable length.
//! Amounts are formatted by the language pack's money conventions; nothing is invented.

use super::pack::LanguagePack;
use super::price_index::{PriceIndex, PricedService};
use super::template::fill;
use super::understand::PriceMatch;

/// Candidates listed for an ambiguous price question.
const MAX_CANDIDATES: usize = 6;
/// The full price list is cut to stay a readable WhatsApp message (the hard limit is 4096).
const MAX_PRICE_LIST_CHARS: usize = 1800;

pub struct PriceText<'a> {
    pub pack: &'a LanguagePack,
    pub prices: &'a PriceIndex,
}

impl PriceText<'_> {
    fn say(&self, key: &str, vars: &[(&str, &str)]) -> String {
        fill(self.pack.template(key).unwrap_or_default(), vars)
    }

    fn price_of(&self, service: &PricedService) -> String {
        self.pack
            .money
            .format(service.price_minor, &service.currency)
    }

    /// The service's name in the language of the reply.
    fn name<'s>(&self, service: &'s PricedService) -> &'s str {
        service.name_in(&self.pack.code)
    }

    fn item(&self, service: &PricedService) -> String {
        let price = self.price_of(service);
        self.say(
            "price_item",
            &[("service", self.name(service)), ("price", &price)],
        )
    }

    /// The answer to a price question; `None` when there is nothing true to say (a service
    /// no longer on the list, or no list at all).
    pub fn answer(&self, price: &PriceMatch) -> Option<String> {
        let find = |id: &str| self.prices.services.iter().find(|s| s.id == id);
        match price {
            PriceMatch::One(id) => {
                let service = find(id)?;
                let price = self.price_of(service);
                Some(self.say(
                    "price_one",
                    &[("service", self.name(service)), ("price", &price)],
                ))
            }
            PriceMatch::Ambiguous(ids) | PriceMatch::Several(ids) => {
                let items: Vec<String> = ids
                    .iter()
                    .filter_map(|id| find(id))
                    .take(MAX_CANDIDATES)
                    .map(|s| self.item(s))
                    .collect();
                // Several services asked about are listed as such; a pack without the
                // template lists them as it lists candidates to pick from.
                let key = match price {
                    PriceMatch::Several(_) if self.pack.template("price_several").is_some() => {
                        "price_several"
                    }
                    _ => "price_many",
                };
                (!items.is_empty()).then(|| self.say(key, &[("items", &items.join("\n"))]))
            }
            PriceMatch::NotOffered(asked) => {
                Some(self.say("price_not_offered", &[("service", asked)]))
            }
            // Packs without the template answer with the listed service, named.
            PriceMatch::Nearest(id, asked) => match self.pack.template("price_nearest") {
                Some(template) => {
                    let service = find(id)?;
                    let price = self.price_of(service);
                    Some(fill(
                        template,
                        &[
                            ("asked", asked),
                            ("service", self.name(service)),
                            ("price", &price),
                        ],
                    ))
                }
                None => self.answer(&PriceMatch::One(id.clone())),
            },
            PriceMatch::None if self.prices.is_empty() => None,
            PriceMatch::None => Some(self.say("price_ask_which", &[])),
        }
    }

    /// `answer`, followed by "Would you like to book?" when it names one service.
    pub fn answer_inviting_to_book(&self, price: &PriceMatch) -> Option<String> {
        let text = self.answer(price)?;
        Some(match price {
            PriceMatch::One(_) => format!("{text} {}", self.say("price_invite", &[])),
            _ => text,
        })
    }

    /// The whole list, services with the same code prefix together, cut to a readable length.
    pub fn whole_list(&self) -> Option<String> {
        if self.prices.is_empty() {
            return None;
        }
        let mut groups: Vec<(&str, Vec<&PricedService>)> = Vec::new();
        for service in &self.prices.services {
            match groups.iter_mut().find(|(g, _)| *g == service.group) {
                Some((_, members)) => members.push(service),
                None => groups.push((&service.group, vec![service])),
            }
        }
        let (mut items, mut chars, mut shown) = (String::new(), 0, 0);
        'groups: for (_, members) in &groups {
            if !items.is_empty() {
                items.push('\n');
            }
            for service in members {
                let line = self.item(service);
                chars += line.chars().count() + 1;
                if chars > MAX_PRICE_LIST_CHARS {
                    break 'groups;
                }
                items.push_str(&line);
                items.push('\n');
                shown += 1;
            }
        }
        let mut items = items.trim_end().to_string();
        let left_out = self.prices.services.len() - shown;
        if left_out > 0 {
            let count = left_out.to_string();
            items.push_str("\n\n");
            items.push_str(&self.say("price_list_more", &[("count", &count)]));
        }
        Some(self.say("price_list", &[("items", &items)]))
    }
}
