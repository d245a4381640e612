//! The configured clinic: created on first start, kept in step with the config file (name,
//! time zone, language, address, phone, hours) and mapped to the configured gateway channels.
//! The config is applied when it changes, not at every start, so an edit pulled down from the
//! central database is not overwritten by an unchanged config file.

use crate::config::Config;
use crate::db::{DbError, clinics, meta, rusqlite::Connection};
use crate::domain::message::Provider;
use crate::domain::time;
use chrono::{DateTime, Utc};

const DEFAULT_CLINIC_ID: &str = "default_clinic_id";
/// The clinic section of the config as last applied.
const CLINIC_CONFIG_APPLIED: &str = "clinic_config_applied";

/// Ensures the configured clinic exists and matches the config; returns its id.
pub fn ensure_default(
    conn: &Connection,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<String, DbError> {
    let at = time::to_db(now);
    let id = match meta::find(conn, DEFAULT_CLINIC_ID)? {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            meta::set(conn, DEFAULT_CLINIC_ID, &id, &at)?;
            id
        }
    };
    let c = &config.clinic;
    let hours = serde_json::to_string(&c.hours).unwrap_or_else(|_| "{}".into());
    let wanted = serde_json::json!([
        c.name,
        c.timezone,
        c.default_language,
        c.phone,
        c.address,
        hours
    ])
    .to_string();
    let existing = clinics::find_clinic(conn, &id)?;
    let applied = meta::find(conn, CLINIC_CONFIG_APPLIED)?;
    if existing.is_none() || applied.as_deref() != Some(wanted.as_str()) {
        clinics::upsert_clinic(
            conn,
            &clinics::ClinicRow {
                id: id.clone(),
                organisation_id: existing.and_then(|e| e.organisation_id),
                name: c.name.clone(),
                timezone: c.timezone.clone(),
                default_language: c.default_language.clone(),
                phone: c.phone.clone(),
                address: c.address.clone(),
                hours,
            },
            &at,
        )?;
        meta::set(conn, CLINIC_CONFIG_APPLIED, &wanted, &at)?;
    }
    if let Some(instance) = &config.evolution.instance {
        clinics::upsert_channel(conn, Provider::Evolution.as_str(), instance, &id, &at)?;
    }
    if let Some(phone_id) = &config.whatsapp_cloud.phone_number_id {
        clinics::upsert_channel(conn, Provider::Cloud.as_str(), phone_id, &id, &at)?;
    }
    Ok(id)
}
