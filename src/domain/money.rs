//! Prices as patients read them: minor units (kopecks, cents) shown in a language's number
//! conventions with the currency's symbol. Separators are data (`MoneyFormat`), so a language
//! pack can bring its own; `format_price` knows the built-in languages. No I/O, no rounding:
//! amounts are integers in minor units from end to end.
//!
//! Spaces: Russian groups digits with U+00A0 NO-BREAK SPACE and every language puts a U+00A0
//! between an amount and a symbol written after it ("3 500 ₽"), so WhatsApp never wraps a price.

use serde::Deserialize;

/// U+00A0, the one space used inside formatted prices (see the module header).
pub const NBSP: &str = "\u{a0}";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not an amount like 4500 or 4500.50")]
    NotAnAmount(String),
    #[error("{0:?} has more decimals than {1} allows")]
    TooManyDecimals(String, String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}

/// Where the currency sign goes relative to the amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SymbolPlacement {
    /// "$35", "CHF 100": sign first (a letter code is followed by a space).
    Before,
    /// "3 500 ₽", "35 $": sign last, after a no-break space.
    After,
    /// The currency's home habit: "$35", "£12", "€10" but "3,500 ₽", "5,000 ₸".
    /// English uses this; unknown codes go first ("CHF 100").
    Native,
}

/// How one language writes an amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MoneyFormat {
    pub group_separator: String,
    pub decimal_separator: String,
    #[serde(rename = "symbol")]
    pub placement: SymbolPlacement,
}

struct Currency {
    code: &'static str,
    symbol: &'static str,
    /// Digits after the decimal point (ISO 4217 exponent).
    exponent: u32,
    symbol_first_at_home: bool,
}

const CURRENCIES: &[Currency] = &[
    Currency {
        code: "RUB",
        symbol: "₽",
        exponent: 2,
        symbol_first_at_home: false,
    },
    Currency {
        code: "USD",
        symbol: "$",
        exponent: 2,
        symbol_first_at_home: true,
    },
    Currency {
        code: "EUR",
        symbol: "€",
        exponent: 2,
        symbol_first_at_home: true,
    },
    Currency {
        code: "GBP",
        symbol: "£",
        exponent: 2,
        symbol_first_at_home: true,
    },
    Currency {
        code: "KZT",
        symbol: "₸",
        exponent: 2,
        symbol_first_at_home: false,
    },
    Currency {
        code: "UAH",
        symbol: "₴",
        exponent: 2,
        symbol_first_at_home: false,
    },
    Currency {
        code: "TRY",
        symbol: "₺",
        exponent: 2,
        symbol_first_at_home: true,
    },
    Currency {
        code: "JPY",
        symbol: "¥",
        exponent: 0,
        symbol_first_at_home: true,
    },
];

fn currency(code: &str) -> Option<&'static Currency> {
    CURRENCIES
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code))
}

/// Digits after the decimal point for a currency code; unknown codes are assumed to have 2.
pub fn minor_digits(currency_code: &str) -> u32 {
    currency(currency_code).map_or(2, |c| c.exponent)
}

/// The sign patients know ("₽", "$"), or the upper-case code itself when there is none here.
pub fn currency_symbol(currency_code: &str) -> String {
    currency(currency_code).map_or_else(|| currency_code.to_uppercase(), |c| c.symbol.to_string())
}

impl MoneyFormat {
    /// Built-in conventions: "ru" → `3 500,50 ₽`, "en" → `3,500.50 ₽` / `$35`, "es" →
    /// `3.500,50 ₽`. Other languages get the English convention.
    pub fn for_language(language: &str) -> MoneyFormat {
        let (group, decimal, placement) = match language {
            "ru" | "uk" | "kk" | "fr" => (NBSP, ",", SymbolPlacement::After),
            "es" | "pt" | "de" | "it" => (".", ",", SymbolPlacement::After),
            _ => (",", ".", SymbolPlacement::Native),
        };
        MoneyFormat {
            group_separator: group.to_string(),
            decimal_separator: decimal.to_string(),
            placement,
        }
    }

    /// Formats `minor` units of `currency_code`; the fraction appears only when it is non-zero.
    pub fn format(&self, minor: i64, currency_code: &str) -> String {
        let known = currency(currency_code);
        let exponent = known.map_or(2, |c| c.exponent);
        let amount = self.amount(minor, exponent);
        let sign = currency_symbol(currency_code);
        let first = match self.placement {
            SymbolPlacement::Before => true,
            SymbolPlacement::After => false,
            SymbolPlacement::Native => known.is_none_or(|c| c.symbol_first_at_home),
        };
        match (first, known.is_some()) {
            (true, true) => format!("{sign}{amount}"),
            (true, false) => format!("{sign} {amount}"),
            (false, _) => format!("{amount}{NBSP}{sign}"),
        }
    }

    fn amount(&self, minor: i64, exponent: u32) -> String {
        let scale = 10u64.pow(exponent);
        let magnitude = minor.unsigned_abs();
        let (whole, fraction) = (magnitude / scale, magnitude % scale);
        let digits = whole.to_string();
        let mut out = String::with_capacity(digits.len() + 8);
        if minor < 0 {
            out.push('-');
        }
        for (i, digit) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(&self.group_separator);
            }
            out.push(digit);
        }
        if fraction != 0 {
            out.push_str(&self.decimal_separator);
            out.push_str(&format!("{fraction:0width$}", width = exponent as usize));
        }
        out
    }
}

/// `format_price(350000, "RUB", "ru")` → "3 500 ₽" (U+00A0 spaces); "en" → "3,500 ₽";
/// "es" → "3.500 ₽"; `format_price(3550, "USD", "en")` → "$35.50".
pub fn format_price(minor: i64, currency_code: &str, language: &str) -> String {
    MoneyFormat::for_language(language).format(minor, currency_code)
}

/// Parses a price in major units as a price list writes it ("4500", "4500.50", "4500,5")
/// into minor units of `currency_code`, exactly (no floating point).
pub fn parse_major_units(text: &str, currency_code: &str) -> Result<i64, MoneyError> {
    let trimmed = text.trim();
    let not_amount = || MoneyError::NotAnAmount(trimmed.to_string());
    // "4 500" as spreadsheets show it: spaces (also no-break and narrow ones) group thousands.
    let compact: String = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '\u{202f}'))
        .collect();
    let digits = compact.as_str();
    let (whole, fraction) = match digits.split_once(['.', ',']) {
        Some((w, f)) => (w, f),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(not_amount());
    }
    let exponent = minor_digits(currency_code);
    if fraction.len() > exponent as usize {
        return Err(MoneyError::TooManyDecimals(
            trimmed.to_string(),
            currency_code.to_string(),
        ));
    }
    let padded = format!("{fraction:0<width$}", width = exponent as usize);
    let too_large = || MoneyError::TooLarge(trimmed.to_string());
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let fraction: i64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| not_amount())?
    };
    whole
        .checked_mul(10i64.pow(exponent))
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(too_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: String) -> String {
        s.replace(NBSP, " ")
    }

    #[test]
    fn each_language_groups_digits_its_own_way_with_no_break_spaces_in_russian() {
        assert_eq!(format_price(350000, "RUB", "ru"), "3\u{a0}500\u{a0}₽");
        assert_eq!(plain(format_price(18_000_000, "RUB", "ru")), "180 000 ₽");
        assert_eq!(plain(format_price(350000, "RUB", "en")), "3,500 ₽");
        assert_eq!(plain(format_price(350000, "RUB", "es")), "3.500 ₽");
    }

    #[test]
    fn kopecks_and_cents_appear_only_when_not_zero() {
        assert_eq!(plain(format_price(350050, "RUB", "ru")), "3 500,50 ₽");
        assert_eq!(plain(format_price(350005, "RUB", "es")), "3.500,05 ₽");
        assert_eq!(format_price(3550, "USD", "en"), "$35.50");
        assert_eq!(format_price(3500, "USD", "en"), "$35");
    }

    #[test]
    fn english_puts_dollar_pound_and_euro_signs_first_and_rouble_and_tenge_last() {
        assert_eq!(format_price(1000, "GBP", "en"), "£10");
        assert_eq!(format_price(1000, "EUR", "en"), "€10");
        assert_eq!(plain(format_price(500000, "KZT", "en")), "5,000 ₸");
        assert_eq!(plain(format_price(1000, "EUR", "es")), "10 €");
    }

    #[test]
    fn unknown_currency_codes_are_shown_as_the_code() {
        assert_eq!(format_price(10000, "CHF", "en"), "CHF 100");
        assert_eq!(plain(format_price(10000, "chf", "ru")), "100 CHF");
    }

    #[test]
    fn small_and_negative_amounts_format_without_stray_separators() {
        assert_eq!(format_price(99, "USD", "en"), "$0.99");
        assert_eq!(plain(format_price(-350000, "RUB", "ru")), "-3 500 ₽");
        assert_eq!(plain(format_price(100000, "RUB", "ru")), "1 000 ₽");
        assert_eq!(plain(format_price(10000, "RUB", "ru")), "100 ₽");
    }

    #[test]
    fn currencies_without_minor_units_never_show_a_fraction() {
        assert_eq!(format_price(1500, "JPY", "en"), "¥1,500");
        assert_eq!(parse_major_units("1500", "JPY"), Ok(1500));
        assert!(parse_major_units("1500.5", "JPY").is_err());
    }

    #[test]
    fn major_units_parse_exactly_into_minor_units() {
        assert_eq!(parse_major_units("4500", "RUB"), Ok(450000));
        assert_eq!(parse_major_units("4500.50", "RUB"), Ok(450050));
        assert_eq!(parse_major_units(" 4500,5 ", "RUB"), Ok(450050));
        assert_eq!(parse_major_units("0.01", "USD"), Ok(1));
        assert_eq!(parse_major_units("4 500", "RUB"), Ok(450000));
        assert_eq!(
            parse_major_units("1\u{a0}250\u{a0}000,00", "RUB"),
            Ok(125000000)
        );
    }

    #[test]
    fn malformed_amounts_are_refused_with_the_reason() {
        let refused = |text| parse_major_units(text, "RUB").unwrap_err();
        assert!(matches!(refused(""), MoneyError::NotAnAmount(_)));
        assert!(matches!(refused("4 5 x"), MoneyError::NotAnAmount(_)));
        assert!(matches!(refused("-5"), MoneyError::NotAnAmount(_)));
        assert!(matches!(refused("1.005"), MoneyError::TooManyDecimals(..)));
        assert!(matches!(
            refused("99999999999999999999"),
            MoneyError::TooLarge(_)
        ));
    }

    #[test]
    fn a_money_format_from_a_language_pack_is_read_from_toml() {
        let format: MoneyFormat = toml::from_str(
            "group_separator = \" \"\ndecimal_separator = \",\"\nsymbol = \"after\"",
        )
        .unwrap();
        assert_eq!(format.placement, SymbolPlacement::After);
        assert_eq!(format.format(123456, "EUR"), "1 234,56\u{a0}€");
    }
}
