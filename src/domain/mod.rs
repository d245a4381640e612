//! Parsed domain values shared by every layer. Nothing here does I/O.

pub mod clinic;
pub mod money;
pub mod service;
pub mod time;
