//! Which services a message names. Each name or alias is a phrase; it counts when all its
//! words are in the message, or at least half of them including one that is not common to
//! many services ("удаление" counts, "зуб" alone does not). The best phrase decides: more
//! message words used, then a whole phrase, then words used by all of a service's phrases,
//! then exact over typo. Equal best → ambiguous, unless one of them is a kind of another
//! (below); so is a best name matched only in part beside another service's whole name.
//! Which of two names is rarer says nothing of which one the patient means: "снимок зуба
//! мудрости" names the single X-ray and the wisdom tooth whole, and is asked about.

use super::price_index::PriceIndex;
use super::vocabulary::{Closeness, Term};

/// Message words beyond this are not used for matching (their bits would not fit).
const MAX_MESSAGE_WORDS: usize = 64;

/// What the price list says about a message's content words.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PriceOutcome {
    /// Service positions in the index, best first; several when they tie.
    pub candidates: Vec<usize>,
    /// Each winner is named whole, by its best phrase or another of its names and aliases
    /// ("radiografía" names the X-ray whole, though "radiografía … dientes" fits more words of
    /// its longer name).
    pub whole_phrase: bool,
    /// Content words the winning phrase used.
    pub explained: usize,
    /// Content words that appear in no name or alias at all, and where (bit = position).
    pub unknown: usize,
    pub unknown_at: u64,
    /// Which content words (bit = position) appear in the winners' names and aliases ("лечение"
    /// in "лечение пародонтита" is a word of "Лечение дёсен", though the alias "пародонтит"
    /// named the service), and which words of the names that matched whole are words few
    /// services share ("брекеты", not "зуб").
    pub explained_at: u64,
    pub distinctive_at: u64,
    /// The message joins what it names, and services named whole by words the best match left
    /// unused were added to the candidates: it asks about each of them.
    pub joined: bool,
    /// Content words whose stem so many services share that it names no kind of one
    /// ("зубов", "teeth", "treatment").
    pub generic_at: u64,
}

#[derive(Clone, Copy, Default)]
struct PhraseHits {
    words: u64,
    message_words: u64,
    distinctive_message_words: u64,
    /// Message words repeating a word the phrase already matched ("зуб … зуба"): not counted,
    /// but not unexplained either.
    repeated_message_words: u64,
    quality: u32,
    distinctive: bool,
}

/// Compared field by field: the best single phrase first, then all of a service's matching
/// phrases together ("имплантация" + "штрауман" beats "имплантация" alone).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    explained: u32,
    whole_phrase: bool,
    explained_by_all: u32,
    quality: u32,
}

/// Matches content words (stemmed by the pack of `language`) against the price list. `joins`:
/// the message joins things it names ("и", "or"), so it may ask about several services.
pub fn match_services(
    index: &PriceIndex,
    language: &str,
    content: &[&Term],
    joins: bool,
) -> PriceOutcome {
    let Some(terms) = index.language(language) else {
        return PriceOutcome::default();
    };
    let mut hits = vec![PhraseHits::default(); index.phrases.len()];
    let mut touched: Vec<u32> = Vec::new();
    let mut found = Vec::new();
    let mut unknown = 0;
    let mut unknown_at = 0u64;
    let mut generic_at = 0u64;
    for (position, word) in content.iter().take(MAX_MESSAGE_WORDS).enumerate() {
        found.clear();
        terms.vocabulary.lookup(word, &mut found);
        if found.is_empty() {
            unknown += 1;
            unknown_at |= 1u64 << position;
        }
        if found.iter().any(|&(id, _)| terms.generic[id as usize]) {
            generic_at |= 1u64 << position;
        }
        for &(word_id, closeness) in &found {
            for &(phrase, slot) in &terms.postings[word_id as usize] {
                let h = &mut hits[phrase as usize];
                if h.words == 0 {
                    touched.push(phrase);
                }
                let (word_bit, message_bit) = (1u64 << slot, 1u64 << position);
                if h.message_words & message_bit != 0 {
                    continue;
                }
                if h.words & word_bit != 0 {
                    h.repeated_message_words |= message_bit;
                    continue;
                }
                h.words |= word_bit;
                h.message_words |= message_bit;
                h.quality += if closeness == Closeness::Exact { 2 } else { 1 };
                if !terms.common[word_id as usize] {
                    h.distinctive = true;
                    h.distinctive_message_words |= message_bit;
                }
            }
        }
    }

    let mut best: Vec<Option<Score>> = vec![None; index.services.len()];
    let mut all_words = vec![0u64; index.services.len()];
    let mut all_distinctive = vec![0u64; index.services.len()];
    // Message words in any of a service's names or aliases, whether or not that one matched.
    let mut in_names = vec![0u64; index.services.len()];
    let mut named_whole = vec![false; index.services.len()];
    // The best whole name of each service, and the message words its whole names use.
    let mut best_whole: Vec<Option<Score>> = vec![None; index.services.len()];
    let mut whole_words = vec![0u64; index.services.len()];
    for &phrase in &touched {
        let h = hits[phrase as usize];
        let total = index.phrases[phrase as usize].words.len() as u32;
        let matched = h.words.count_ones();
        let whole_phrase = matched == total;
        let service = index.phrases[phrase as usize].service;
        in_names[service] |= h.message_words | h.repeated_message_words;
        if whole_phrase {
            all_distinctive[service] |= h.distinctive_message_words;
            named_whole[service] = true;
            whole_words[service] |= h.message_words;
        }
        if !(whole_phrase || (h.distinctive && matched * 2 >= total)) {
            continue;
        }
        all_words[service] |= h.message_words;
        let score = Score {
            explained: h.message_words.count_ones(),
            whole_phrase,
            explained_by_all: 0,
            quality: h.quality,
        };
        if best[service].is_none_or(|s| score > s) {
            best[service] = Some(score);
        }
        if whole_phrase && best_whole[service].is_none_or(|s| score > s) {
            best_whole[service] = Some(score);
        }
    }
    for scores in [&mut best, &mut best_whole] {
        for (score, words) in scores.iter_mut().zip(&all_words) {
            if let Some(score) = score {
                score.explained_by_all = words.count_ones();
            }
        }
    }

    let Some(top) = best.iter().flatten().max().copied() else {
        return PriceOutcome {
            unknown,
            unknown_at,
            generic_at,
            ..PriceOutcome::default()
        };
    };
    let mut candidates: Vec<usize> = (0..best.len()).filter(|&s| best[s] == Some(top)).collect();
    if !top.whole_phrase {
        let rivals = partial_rivals(&candidates, &all_words, &whole_words, &best_whole);
        candidates.extend(rivals);
    }
    let general = if joins {
        Vec::new()
    } else {
        settle_by_kind(index, &in_names, &mut candidates)
    };
    let (mut explained, mut joined) = (top.explained, false);
    if joins {
        let (also, named) = joined_services(&candidates, &all_words, &whole_words);
        explained = explained.max(named.count_ones());
        candidates.extend(also);
        // Joined, the services are each asked about once two of them are named by different
        // words ("whitening plus airflow"); two fillings sharing "filling" are still a choice.
        joined = candidates.iter().enumerate().any(|(i, &a)| {
            candidates[i + 1..]
                .iter()
                .any(|&b| all_words[a] & all_words[b] == 0)
        });
    }
    // The names of what a candidate is a kind of explain words too: "удалить восьмерку" uses
    // the simple extraction's "удалить" for the wisdom tooth's.
    let kinds_of = candidates.iter().flat_map(|&s| &index.kind_of[s]);
    PriceOutcome {
        explained_at: candidates
            .iter()
            .chain(&general)
            .chain(kinds_of)
            .fold(0, |bits, &s| bits | in_names[s]),
        distinctive_at: candidates
            .iter()
            .fold(0, |bits, &s| bits | all_distinctive[s]),
        whole_phrase: candidates.iter().all(|&s| named_whole[s]),
        candidates,
        explained: explained as usize,
        joined,
        unknown,
        unknown_at,
        generic_at,
    }
}

/// Services named whole by other words beside a best name matched only in part: that is no
/// better evidence than they are, so the patient is asked which. "full mouth cleaning" half
/// fits "full mouth x-ray" and names the cleaning whole. A whole name among the words of the
/// partial match does not count: "имплант штрауман" is the Straumann implant, though
/// "имплант" names the Osstem one whole.
fn partial_rivals(
    candidates: &[usize],
    all_words: &[u64],
    whole_words: &[u64],
    best_whole: &[Option<Score>],
) -> Vec<usize> {
    let partial_words = candidates.iter().fold(0, |bits, &s| bits | all_words[s]);
    let rival = |s: usize| whole_words[s] != 0 && whole_words[s] & partial_words == 0;
    let rivals = (0..whole_words.len()).filter(|&s| rival(s));
    let Some(strongest) = rivals.clone().filter_map(|s| best_whole[s]).max() else {
        return Vec::new();
    };
    rivals
        .filter(|&s| best_whole[s] == Some(strongest))
        .collect()
}

/// Of services that fit equally, one that is a kind of another and is named by a word the
/// other's names lack is the one meant: "удалить зуб мудрости" fits "удалить зуб" (a simple
/// extraction) as well as "зуб мудрости", and a wisdom tooth extraction is a kind of
/// extraction. The other way round, a kind named by no word of its own is not meant:
/// "radiografía de un diente" fits the panoramic X-ray's "radiografía de todos los dientes"
/// as well as the single one, but says nothing the single one's names lack. Returns the
/// general services left out: their words still count as explained ("pull" in "pull a
/// wisdom tooth" is no variant of the wisdom tooth). Nothing is left out if all would be.
fn settle_by_kind(index: &PriceIndex, in_names: &[u64], candidates: &mut Vec<usize>) -> Vec<usize> {
    if candidates.len() < 2 {
        return Vec::new();
    }
    let is_general = |a: usize| {
        candidates
            .iter()
            .any(|&b| index.kind_of[b].contains(&a) && in_names[b] & !in_names[a] != 0)
    };
    let needless_kind = |b: usize| {
        index.kind_of[b]
            .iter()
            .any(|a| candidates.contains(a) && in_names[b] & !in_names[*a] == 0)
    };
    let (general, needless): (Vec<bool>, Vec<bool>) = candidates
        .iter()
        .map(|&s| (is_general(s), needless_kind(s)))
        .unzip();
    if general.iter().zip(&needless).all(|(g, n)| g | n) {
        return Vec::new();
    }
    let mut left_out = Vec::new();
    let mut kept = Vec::new();
    for (i, &s) in candidates.iter().enumerate() {
        if general[i] {
            left_out.push(s);
        } else if !needless[i] {
            kept.push(s);
        }
    }
    *candidates = kept;
    left_out
}

/// A message joining what it names ("how much is a crown and a root canal") asks about each
/// service named whole by words the best ones leave unused: those services, and the message
/// words all of them together name.
fn joined_services(
    candidates: &[usize],
    all_words: &[u64],
    whole_words: &[u64],
) -> (Vec<usize>, u64) {
    let used = candidates.iter().fold(0, |bits, &s| bits | all_words[s]);
    let also: Vec<usize> = (0..whole_words.len())
        .filter(|&s| whole_words[s] != 0 && whole_words[s] & used == 0)
        .collect();
    let named = also.iter().fold(used, |bits, &s| bits | whole_words[s]);
    (also, named)
}
