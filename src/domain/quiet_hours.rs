//! Quiet hours: the part of each day (clinic time) when no unsolicited message goes out.
//! A range may wrap midnight ("21:00-09:00"). Pure calendar arithmetic; the caller supplies
//! the time zone and the instant.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// First quiet minute.
    pub start: NaiveTime,
    /// First allowed minute again.
    pub end: NaiveTime,
}

impl QuietHours {
    /// Parses "21:00-09:00"; "" or "none" means no quiet hours.
    pub fn parse(spec: &str) -> Result<Option<QuietHours>, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let (start, end) = spec
            .split_once('-')
            .ok_or_else(|| format!("{spec:?} is not a range like \"21:00-09:00\""))?;
        let t = |s: &str| {
            NaiveTime::parse_from_str(s.trim(), "%H:%M")
                .map_err(|_| format!("{s:?} is not a time like 21:00"))
        };
        let (start, end) = (t(start)?, t(end)?);
        if start == end {
            return Err(format!(
                "{spec:?} is empty; leave it blank for no quiet hours"
            ));
        }
        Ok(Some(QuietHours { start, end }))
    }

    /// Whether a clinic-local wall-clock time falls in the quiet range.
    pub fn contains(&self, local: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= local && local < self.end
        } else {
            local >= self.start || local < self.end
        }
    }

    /// `at` if it is outside quiet hours, else the first allowed instant after it (the end of
    /// the quiet range in the clinic's zone, moved past a DST gap if it falls in one).
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        let local = at.with_timezone(&tz).naive_local();
        if !self.contains(local.time()) {
            return at;
        }
        let mut day = local.date();
        if local.time() >= self.end {
            day = day.succ_opt().unwrap_or(day);
        }
        resolve(tz, day.and_time(self.end)).max(at)
    }
}

/// The instant of a clinic-local wall-clock time: the earlier one when clocks go back, the
/// first existing minute when they jump forward over it.
fn resolve(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..(4 * 60) {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(early, _) => return early.with_timezone(&Utc),
            LocalResult::None => probe += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_range_across_midnight_covers_the_night() {
        let q = QuietHours::parse("21:00-09:00").unwrap().unwrap();
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(q.contains(t(21, 0)) && q.contains(t(23, 59)) && q.contains(t(8, 59)));
        assert!(!q.contains(t(9, 0)) && !q.contains(t(20, 59)) && !q.contains(t(12, 0)));
    }

    #[test]
    fn blank_means_none_and_bad_specs_say_why() {
        assert_eq!(QuietHours::parse("").unwrap(), None);
        assert_eq!(QuietHours::parse("none").unwrap(), None);
        assert!(QuietHours::parse("9-5").unwrap_err().contains("9"));
        assert!(
            QuietHours::parse("10:00-10:00")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn late_evening_moves_to_the_next_morning_in_clinic_time() {
        let q = QuietHours::parse("21:00-09:00").unwrap().unwrap();
        let moscow: Tz = "Europe/Moscow".parse().unwrap();
        // 23:30 in Moscow (UTC+3) → 09:00 next day Moscow = 06:00 UTC.
        let at = utc("2026-11-25T20:30:00Z");
        assert_eq!(q.next_allowed(at, moscow), utc("2026-11-26T06:00:00Z"));
        // 03:00 in Moscow → 09:00 the same day.
        assert_eq!(
            q.next_allowed(utc("2026-11-26T00:00:00Z"), moscow),
            utc("2026-11-26T06:00:00Z")
        );
        // Noon is allowed as it is.
        let noon = utc("2026-11-26T09:00:00Z");
        assert_eq!(q.next_allowed(noon, moscow), noon);
    }

    #[test]
    fn a_quiet_end_inside_a_dst_gap_moves_to_the_first_real_minute() {
        // Europe/Berlin jumps from 02:00 to 03:00 on 2026-03-29.
        let q = QuietHours::parse("22:00-02:30").unwrap().unwrap();
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let at = utc("2026-03-28T23:00:00Z"); // 00:00 local, quiet
        assert_eq!(q.next_allowed(at, berlin), utc("2026-03-29T01:00:00Z")); // 03:00 CEST
    }
}
