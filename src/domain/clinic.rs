//! Public facts about a clinic (not PHI): name, address, phone, opening hours, time zone.

use chrono::{NaiveTime, Weekday};

/// Opening hours per weekday, Monday first; an empty day is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeeklyHours {
    pub days: [Vec<(NaiveTime, NaiveTime)>; 7],
}

impl WeeklyHours {
    pub fn day(&self, day: Weekday) -> &[(NaiveTime, NaiveTime)] {
        &self.days[day.num_days_from_monday() as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.days.iter().all(Vec::is_empty)
    }

    /// Parses one day's spec: "09:00-20:00", "09:00-13:00, 14:00-18:00", or "closed" / "".
    pub fn parse_day(spec: &str) -> Result<Vec<(NaiveTime, NaiveTime)>, String> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("closed") {
            return Ok(Vec::new());
        }
        spec.split(',')
            .map(|range| {
                let (open, close) = range
                    .split_once('-')
                    .ok_or_else(|| format!("{range:?} is not a range like 09:00-20:00"))?;
                let t = |s: &str| {
                    NaiveTime::parse_from_str(s.trim(), "%H:%M")
                        .map_err(|_| format!("{s:?} is not a time like 09:00"))
                };
                let (open, close) = (t(open)?, t(close)?);
                if open >= close {
                    return Err(format!("{range:?} closes before it opens"));
                }
                Ok((open, close))
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClinicFacts {
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub timezone: chrono_tz::Tz,
    /// Language code used when the patient's language cannot be told.
    pub default_language: String,
    pub hours: WeeklyHours,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_specs_parse_and_bad_ones_say_why() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(
            WeeklyHours::parse_day("09:00-20:00").unwrap(),
            vec![(t(9, 0), t(20, 0))]
        );
        assert_eq!(
            WeeklyHours::parse_day("09:00-13:00, 14:00-18:30").unwrap(),
            vec![(t(9, 0), t(13, 0)), (t(14, 0), t(18, 30))]
        );
        assert!(WeeklyHours::parse_day("closed").unwrap().is_empty());
        assert!(WeeklyHours::parse_day("9-5").unwrap_err().contains("9"));
        assert!(
            WeeklyHours::parse_day("20:00-09:00")
                .unwrap_err()
                .contains("closes before")
        );
    }
}
