//! Decisions: what a conversation turn does, when a follow-up fires, what the audit trail
//! must hold. Services call `db`, `cache`, `clients` and `crypto`; they never see axum or SQL.

pub mod audit;
pub mod keys;
