//! Which language a message is in. Evidence, strongest first: the script of its letters
//! (Cyrillic or Latin), then within it characters only one language uses (¿¡ñ for Spanish),
//! marker words and words of the language's intent phrases ("emergencia"); without evidence,
//! the chat's previous language, then the clinic's.
//! Texts without evidence ("ok", "?", "4500", a brand name) never change a chat's language.

use super::pack::LanguagePack;
use super::text::{Script, letters_by_script};

/// Where the detected language came from, so a caller knows whether to remember it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageSource {
    /// The text itself showed the language.
    Text,
    /// The text did not say; the chat's earlier language was kept.
    Session,
    /// Neither the text nor the chat said; the clinic's default language.
    ClinicDefault,
}

/// Texts with fewer letters than this, and no marker word, do not move a chat to another
/// script's language: "ok" in a Russian chat stays Russian.
const MIN_LETTERS_TO_SWITCH_SCRIPT: usize = 5;
const MARKER_WEIGHT: usize = 2;
const PHRASE_WORD_WEIGHT: usize = 1;
const SPECIAL_CHAR_WEIGHT: usize = 3;

/// Picks a pack for a message. `words` are its normalised words; `text` the original.
/// Returns the index into `packs` (which is never empty) and where the answer came from.
pub fn detect_language(
    packs: &[LanguagePack],
    text: &str,
    words: &[String],
    session: Option<&str>,
    default: &str,
) -> (usize, LanguageSource) {
    let find = |code: &str| packs.iter().position(|p| p.code == code);
    let session_index = session.and_then(find);
    let fallback = || match (session_index, find(default)) {
        (Some(i), _) => (i, LanguageSource::Session),
        (None, Some(i)) => (i, LanguageSource::ClinicDefault),
        (None, None) => (find("en").unwrap_or(0), LanguageSource::ClinicDefault),
    };

    let letters = letters_by_script(text);
    let Some(script) = Script::ALL
        .into_iter()
        .filter(|s| letters[s.index()] > 0)
        .max_by_key(|s| letters[s.index()])
    else {
        return fallback();
    };
    let candidates: Vec<usize> = (0..packs.len())
        .filter(|&i| packs[i].script == script)
        .collect();
    if candidates.is_empty() {
        return fallback();
    }

    let lowered = text.to_lowercase();
    let score = |pack: &LanguagePack| {
        let markers = words
            .iter()
            .filter(|w| {
                pack.markers.contains(*w)
                    || drawn_out(w).is_some_and(|short| pack.markers.contains(short))
            })
            .count();
        let phrase_words = words
            .iter()
            .filter(|w| pack.phrase_vocabulary.contains(w))
            .count();
        let specials = lowered
            .chars()
            .filter(|c| pack.special_chars.contains(c))
            .count();
        markers * MARKER_WEIGHT + phrase_words * PHRASE_WORD_WEIGHT + specials * SPECIAL_CHAR_WEIGHT
    };
    let scores: Vec<usize> = candidates.iter().map(|&i| score(&packs[i])).collect();
    let best = scores.iter().copied().max().unwrap_or(0);

    if best == 0 {
        if let Some(i) = session_index.filter(|i| candidates.contains(i)) {
            return (i, LanguageSource::Session);
        }
        // Not one word of this script's languages. Beside words in the chat's own script
        // ("Цена Straumann"), or alone in a script several languages share ("Invisalign?"),
        // that is a brand or a name: it does not move the chat to another language. (A
        // script only one language uses is evidence enough: "пломба?" is Russian.)
        let session_script = session_index.map(|i| packs[i].script);
        let keep_session =
            session_script.is_some_and(|own| letters[own.index()] > 0 || candidates.len() > 1);
        if keep_session || letters[script.index()] < MIN_LETTERS_TO_SWITCH_SCRIPT {
            return fallback();
        }
    }
    let winners: Vec<usize> = candidates
        .iter()
        .zip(&scores)
        .filter(|&(_, &s)| s == best)
        .map(|(&i, _)| i)
        .collect();
    let preferred = [session_index, find(default), find("en")];
    let chosen = preferred
        .into_iter()
        .flatten()
        .find(|i| winners.contains(i))
        .unwrap_or(winners[0]);
    let source = if best == 0 && Some(chosen) == session_index {
        LanguageSource::Session
    } else {
        LanguageSource::Text
    };
    (chosen, source)
}

/// A word typed with its last letter held down ("holaaa", "hiii", "приветт"), without the
/// repeats; `None` when the word does not end in a repeated letter.
fn drawn_out(word: &str) -> Option<&str> {
    let last = word.chars().next_back()?;
    let trimmed = word.trim_end_matches(last);
    let kept = word.len() - trimmed.len();
    (kept > last.len_utf8()).then(|| &word[..trimmed.len() + last.len_utf8()])
}

#[cfg(test)]
mod tests {
    use super::drawn_out;

    #[test]
    fn a_held_down_last_letter_is_read_once() {
        assert_eq!(drawn_out("holaaa"), Some("hola"));
        assert_eq!(drawn_out("приветт"), Some("привет"));
        assert_eq!(drawn_out("hola"), None);
        assert_eq!(drawn_out(""), None);
    }
}
