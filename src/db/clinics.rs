//! Clinics and which gateway channel belongs to which clinic.

use super::{DbError, optional};
use rusqlite::{Connection, Row, params};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicRow {
    pub id: String,
    pub organisation_id: Option<String>,
    pub name: String,
    pub timezone: String,
    pub default_language: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// JSON object: weekday ("mon".."sun") → "09:00-20:00" / "closed".
    pub hours: String,
}

const COLUMNS: &str =
    "id, organisation_id, name, timezone, default_language, phone, address, hours";

fn from_row(r: &Row<'_>) -> rusqlite::Result<ClinicRow> {
    Ok(ClinicRow {
        id: r.get(0)?,
        organisation_id: r.get(1)?,
        name: r.get(2)?,
        timezone: r.get(3)?,
        default_language: r.get(4)?,
        phone: r.get(5)?,
        address: r.get(6)?,
        hours: r.get(7)?,
    })
}

/// Inserts the clinic, or updates it in place when the id exists.
pub fn upsert_clinic(conn: &Connection, c: &ClinicRow, now: &str) -> Result<(), DbError> {
    conn.prepare_cached("INSERT INTO clinics (id, organisation_id, name, timezone, default_language, phone, address,
                              hours, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (id) DO UPDATE SET organisation_id = excluded.organisation_id,
             name = excluded.name, timezone = excluded.timezone,
             default_language = excluded.default_language, phone = excluded.phone,
             address = excluded.address, hours = excluded.hours, updated_at = excluded.updated_at
         WHERE (organisation_id, name, timezone, default_language, phone, address, hours)
               IS NOT (excluded.organisation_id, excluded.name, excluded.timezone,
                       excluded.default_language, excluded.phone, excluded.address, excluded.hours)")?.execute(params![
            c.id,
            c.organisation_id,
            c.name,
            c.timezone,
            c.default_language,
            c.phone,
            c.address,
            c.hours,
            now
        ],
    )?;
    Ok(())
}

pub fn find_clinic(conn: &Connection, id: &str) -> Result<Option<ClinicRow>, DbError> {
    optional(
        conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clinics WHERE id = ?1"))?
            .query_row([id], from_row),
    )
}

pub fn list_clinics(conn: &Connection) -> Result<Vec<ClinicRow>, DbError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM clinics ORDER BY name"))?;
    let rows = stmt.query_map([], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The clinic a gateway channel (Evolution instance, Cloud phone-number id) belongs to.
pub fn find_channel_clinic(
    conn: &Connection,
    provider: &str,
    key: &str,
) -> Result<Option<String>, DbError> {
    optional(
        conn.prepare_cached(
            "SELECT clinic_id FROM clinic_channels WHERE provider = ?1 AND channel_key = ?2",
        )?
        .query_row(params![provider, key], |r| r.get(0)),
    )
}

pub fn upsert_channel(
    conn: &Connection,
    provider: &str,
    key: &str,
    clinic_id: &str,
    now: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO clinic_channels (provider, channel_key, clinic_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (provider, channel_key) DO UPDATE SET clinic_id = excluded.clinic_id,
             updated_at = excluded.updated_at WHERE clinic_id IS NOT excluded.clinic_id",
    )?
    .execute(params![provider, key, clinic_id, now])?;
    Ok(())
}
