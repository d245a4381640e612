//! The price list (`services` table) and the version counter that tells caches it changed.

use super::{DbError, meta};
use crate::domain::service::Service;
use rusqlite::{Connection, params};
use std::collections::BTreeMap;

const PRICES_VERSION: &str = "prices_version";

/// A price-list row as imported, before it has an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    pub code: String,
    pub name: String,
    /// Translations of `name` by language code.
    pub names: BTreeMap<String, String>,
    pub price_minor: i64,
    pub currency: String,
    pub aliases: Vec<String>,
}

impl NewService {
    /// The row as a `Service` under `id` (the importer's rows get theirs when stored).
    pub fn with_id(self, id: String) -> Service {
        Service {
            id,
            code: self.code,
            name: self.name,
            names: self.names,
            price_minor: self.price_minor,
            currency: self.currency,
            aliases: self.aliases,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaceSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub removed: usize,
}

fn split_aliases(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `names` column: a JSON object, written with sorted keys so equal maps store equal text.
pub fn names_to_db(names: &BTreeMap<String, String>) -> String {
    serde_json::to_string(names).unwrap_or_else(|_| "{}".into())
}

/// The `names` column read back; the CHECK constraint keeps it an object, so a failure here
/// can only be a string-valued entry edited by hand, which is dropped.
fn names_from_db(json: &str) -> BTreeMap<String, String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(json).unwrap_or_default();
    map.into_iter()
        .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
        .collect()
}

/// Active services of every clinic, keyed by clinic id.
pub fn list_active_services(conn: &Connection) -> Result<Vec<(String, Service)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT clinic_id, id, code, name, price_minor, currency, aliases, names
         FROM services WHERE active = 1 ORDER BY clinic_id, name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            Service {
                id: r.get(1)?,
                code: r.get(2)?,
                name: r.get(3)?,
                price_minor: r.get(4)?,
                currency: r.get(5)?,
                aliases: split_aliases(&r.get::<_, String>(6)?),
                names: names_from_db(&r.get::<_, String>(7)?),
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn list_services(conn: &Connection, clinic_id: &str) -> Result<Vec<Service>, DbError> {
    Ok(list_active_services(conn)?
        .into_iter()
        .filter(|(c, _)| c == clinic_id)
        .map(|(_, s)| s)
        .collect())
}

/// Makes the clinic's active price list exactly `rows`: matching codes are updated in place
/// (ids kept), new codes added, codes no longer listed deactivated (kept for history).
/// Bumps the prices version so every cache reloads.
pub fn replace_services(
    conn: &Connection,
    clinic_id: &str,
    rows: &[NewService],
    now: &str,
) -> Result<ReplaceSummary, DbError> {
    let mut summary = ReplaceSummary::default();
    for row in rows {
        let aliases = row.aliases.join("|");
        let names = names_to_db(&row.names);
        let existing: Option<(String, String, i64, String, String, i64, String)> = super::optional(
            conn.prepare_cached(
                "SELECT id, name, price_minor, currency, aliases, active, names FROM services
                     WHERE clinic_id = ?1 AND code = ?2",
            )?
            .query_row(params![clinic_id, row.code], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            }),
        )?;
        match existing {
            None => {
                conn.prepare_cached(
                    "INSERT INTO services (id, clinic_id, code, name, price_minor, currency,
                                           aliases, names, active, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)",
                )?
                .execute(params![
                    uuid::Uuid::now_v7().to_string(),
                    clinic_id,
                    row.code,
                    row.name,
                    row.price_minor,
                    row.currency,
                    aliases,
                    names,
                    now
                ])?;
                summary.added += 1;
            }
            Some((id, name, price, currency, old_aliases, active, old_names)) => {
                if (
                    name.as_str(),
                    price,
                    currency.as_str(),
                    old_aliases.as_str(),
                    active,
                    names_from_db(&old_names),
                ) == (
                    row.name.as_str(),
                    row.price_minor,
                    row.currency.as_str(),
                    aliases.as_str(),
                    1,
                    row.names.clone(),
                ) {
                    summary.unchanged += 1;
                    continue;
                }
                conn.prepare_cached(
                    "UPDATE services SET name = ?2, price_minor = ?3, currency = ?4, aliases = ?5,
                         names = ?6, active = 1, updated_at = ?7 WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    row.name,
                    row.price_minor,
                    row.currency,
                    aliases,
                    names,
                    now
                ])?;
                summary.updated += 1;
            }
        }
    }
    let codes: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
    let mut stmt =
        conn.prepare_cached("SELECT id, code FROM services WHERE clinic_id = ?1 AND active = 1")?;
    let active: Vec<(String, String)> = stmt
        .query_map([clinic_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, code) in active {
        if !codes.contains(&code.as_str()) {
            conn.prepare_cached("UPDATE services SET active = 0, updated_at = ?2 WHERE id = ?1")?
                .execute(params![id, now])?;
            summary.removed += 1;
        }
    }
    if summary
        != (ReplaceSummary {
            unchanged: summary.unchanged,
            ..Default::default()
        })
    {
        bump_prices_version(conn, now)?;
    }
    Ok(summary)
}

pub fn bump_prices_version(conn: &Connection, now: &str) -> Result<i64, DbError> {
    let next = prices_version(conn)? + 1;
    meta::set(conn, PRICES_VERSION, &next.to_string(), now)?;
    Ok(next)
}

/// Changes whenever any clinic's price list changes, from this process or another.
pub fn prices_version(conn: &Connection) -> Result<i64, DbError> {
    Ok(meta::find(conn, PRICES_VERSION)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}
