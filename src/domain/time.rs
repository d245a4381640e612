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

/// A time a person typed: RFC 3339 (any offset), or clinic wall-clock time
/// "2026-11-26 10:00" in `tz` (the earlier instant when clocks go back; an error for a time
/// the clocks skip).
pub fn parse_local(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    use chrono::TimeZone;
    let text = text.trim();
    if let Ok(t) = from_db(text) {
        return Ok(t);
    }
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").map_err(|_| {
        format!("{text:?} is not a time like \"2026-11-26 10:00\" or 2026-11-26T07:00:00Z")
    })?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| format!("{text} does not exist in {tz} (the clocks skip it)"))
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

    #[test]
    fn typed_times_are_rfc_3339_or_clinic_wall_clock_time() {
        let moscow = chrono_tz::Europe::Moscow;
        let want = Utc.with_ymd_and_hms(2026, 11, 26, 7, 0, 0).unwrap();
        assert_eq!(parse_local("2026-11-26 10:00", moscow).unwrap(), want);
        assert_eq!(
            parse_local("2026-11-26T10:00:00+03:00", moscow).unwrap(),
            want
        );
        assert!(
            parse_local("tomorrow", moscow)
                .unwrap_err()
                .contains("tomorrow")
        );
        let berlin = chrono_tz::Europe::Berlin;
        assert!(
            parse_local("2026-03-29 02:30", berlin)
                .unwrap_err()
                .contains("skip")
        );
    }
}
