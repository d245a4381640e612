//! Rows pulled from the central database (organisations, clinics, the price list), applied
//! locally when they are newer than the local copy (`updated_at`). Writing them fires the sync
//! triggers like any write; sending an unchanged row back up is a no-op upsert centrally.

use super::DbError;
use rusqlite::{Connection, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledOrganisation {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledClinic {
    pub id: String,
    pub organisation_id: Option<String>,
    pub name: String,
    pub timezone: String,
    pub default_language: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// JSON text.
    pub hours: String,
    pub facts: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledService {
    pub id: String,
    pub clinic_id: String,
    pub code: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    pub aliases: String,
    /// JSON object text: the name by language.
    pub names: String,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// What applying one pulled row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Changed,
    /// The local copy is as new or newer.
    Unchanged,
    /// Another local service already has this clinic and code; the pulled row is skipped.
    CodeConflict,
}

fn applied(n: usize) -> Applied {
    if n > 0 {
        Applied::Changed
    } else {
        Applied::Unchanged
    }
}

pub fn apply_organisation(conn: &Connection, o: &PulledOrganisation) -> Result<Applied, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO organisations (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at
             WHERE excluded.updated_at > organisations.updated_at",
        )?
        .execute(params![o.id, o.name, o.created_at, o.updated_at])?;
    Ok(applied(n))
}

pub fn apply_clinic(conn: &Connection, c: &PulledClinic) -> Result<Applied, DbError> {
    let n = conn
        .prepare_cached(
            "INSERT INTO clinics (id, organisation_id, name, timezone, default_language, phone,
                                  address, hours, facts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET organisation_id = excluded.organisation_id,
                 name = excluded.name, timezone = excluded.timezone,
                 default_language = excluded.default_language, phone = excluded.phone,
                 address = excluded.address, hours = excluded.hours, facts = excluded.facts,
                 updated_at = excluded.updated_at
             WHERE excluded.updated_at > clinics.updated_at",
        )?
        .execute(params![
            c.id,
            c.organisation_id,
            c.name,
            c.timezone,
            c.default_language,
            c.phone,
            c.address,
            c.hours,
            c.facts,
            c.created_at,
            c.updated_at
        ])?;
    Ok(applied(n))
}

pub fn apply_service(conn: &Connection, s: &PulledService) -> Result<Applied, DbError> {
    let result = conn
        .prepare_cached(
            "INSERT INTO services (id, clinic_id, code, name, price_minor, currency, aliases,
                                   names, active, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, name = excluded.name,
                 price_minor = excluded.price_minor, currency = excluded.currency,
                 aliases = excluded.aliases, names = excluded.names, active = excluded.active,
                 updated_at = excluded.updated_at
             WHERE excluded.updated_at > services.updated_at
               AND excluded.clinic_id = services.clinic_id",
        )?
        .execute(params![
            s.id,
            s.clinic_id,
            s.code,
            s.name,
            s.price_minor,
            s.currency,
            s.aliases,
            s.names,
            s.active,
            s.created_at,
            s.updated_at
        ]);
    match result.map_err(DbError::from) {
        Ok(n) => Ok(applied(n)),
        // Only UNIQUE (clinic_id, code) can refuse it: the CHECKs were validated by the caller.
        Err(e) if e.is_constraint() => Ok(Applied::CodeConflict),
        Err(e) => Err(e),
    }
}
