//! Parsed domain values shared by every layer. Nothing here does I/O.

pub mod time;
