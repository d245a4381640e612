//! Frontdesk: a self-hosted WhatsApp front desk for medical and dental clinics.
//! The library holds everything; `main.rs` only parses the command line and maps
//! results to exit codes, so black-box tests can drive the same code in-process.

pub mod app;
pub mod cache;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod data_lock;
pub mod db;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod local_gateway;
pub mod local_llm;
pub mod metrics;
pub mod providers;
pub mod resilience;
pub mod router;
pub mod runtime;
pub mod services;
pub mod shutdown;
pub mod state;
pub mod systemd;
