//! Words with their Snowball stems, and typo-tolerant lookup of a patient's word among them.
//! A word matches exactly when the stems are equal, or as a typo when its spelling or its stem
//! is within an edit distance that grows with word length (none for words under four letters).
//! Building a vocabulary stems and splits every word once, so lookups allocate nothing.

use std::collections::HashMap;

use rust_stemmers::Stemmer;

/// One word, stemmed by one language's stemmer, kept as chars for edit distance.
#[derive(Debug, Clone)]
pub struct Term {
    pub raw: String,
    pub stem: String,
    raw_chars: Box<[char]>,
    stem_chars: Box<[char]>,
    raw_letters: u64,
    stem_letters: u64,
}

/// A 64-bit set of the letters in a word (hashed by code point). Each letter one word has and
/// the other lacks costs at least one edit, so comparing these sets rules most pairs out
/// before any edit distance is computed.
fn letter_set(chars: &[char]) -> u64 {
    chars
        .iter()
        .fold(0, |set, &c| set | 1u64 << (c as u32 % 64))
}

fn letters_allow(a: u64, b: u64, max: usize) -> bool {
    (a & !b).count_ones() as usize <= max && (b & !a).count_ones() as usize <= max
}

impl Term {
    /// `word` must already be normalised (see `text::normalize`).
    pub fn new(word: &str, stemmer: &Stemmer) -> Term {
        let stem = stemmer.stem(word).into_owned();
        let raw_chars: Box<[char]> = word.chars().collect();
        let stem_chars: Box<[char]> = stem.chars().collect();
        Term {
            raw: word.to_string(),
            raw_letters: letter_set(&raw_chars),
            stem_letters: letter_set(&stem_chars),
            raw_chars,
            stem_chars,
            stem,
        }
    }
}

/// How a patient's word matched a known word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Closeness {
    Typo = 1,
    Exact = 2,
}

/// Edits tolerated between two words of these lengths: none under 4 letters or when both
/// are 4 letters, one up to 8, two from 9 letters on.
pub fn tolerance(shorter: usize, longer: usize) -> usize {
    match (shorter, longer) {
        (s, l) if s < 4 || l <= 4 => 0,
        (s, _) if s < 9 => 1,
        _ => 2,
    }
}

const MAX_FUZZY_LEN: usize = 40;

/// Optimal-string-alignment distance (a swap of neighbours counts once) is at most `max`.
/// Only the diagonal band of width `2 * max + 1` is computed: cells outside it exceed `max`.
pub fn within_edits(a: &[char], b: &[char], max: usize) -> bool {
    if a.len().abs_diff(b.len()) > max {
        return false;
    }
    if a.len() > MAX_FUZZY_LEN || b.len() > MAX_FUZZY_LEN || max > MAX_TOLERANCE {
        return a == b;
    }
    let over = (max + 1) as u8;
    let max = max as u8;
    // Rows i-2, i-1 and i of the table, rotated instead of copied.
    let mut rows = [[over; MAX_FUZZY_LEN + 1]; 3];
    for (j, cell) in rows[1].iter_mut().enumerate() {
        *cell = (j as u8).min(over);
    }
    for i in 1..=a.len() {
        let [before, previous, current] = &mut rows;
        current.fill(over);
        current[0] = (i as u8).min(over);
        let mut row_min = current[0];
        for j in i.saturating_sub(max as usize).max(1)..=(i + max as usize).min(b.len()) {
            let cost = u8::from(a[i - 1] != b[j - 1]);
            let mut best = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            current[j] = best.min(over);
            row_min = row_min.min(current[j]);
        }
        if row_min > max {
            return false;
        }
        rows.rotate_left(1);
    }
    rows[1][b.len()] <= max
}

/// Whether `word` (from a patient) is `known`, exactly or with a small typo.
pub fn closeness(word: &Term, known: &Term) -> Option<Closeness> {
    if word.stem == known.stem {
        return Some(Closeness::Exact);
    }
    let close = |a: &[char], b: &[char], a_letters: u64, b_letters: u64| {
        let tol = tolerance(a.len().min(b.len()), a.len().max(b.len()));
        tol > 0 && letters_allow(a_letters, b_letters, tol) && within_edits(a, b, tol)
    };
    let raw = close(
        &word.raw_chars,
        &known.raw_chars,
        word.raw_letters,
        known.raw_letters,
    );
    let stem = || {
        close(
            &word.stem_chars,
            &known.stem_chars,
            word.stem_letters,
            known.stem_letters,
        )
    };
    (raw || stem()).then_some(Closeness::Typo)
}

/// Ids in the buckets of lengths within `MAX_TOLERANCE` of `len`.
fn near(buckets: &[Vec<u32>], len: usize) -> impl Iterator<Item = u32> + '_ {
    let low = len.saturating_sub(MAX_TOLERANCE).min(buckets.len());
    let high = (len + MAX_TOLERANCE + 1).min(buckets.len());
    buckets[low..high].iter().flatten().copied()
}

/// A set of known words under one stemmer, with ids in insertion order.
#[derive(Debug, Default)]
pub struct Vocabulary {
    terms: Vec<Term>,
    ids: HashMap<String, u32>,
    by_stem: HashMap<String, Vec<u32>>,
    /// Ids by spelling length and by stem length: a typo search only visits nearby lengths.
    by_raw_len: Vec<Vec<u32>>,
    by_stem_len: Vec<Vec<u32>>,
}

/// The most edits any pair of words is allowed (see `tolerance`).
const MAX_TOLERANCE: usize = 2;

impl Vocabulary {
    /// Adds a normalised word (once) and returns its id.
    pub fn insert(&mut self, word: &str, stemmer: &Stemmer) -> u32 {
        if let Some(&id) = self.ids.get(word) {
            return id;
        }
        let id = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        let term = Term::new(word, stemmer);
        self.by_stem.entry(term.stem.clone()).or_default().push(id);
        for (buckets, len) in [
            (&mut self.by_raw_len, term.raw_chars.len()),
            (&mut self.by_stem_len, term.stem_chars.len()),
        ] {
            if buckets.len() <= len {
                buckets.resize(len + 1, Vec::new());
            }
            buckets[len].push(id);
        }
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
        let exact = self.same_stem(&word.stem);
        if !exact.is_empty() {
            out.extend(exact.iter().map(|&id| (id, Closeness::Exact)));
            return;
        }
        let (raw_len, stem_len) = (word.raw_chars.len(), word.stem_chars.len());
        if raw_len.max(stem_len) < 4 {
            return;
        }
        let raw_near =
            |id: u32| self.terms[id as usize].raw_chars.len().abs_diff(raw_len) <= MAX_TOLERANCE;
        // Words near in spelling length, then those only near in stem length (not seen yet).
        let candidates = near(&self.by_raw_len, raw_len)
            .chain(near(&self.by_stem_len, stem_len).filter(|&id| !raw_near(id)));
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

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn close(a: &str, b: &str, algorithm: Algorithm) -> Option<Closeness> {
        let stemmer = Stemmer::create(algorithm);
        closeness(&Term::new(a, &stemmer), &Term::new(b, &stemmer))
    }

    #[test]
    fn edit_distance_counts_a_swap_of_neighbours_as_one_edit() {
        assert!(within_edits(&chars("пломаб"), &chars("пломба"), 1));
        assert!(!within_edits(&chars("пломаб"), &chars("пломба"), 0));
        assert!(within_edits(&chars("filing"), &chars("filling"), 1));
        assert!(!within_edits(&chars("whitening"), &chars("cleaning"), 2));
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
        assert_eq!(
            close("questa", "cuesta", Algorithm::Spanish),
            Some(Closeness::Typo)
        );
    }

    #[test]
    fn short_words_never_match_fuzzily() {
        assert_eq!(close("кт", "кп", Algorithm::Russian), None);
        assert_eq!(close("cap", "cat", Algorithm::English), None);
        assert_eq!(close("cara", "cura", Algorithm::Spanish), None);
        assert_eq!(tolerance(3, 9), 0);
    }

    #[test]
    fn unrelated_words_of_similar_length_do_not_match() {
        assert_eq!(close("пересадка", "пломба", Algorithm::Russian), None);
        assert_eq!(close("hours", "house", Algorithm::English), None);
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
