//! A priced service of the clinic's price list, as the router and caches see it.

/// One row of the price list. `price_minor` is in minor units (kopecks, cents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub code: String,
    pub name: String,
    pub price_minor: i64,
    /// ISO 4217 code, upper case: "RUB", "USD", "EUR".
    pub currency: String,
    /// Other names patients use, in any language.
    pub aliases: Vec<String>,
}
