//! Time as stored: UTC, RFC 3339 text with a fixed width so that text order is time order.

use chrono::{DateTime, SecondsFormat, Utc};

/// Formats a UTC instant the one way it is stored in SQLite and JSON
/// (`2026-11-25T10:00:00.123456Z`): fixed width, so `ORDER BY` on the text is chronological.
pub fn to_db(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored time; accepts any RFC 3339 offset and normalises to UTC.
pub fn from_db(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stored_times_sort_as_text_in_time_order() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::microseconds(1);
        assert!(to_db(a) < to_db(b));
        assert_eq!(from_db(&to_db(b)).unwrap(), b);
        assert_eq!(to_db(a).len(), to_db(b).len());
    }
}
