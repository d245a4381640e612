//! The router: from a patient's message to its language, intents and price match, and to the
//! fast path's reply. Pure: no storage, no network, no logging of message text; the only I/O
//! is reading extra language packs from a directory the caller names, once, at start-up.
//! Languages are data (`lang/*.toml`, embedded); see `pack.rs` for what a pack holds.

mod detect;
mod edit_distance;
mod error;
mod hours;
mod intent;
pub(crate) mod pack;
mod price_index;
mod price_match;
mod price_text;
mod reply;
mod template;
mod text;
mod understand;
mod vocabulary;

#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Utc};

pub use detect::LanguageSource;
pub use error::RouterError;
pub use intent::Intent;
pub use pack::REQUIRED_TEMPLATES;
pub use price_index::PriceIndex;
pub use reply::{Handoff, HandoffReason, Reply, Route};
pub use template::TemplateGap;
pub use text::normalize;
pub use understand::{PriceMatch, Understanding};

use crate::domain::clinic::ClinicFacts;
use crate::domain::service::Service;
use pack::{BUILTIN, LanguagePack};

/// Language packs with their stemmers; shared read-only by every conversation turn.
pub struct Router {
    /// Sorted by code; never empty.
    packs: Vec<LanguagePack>,
    /// Every pack's stop words: they never name a service, whatever the language.
    stopwords: HashSet<String>,
}

impl Router {
    /// The built-in languages (en, es, ru), embedded in the binary.
    pub fn builtin() -> Router {
        let packs = BUILTIN
            .iter()
            .map(|(file, toml)| LanguagePack::parse(&format!("built-in {file}"), toml))
            .collect::<Result<Vec<_>, _>>()
            .expect("built-in language packs are valid (checked by the router's tests)");
        Router::from_packs(packs)
    }

    /// Built-ins plus every `*.toml` language pack in `extra_dir`; a pack there with the same
    /// code replaces the built-in one. Errors name the file and what is wrong with it.
    pub fn load(extra_dir: Option<&Path>) -> Result<Router, RouterError> {
        let mut packs = Router::builtin().packs;
        let Some(dir) = extra_dir else {
            return Ok(Router::from_packs(packs));
        };
        let read_dir = |source| RouterError::ReadDir {
            dir: dir.to_path_buf(),
            source,
        };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_dir)?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(read_dir)?;
        files.retain(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file());
        files.sort();
        let mut loaded: Vec<(String, String)> = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|source| RouterError::ReadFile {
                file: file.clone(),
                source,
            })?;
            let name = file.display().to_string();
            let pack = LanguagePack::parse(&name, &text)?;
            if let Some((_, first)) = loaded.iter().find(|(code, _)| *code == pack.code) {
                return Err(RouterError::DuplicateCode {
                    code: pack.code,
                    first: first.clone(),
                    second: name,
                });
            }
            loaded.push((pack.code.clone(), name));
            packs.retain(|p| p.code != pack.code);
            packs.push(pack);
        }
        Ok(Router::from_packs(packs))
    }

    fn from_packs(mut packs: Vec<LanguagePack>) -> Router {
        packs.sort_by(|a, b| a.code.cmp(&b.code));
        let stopwords = packs
            .iter()
            .flat_map(|p| p.stopwords.iter().cloned())
            .collect();
        Router { packs, stopwords }
    }

    /// Language codes, sorted: `["en", "es", "ru"]`.
    pub fn languages(&self) -> Vec<&str> {
        self.packs.iter().map(|p| p.code.as_str()).collect()
    }

    /// The language's own name ("Русский"), for settings screens.
    pub fn language_name(&self, code: &str) -> Option<&str> {
        self.pack(code).map(|p| p.name.as_str())
    }

    pub fn has_language(&self, code: &str) -> bool {
        self.pack(code).is_some()
    }

    fn pack(&self, code: &str) -> Option<&LanguagePack> {
        self.packs.iter().find(|p| p.code == code)
    }

    /// The pack for `code`, else for `fallback`, else English, else the first one.
    fn pack_or(&self, code: &str, fallback: &str) -> &LanguagePack {
        self.pack(code)
            .or_else(|| self.pack(fallback))
            .or_else(|| self.pack("en"))
            .unwrap_or(&self.packs[0])
    }

    /// Precomputes everything matching needs: normalised, stemmed words of every name and
    /// alias under every pack's stemmer. Call once per price-cache refresh, not per message;
    /// use the index only with the router that built it.
    pub fn index_prices(&self, services: &[Service]) -> PriceIndex {
        PriceIndex::build(&self.packs, services)
    }

    /// Language, intents and price match of one patient message. `session_language` is the
    /// chat's earlier language (kept for short or unclear texts like "ok" or "4500?");
    /// `default_language` is the clinic's.
    pub fn understand(
        &self,
        text: &str,
        session_language: Option<&str>,
        default_language: &str,
        prices: &PriceIndex,
    ) -> Understanding {
        understand::understand(
            &self.packs,
            &self.stopwords,
            text,
            session_language,
            default_language,
            prices,
            false,
        )
    }

    /// `understand` for a text known to ask a price (the LLM's price lookup names a service
    /// and nothing else): a bare service name with a word beside it still gets its price, or
    /// "not on our list".
    pub fn understand_price_query(
        &self,
        text: &str,
        session_language: Option<&str>,
        default_language: &str,
        prices: &PriceIndex,
    ) -> Understanding {
        understand::understand(
            &self.packs,
            &self.stopwords,
            text,
            session_language,
            default_language,
            prices,
            true,
        )
    }

    /// The reply the fast path sends, from the language pack's templates and the clinic's
    /// facts. `now` places an hours answer in clinic time ("open today until 20:00").
    pub fn reply(
        &self,
        u: &Understanding,
        clinic: &ClinicFacts,
        prices: &PriceIndex,
        now: DateTime<Utc>,
    ) -> Reply {
        let pack = self.pack_or(&u.language, &clinic.default_language);
        reply::compose(u, pack, clinic, prices, now)
    }

    /// A named template in `language` (falling back to English) with `{placeholders}` filled
    /// from `vars`. A key no pack has yields the English `fallback` text, never an empty reply.
    pub fn template(&self, language: &str, key: &str, vars: &[(&str, &str)]) -> String {
        self.template_with_default(language, "en", key, vars)
    }

    /// Like `template`, falling back first to the clinic's `default_language`, then English.
    pub fn template_with_default(
        &self,
        language: &str,
        default_language: &str,
        key: &str,
        vars: &[(&str, &str)],
    ) -> String {
        let found = [language, default_language, "en"]
            .iter()
            .filter_map(|code| self.pack(code))
            .find_map(|pack| pack.template(key));
        let text = found.unwrap_or_else(|| {
            self.pack_or("en", "en")
                .template("fallback")
                .unwrap_or_default()
        });
        template::fill(text, vars)
    }

    /// Like `template_with_default`, for messages the patient did not ask for (follow-ups):
    /// a key no pack has, or a placeholder without a value, is an error instead of the
    /// `fallback` text or a visible `{placeholder}`.
    pub fn template_strict(
        &self,
        language: &str,
        default_language: &str,
        key: &str,
        vars: &[(&str, &str)],
    ) -> Result<String, TemplateGap> {
        let text = [language, default_language, "en"]
            .iter()
            .filter_map(|code| self.pack(code))
            .find_map(|pack| pack.template(key))
            .ok_or_else(|| TemplateGap::NoTemplate(key.to_owned()))?;
        template::fill_strict(key, text, vars)
    }
}
