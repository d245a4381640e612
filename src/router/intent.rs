//! What a message asks for, found by matching a language pack's intent phrases against the
//! message's stemmed words. Longer phrases claim their words first ("до скольки" is an hours
//! question before "сколько" can make it a price one); a phrase's words may come in any order
//! with up to two other words between them ("какие у вас цены" ~ "какие цены").

use super::pack::LanguagePack;
use super::vocabulary::{Closeness, Term};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Intent {
    Emergency,
    Human,
    Booking,
    Price,
    PriceList,
    Hours,
    Address,
    Greeting,
    Thanks,
    Unknown,
}

impl Intent {
    pub const ALL: [Intent; 10] = [
        Intent::Emergency,
        Intent::Human,
        Intent::Booking,
        Intent::Price,
        Intent::PriceList,
        Intent::Hours,
        Intent::Address,
        Intent::Greeting,
        Intent::Thanks,
        Intent::Unknown,
    ];

    /// How stored messages and metrics name it.
    pub fn name(self) -> &'static str {
        match self {
            Intent::Emergency => "emergency",
            Intent::Human => "human",
            Intent::Booking => "booking",
            Intent::Price => "price",
            Intent::PriceList => "price_list",
            Intent::Hours => "hours",
            Intent::Address => "address",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
            Intent::Unknown => "unknown",
        }
    }

    /// The section of a language pack's `[intents]` table that lists this intent's phrases:
    /// its name, but `other` for questions that look like a fast-path one and are not ("how
    /// long does a cleaning take" is no price question): their phrases claim the words first,
    /// and the message goes to the LLM (or staff).
    pub fn pack_key(self) -> &'static str {
        match self {
            Intent::Unknown => "other",
            known => known.name(),
        }
    }

    /// A handoff to staff: emergency, "call a human", booking.
    pub fn is_handoff(self) -> bool {
        matches!(self, Intent::Emergency | Intent::Human | Intent::Booking)
    }

    /// Greeting and thanks: polite words that carry no question of their own.
    pub fn is_courtesy(self) -> bool {
        matches!(self, Intent::Greeting | Intent::Thanks)
    }
}

/// Extra words allowed between the words of one phrase.
const MAX_GAP: usize = 2;

/// Intents found in a message, and which of its words the matched phrases used.
#[derive(Debug, Default)]
pub struct IntentHits {
    /// In order of first match; not yet sorted by priority.
    pub intents: Vec<Intent>,
    pub used: Vec<bool>,
}

impl IntentHits {
    pub fn has(&self, intent: Intent) -> bool {
        self.intents.contains(&intent)
    }

    pub fn remove(&mut self, intent: Intent) {
        self.intents.retain(|&i| i != intent);
    }
}

/// Finds the pack's intent phrases in `words` (made by the same pack: `LanguagePack::term`).
pub fn find_intents(pack: &LanguagePack, words: &[Term]) -> IntentHits {
    let vocabulary = &pack.phrase_vocabulary;
    let mut matches = Vec::new();
    // Each word's phrase-word ids, and those a courtesy phrase may use: exact matches (same
    // stem), and typos only in long words ("здраствуйте"), since a short typo of a courtesy
    // word is often another word ("think" for "thank").
    let (known, exact): (Vec<Vec<u32>>, Vec<Vec<u32>>) = words
        .iter()
        .map(|word| {
            matches.clear();
            vocabulary.lookup(word, &mut matches);
            let all = matches.iter().map(|&(id, _)| id).collect();
            let exact = matches
                .iter()
                .filter(|(_, c)| *c == Closeness::Exact || word.letters() >= LONG_WORD)
                .map(|&(id, _)| id)
                .collect();
            (all, exact)
        })
        .unzip();
    let mut present = vec![false; vocabulary.size()];
    for &id in known.iter().flatten() {
        present[id as usize] = true;
    }
    let mut hits = IntentHits {
        intents: Vec::new(),
        used: vec![false; words.len()],
    };
    let mut chosen = Vec::with_capacity(8);
    for phrase in &pack.phrases {
        if !phrase.terms.iter().all(|&t| present[t as usize]) {
            continue;
        }
        let candidates = if phrase.intent.is_courtesy() {
            &exact
        } else {
            &known
        };
        if place_phrase(&phrase.terms, candidates, &hits.used, &mut chosen) {
            // "не хочу записываться", "no quiero cita". Never an emergency: "нет, не могу
            // дышать" is one ("не срочно" is an `other` phrase instead), and a request for a
            // call stays one ("почему мне не перезвонили?" is a complaint staff should see).
            if phrase.intent == Intent::Booking && negated(pack, words, &chosen) {
                continue;
            }
            for &position in &chosen {
                hits.used[position] = true;
            }
            if !hits.has(phrase.intent) {
                hits.intents.push(phrase.intent);
            }
        }
    }
    hits
}

/// Letters from which a word may be a typo of a courtesy word.
const LONG_WORD: usize = 7;

/// Words before a booking phrase that can still negate it ("не хочу записываться").
const NEGATION_REACH: usize = 2;

/// Whether a negation stands just before the phrase placed at `chosen`, or among its words:
/// "не хочу записываться", "без записи" are no booking. A negation that is part of the
/// phrase itself does not count.
fn negated(pack: &LanguagePack, words: &[Term], chosen: &[usize]) -> bool {
    let (low, high) = chosen
        .iter()
        .fold((usize::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    (low.saturating_sub(NEGATION_REACH)..=high)
        .filter(|p| !chosen.contains(p))
        .any(|p| pack.negations.contains(&words[p].stem))
}

/// Tries each position of the phrase's first word as an anchor and picks, for the other
/// words, the nearest unused position; succeeds when all fit in a short span.
fn place_phrase(terms: &[u32], known: &[Vec<u32>], used: &[bool], chosen: &mut Vec<usize>) -> bool {
    let Some((&first, rest)) = terms.split_first() else {
        return false;
    };
    let free_with = |term: u32| {
        known
            .iter()
            .enumerate()
            .filter(move |(pos, ids)| !used[*pos] && ids.contains(&term))
            .map(|(pos, _)| pos)
    };
    for anchor in free_with(first) {
        chosen.clear();
        chosen.push(anchor);
        let placed = rest.iter().all(|&term| {
            let nearest = free_with(term)
                .filter(|pos| !chosen.contains(pos))
                .min_by_key(|pos| pos.abs_diff(anchor));
            nearest.map(|pos| chosen.push(pos)).is_some()
        });
        if placed {
            let (low, high) = chosen
                .iter()
                .fold((usize::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)));
            if high - low < terms.len() + MAX_GAP {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::pack::BUILTIN;
    use crate::router::text::words;

    fn intents_in(code: &str, text: &str) -> IntentHits {
        let (file, toml) = BUILTIN.iter().find(|(f, _)| f.starts_with(code)).unwrap();
        let pack = LanguagePack::parse(file, toml).unwrap();
        let terms: Vec<Term> = words(text).iter().map(|w| pack.term(w)).collect();
        find_intents(&pack, &terms)
    }

    #[test]
    fn a_false_friend_matches_only_itself() {
        // "почему" (why) stems and spells like "почём" (how much).
        assert!(!intents_in("ru", "почему вы не отвечаете").has(Intent::Price));
        assert!(!intents_in("ru", "почему так долго").has(Intent::Price));
        assert!(intents_in("ru", "почем пломба").has(Intent::Price));
        assert!(intents_in("ru", "почём отбеливание").has(Intent::Price));
    }

    #[test]
    fn longer_phrases_claim_their_words_before_shorter_ones() {
        // "до скольки" (hours) shares its stem with "сколько" (price).
        assert_eq!(
            intents_in("ru", "до скольки открыты").intents,
            vec![Intent::Hours]
        );
        assert_eq!(
            intents_in("en", "price list").intents,
            vec![Intent::PriceList]
        );
    }

    #[test]
    fn phrase_words_may_be_a_little_apart_and_in_another_order() {
        assert_eq!(
            intents_in("ru", "какие у вас цены").intents,
            vec![Intent::PriceList]
        );
        assert_eq!(
            intents_in("ru", "пломба сколько стоит").intents,
            vec![Intent::Price]
        );
    }

    #[test]
    fn phrase_words_too_far_apart_do_not_make_the_phrase() {
        let hits = intents_in("ru", "какие врачи у вас принимают, и цены");
        assert!(!hits.has(Intent::PriceList), "{:?}", hits.intents);
    }

    #[test]
    fn words_used_by_a_phrase_are_marked_and_others_are_not() {
        let hits = intents_in("ru", "сколько стоит пломба");
        assert_eq!(hits.used, vec![true, true, false]);
    }

    #[test]
    fn every_intent_of_a_message_is_found() {
        let hits = intents_in("en", "hi, what are your opening hours and address? thanks");
        for intent in [
            Intent::Greeting,
            Intent::Hours,
            Intent::Address,
            Intent::Thanks,
        ] {
            assert!(hits.has(intent), "{intent:?} in {:?}", hits.intents);
        }
    }
}
