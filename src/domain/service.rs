//! A priced service of the clinic's price list, as the router and caches see it.

use std::collections::BTreeMap;

/// One row of the price list. `price_minor` is in minor units (kopecks, cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub code: String,
    /// The clinic's own wording, in the clinic's language.
    pub name: String,
    /// The name in other languages, by language code ("en" → "Filling, light-cured"), from the
    /// price list's optional `name_<lang>` columns.
    pub names: BTreeMap<String, String>,
    pub price_minor: i64,
    /// ISO 4217 code, upper case: "RUB", "USD", "EUR".
    pub currency: String,
    /// Other names patients use, in any language.
    pub aliases: Vec<String>,
}

impl Service {
    /// The name a patient writing in `language` reads: the translation when the price list
    /// gives one, the clinic's own name otherwise.
    pub fn name_in(&self, language: &str) -> &str {
        name_in(&self.name, &self.names, language)
    }
}

/// `names[language]`, or `name` when there is no translation.
pub fn name_in<'a>(name: &'a str, names: &'a BTreeMap<String, String>, language: &str) -> &'a str {
    names.get(language).map_or(name, String::as_str)
}
