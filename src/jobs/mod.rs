//! Long-lived background work. Each job is a `run` loop (select on cancel, ticker, notify)
//! around a `run_once` step that tests call directly. Only `app` starts jobs.

pub mod early_receipts;
pub mod followups;
pub mod price_refresh;
mod recent_sends;
pub mod sender;
pub mod sync;
pub mod watchdog;
