//! Words with their Snowball stems, and typo-tolerant lookup of a patient's word among them.
//! A word matches exactly when the stems are equal, or as a typo when its spelling or its stem
//! is a few edits away (see `edit_distance`). Building a vocabulary stems every word once and
//! files it by first letter and length, so a typo search visits only words that start with
//! the same letter and have a nearby length.

use std::collections::HashMap;

use rust_stemmers::Stemmer;

use super::edit_distance::{MAX_TOLERANCE, Spelling, is_typo_of};

/// One word, stemmed by one language's stemmer, with both spellings ready for typo checks.
#[derive(Debug, Clone)]
pub struct Term {
    pub stem: String,
    raw_spelling: Spelling,
    stem_spelling: Spelling,
    /// A false friend of its language (see `LanguagePack::term`): it matches only a known
    /// word spelled the same, never one sharing its stem or a typo away.
    only_itself: Option<Box<str>>,
}

impl Term {
    /// Letters in the word as written.
    pub fn letters(&self) -> usize {
        self.raw_spelling.len()
    }

    /// `word` must already be normalised (see `text::normalize`).
    pub fn new(word: &str, stemmer: &Stemmer) -> Term {
        let stem = stemmer.stem(word).into_owned();
        Term {
            raw_spelling: Spelling::new(word),
            stem_spelling: Spelling::new(&stem),
            stem,
            only_itself: None,
        }
    }

    /// `new` for a word that matches only itself ("почему" shares its stem with "почём").
    pub fn only_itself(word: &str, stemmer: &Stemmer) -> Term {
        Term {
            only_itself: Some(word.into()),
            ..Term::new(word, stemmer)
        }
    }
}

/// How a patient's word matched a known word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Closeness {
    Typo = 1,
    Exact = 2,
}

/// Whether `word` (from a patient) is `known`: the same stem, or a small typo in the
/// spelling or in the stem ("пломаб" ~ "пломба", "filing" ~ "filling").
pub fn closeness(word: &Term, known: &Term) -> Option<Closeness> {
    if word.stem == known.stem {
        return Some(Closeness::Exact);
    }
    (is_typo_of(&word.raw_spelling, &known.raw_spelling)
        || is_typo_of(&word.stem_spelling, &known.stem_spelling))
    .then_some(Closeness::Typo)
}

/// Ids filed by first letter, then by length. A typo keeps the first letter and changes the
/// length by at most `MAX_TOLERANCE` (see `edit_distance::is_typo_of`), so a search visits
/// only the words that could be one.
#[derive(Debug, Default)]
struct ByFirstLetter(HashMap<char, Vec<Vec<u32>>>);

impl ByFirstLetter {
    fn file(&mut self, spelling: &Spelling, id: u32) {
        let Some(first) = spelling.first() else {
            return;
        };
        let buckets = self.0.entry(first).or_default();
        let len = spelling.len();
        if buckets.len() <= len {
            buckets.resize(len + 1, Vec::new());
        }
        buckets[len].push(id);
    }

    /// Ids of the words starting with the letter `spelling` starts with, and within
    /// `MAX_TOLERANCE` of its length.
    fn near(&self, spelling: &Spelling) -> impl Iterator<Item = u32> + '_ {
        let buckets = spelling
            .first()
            .and_then(|first| self.0.get(&first))
            .map_or(&[][..], Vec::as_slice);
        let len = spelling.len();
        let low = len.saturating_sub(MAX_TOLERANCE).min(buckets.len());
        let high = (len + MAX_TOLERANCE + 1).min(buckets.len());
        buckets[low..high].iter().flatten().copied()
    }
}

/// A set of known words under one stemmer, with ids in insertion order.
#[derive(Debug, Default)]
pub struct Vocabulary {
    terms: Vec<Term>,
    ids: HashMap<String, u32>,
    by_stem: HashMap<String, Vec<u32>>,
    /// Ids by the first letter and length of the spelling and of the stem: a typo search
    /// visits only the words that could be one.
    spellings: ByFirstLetter,
    stems: ByFirstLetter,
}

impl Vocabulary {
    /// Adds a normalised word (once) and returns its id.
    pub fn insert(&mut self, word: &str, stemmer: &Stemmer) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        let term = Term::new(word, stemmer);
        self.by_stem.entry(term.stem.clone()).or_default().push(id);
        self.spellings.file(&term.raw_spelling, id);
        self.stems.file(&term.stem_spelling, id);
        self.ids.insert(word.to_string(), id);
        self.terms.push(term);
        id
    }

    pub fn term(&self, id: u32) -> &Term {
        &self.terms[id as usize]
    }

    /// Whether this exact normalised word was inserted.
    pub fn contains(&self, word: &str) -> bool {
        self.ids.contains_key(word)
    }

    /// The id of this exact normalised word, if it was inserted.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// How many distinct words were inserted (ids are below this).
    pub fn size(&self) -> usize {
        self.terms.len()
    }

    /// Ids of known words sharing the stem of `stem`.
    pub fn same_stem(&self, stem: &str) -> &[u32] {
        self.by_stem.get(stem).map_or(&[], Vec::as_slice)
    }

    /// Appends to `out` every known word `word` matches: the exact (same stem) ones, or, only
    /// when there are none, the ones within typo distance.
    pub fn lookup(&self, word: &Term, out: &mut Vec<(u32, Closeness)>) {
        if let Some(itself) = &word.only_itself {
            out.extend(self.id(itself).map(|id| (id, Closeness::Exact)));
            return;
        }
        let exact = self.same_stem(&word.stem);
        if !exact.is_empty() {
            out.extend(exact.iter().map(|&id| (id, Closeness::Exact)));
            return;
        }
        let (raw_len, stem_len) = (word.raw_spelling.len(), word.stem_spelling.len());
        if raw_len.max(stem_len) < 4 {
            return;
        }
        // A word filed under both is visited once: as near in spelling.
        let raw_near = |id: u32| {
            let known = &self.terms[id as usize].raw_spelling;
            known.first() == word.raw_spelling.first()
                && known.len().abs_diff(raw_len) <= MAX_TOLERANCE
        };
        let candidates = self.spellings.near(&word.raw_spelling).chain(
            self.stems
                .near(&word.stem_spelling)
                .filter(|&id| !raw_near(id)),
        );
        for id in candidates {
            if let Some(c) = closeness(word, &self.terms[id as usize]) {
                out.push((id, c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_stemmers::Algorithm;

    fn close(a: &str, b: &str, algorithm: Algorithm) -> Option<Closeness> {
        let stemmer = Stemmer::create(algorithm);
        closeness(&Term::new(a, &stemmer), &Term::new(b, &stemmer))
    }

    #[test]
    fn inflections_match_exactly_through_their_stems() {
        assert_eq!(
            close("пломбу", "пломба", Algorithm::Russian),
            Some(Closeness::Exact)
        );
        assert_eq!(
            close("fillings", "filling", Algorithm::English),
            Some(Closeness::Exact)
        );
    }

    #[test]
    fn small_typos_match_in_every_language() {
        assert_eq!(
            close("пломаб", "пломба", Algorithm::Russian),
            Some(Closeness::Typo)
        );
        assert_eq!(
            close("сколко", "сколько", Algorithm::Russian),
            Some(Closeness::Typo)
        );
        assert_eq!(
            close("filing", "filling", Algorithm::English),
            Some(Closeness::Typo)
        );
        assert_eq!(
            close("mutch", "much", Algorithm::English),
            Some(Closeness::Typo)
        );
        assert_eq!(
            close("limpiesa", "limpieza", Algorithm::Spanish),
            Some(Closeness::Typo)
        );
    }

    #[test]
    fn a_different_first_letter_makes_another_word_not_a_typo() {
        assert_eq!(close("killing", "filling", Algorithm::English), None);
        assert_eq!(close("never", "fever", Algorithm::English), None);
        assert_eq!(close("почему", "кочему", Algorithm::Russian), None);
        // The price of that: "questa" is no longer "cuesta" ("cuanto questa un empaste" is
        // still a price question through "cuanto").
        assert_eq!(close("questa", "cuesta", Algorithm::Spanish), None);
    }

    #[test]
    fn short_words_never_match_fuzzily() {
        assert_eq!(close("кт", "кп", Algorithm::Russian), None);
        assert_eq!(close("cap", "cat", Algorithm::English), None);
        assert_eq!(close("cara", "cura", Algorithm::Spanish), None);
    }

    #[test]
    fn unrelated_words_of_similar_length_do_not_match() {
        assert_eq!(close("пересадка", "пломба", Algorithm::Russian), None);
        assert_eq!(close("hours", "house", Algorithm::English), None);
    }

    /// What `lookup` must find, by comparing the word with every known word.
    fn every_match(vocabulary: &Vocabulary, word: &Term) -> Vec<(u32, Closeness)> {
        let all =
            (0..vocabulary.size() as u32).map(|id| (id, closeness(word, vocabulary.term(id))));
        let exact: Vec<_> = all
            .clone()
            .filter_map(|(id, c)| (c == Some(Closeness::Exact)).then_some((id, Closeness::Exact)))
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let mut typos: Vec<_> = all.filter_map(|(id, c)| Some(id).zip(c)).collect();
        typos.sort();
        typos
    }

    #[test]
    fn the_typo_index_finds_what_comparing_with_every_word_finds() {
        for (algorithm, known, asked) in [
            (
                Algorithm::Russian,
                "пломба пломбы пломбировка чистка чистки коронка коронки имплант имплантация \
                 удаление удалить отбеливание рентген консультация сколько стоимость стоит \
                 цена цены почём брекеты виниры вкладка протез протезирование анестезия \
                 снимок лечение каналов кариеса десны дёсен зуба зубов мудрости",
                "пломаб пломбу плобма сколко скока стоимоть ценна чиска коронак импалнт \
                 удалние отбеливане рентег консультацыя брикеты винеры протэз лечени каналоф \
                 кариес десна зуб мудрость аломба кломба",
            ),
            (
                Algorithm::English,
                "filling fillings cleaning crown crowns implant implants whitening extraction \
                 removal price prices cost costs much how consultation xray braces veneers \
                 denture dentures anaesthesia treatment canal root teeth tooth wisdom",
                "filing fillng cleening crwn implnt implat whitenning extracton removel prise \
                 coast mutch consultaton braeces venners dentur anesthesia treatmant cannal \
                 roots teath toth wisdon killing never",
            ),
        ] {
            let stemmer = Stemmer::create(algorithm);
            let mut vocabulary = Vocabulary::default();
            for word in known.split_whitespace() {
                vocabulary.insert(word, &stemmer);
            }
            let mut typos = 0;
            for word in asked.split_whitespace().chain(known.split_whitespace()) {
                let term = Term::new(word, &stemmer);
                let mut found = Vec::new();
                vocabulary.lookup(&term, &mut found);
                found.sort();
                assert_eq!(found, every_match(&vocabulary, &term), "{word}");
                typos += found.iter().filter(|(_, c)| *c == Closeness::Typo).count();
            }
            assert!(typos >= 10, "too few typos to show anything: {typos}");
        }
    }

    #[test]
    fn lookup_prefers_exact_stems_over_typos() {
        let stemmer = Stemmer::create(Algorithm::Russian);
        let mut vocabulary = Vocabulary::default();
        let plomba = vocabulary.insert("пломба", &stemmer);
        let plomby = vocabulary.insert("пломбы", &stemmer);
        assert_eq!(vocabulary.insert("пломба", &stemmer), plomba);
        let mut found = Vec::new();
        vocabulary.lookup(&Term::new("пломбу", &stemmer), &mut found);
        assert_eq!(
            found,
            vec![(plomba, Closeness::Exact), (plomby, Closeness::Exact)]
        );
        found.clear();
        vocabulary.lookup(&Term::new("пломаб", &stemmer), &mut found);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|(_, c)| *c == Closeness::Typo));
    }
}
