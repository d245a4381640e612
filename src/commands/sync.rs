//! `frontdesk sync status | schema | requeue`. Status reads the local database (the backlog,
//! quarantined rows, synced history) and what the running service last reported (breaker, last
//! error); it works while `serve` runs. Schema prints the central SQL; `--apply` runs it on
//! SYNC_POSTGRES_URL. Requeue queues quarantined rows again once their cause is fixed.

use super::Failure;
use crate::clients::postgres::PostgresClient;
use crate::config::{Config, SyncTargetConfig, TargetChoice};
use crate::db::central::central_sql;
use crate::db::{DbError, sync};
use crate::jobs::sync::monitor::now_ms;
use serde_json::{Value, json};

pub async fn status(config: Config, as_json: bool) -> Result<(), Failure> {
    let db = super::open_db(&config)?;
    let read = db
        .read(|c| {
            Ok::<_, DbError>((
                sync::backlog(c)?,
                sync::list_quarantined(c, 20)?,
                sync::find_state(c)?,
            ))
        })
        .await;
    db.close().await?;
    let (backlog, quarantined, state) = read?;
    let state: Value = state
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    // The service may get its target from an environment this command does not see (its
    // credentials or environment file): then the target it reports is shown. (A service
    // that syncs nowhere clears its report when it starts; sync turned off here is off.)
    let target = match config.sync.target(&config.supabase) {
        SyncTargetConfig::Supabase { url, .. } => json!({ "kind": "supabase", "url": url }),
        SyncTargetConfig::Postgres { .. } => json!({ "kind": "postgres" }),
        SyncTargetConfig::None => match state["target"].as_str() {
            Some(kind) if config.sync.target != TargetChoice::Off => {
                json!({ "kind": kind, "reported_by_service": true })
            }
            _ => json!({ "kind": "none" }),
        },
    };
    let oldest_secs = backlog
        .oldest_pending_ms
        .map(|at| (now_ms() - at).max(0) / 1000);
    let report = json!({
        "target": target,
        "backlog": {
            "total": backlog.total_pending(),
            "by_table": backlog.pending.iter().map(|(t, n)| (t.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "oldest_pending_secs": oldest_secs,
        },
        "breaker": state["breaker"],
        "breaker_open_until": state["breaker_open_until"],
        "last_error": state["last_error"],
        "last_error_at": state["last_error_at"],
        "last_success_at": state["last_success_at"],
        "last_pull_at": state["last_pull_at"],
        "last_pull_error": state["last_pull_error"],
        "quarantined": {
            "total": backlog.quarantined,
            "rows": quarantined.iter().map(|q| json!({
                "table": q.table, "row_id": q.row_id, "error": q.error, "seq": q.seq,
            })).collect::<Vec<_>>(),
        },
        "synced_history": { "rows": backlog.synced_kept, "last_synced_ms": backlog.last_synced_ms },
    });
    if as_json {
        println!("{report:#}");
    } else {
        print_text(&report);
    }
    Ok(())
}

fn age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

fn print_text(r: &Value) {
    let target = match r["target"]["kind"].as_str() {
        _ if r["target"]["reported_by_service"] == true => format!(
            "{} (as the service reported; this command's configuration does not set one)",
            match r["target"]["kind"].as_str() {
                Some("supabase") => "Supabase REST",
                Some("postgres") => "PostgreSQL",
                other => other.unwrap_or("unknown"),
            }
        ),
        Some("supabase") => format!(
            "Supabase REST ({})",
            r["target"]["url"].as_str().unwrap_or("")
        ),
        Some("postgres") => "PostgreSQL (SYNC_POSTGRES_URL)".into(),
        _ => "none configured: rows wait here until SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, \
              or SYNC_POSTGRES_URL, are set"
            .into(),
    };
    println!("Target:        {target}");
    let total = r["backlog"]["total"].as_i64().unwrap_or(0);
    match r["backlog"]["oldest_pending_secs"].as_i64() {
        Some(secs) => println!(
            "Backlog:       {total} rows, oldest queued {} ago",
            age(secs)
        ),
        None => println!("Backlog:       {total} rows"),
    }
    if let Some(tables) = r["backlog"]["by_table"].as_object() {
        for (table, n) in tables {
            println!("  {table:<24} {n}");
        }
    }
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let breaker =
        text(&r["breaker"]).unwrap_or_else(|| "unknown (the service has not reported yet)".into());
    match text(&r["breaker_open_until"]) {
        Some(until) => println!("Breaker:       {breaker} until {until}"),
        None => println!("Breaker:       {breaker}"),
    }
    match (text(&r["last_error"]), text(&r["last_error_at"])) {
        (Some(e), Some(at)) => println!("Last error:    {e} (at {at})"),
        _ => println!("Last error:    none"),
    }
    println!(
        "Last success:  {}",
        text(&r["last_success_at"]).unwrap_or_else(|| "never".into())
    );
    if let Some(e) = text(&r["last_pull_error"]) {
        println!("Last pull:     failed: {e}");
    } else if let Some(at) = text(&r["last_pull_at"]) {
        println!("Last pull:     {at}");
    }
    let quarantined = r["quarantined"]["total"].as_i64().unwrap_or(0);
    println!("Quarantined:   {quarantined} rows");
    if quarantined > 0 {
        for q in r["quarantined"]["rows"].as_array().into_iter().flatten() {
            println!(
                "  {} {}  {}",
                q["table"].as_str().unwrap_or(""),
                q["row_id"].as_str().unwrap_or(""),
                q["error"].as_str().unwrap_or("")
            );
        }
        println!("  After fixing the cause, run `frontdesk sync requeue` to send them again.");
    }
    println!(
        "Synced (kept): {} rows",
        r["synced_history"]["rows"].as_i64().unwrap_or(0)
    );
}

pub async fn schema(config: Config, apply: bool) -> Result<(), Failure> {
    let sql = central_sql();
    if !apply {
        print!("{sql}");
        return Ok(());
    }
    // The database named is the one asked for, whatever `sync.target` says (it may be off
    // until the schema is in place).
    let Some(url) = config.sync.postgres_url.clone() else {
        return Err(Failure::config(anyhow::anyhow!(
            "--apply needs SYNC_POSTGRES_URL; for Supabase, paste `frontdesk sync schema` into \
             its SQL editor"
        )));
    };
    let client = PostgresClient::new(&url, &config.sync).map_err(Failure::config)?;
    client
        .execute_script(&sql)
        .await
        .map_err(|e| Failure::new(1, anyhow::anyhow!("applying the central schema: {e}")))?;
    println!("central schema applied");
    Ok(())
}

pub async fn requeue(config: Config) -> Result<(), Failure> {
    let db = super::open_db(&config)?;
    let n = db.write(|c| sync::requeue_quarantined(c, now_ms())).await;
    db.close().await?;
    println!("{} quarantined rows queued again", n?);
    Ok(())
}
