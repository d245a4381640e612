//! The price list prepared for matching: every name (translations too) and alias split into words, each word
//! stemmed under every language pack's stemmer, with postings from words to the phrases that
//! use them and a note of which stems are too common to identify a service ("зуб", "teeth").
//! Built once per price-cache refresh; matching a message then only looks things up.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::pack::LanguagePack;
use super::text::{is_number, words};
use super::vocabulary::Vocabulary;
use crate::domain::service::Service;

/// A stem found in this many services or more cannot on its own point at a service.
const COMMON_STEM_SERVICES: usize = 3;
/// A stem found in this many services or more, and in at least one in `GENERIC_SHARE` of
/// them, says nothing about which kind of a service is meant ("зуб", "teeth", "treatment"):
/// beside a service it asks no variant. "ceramic" in three of the demo's 32 services still
/// does ("ceramic braces" where the list has metal ones).
const GENERIC_STEM_SERVICES: usize = 5;
const GENERIC_SHARE: usize = 8;
/// Phrases longer than this are cut: their words are tracked in a 64-bit mask.
const MAX_PHRASE_WORDS: usize = 64;

#[derive(Debug, Clone)]
pub struct PricedService {
    pub id: String,
    pub name: String,
    pub names: BTreeMap<String, String>,
    pub price_minor: i64,
    pub currency: String,
    /// Code up to its first '-' or '.': services sharing it are listed together.
    pub group: String,
}

/// A service's name or one alias, as ids of its distinct content words.
#[derive(Debug)]
pub struct ServicePhrase {
    pub service: usize,
    pub words: Vec<u32>,
}

/// The words of all phrases under one language's stemmer.
#[derive(Debug)]
pub struct LanguageTerms {
    pub code: String,
    pub vocabulary: Vocabulary,
    /// Per word id: its stem is shared by many services.
    pub common: Vec<bool>,
    /// Per word id: its stem is shared by so many services that it names no kind of one.
    pub generic: Vec<bool>,
    /// Per word id: (phrase id, position of the word in that phrase).
    pub postings: Vec<Vec<(u32, u8)>>,
}

/// The price list, ready for `Router::understand` and `Router::reply`.
#[derive(Debug)]
pub struct PriceIndex {
    pub(crate) services: Vec<PricedService>,
    pub(crate) phrases: Vec<ServicePhrase>,
    pub(crate) languages: Vec<LanguageTerms>,
    /// Per service, the services it is a kind of (see `kinds`).
    pub(crate) kind_of: Vec<Vec<usize>>,
}

impl PriceIndex {
    pub(crate) fn build(packs: &[LanguagePack], services: &[Service]) -> PriceIndex {
        let stopwords: HashSet<&str> = packs
            .iter()
            .flat_map(|p| p.stopwords.iter().map(String::as_str))
            .collect();
        let mut word_ids: HashMap<String, u32> = HashMap::new();
        let mut all_words: Vec<String> = Vec::new();
        let mut phrases = Vec::new();
        for (index, service) in services.iter().enumerate() {
            let mut seen = HashSet::new();
            let names = std::iter::once(&service.name).chain(service.names.values());
            for text in names.chain(&service.aliases) {
                let mut ids: Vec<u32> = Vec::new();
                for word in words(text) {
                    if stopwords.contains(word.as_str()) || is_number(&word) {
                        continue;
                    }
                    let next = u32::try_from(all_words.len()).unwrap_or(u32::MAX);
                    let id = *word_ids.entry(word.clone()).or_insert_with(|| {
                        all_words.push(word);
                        next
                    });
                    if !ids.contains(&id) && ids.len() < MAX_PHRASE_WORDS {
                        ids.push(id);
                    }
                }
                if !ids.is_empty() && seen.insert(ids.clone()) {
                    phrases.push(ServicePhrase {
                        service: index,
                        words: ids,
                    });
                }
            }
        }
        let languages = packs
            .iter()
            .map(|pack| language_terms(pack, &all_words, &phrases, services.len()))
            .collect();
        PriceIndex {
            services: services.iter().map(priced).collect(),
            kind_of: kinds(&phrases, services.len()),
            phrases,
            languages,
        }
    }

    pub(crate) fn language(&self, code: &str) -> Option<&LanguageTerms> {
        self.languages.iter().find(|l| l.code == code)
    }

    /// Number of services indexed.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Name and price (minor units, currency) of the service with this id.
    pub fn service(&self, id: &str) -> Option<(&str, i64, &str)> {
        self.services
            .iter()
            .find(|s| s.id == id)
            .map(|s| (s.name.as_str(), s.price_minor, s.currency.as_str()))
    }
}

/// Per service, the services it is a kind of: one of its names holds every word of one of
/// theirs and more ("Удаление зуба мудрости" holds "удаление зуба", "wisdom tooth extraction"
/// holds "tooth extraction"). Services that hold each other's names so (two implants sharing
/// the alias "имплант", two fillings sharing "пломба") are kinds of neither.
fn kinds(phrases: &[ServicePhrase], services: usize) -> Vec<Vec<usize>> {
    let mut phrases_with: HashMap<u32, Vec<usize>> = HashMap::new();
    for (at, phrase) in phrases.iter().enumerate() {
        for &word in &phrase.words {
            phrases_with.entry(word).or_default().push(at);
        }
    }
    // holds[b]: services one of whose names lies inside one of b's.
    let mut holds = vec![HashSet::new(); services];
    for inner in phrases {
        let Some(first) = inner.words.first() else {
            continue;
        };
        for &at in phrases_with.get(first).into_iter().flatten() {
            let outer = &phrases[at];
            if outer.service != inner.service
                && outer.words.len() > inner.words.len()
                && inner.words.iter().all(|w| outer.words.contains(w))
            {
                holds[outer.service].insert(inner.service);
            }
        }
    }
    (0..services)
        .map(|b| {
            let mut general: Vec<usize> = holds[b]
                .iter()
                .copied()
                .filter(|&a| !holds[a].contains(&b))
                .collect();
            general.sort_unstable();
            general
        })
        .collect()
}

fn priced(service: &Service) -> PricedService {
    let group = service
        .code
        .split(['-', '.'])
        .next()
        .unwrap_or_default()
        .to_string();
    PricedService {
        id: service.id.clone(),
        name: service.name.trim().to_string(),
        names: service.names.clone(),
        price_minor: service.price_minor,
        currency: service.currency.clone(),
        group,
    }
}

impl PricedService {
    /// The name a patient writing in `language` reads.
    pub fn name_in(&self, language: &str) -> &str {
        crate::domain::service::name_in(&self.name, &self.names, language)
    }
}

fn language_terms(
    pack: &LanguagePack,
    all_words: &[String],
    phrases: &[ServicePhrase],
    services: usize,
) -> LanguageTerms {
    let mut vocabulary = Vocabulary::default();
    for word in all_words {
        vocabulary.insert(word, &pack.stemmer);
    }
    let mut postings = vec![Vec::new(); all_words.len()];
    let mut services_by_stem: HashMap<&str, HashSet<usize>> = HashMap::new();
    for (phrase_id, phrase) in phrases.iter().enumerate() {
        for (position, &word) in phrase.words.iter().enumerate() {
            let phrase_id = u32::try_from(phrase_id).unwrap_or(u32::MAX);
            let position = u8::try_from(position).unwrap_or(u8::MAX);
            postings[word as usize].push((phrase_id, position));
            let stem = vocabulary.term(word).stem.as_str();
            services_by_stem
                .entry(stem)
                .or_default()
                .insert(phrase.service);
        }
    }
    let generic_from = GENERIC_STEM_SERVICES.max(services.div_ceil(GENERIC_SHARE));
    let (common, generic) = (0..all_words.len())
        .map(|id| {
            let stem = vocabulary.term(id as u32).stem.as_str();
            let sharing = services_by_stem.get(stem).map_or(0, HashSet::len);
            (sharing >= COMMON_STEM_SERVICES, sharing >= generic_from)
        })
        .unzip();
    LanguageTerms {
        code: pack.code.clone(),
        vocabulary,
        common,
        generic,
        postings,
    }
}
