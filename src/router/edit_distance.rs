//! Typo tolerance: how many edits two words may differ by (none under four letters, one up
//! to eight, two from nine; never in the first letter), and a bounded edit distance that counts a swap of neighbours
//! once. A 64-bit letter set rules most pairs out before any table is computed.

/// The most edits any pair of words is allowed (see `tolerance`).
pub const MAX_TOLERANCE: usize = 2;
/// Longer words are only compared exactly.
const MAX_FUZZY_LEN: usize = 40;

/// A word's letters, ready for `is_typo_of`.
#[derive(Debug, Clone)]
pub struct Spelling {
    chars: Box<[char]>,
    /// Letters hashed by code point into 64 bits.
    letters: u64,
}

impl Spelling {
    pub fn new(word: &str) -> Spelling {
        let chars: Box<[char]> = word.chars().collect();
        let letters = chars
            .iter()
            .fold(0u64, |set, &c| set | 1u64 << (c as u32 % 64));
        Spelling { chars, letters }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn first(&self) -> Option<char> {
        self.chars.first().copied()
    }
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

/// Whether two different spellings are within the tolerance for their lengths. Each letter
/// one has and the other lacks costs at least one edit: the letter sets give a quick "no".
///
/// The first letter must agree: people rarely mistype it, and the words a changed first
/// letter reaches are other words ("killing" is no "filling", "never" no "fever").
pub fn is_typo_of(a: &Spelling, b: &Spelling) -> bool {
    let (shorter, longer) = (a.len().min(b.len()), a.len().max(b.len()));
    let max = tolerance(shorter, longer);
    let missing = |x: u64, y: u64| (x & !y).count_ones() as usize;
    max > 0
        && a.chars.first() == b.chars.first()
        && missing(a.letters, b.letters) <= max
        && missing(b.letters, a.letters) <= max
        && within_edits(&a.chars, &b.chars, max)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn typo(a: &str, b: &str) -> bool {
        is_typo_of(&Spelling::new(a), &Spelling::new(b))
    }

    #[test]
    fn a_swap_of_neighbours_counts_as_one_edit() {
        assert!(within_edits(&chars("пломаб"), &chars("пломба"), 1));
        assert!(!within_edits(&chars("пломаб"), &chars("пломба"), 0));
    }

    #[test]
    fn distances_beyond_the_limit_are_refused_and_within_it_accepted() {
        assert!(within_edits(&chars("filing"), &chars("filling"), 1));
        assert!(within_edits(&chars("limpiesa"), &chars("limpieza"), 2));
        assert!(within_edits(&chars("abcdef"), &chars("abxdyf"), 2));
        assert!(!within_edits(&chars("abcdef"), &chars("abxdyf"), 1));
        assert!(!within_edits(&chars("whitening"), &chars("cleaning"), 2));
        assert!(within_edits(&chars(""), &chars("ab"), 2));
    }

    #[test]
    fn the_allowed_number_of_edits_grows_with_word_length() {
        assert_eq!(tolerance(3, 9), 0);
        assert_eq!(tolerance(4, 4), 0);
        assert_eq!(tolerance(4, 5), 1);
        assert_eq!(tolerance(8, 9), 1);
        assert_eq!(tolerance(9, 10), 2);
    }

    #[test]
    fn typos_are_recognised_but_short_or_distant_words_are_not() {
        assert!(typo("сколко", "сколько"));
        assert!(typo("mutch", "much"));
        assert!(!typo("cap", "cat"));
        assert!(!typo("hours", "house"));
        assert!(!typo("пересадка", "перевязка"));
    }
}
