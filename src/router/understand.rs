//! One message understood: its language, what it asks (intents, highest priority first) and
//! which service it names. Combines detection, intent phrases and price matching, and settles
//! their overlaps: a bare service name is a price question, a named service beats the whole
//! price list, a price question about something not on the list says so.

use std::collections::HashSet;
use std::fmt;

use super::detect::{LanguageSource, detect_language};
use super::intent::{Intent, find_intents};
use super::pack::LanguagePack;
use super::price_index::PriceIndex;
use super::price_match::{PriceOutcome, match_services};
use super::text::{is_number, words_and_clauses};
use super::vocabulary::Term;

/// Words beyond this are not read: a message that long goes to staff or the LLM anyway.
const MAX_WORDS: usize = 120;
/// Words a thank-you may carry that nothing explains and still get the thanks reply ("ok
/// thanks", "спасибо, до свидания"). A greeting may carry none: the word beside it is the
/// question ("Hi, parking?"); the packs list greetings with a filler ("hola doctor").
const MAX_STRAY_WORDS_BESIDE_THANKS: usize = 1;
/// More words than this that no phrase or service explains means the message says more than
/// the fast path understood: it goes to the LLM (handoffs still go to staff).
const MAX_STRAY_WORDS_FOR_FAST_ANSWER: usize = 3;

/// The price-list part of a message.
#[derive(Clone, PartialEq, Eq)]
pub enum PriceMatch {
    None,
    /// A service id.
    One(String),
    /// Service ids, best first: the message fits several equally well.
    Ambiguous(Vec<String>),
    /// Service ids: the message joins several services it asks about ("a crown and a root
    /// canal").
    Several(Vec<String>),
    /// What the patient asked the price of, normalised: it is not on the price list.
    NotOffered(String),
    /// A service id and what the patient asked, normalised: a variant the list does not name
    /// ("керамические брекеты" where it lists metal braces), answered as "not on our list;
    /// the closest is…".
    Nearest(String, String),
}

/// Patient words are not shown in debug output (they may be health data).
impl fmt::Debug for PriceMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceMatch::None => f.write_str("None"),
            PriceMatch::One(id) => f.debug_tuple("One").field(id).finish(),
            PriceMatch::Ambiguous(ids) => f.debug_tuple("Ambiguous").field(ids).finish(),
            PriceMatch::Several(ids) => f.debug_tuple("Several").field(ids).finish(),
            PriceMatch::NotOffered(text) => {
                write!(f, "NotOffered(<{} chars redacted>)", text.chars().count())
            }
            PriceMatch::Nearest(id, text) => {
                write!(
                    f,
                    "Nearest({id:?}, <{} chars redacted>)",
                    text.chars().count()
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Understanding {
    /// Code of the language pack the reply will use.
    pub language: String,
    pub language_source: LanguageSource,
    /// Every intent found, highest priority first; `[Unknown]` when nothing fits.
    pub intents: Vec<Intent>,
    /// Set when the message asks a price or books a named service.
    pub price: PriceMatch,
}

impl Understanding {
    pub fn has(&self, intent: Intent) -> bool {
        self.intents.contains(&intent)
    }

    /// The intent that decides the reply.
    pub fn primary(&self) -> Intent {
        self.intents.first().copied().unwrap_or(Intent::Unknown)
    }
}

/// `asking_price`: the text is known to ask a price (the LLM's price lookup names a service
/// and nothing else), whatever words it uses.
pub fn understand(
    packs: &[LanguagePack],
    stopwords: &HashSet<String>,
    text: &str,
    session_language: Option<&str>,
    default_language: &str,
    prices: &PriceIndex,
    asking_price: bool,
) -> Understanding {
    let (mut words, mut clause_starts) = words_and_clauses(text);
    words.truncate(MAX_WORDS);
    clause_starts.truncate(MAX_WORDS);
    let (pack_index, language_source) =
        detect_language(packs, text, &words, session_language, default_language);
    let pack = &packs[pack_index];
    let terms: Vec<Term> = words.iter().map(|w| pack.term(w)).collect();
    let mut hits = find_intents(pack, &terms);
    if asking_price && !hits.has(Intent::Price) {
        hits.intents.push(Intent::Price);
    }

    // Negations are function words, like stopwords: they name nothing, and what they do to
    // the words after them is worked out below.
    let mut content: Vec<usize> = (0..terms.len())
        .filter(|&i| {
            !hits.used[i]
                && !stopwords.contains(&words[i])
                && !is_number(&words[i])
                && !pack.negations.contains(&terms[i].stem)
        })
        .collect();
    let joins = words.iter().any(|w| pack.conjunctions.contains(w));
    let match_at = |positions: &[usize]| {
        let content_terms: Vec<&Term> = positions.iter().map(|&i| &terms[i]).collect();
        match_services(prices, &pack.code, &content_terms, joins)
    };
    let mut outcome = match_at(&content);
    // A service the patient says they do not want is not what they ask the price of:
    // "не нужна пломба, сколько стоит чистка?" asks for the cleaning, "¿cuánto cuesta sin
    // anestesia?" for something not named yet.
    let negated = negated_words(pack, stopwords, &words, &terms, &clause_starts);
    if content.iter().any(|&i| negated[i]) {
        content.retain(|&i| !negated[i]);
        outcome = match_at(&content);
    }
    let named = named_services(&outcome, prices);
    let explained = if named.is_some() {
        outcome.explained
    } else {
        0
    };
    // Content words neither an intent phrase nor the named service accounts for.
    let stray = content.len() - explained;

    if named.is_some() && hits.has(Intent::PriceList) {
        hits.remove(Intent::PriceList);
        hits.intents.push(Intent::Price);
    }
    let only_courtesy = hits.intents.iter().all(|i| i.is_courtesy());
    // A bare service mention ("а чистка?") asks its price, but only with no other word than
    // stopwords: "выпала пломба", "коронка готова?", "my gums hurt" name a service and ask
    // something else; "Спасибо за чистку!" thanks for one.
    if named.is_some() && only_courtesy && !hits.has(Intent::Thanks) && stray == 0 {
        hits.intents.push(Intent::Price);
    }
    let asks_price = hits.has(Intent::Price);
    // Two words stand side by side in one clause. (Not across a stopword: "cuanto questa una
    // limpiesa" would make the misspelt "questa" a kind of cleaning.)
    let beside = |a: usize, b: usize| a.abs_diff(b) == 1 && !clause_starts[a.max(b)];
    let at = |bits: u64| -> Vec<usize> {
        content
            .iter()
            .enumerate()
            .filter(|&(p, _)| p < 64 && bits & (1u64 << p) != 0)
            .map(|(_, &raw)| raw)
            .collect()
    };
    let mut price = match named {
        Some(PriceMatch::One(id)) if asks_price && outcome.whole_phrase && stray > 0 => {
            let circumstance: Vec<bool> = terms
                .iter()
                .map(|t| pack.circumstances.contains(&t.stem))
                .collect();
            match qualified(&outcome, &at, &words, &circumstance, &beside) {
                Some(asked) => PriceMatch::Nearest(id, asked),
                None => PriceMatch::One(id),
            }
        }
        Some(found) if asks_price || hits.has(Intent::Booking) => found,
        None if asks_price && outcome.unknown > 0 => {
            let asked: Vec<&str> = content.iter().map(|&i| words[i].as_str()).collect();
            // Part of one service's name, by a word no other service has, with words the
            // list does not know right beside it, and no more of them ("лечить каналы" beside
            // "лечение каналов"): not on the list as asked, but that service is the closest.
            // One standing apart says something else ("remove a nerve" is no "removable
            // denture").
            let (explained_at, unknown_at) = (at(outcome.explained_at), at(outcome.unknown_at));
            let unknown_beside = unknown_at
                .iter()
                .all(|&u| explained_at.iter().any(|&e| beside(u, e)));
            match outcome.candidates[..] {
                [one] if outcome.unknown <= outcome.explained && unknown_beside => {
                    PriceMatch::Nearest(prices.services[one].id.clone(), asked.join(" "))
                }
                _ => PriceMatch::NotOffered(asked.join(" ")),
            }
        }
        _ => PriceMatch::None,
    };
    let other_questions = [Intent::PriceList, Intent::Hours, Intent::Address];
    if price == PriceMatch::None && other_questions.iter().any(|&i| hits.has(i)) {
        hits.remove(Intent::Price);
    }
    if !hits.has(Intent::Price) && !hits.has(Intent::Booking) {
        price = PriceMatch::None;
    }
    let mut intents = hits.intents;
    let only_courtesy = intents.iter().all(|i| i.is_courtesy());
    let handoff = intents.iter().any(|i| i.is_handoff());
    // Courtesy beside words nothing explains is a question the fast path did not understand.
    let courtesy_room = if intents.contains(&Intent::Thanks) {
        MAX_STRAY_WORDS_BESIDE_THANKS
    } else {
        0
    };
    if (only_courtesy && stray > courtesy_room)
        || (!handoff && stray > MAX_STRAY_WORDS_FOR_FAST_ANSWER)
    {
        intents.push(Intent::Unknown);
    }
    if intents.is_empty() {
        intents.push(Intent::Unknown);
    }
    intents.sort();
    intents.dedup();
    Understanding {
        language: pack.code.clone(),
        language_source,
        intents,
        price,
    }
}

/// Per word: a negation in its clause takes it back. Either one stands before it with only
/// stopwords between ("не нужна пломба", "sin anestesia", "I don't want whitening"), or one
/// follows it with only a stopword after ("пломбу не надо"). Any other word stops it: "I have
/// never had a cleaning" still asks about a cleaning.
fn negated_words(
    pack: &LanguagePack,
    stopwords: &HashSet<String>,
    words: &[String],
    terms: &[Term],
    clause_starts: &[bool],
) -> Vec<bool> {
    let is_negation = |p: usize| pack.negations.contains(&terms[p].stem);
    let is_stopword = |p: usize| stopwords.contains(&words[p]);
    // Word `p` exists and no clause mark stands before it.
    let same_clause = |p: usize| p < words.len() && !clause_starts[p];
    (0..words.len())
        .map(|p| {
            if is_negation(p) {
                return false;
            }
            let mut q = p;
            while q > 0 && same_clause(q) {
                q -= 1;
                if is_negation(q) {
                    return true;
                }
                if !is_stopword(q) {
                    break;
                }
            }
            same_clause(p + 1) && is_negation(p + 1) && (!same_clause(p + 2) || is_stopword(p + 2))
        })
        .collect()
}

/// What the patient asked, when a service named whole has a word right beside one of the
/// distinctive words of the name that matched, and none of its names uses that word
/// ("керамические брекеты", "deep cleaning", "общая анестезия"): a variant the list may not
/// have. `None` when every such word stands apart ("чистка зубов в субботу"), only beside a
/// word many services share ("болит зуб") or is one itself ("домашнее отбеливание зубов"), is
/// a word of another of the service's names ("лечение пародонтита" beside "Лечение дёсен"),
/// says who it is for or where in the mouth (`circumstance`: "фторирование детям",
/// "реставрация переднего зуба"), or is a single letter ("how much r braces"). The words
/// given back are that qualifier with the service's words next to it.
fn qualified(
    outcome: &PriceOutcome,
    at: &dyn Fn(u64) -> Vec<usize>,
    words: &[String],
    circumstance: &[bool],
    beside: &dyn Fn(usize, usize) -> bool,
) -> Option<String> {
    let (explained, anchors) = (at(outcome.explained_at), at(outcome.distinctive_at));
    // A word many services share ("зубов", "teeth") narrows nothing down.
    let mut asked: Vec<usize> = at(!outcome.explained_at & !outcome.generic_at)
        .into_iter()
        .filter(|&raw| {
            words[raw].chars().count() > 1
                && !circumstance[raw]
                && anchors.iter().any(|&a| beside(a, raw))
        })
        .collect();
    if asked.is_empty() {
        return None;
    }
    // Grow the qualifiers into the run of the service's words they stand in.
    while let Some(next) = explained
        .iter()
        .find(|&&e| !asked.contains(&e) && asked.iter().any(|&a| beside(a, e)))
    {
        asked.push(*next);
    }
    let (first, last) = (asked.iter().min()?, asked.iter().max()?);
    Some(words[*first..=*last].join(" "))
}

/// The services a message names, when the match can be trusted: a whole name or alias, or a
/// partial one with no unexplained words beside it ("удаление татуировки" names nothing).
fn named_services(outcome: &PriceOutcome, prices: &PriceIndex) -> Option<PriceMatch> {
    if outcome.candidates.is_empty() || (!outcome.whole_phrase && outcome.unknown > 0) {
        return None;
    }
    let mut ids: Vec<String> = outcome
        .candidates
        .iter()
        .map(|&s| prices.services[s].id.clone())
        .collect();
    Some(if ids.len() == 1 {
        PriceMatch::One(ids.remove(0))
    } else if outcome.joined {
        PriceMatch::Several(ids)
    } else {
        PriceMatch::Ambiguous(ids)
    })
}
