//! Router behaviour end to end through the public API, on the demo price list
//! (`static/demo/prices.csv`) and a Moscow clinic open Mon–Fri 09–20, Sat 10–16.

mod conversation;
mod handoffs;
mod language;
mod packs;
mod price_list;
mod prices;
mod refusals;
mod support;
mod ties;
mod variants;
