//! Normalising patient text into words: lower case, ё→е, Latin accents folded (á→a, ñ→n),
//! punctuation, symbols and emoji turned into spaces. Price names, intent phrases and marker
//! words all go through the same function, so both sides of every comparison agree.
//! Also tells which writing system a letter belongs to, for language detection.

use serde::Deserialize;

/// Writing systems that language packs can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    Arabic,
    Hebrew,
}

impl Script {
    pub const ALL: [Script; 5] = [
        Script::Latin,
        Script::Cyrillic,
        Script::Greek,
        Script::Arabic,
        Script::Hebrew,
    ];

    pub fn of(c: char) -> Option<Script> {
        match c {
            'a'..='z' | 'A'..='Z' | '\u{c0}'..='\u{24f}' => Some(Script::Latin),
            '\u{400}'..='\u{52f}' => Some(Script::Cyrillic),
            '\u{370}'..='\u{3ff}' | '\u{1f00}'..='\u{1fff}' => Some(Script::Greek),
            '\u{600}'..='\u{6ff}' => Some(Script::Arabic),
            '\u{590}'..='\u{5ff}' => Some(Script::Hebrew),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counts the letters of each script in `text` (indexed by `Script::index`).
pub fn letters_by_script(text: &str) -> [usize; 5] {
    let mut counts = [0; 5];
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        if let Some(script) = Script::of(c) {
            counts[script.index()] += 1;
        }
    }
    counts
}

fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ę' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' | 'ń' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        'ё' => 'е',
        other => other,
    }
}

/// Combining marks of decomposed (NFD) input; dropped, except a breve that makes и into й.
fn is_combining(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// The normalised form of `text`: words of lower-case letters and digits, single spaces.
pub fn normalize(text: &str) -> String {
    scan(text, &mut |_| {})
}

/// Punctuation that ends a clause: a negation does not reach across it ("No, a cleaning").
fn ends_clause(c: char) -> bool {
    matches!(
        c,
        ',' | '.' | ';' | ':' | '!' | '?' | '¿' | '¡' | '(' | ')' | '—' | '–' | '\n'
    )
}

/// Normalises `text`, telling `word_start` at the start of each word whether a clause mark
/// stands between it and the word before.
///
/// A letter typed three times or more in a row is one letter: chat stretches words
/// ("graciasss", "спасибооо", "holaaa", "nooo"), and no word of the packs' languages has a
/// letter three times running. A letter typed twice stays twice ("класс", "good"), so a
/// stretched "goooood" reads "god": the rarer miss, and it only fails to match.
fn scan(text: &str, word_start: &mut dyn FnMut(bool)) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut pending_space, mut pending_clause) = (false, false);
    // The letter the current run repeats, and how many times it has been typed.
    let (mut run, mut run_len) = ('\0', 0usize);
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_combining(c) {
            if c == '\u{306}' && out.ends_with('и') {
                out.pop();
                out.push('й');
            }
            continue;
        }
        let c = fold(c);
        if c.is_alphanumeric() {
            if out.is_empty() || pending_space {
                word_start(pending_clause && !out.is_empty());
            }
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            let continues = !pending_space && c == run && c.is_alphabetic();
            (pending_space, pending_clause) = (false, false);
            run_len = if continues { run_len + 1 } else { 1 };
            run = c;
            match run_len {
                3 => {
                    out.pop();
                }
                4.. => {}
                _ => out.push(c),
            }
        } else {
            pending_space = true;
            pending_clause |= ends_clause(c);
        }
    }
    out
}

/// The words of the normalised `text`.
pub fn words(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `words(text)`, and for each word whether a clause mark (comma, full stop, question mark…)
/// stands before it.
pub fn words_and_clauses(text: &str) -> (Vec<String>, Vec<bool>) {
    let mut clause_starts = Vec::new();
    let normalized = scan(text, &mut |after_mark| clause_starts.push(after_mark));
    if normalized.is_empty() {
        return (Vec::new(), Vec::new());
    }
    (
        normalized.split(' ').map(str::to_string).collect(),
        clause_starts,
    )
}

/// True for a word made only of digits ("4500"), which says nothing about a service.
pub fn is_number(word: &str) -> bool {
    word.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_lowers_case_and_turns_yo_into_ye() {
        assert_eq!(normalize("Почём ЁЛКА"), "почем елка");
    }

    #[test]
    fn normalising_strips_punctuation_emoji_and_repeated_spaces() {
        assert_eq!(
            normalize("  Сколько   стоит пломба?!! 🦷😀 "),
            "сколько стоит пломба"
        );
        assert_eq!(normalize("¿Cuánto cuesta?"), "cuanto cuesta");
        assert_eq!(normalize("x-ray, 3D-снимок"), "x ray 3d снимок");
    }

    #[test]
    fn a_letter_stretched_three_times_or_more_is_one_letter_and_doubles_stay() {
        assert_eq!(
            normalize("Graciasss!! Спасибооо, holaaa, NOOO, приииивет"),
            "gracias спасибо hola no привет"
        );
        assert_eq!(
            normalize("класс good cool ссылка"),
            "класс good cool ссылка"
        );
        assert_eq!(normalize("aaa a-a-a"), "a a a a");
        // Digits are not letters: a price keeps its zeros.
        assert_eq!(normalize("1000 ₽, 4500"), "1000 4500");
    }

    #[test]
    fn latin_accents_fold_so_typed_and_untyped_accents_match() {
        assert_eq!(normalize("Dirección, año, ÉXITO"), "direccion ano exito");
    }

    #[test]
    fn decomposed_input_normalises_like_composed_input() {
        assert_eq!(normalize("cu\u{61}\u{301}nto"), "cuanto");
        assert_eq!(normalize("зубно\u{438}\u{306}"), "зубной");
    }

    #[test]
    fn clause_marks_are_told_per_word_and_words_match_words() {
        let text = "No, a cleaning: how much?! ¿Cuánto\ncuesta";
        let (found, clauses) = words_and_clauses(text);
        assert_eq!(found, words(text));
        assert_eq!(clauses, [false, true, false, true, false, true, true]);
        assert_eq!(words_and_clauses("  "), (vec![], vec![]));
    }

    #[test]
    fn letters_are_counted_per_script_and_digits_are_not_letters() {
        let counts = letters_by_script("Hola, привет 4500");
        assert_eq!(counts[Script::Latin.index()], 4);
        assert_eq!(counts[Script::Cyrillic.index()], 6);
        assert!(is_number("4500"));
        assert!(!is_number("3d"));
    }
}
