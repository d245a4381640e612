//! The sync commands as a user runs them: `sync schema` prints (or applies) the central SQL,
//! `sync status` shows what waits, and a half-configured target stops the start.

use crate::helpers::{Cli, OutputText};
use crate::postgres::shared;

#[test]
fn sync_schema_prints_the_central_sql_with_the_fixed_function() {
    let dir = tempfile::tempdir().unwrap();
    let out = Cli::new(dir.path()).run(&["sync", "schema"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let sql = out.stdout_text();
    for expected in [
        "CREATE SCHEMA IF NOT EXISTS core",
        "CREATE TABLE IF NOT EXISTS healthcare.clinics",
        "CREATE OR REPLACE FUNCTION core.upsert_whatsapp_message",
        "FROM healthcare.clinics",
    ] {
        assert!(sql.contains(expected), "missing {expected:?}");
    }
    let code: Vec<&str> = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    assert!(
        !code.iter().any(|l| l.contains("core.clinics")),
        "the old backend's wrong schema"
    );
}

#[tokio::test]
async fn sync_schema_apply_creates_the_central_tables_and_can_run_again() {
    let db = shared().empty_database().await;
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path()).env("SYNC_POSTGRES_URL", &db.url);
    for round in 0..2 {
        if round == 1 {
            // Sync switched off until the schema is in place: the URL given is still used.
            std::fs::write(
                dir.path().join("frontdesk.toml"),
                "[sync]\ntarget = \"off\"\n",
            )
            .unwrap();
        }
        let out = cli.run(&["sync", "schema", "--apply"]);
        assert!(out.status.success(), "{}", out.stderr_text());
        assert!(!out.stderr_text().contains(crate::postgres::PASSWORD));
    }
    assert_eq!(db.count("core.whatsapp_messages").await, 0);
    assert_eq!(db.count("healthcare.clinics").await, 0);
}

#[test]
fn sync_status_without_a_target_shows_the_rows_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path());
    assert!(cli.run(&["init"]).status.success());
    let out = cli.run(&["sync", "status"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let text = out.stdout_text();
    assert!(text.contains("none configured"), "{text}");
    assert!(text.contains("audit_log"), "{text}");
    let out = cli.run(&["sync", "status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&out.stdout_text()).unwrap();
    assert_eq!(status["target"]["kind"], "none");
    assert!(status["backlog"]["total"].as_i64().unwrap() > 0, "{status}");
    assert_eq!(status["quarantined"]["total"], 0);
}

#[test]
fn a_half_configured_supabase_stops_the_start_naming_the_missing_key() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path()).env("SUPABASE_URL", "https://xyz.supabase.co");
    let out = cli.run(&["serve"]);
    assert_eq!(out.status.code(), Some(78), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("SUPABASE_SERVICE_ROLE_KEY"),
        "{}",
        out.stderr_text()
    );
}
