//! Opening hours as a patient reads them: the week compactly ("Пн–Пт: 09:00–20:00", closed
//! days named), then what that means now in clinic time ("open until 20:00", "we open
//! tomorrow at 09:00"). Only formats `ClinicFacts.hours`; never guesses missing hours.

use chrono::{DateTime, Datelike, NaiveTime, Utc};
use chrono_tz::Tz;

use super::pack::LanguagePack;
use super::template::fill;
use crate::domain::clinic::WeeklyHours;

type Intervals = [(NaiveTime, NaiveTime)];

/// The text of the `hours` template, or `None` when no hours are configured.
pub fn hours_text(
    pack: &LanguagePack,
    hours: &WeeklyHours,
    tz: Tz,
    now: DateTime<Utc>,
) -> Option<String> {
    if hours.is_empty() {
        return None;
    }
    let schedule = week_lines(pack, hours).join("\n");
    let now_line = now_line(pack, hours, tz, now);
    Some(fill(
        pack.template("hours")?,
        &[("schedule", &schedule), ("now", &now_line)],
    ))
}

fn time(pack: &LanguagePack, t: NaiveTime) -> String {
    t.format(&pack.time_format).to_string()
}

fn intervals_text(pack: &LanguagePack, day: &Intervals) -> String {
    if day.is_empty() {
        return pack.template("hours_closed_day").unwrap_or("-").to_string();
    }
    day.iter()
        .map(|&(open, close)| format!("{}–{}", time(pack, open), time(pack, close)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per run of consecutive days with the same hours, Monday first.
fn week_lines(pack: &LanguagePack, hours: &WeeklyHours) -> Vec<String> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < 7 {
        let mut end = start;
        while end + 1 < 7 && hours.days[end + 1] == hours.days[start] {
            end += 1;
        }
        let days = if start == end {
            pack.weekdays[start].clone()
        } else {
            format!("{}–{}", pack.weekdays[start], pack.weekdays[end])
        };
        lines.push(format!(
            "{days}: {}",
            intervals_text(pack, &hours.days[start])
        ));
        start = end + 1;
    }
    lines
}

/// "Open now until …", "we open today at …" or "closed, we open <day> at …".
fn now_line(pack: &LanguagePack, hours: &WeeklyHours, tz: Tz, now: DateTime<Utc>) -> String {
    let local = now.with_timezone(&tz);
    let today = local.weekday().num_days_from_monday() as usize;
    let clock = local.time();
    let say = |key: &str, vars: &[(&str, &str)]| fill(pack.template(key).unwrap_or(""), vars);
    for &(open, close) in &hours.days[today] {
        if open <= clock && clock < close {
            return say("hours_open_now", &[("until", &time(pack, close))]);
        }
        if clock < open {
            return say("hours_opens_today", &[("time", &time(pack, open))]);
        }
    }
    for ahead in 1..=7 {
        let day = (today + ahead) % 7;
        if let Some(&(open, _)) = hours.days[day].first() {
            let day_name = if ahead == 1 {
                pack.template("tomorrow").unwrap_or("").to_string()
            } else {
                pack.weekdays_on[day].clone()
            };
            return say(
                "hours_opens_later",
                &[("day", &day_name), ("time", &time(pack, open))],
            );
        }
    }
    String::new()
}
