//! Parsed domain values shared by every layer. Nothing here does I/O.

pub mod clinic;
pub mod cloud_template;
pub mod message;
pub mod money;
pub mod phone;
pub mod quiet_hours;
pub mod service;
pub mod span;
pub mod sync_table;
pub mod time;
pub mod window;
