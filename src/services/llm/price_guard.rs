//! Catches an LLM reply that quotes a price not on the price list. An amount counts as a
//! price when a currency sign or word sits next to it ("4 500 ₽", "$35", "3500 руб.",
//! "3 900 (рублей)") or a price word comes up to three words before it ("стоит 4500", "будет
//! стоить 3900", "costs 35"); "3,9 тыс." is read as 3 900. Any such amount that is not a
//! listed price (exactly, in minor units) means the reply is not sent. Erring towards
//! "invented" only costs a price list sent instead of the model's words.

/// Currency signs and words, lower case; matched as whole tokens next to a number.
const CURRENCY: &[&str] = &[
    "₽",
    "руб",
    "руб.",
    "рублей",
    "рубля",
    "рубль",
    "р",
    "р.",
    "rub",
    "rur",
    "$",
    "usd",
    "€",
    "eur",
    "euro",
    "euros",
    "евро",
    "₸",
    "тг",
    "тенге",
    "kzt",
    "£",
    "gbp",
    "dollars",
    "dollar",
    "долларов",
    "доллара",
    "rubles",
    "ruble",
    "roubles",
    "rouble",
    "rublos",
    "rublo",
    "₴",
    "грн",
    "грн.",
    "гривен",
    "гривны",
    "uah",
];
/// After a number: it counts thousands ("3,9 тыс.", "5 mil").
const THOUSANDS: &[&str] = &["тыс", "тыс.", "тысяч", "тысячи", "thousand", "mil"];
/// Words that make the next number a price, by how they start ("стоит", "стоят", "стоить",
/// "стоимостью"; "составляет", "составит"; "cuesta", "cuestan").
const PRICE_WORD_STARTS: &[&str] = &[
    "стои",
    "стоя",
    "цен",
    "состав",
    "обойд",
    "cost",
    "price",
    "cuest",
    "precio",
];
/// Words that make the next number a price, whole.
const PRICE_WORDS: &[&str] = &["от", "за", "from", "desde", "por"];

fn is_price_word(token: &str) -> bool {
    PRICE_WORDS.contains(&token) || PRICE_WORD_STARTS.iter().any(|s| token.starts_with(s))
}

/// A number as written, and where it sits among the tokens.
struct Amount {
    minor: i64,
    token: usize,
}

/// Splits into tokens, keeping numbers with their thousands separators together
/// ("4 500" and "4 500,50" are one token each) and currency signs apart.
fn tokens(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let mut t = String::new();
            while i < chars.len() {
                let c = chars[i];
                let next_is_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
                let separator = matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '.' | ',' | '\'');
                if !(c.is_ascii_digit() || (separator && next_is_digit)) {
                    break;
                }
                t.push(c);
                i += 1;
            }
            out.push(t);
        } else if c.is_alphabetic() {
            let mut t = String::new();
            while i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '.') {
                t.extend(chars[i].to_lowercase());
                i += 1;
            }
            out.push(t);
        } else {
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
            i += 1;
        }
    }
    out
}

/// "4 500" → 450000; "4 500,50" → 450050; "1.500" (Spanish thousands) → 150000.
fn minor_units(number: &str) -> Option<i64> {
    let cleaned: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .collect();
    // A final separator followed by exactly two digits is a decimal point; others group.
    let (whole, cents) = match cleaned.rfind(['.', ',']) {
        Some(i) if cleaned.len() - i - 1 == 2 => (&cleaned[..i], &cleaned[i + 1..]),
        _ => (cleaned.as_str(), "00"),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole: i64 = whole.parse().ok()?;
    Some(whole.checked_mul(100)? + cents.parse::<i64>().ok()?)
}

fn is_currency(token: &str) -> bool {
    // A word token keeps its dots ("руб.", and "rubles." at the end of a sentence).
    CURRENCY.contains(&token) || CURRENCY.contains(&token.trim_end_matches('.'))
}

fn amounts(tokens: &[String]) -> Vec<Amount> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|(i, t)| {
            Some(Amount {
                minor: minor_units(t)?,
                token: i,
            })
        })
        .collect()
}

/// "3,9" before "тыс." → 390000 (3 900 in minor units).
fn thousands(number: &str) -> Option<i64> {
    let decimal: String = number
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}' | '\''))
        .map(|c| if c == ',' { '.' } else { c })
        .collect();
    let value: f64 = decimal.parse().ok()?;
    Some((value * 1000.0 * 100.0).round() as i64)
}

/// The price-like amounts in `text`, in minor units. A number after a price word counts from
/// `floor` minor units up (smaller ones are counts: "от 2 визитов").
fn prices_from(text: &str, floor: i64) -> Vec<i64> {
    let tokens = tokens(text);
    amounts(&tokens)
        .into_iter()
        .filter_map(|a| {
            let near = |d: isize| {
                let j = a.token as isize + d;
                (j >= 0).then(|| tokens.get(j as usize)).flatten()
            };
            let in_thousands = near(1).is_some_and(|t| THOUSANDS.contains(&t.as_str()));
            let minor = if in_thousands {
                thousands(&tokens[a.token])?
            } else {
                a.minor
            };
            let punctuation = |t: &String| t.chars().all(|c| !c.is_alphanumeric());
            let currency = [-1, 1].iter().any(|d| near(*d).is_some_and(|t| is_currency(t)))
                // "3 900 (рублей)", "3,9 тыс. руб."
                || (near(1).is_some_and(|t| punctuation(t) || in_thousands)
                    && near(2).is_some_and(|t| is_currency(t)));
            let after_price_word = [-1, -2, -3]
                .iter()
                .any(|d| near(*d).is_some_and(|t| is_price_word(t)));
            (currency || in_thousands || (after_price_word && minor >= floor)).then_some(minor)
        })
        .collect()
}

/// The price-like amounts in `text`, in minor units (a bare number after a price word from
/// 100 up).
pub fn quoted_prices(text: &str) -> Vec<i64> {
    prices_from(text, 100 * 100)
}

/// True when the text quotes an amount that is not one of `listed` (minor units). A bare
/// number after a price word counts from half the cheapest listed price (at most 100), so
/// "costs 60" is caught on a list priced in tens of euros.
pub fn invents_a_price(text: &str, listed: &[i64]) -> bool {
    let floor = listed
        .iter()
        .min()
        .map_or(100 * 100, |cheapest| (cheapest / 2).clamp(1, 100 * 100));
    prices_from(text, floor).iter().any(|p| !listed.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_found_in_every_way_they_are_written() {
        assert_eq!(
            quoted_prices("Пломба стоит 4\u{a0}500\u{a0}₽."),
            vec![450000]
        );
        assert_eq!(quoted_prices("Пломба — 4 500 руб."), vec![450000]);
        assert_eq!(
            quoted_prices("A filling is $35.50 or 3,500 ₽"),
            vec![3550, 350000]
        );
        assert_eq!(quoted_prices("Una limpieza cuesta 5.500 ₽"), vec![550000]);
        assert_eq!(quoted_prices("Стоимость 4500 за зуб"), vec![450000]);
        assert_eq!(quoted_prices("It costs 120 EUR"), vec![12000]);
    }

    #[test]
    fn times_phones_and_counts_are_not_prices() {
        for text in [
            "Мы работаем с 09:00 до 20:00",
            "Звоните +7 495 000-00-00",
            "Приходите 25 ноября",
            "Лечение займёт 2 визита",
            "Open from 9 to 18",
        ] {
            assert!(
                quoted_prices(text).is_empty(),
                "{text}: {:?}",
                quoted_prices(text)
            );
        }
    }

    #[test]
    fn an_amount_not_on_the_list_is_an_invented_price() {
        let listed = [450000, 250000];
        assert!(!invents_a_price(
            "Световая пломба — 4 500 ₽, цементная — 2 500 ₽.",
            &listed
        ));
        assert!(invents_a_price("Пломба стоит примерно 3 900 ₽.", &listed));
        assert!(invents_a_price("A filling costs $40", &listed));
        assert!(!invents_a_price(
            "Мы откроемся в 09:00, приходите!",
            &listed
        ));
    }

    #[test]
    fn invented_prices_are_caught_however_the_model_phrases_them() {
        let listed = [450000, 250000];
        for text in [
            "Пломбы стоят 3900 и 2500.",
            "Пломба будет стоить 3900.",
            "Стоимость световой пломбы составляет 3 900.",
            "Пломба стоит 3,9 тыс. руб.",
            "The consultation is 1,900 rubles.",
            "La limpieza son 3.900 rublos.",
            "Пломба за 3 900 (рублей)",
            "Лечение обойдётся в 3 900.",
        ] {
            assert!(
                invents_a_price(text, &listed),
                "{text}: {:?}",
                quoted_prices(text)
            );
        }
        assert!(invents_a_price("A filling costs 60.", &[3500, 5000]));
        assert!(!invents_a_price("A filling costs 35.", &[3500, 5000]));
        assert!(!invents_a_price("Пломба стоит 4,5 тыс. ₽", &listed));
        for text in [
            "Лечение займёт от 2 визитов",
            "Приходите за 2 дня до приёма",
        ] {
            assert!(!invents_a_price(text, &listed), "{text}");
        }
    }
}
