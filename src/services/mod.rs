//! Decisions: what a conversation turn does, when a follow-up fires, what the audit trail
//! must hold. Services call `db`, `cache`, `clients` and `crypto`; they never see axum or SQL.

pub mod audit;
pub mod chat_write;
pub mod clinics;
pub mod followups;
pub mod keys;
pub mod llm;
pub mod price_list;
pub mod rejections;
pub mod reply_write;
pub mod shared;
pub mod staff;
pub mod sync;
pub mod turn;
