//! Lengths of time as people write them in config and on the command line: "90s", "30m",
//! "24h", "2d", "1h30m". Parsing only; what a span means is up to the caller.

use chrono::Duration;

/// Parses a span made of `<number><unit>` parts (units `s`, `m`, `h`, `d`), such as "1h30m".
/// Zero and negative spans are refused: every caller means "some time from now".
pub fn parse_span(text: &str) -> Result<Duration, String> {
    let bad = || format!("{text:?} is not a length of time such as \"30m\", \"24h\" or \"1h30m\"");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::zero();
    let mut digits = String::new();
    for c in trimmed.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let part = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            _ => None,
        }
        .ok_or_else(bad)?;
        total = total.checked_add(&part).ok_or_else(bad)?;
    }
    if !digits.is_empty() || total <= Duration::zero() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_in_every_unit_and_in_combinations() {
        assert_eq!(parse_span("90s").unwrap(), Duration::seconds(90));
        assert_eq!(parse_span("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_span("24h").unwrap(), Duration::hours(24));
        assert_eq!(parse_span("2d").unwrap(), Duration::days(2));
        assert_eq!(parse_span(" 1h30m ").unwrap(), Duration::minutes(90));
    }

    #[test]
    fn numbers_without_units_zero_and_unknown_units_are_refused() {
        for bad in ["", "24", "0h", "h", "3w", "1.5h", "-2h", "1h 30m"] {
            assert!(parse_span(bad).is_err(), "{bad:?}");
        }
    }
}
