//! Parsed domain values shared by every layer. Nothing here does I/O.

pub mod clinic;
pub mod message;
pub mod money;
pub mod phone;
pub mod service;
pub mod sync_table;
pub mod time;
