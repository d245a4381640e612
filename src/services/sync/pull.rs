//! Down-sync decisions: central rows of the clinic directory and the price list are checked
//! (a row that would break a local rule is skipped, never half-applied), times normalised to
//! the local format, and applied when newer than the local copy. A price-list change bumps the
//! prices version, so every price cache reloads at once.

use crate::db::sync_down::{self, Applied, PulledClinic, PulledOrganisation, PulledService};
use crate::db::{DbError, prices, rusqlite::Connection};
use crate::domain::time;
use serde_json::Value;

/// What one pull changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullSummary {
    pub clinics_changed: usize,
    pub services_changed: usize,
    /// Rows left out: invalid, or clashing with a local service's code. Reported by the caller
    /// once the pull is committed: [`apply`] runs inside a write job, which the writer may run
    /// a second time (when another job of its batch fails), and would then log them twice.
    pub skipped: Vec<Skipped>,
}

/// A pulled row left out, and why (names no patient data: these are clinic and price rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub what: &'static str,
    pub reason: String,
}

/// The central rows of one pull, as fetched.
#[derive(Debug, Clone, Default)]
pub struct Pulled {
    pub organisations: Vec<Value>,
    pub clinics: Vec<Value>,
    pub services: Vec<Value>,
}

fn text(v: &Value, key: &str) -> Result<String, String> {
    match &v[key] {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("{key} is missing")),
    }
}

fn optional_text(v: &Value, key: &str) -> Option<String> {
    v[key].as_str().map(str::to_owned)
}

fn when(v: &Value, key: &str) -> Result<String, String> {
    let raw = text(v, key)?;
    time::from_db(&raw)
        .map(time::to_db)
        .map_err(|_| format!("{key} is not a time"))
}

fn json_text(v: &Value, key: &str) -> String {
    match &v[key] {
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

pub fn parse_organisation(v: &Value) -> Result<PulledOrganisation, String> {
    Ok(PulledOrganisation {
        id: text(v, "id")?,
        name: text(v, "name")?,
        created_at: when(v, "created_at")?,
        updated_at: when(v, "updated_at")?,
    })
}

pub fn parse_clinic(v: &Value) -> Result<PulledClinic, String> {
    Ok(PulledClinic {
        id: text(v, "id")?,
        organisation_id: optional_text(v, "organisation_id"),
        name: text(v, "name")?,
        timezone: text(v, "timezone")?,
        default_language: text(v, "default_language")?,
        phone: optional_text(v, "phone"),
        address: optional_text(v, "address"),
        hours: json_text(v, "hours"),
        facts: json_text(v, "facts"),
        created_at: when(v, "created_at")?,
        updated_at: when(v, "updated_at")?,
    })
}

/// A service's translated names: a JSON object of strings (absent or null: none).
fn service_names(v: &Value) -> Result<String, String> {
    let names = match &v["names"] {
        Value::Null => Default::default(),
        Value::Object(map) => map
            .iter()
            .map(|(language, name)| Some((language.clone(), name.as_str()?.to_owned())))
            .collect::<Option<_>>()
            .ok_or("names is not an object of names by language")?,
        _ => return Err("names is not an object of names by language".into()),
    };
    Ok(prices::names_to_db(&names))
}

pub fn parse_service(v: &Value) -> Result<PulledService, String> {
    let price_minor = v["price_minor"]
        .as_i64()
        .filter(|p| *p >= 0)
        .ok_or("price_minor is not a whole number of minor units ≥ 0")?;
    let currency = text(v, "currency")?;
    if currency.chars().count() != 3 {
        return Err("currency is not a three-letter code".into());
    }
    Ok(PulledService {
        id: text(v, "id")?,
        clinic_id: text(v, "clinic_id")?,
        code: text(v, "code")?,
        name: text(v, "name")?,
        price_minor,
        currency,
        aliases: optional_text(v, "aliases").unwrap_or_default(),
        names: service_names(v)?,
        active: v["active"].as_bool().unwrap_or(true),
        created_at: when(v, "created_at")?,
        updated_at: when(v, "updated_at")?,
    })
}

/// Applies a pull in one transaction: organisations, then clinics, then services.
pub fn apply(conn: &Connection, pulled: &Pulled, now: &str) -> Result<PullSummary, DbError> {
    let mut summary = PullSummary::default();
    let mut skipped = Vec::new();
    let mut skip = |what: &'static str, reason: String| skipped.push(Skipped { what, reason });
    for v in &pulled.organisations {
        match parse_organisation(v) {
            Ok(o) => {
                sync_down::apply_organisation(conn, &o)?;
            }
            Err(why) => {
                skip("organisation", why);
            }
        }
    }
    for v in &pulled.clinics {
        match parse_clinic(v) {
            Ok(c) => {
                if sync_down::apply_clinic(conn, &c)? == Applied::Changed {
                    summary.clinics_changed += 1;
                }
            }
            Err(why) => {
                skip("clinic", why);
            }
        }
    }
    for v in &pulled.services {
        match parse_service(v).map(|s| sync_down::apply_service(conn, &s)) {
            Ok(Ok(Applied::Changed)) => summary.services_changed += 1,
            Ok(Ok(Applied::Unchanged)) => {}
            Ok(Ok(Applied::CodeConflict)) => {
                skip("service", "another local service has this code".into());
            }
            Ok(Err(e)) => return Err(e),
            Err(why) => {
                skip("service", why);
            }
        }
    }
    if summary.services_changed > 0 {
        prices::bump_prices_version(conn, now)?;
    }
    summary.skipped = skipped;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Value {
        json!({
            "id": "s1", "clinic_id": "c1", "code": "F1", "name": "Пломба", "price_minor": 450000,
            "currency": "RUB", "aliases": "пломба", "active": true,
            "created_at": "2026-01-01T00:00:00+00:00", "updated_at": "2026-01-02T03:04:05.5+03:00"
        })
    }

    #[test]
    fn central_times_are_normalised_to_the_local_format() {
        let s = parse_service(&service()).unwrap();
        assert_eq!(s.updated_at, "2026-01-02T00:04:05.500000Z");
        assert_eq!(s.price_minor, 450000);
    }

    #[test]
    fn rows_that_would_break_local_rules_are_refused() {
        let mut bad = service();
        bad["price_minor"] = json!(-1);
        assert!(parse_service(&bad).is_err());
        let mut bad = service();
        bad["currency"] = json!("RUBLES");
        assert!(parse_service(&bad).is_err());
        let mut bad = service();
        bad["updated_at"] = json!("yesterday");
        assert!(parse_service(&bad).is_err());
    }

    /// `apply` runs inside a write job, which may run twice: it reports what it left out
    /// instead of logging it, and the caller logs once after the commit.
    #[tokio::test]
    async fn a_refused_row_is_reported_with_its_reason_and_nothing_is_applied() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("t.db")).unwrap();
        let mut bad = service();
        bad["currency"] = json!("RUBLES");
        let pulled = Pulled {
            services: vec![bad],
            ..Pulled::default()
        };
        let summary = db
            .write(move |c| apply(c, &pulled, "2026-01-03T00:00:00.000000Z"))
            .await
            .unwrap();
        assert_eq!(summary.services_changed, 0);
        assert_eq!(summary.skipped.len(), 1, "{summary:?}");
        assert_eq!(summary.skipped[0].what, "service");
        assert!(
            summary.skipped[0].reason.contains("currency"),
            "{:?}",
            summary.skipped[0].reason
        );
    }
}
