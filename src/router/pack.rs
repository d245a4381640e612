//! A language pack: everything the router knows about one language, read from TOML — the
//! stemmer, marker words for detection, intent phrases, reply templates, weekday names and
//! money conventions. Adding a language is adding a file; this module only reads and checks
//! one, and precomputes its stemmed phrases. It never reads the disk itself.

use std::collections::{HashMap, HashSet};

use rust_stemmers::{Algorithm, Stemmer};
use serde::Deserialize;

use super::error::RouterError;
use super::intent::Intent;
use super::text::{Script, words};
use super::vocabulary::{Term, Vocabulary};
use crate::domain::money::MoneyFormat;

/// Templates every pack must define: the ones `Router::reply` and its callers use.
pub const REQUIRED_TEMPLATES: &[&str] = &[
    "greeting",
    "greeting_prefix",
    "thanks",
    "price_one",
    "price_invite",
    "price_many",
    "price_item",
    "price_ask_which",
    "price_not_offered",
    "price_list",
    "price_list_more",
    "hours",
    "hours_open_now",
    "hours_opens_today",
    "hours_opens_later",
    "hours_closed_day",
    "tomorrow",
    "address",
    "address_phone",
    "human",
    "booking",
    "emergency",
    "fallback",
    "media",
];

const STEMMERS: &[(&str, Algorithm)] = &[
    ("arabic", Algorithm::Arabic),
    ("danish", Algorithm::Danish),
    ("dutch", Algorithm::Dutch),
    ("english", Algorithm::English),
    ("finnish", Algorithm::Finnish),
    ("french", Algorithm::French),
    ("german", Algorithm::German),
    ("greek", Algorithm::Greek),
    ("hungarian", Algorithm::Hungarian),
    ("italian", Algorithm::Italian),
    ("norwegian", Algorithm::Norwegian),
    ("portuguese", Algorithm::Portuguese),
    ("romanian", Algorithm::Romanian),
    ("russian", Algorithm::Russian),
    ("spanish", Algorithm::Spanish),
    ("swedish", Algorithm::Swedish),
    ("tamil", Algorithm::Tamil),
    ("turkish", Algorithm::Turkish),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    code: String,
    name: String,
    stemmer: String,
    script: Script,
    #[serde(default)]
    special_chars: String,
    markers: Vec<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    negations: Vec<String>,
    #[serde(default)]
    false_friends: Vec<String>,
    #[serde(default)]
    circumstances: Vec<String>,
    #[serde(default)]
    conjunctions: Vec<String>,
    weekdays: Vec<String>,
    weekdays_on: Vec<String>,
    #[serde(default = "default_time_format")]
    time_format: String,
    money: MoneyFormat,
    intents: HashMap<String, Vec<String>>,
    templates: HashMap<String, String>,
}

fn default_time_format() -> String {
    "%H:%M".to_string()
}

/// An intent phrase as ids of its words in the pack's phrase vocabulary.
#[derive(Debug)]
pub struct Phrase {
    pub intent: Intent,
    pub terms: Vec<u32>,
}

/// A checked, precomputed language pack.
pub struct LanguagePack {
    pub code: String,
    pub name: String,
    pub stemmer: Stemmer,
    pub script: Script,
    pub special_chars: Vec<char>,
    pub markers: HashSet<String>,
    pub stopwords: HashSet<String>,
    /// Stems of the words that negate a booking phrase just before or inside it ("не хочу
    /// записываться", "no quiero cita"), or a service beside them ("не нужна пломба").
    pub negations: HashSet<String>,
    /// Words that stem or misspell like a phrase's or a service's word and mean something
    /// else ("почему", why, beside "почём", how much; "floor" beside "fluoride"): they match
    /// only themselves.
    pub false_friends: HashSet<String>,
    /// Stems of words that say who a treatment is for, where in the mouth or how big
    /// ("детям", "снизу", "front", "para mi hijo", "небольшой"): beside a service they still
    /// ask its price, never for a variant the price list lacks.
    pub circumstances: HashSet<String>,
    /// Words joining two things named ("и", "or", "o"): a message with one may ask about
    /// several services ("коронка металлокерамическая или циркониевая").
    pub conjunctions: HashSet<String>,
    /// Short names, Monday first ("Пн"), for the week overview.
    pub weekdays: Vec<String>,
    /// "on Monday" forms, Monday first ("в понедельник"), for "we open on Monday at 9:00".
    pub weekdays_on: Vec<String>,
    pub time_format: String,
    pub money: MoneyFormat,
    /// Longest first, then by intent priority: the order phrases claim words in.
    pub phrases: Vec<Phrase>,
    pub phrase_vocabulary: Vocabulary,
    pub templates: HashMap<String, String>,
}

impl LanguagePack {
    /// A message's (normalised) word as this language matches it.
    pub fn term(&self, word: &str) -> Term {
        if self.false_friends.contains(word) {
            Term::only_itself(word, &self.stemmer)
        } else {
            Term::new(word, &self.stemmer)
        }
    }

    /// Parses and checks one pack; `source` names it in errors (a path or "built-in ru.toml").
    pub fn parse(source: &str, toml_text: &str) -> Result<LanguagePack, RouterError> {
        let file: PackFile = toml::from_str(toml_text).map_err(|e| RouterError::Syntax {
            file: source.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |problem: String| RouterError::Invalid {
            file: source.to_string(),
            problem,
        };
        check_code(&file.code).map_err(invalid)?;
        let algorithm = STEMMERS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(file.stemmer.trim()))
            .map(|&(_, algorithm)| algorithm)
            .ok_or_else(|| {
                let known: Vec<&str> = STEMMERS.iter().map(|(n, _)| *n).collect();
                invalid(format!(
                    "stemmer {:?} is not a Snowball stemmer rust-stemmers knows (one of: {})",
                    file.stemmer,
                    known.join(", ")
                ))
            })?;
        if file.markers.is_empty() {
            return Err(invalid(
                "`markers` is empty: list words typical of this language".into(),
            ));
        }
        for (field, names) in [
            ("weekdays", &file.weekdays),
            ("weekdays_on", &file.weekdays_on),
        ] {
            if names.len() != 7 {
                return Err(invalid(format!(
                    "`{field}` has {} names; it needs 7, Monday first",
                    names.len()
                )));
            }
        }
        check_time_format(&file.time_format).map_err(invalid)?;
        for key in file.intents.keys() {
            if !Intent::ALL.iter().any(|i| i.pack_key() == key) {
                let known: Vec<&str> = Intent::ALL.iter().map(|i| i.pack_key()).collect();
                return Err(invalid(format!(
                    "[intents] has an unknown intent {key:?} (known: {})",
                    known.join(", ")
                )));
            }
        }
        for key in REQUIRED_TEMPLATES {
            if file.templates.get(*key).is_none_or(|t| t.trim().is_empty()) {
                return Err(invalid(format!("[templates] is missing {key:?}")));
            }
        }
        let stemmer = Stemmer::create(algorithm);
        let (phrases, phrase_vocabulary) = compile_phrases(&file.intents, &stemmer);
        let word_set = |list: &[String]| list.iter().flat_map(|w| words(w)).collect();
        let stems = |list: &[String]| {
            list.iter()
                .flat_map(|w| words(w))
                .map(|w| stemmer.stem(&w).into_owned())
                .collect()
        };
        let (negations, circumstances) = (stems(&file.negations), stems(&file.circumstances));
        Ok(LanguagePack {
            code: file.code,
            name: file.name,
            stemmer,
            script: file.script,
            special_chars: normalize_specials(&file.special_chars),
            markers: word_set(&file.markers),
            stopwords: word_set(&file.stopwords),
            negations,
            false_friends: word_set(&file.false_friends),
            circumstances,
            conjunctions: word_set(&file.conjunctions),
            weekdays: file.weekdays,
            weekdays_on: file.weekdays_on,
            time_format: file.time_format,
            money: file.money,
            phrases,
            phrase_vocabulary,
            templates: file.templates,
        })
    }

    pub fn template(&self, key: &str) -> Option<&str> {
        self.templates.get(key).map(String::as_str)
    }
}

fn check_code(code: &str) -> Result<(), String> {
    let ok = (2..=8).contains(&code.len())
        && code.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        && !code.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "code {code:?} should be a lower-case language code like \"pt\" or \"pt-br\""
        ))
    }
}

fn check_time_format(format: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "time_format {format:?} is not a valid strftime format"
        ));
    }
    Ok(())
}

/// Lower-cased characters that only this language uses among its script's packs.
fn normalize_specials(chars: &str) -> Vec<char> {
    chars
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| !c.is_whitespace())
        .collect()
}

fn compile_phrases(
    intents: &HashMap<String, Vec<String>>,
    stemmer: &Stemmer,
) -> (Vec<Phrase>, Vocabulary) {
    let mut vocabulary = Vocabulary::default();
    let mut phrases = Vec::new();
    for intent in Intent::ALL {
        for text in intents.get(intent.pack_key()).into_iter().flatten() {
            let mut terms: Vec<u32> = words(text)
                .iter()
                .map(|w| vocabulary.insert(w, stemmer))
                .collect();
            terms.dedup();
            if !terms.is_empty() {
                phrases.push(Phrase { intent, terms });
            }
        }
    }
    phrases.sort_by(|a, b| {
        b.terms
            .len()
            .cmp(&a.terms.len())
            .then(a.intent.cmp(&b.intent))
    });
    (phrases, vocabulary)
}

/// The built-in packs, embedded in the binary: (file name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("en.toml", include_str!("lang/en.toml")),
    ("es.toml", include_str!("lang/es.toml")),
    ("ru.toml", include_str!("lang/ru.toml")),
];
