//! Catches an LLM reply that quotes a price not on the price list. An amount counts as a
//! price when a currency sign or word sits next to it ("4 500 ₽", "$35", "3500 руб.") or a
//! price word comes just before it ("стоит 4500", "costs 35"). Any such amount that is not a
//! listed price (exactly, in minor units) means the reply is not sent.

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
];
/// Words that make the next number a price.
const PRICE_WORDS: &[&str] = &[
    "стоит",
    "стоимость",
    "цена",
    "ценой",
    "цене",
    "от",
    "costs",
    "cost",
    "price",
    "priced",
    "from",
    "cuesta",
    "cuestan",
    "precio",
    "desde",
];

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
    CURRENCY.contains(&token)
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

/// The price-like amounts in `text`, in minor units.
pub fn quoted_prices(text: &str) -> Vec<i64> {
    let tokens = tokens(text);
    amounts(&tokens)
        .into_iter()
        .filter(|a| {
            let near = |d: isize| {
                let j = a.token as isize + d;
                (j >= 0).then(|| tokens.get(j as usize)).flatten()
            };
            let currency = [-1, 1]
                .iter()
                .any(|d| near(*d).is_some_and(|t| is_currency(t)));
            let after_price_word = [-1, -2, -3]
                .iter()
                .any(|d| near(*d).is_some_and(|t| PRICE_WORDS.contains(&t.as_str())));
            currency || (after_price_word && a.minor >= 100 * 100)
        })
        .map(|a| a.minor)
        .collect()
}

/// True when the text quotes an amount that is not one of `listed` (minor units).
pub fn invents_a_price(text: &str, listed: &[i64]) -> bool {
    quoted_prices(text).iter().any(|p| !listed.contains(p))
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
}
