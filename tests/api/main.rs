//! Black-box tests: the app on a real SQLite file in a temp dir, real HTTP on loopback, and
//! the built binary for what a user runs from the shell. One test binary, many modules.

#![allow(clippy::unwrap_used, clippy::zombie_processes)]

mod fake_postgrest;
mod helpers;
mod postgres;
mod sync_support;

mod audit_tampering;
mod cli_refusals;
mod demo_bench;
mod followups;
mod followups_cli;
mod followups_rules;
mod health;
mod llm;
mod phi;
mod prices_cli;
mod replies;
mod restore;
mod sending;
mod smoke;
mod sync_bench;
mod sync_cli;
mod sync_outage;
mod sync_postgres;
mod sync_postgrest;
mod sync_pull;
mod takeover;
mod webhook_auth;
mod webhook_ingest;
