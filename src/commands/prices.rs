//! `frontdesk prices import FILE.csv` and `frontdesk prices list`. Import is all or nothing:
//! any bad row is reported with its line number and nothing changes. A running server picks
//! the new prices up within a second.

use super::Failure;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::Keys;
use crate::db::prices::{NewService, ReplaceSummary};
use crate::db::{DbError, prices};
use crate::domain::money::format_price;
use crate::domain::time;
use crate::services::audit::{self, AuditEvent};
use crate::services::{clinics, price_list};
use std::path::Path;

pub async fn import(config: Config, file: &Path) -> Result<(), Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::config(anyhow::anyhow!("cannot read {}: {e}", file.display())))?;
    let rows = price_list::parse(&bytes).map_err(|e| {
        Failure::new(
            65,
            anyhow::anyhow!("{}: nothing imported\n{e}", file.display()),
        )
    })?;
    let n = rows.len();
    let summary = import_rows(&config, rows, "cli").await?;
    println!(
        "Imported {n} services from {}: {} added, {} updated, {} unchanged, {} removed.",
        file.display(),
        summary.added,
        summary.updated,
        summary.unchanged,
        summary.removed
    );
    Ok(())
}

/// Replaces the configured clinic's price list with `rows` and audits it.
pub async fn import_rows(
    config: &Config,
    rows: Vec<NewService>,
    actor: &'static str,
) -> Result<ReplaceSummary, Failure> {
    let keys = Keys::load(&config.keys).map_err(Failure::config)?;
    let db = super::open_db(config)?;
    let now = SystemClock.now();
    let n = rows.len();
    let config = config.clone();
    let summary = db
        .write(move |c| -> Result<_, DbError> {
            let clinic = clinics::ensure_default(c, &config, now)?;
            let summary = prices::replace_services(c, &clinic, &rows, &time::to_db(now))?;
            let event = AuditEvent::new(actor, "prices.imported").subject(&clinic).detail(serde_json::json!({
                "services": n, "added": summary.added, "updated": summary.updated, "removed": summary.removed
            }));
            audit::record(c, &keys.audit, now, &event)?;
            Ok(summary)
        })
        .await?;
    db.close().await?;
    Ok(summary)
}

pub async fn list(config: Config) -> Result<(), Failure> {
    let db = super::open_db(&config)?;
    let language = config.clinic.default_language.clone();
    let rows = db.read(prices::list_active_services).await?;
    db.close().await?;
    if rows.is_empty() {
        println!("The price list is empty. Import one with: frontdesk prices import prices.csv");
        return Ok(());
    }
    let width = rows
        .iter()
        .map(|(_, s)| s.name.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    for (_, s) in &rows {
        println!(
            "{:<12} {:<width$} {:>14}  {}",
            s.code,
            s.name,
            format_price(s.price_minor, &s.currency, &language).replace('\u{a0}', " "),
            s.aliases.join(" | ")
        );
    }
    println!("{} services", rows.len());
    Ok(())
}
