//! Sync decisions: which rows a batch sends and in what order (`plan`), what of a row leaves the
//! box (`encode`: PHI sealed unless a field is listed), what a pulled central row may change
//! locally (`pull`), and the audit record of a plaintext setting. No I/O of its own.

pub mod encode;
pub mod plan;
pub mod pull;

use super::audit::{self, AuditEvent};
use crate::crypto::AuditMac;
use crate::db::{DbError, rusqlite::Connection};
use chrono::{DateTime, Utc};

pub use encode::{EncodeError, PlaintextFields, encode_row, json_array};
pub use plan::{Plan, PlannedRow, TableGroup, plan};

pub const PLAINTEXT_ACTION: &str = "sync.plaintext_fields";

/// Records, at every start while it is set, that PHI fields are copied in plaintext to the
/// central database, and which: the setting is a decision someone must be able to account for.
pub fn record_plaintext_setting(
    conn: &Connection,
    mac: &AuditMac,
    now: DateTime<Utc>,
    fields: &[String],
    target: &str,
) -> Result<(), DbError> {
    if fields.is_empty() {
        return Ok(());
    }
    let event = AuditEvent::new("system", PLAINTEXT_ACTION)
        .detail(serde_json::json!({ "fields": fields, "target": target }));
    audit::record(conn, mac, now, &event)?;
    Ok(())
}
