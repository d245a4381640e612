//! `frontdesk followups list|add|cancel`: staff's view of follow-ups, safe to run while the
//! server runs (the server's scheduler sends what is added here). Chats are found by the
//! phone's blind index; listings show phone numbers masked and never a follow-up's text.
//! Every change, and every listing (it decrypts phone numbers), is audited.

use super::Failure;
use crate::cli::FollowupAddArgs;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::crypto::{Aad, Keys};
use crate::db::Db;
use crate::db::conversations::{self, OpenSession};
use crate::db::followups::{self as rows, ListedFollowup};
use crate::domain::clinic::ClinicFacts;
use crate::domain::phone::Phone;
use crate::domain::span::parse_span;
use crate::domain::{time, window};
use crate::router::Router;
use crate::services::audit::{self, AuditEvent};
use crate::services::followups::{self, FollowupError, NewFollowup, Source, action};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// sysexits' EX_USAGE: an argument cannot be used as given.
const EX_USAGE: u8 = 64;
/// Finished follow-ups shown by `list --all`.
const FINISHED_SHOWN: usize = 50;

fn usage(message: impl std::fmt::Display) -> Failure {
    Failure::new(EX_USAGE, anyhow::anyhow!("{message}"))
}

/// Keys and database, with the keys checked against the database they will seal data for.
async fn open(config: &Config) -> Result<(std::sync::Arc<Keys>, Db), Failure> {
    let keys = std::sync::Arc::new(Keys::load(&config.keys).map_err(Failure::config)?);
    let db = super::open_db(config)?;
    let k = keys.clone();
    db.read(move |c| crate::services::keys::check(c, &k))
        .await
        .map_err(Failure::config)?;
    Ok((keys, db))
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

pub async fn list(config: Config, all: bool) -> Result<(), Failure> {
    let (keys, db) = open(&config).await?;
    let listed = db
        .read(move |c| rows::list_followups(c, all, FINISHED_SHOWN))
        .await?;
    let (k, n) = (keys.clone(), listed.len());
    db.write(move |c| {
        let event =
            AuditEvent::new("cli", action::LISTED).detail(serde_json::json!({ "shown": n }));
        audit::record(c, &k.audit, SystemClock.now(), &event)
    })
    .await?;
    db.close().await?;
    if listed.is_empty() {
        println!("No follow-ups are scheduled.");
        return Ok(());
    }
    println!(
        "{:<36}  {:<20}  {:<9}  {:<10}  {:<6}  {:<17}  {:<4}  MESSAGE",
        "ID", "DUE (CLINIC TIME)", "STATUS", "KIND", "SOURCE", "CHAT", "LANG"
    );
    for f in &listed {
        println!("{}", line(&keys, f));
    }
    let pending = listed
        .iter()
        .filter(|f| f.row.status == "scheduled")
        .count();
    println!("{pending} scheduled");
    Ok(())
}

fn line(keys: &Keys, f: &ListedFollowup) -> String {
    let r = &f.row;
    let tz = zone(&f.timezone);
    let due = time::from_db(&r.due_at)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
        .unwrap_or_else(|_| r.due_at.clone());
    let chat = keys
        .phi
        .open_string(
            &f.phone_sealed,
            Aad::new("contacts", "phone", &f.contact_id),
        )
        .ok()
        .and_then(|p| Phone::parse(&p))
        .map_or_else(|| "(no number)".to_owned(), |p| p.masked());
    let message = match (&r.text_sealed, &r.template) {
        (Some(_), _) => "own text".to_owned(),
        (None, t) => followups::template_key(false, t.as_deref(), &r.kind).unwrap_or_default(),
    };
    let note = match (&r.status[..], &r.last_error) {
        ("scheduled", _) | (_, None) => String::new(),
        (_, Some(e)) => format!("  ({e})"),
    };
    format!(
        "{:<36}  {:<20}  {:<9}  {:<10}  {:<6}  {:<17}  {:<4}  {message}{note}",
        r.id,
        due,
        r.status,
        r.kind,
        r.source,
        chat,
        f.language.as_deref().unwrap_or("-"),
    )
}

pub async fn add(config: Config, args: FollowupAddArgs) -> Result<(), Failure> {
    let phone = Phone::parse(&args.chat)
        .ok_or_else(|| usage(format!("{:?} is not a phone number", args.chat)))?;
    let (keys, db) = open(&config).await?;
    let index = keys.blind.phone(phone.digits());
    let sessions = db
        .read(move |c| conversations::list_open_sessions_by_phone(c, &index))
        .await?;
    let Some(session) = sessions.into_iter().next() else {
        return Err(Failure::new(
            1,
            anyhow::anyhow!(
                "no conversation with {}: a follow-up goes to a chat the patient started",
                phone.masked()
            ),
        ));
    };
    let tz = zone(&session.timezone);
    let now = SystemClock.now();
    let due = match (&args.after, &args.at) {
        (Some(span), _) => now + parse_span(span).map_err(usage)?,
        (None, Some(at)) => time::parse_local(at, tz).map_err(usage)?,
        (None, None) => return Err(usage("give --in or --at")),
    };
    // A time already gone (a mistyped year, am for pm) would be stored, then expire at the
    // next tick without a word; a minute of grace lets "now" through.
    if due < now - chrono::Duration::minutes(1) {
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        return Err(usage(format!(
            "{} ({tz}) is in the past: it is {} there now",
            local(due),
            local(now)
        )));
    }
    let mut f = NewFollowup::new(&session.session_id, &args.kind, due, Source::Staff);
    f.text = args.text.clone();
    f.template = args.template.clone();
    f.context = vars_context(&args.vars, tz)?;
    check_wording(&config, &session, &f, tz)?;

    let k = keys.clone();
    let id = db
        .write(move |c| -> Result<String, FollowupError> {
            let id = followups::schedule(c, &k.phi, &f, now)?;
            let event = AuditEvent::new("cli", action::SCHEDULED)
                .subject(&id)
                .detail(serde_json::json!({
                    "kind": f.kind, "source": "staff", "due_at": time::to_db(f.due_at)
                }));
            audit::record(c, &k.audit, now, &event)?;
            Ok(id)
        })
        .await
        .map_err(|e| match e {
            FollowupError::Db(e) => Failure::from(e),
            other => usage(other),
        })?;
    db.close().await?;
    println!(
        "Scheduled follow-up {id} for {} at {} ({tz}).",
        phone.masked(),
        due.with_timezone(&tz).format("%Y-%m-%d %H:%M")
    );
    warn_outside_window(&session, due);
    Ok(())
}

/// `--var name=value` pairs as the follow-up's context; times become RFC 3339 strings.
fn vars_context(vars: &[String], tz: Tz) -> Result<serde_json::Value, Failure> {
    let mut context = serde_json::Map::new();
    for var in vars {
        let (name, value) = var
            .split_once('=')
            .ok_or_else(|| usage(format!("--var {var:?} is not NAME=VALUE")))?;
        let value = match time::parse_local(value, tz) {
            Ok(t) => followups::context_time(t),
            Err(_) => serde_json::Value::String(value.to_owned()),
        };
        context.insert(name.trim().to_owned(), value);
    }
    Ok(serde_json::Value::Object(context))
}

/// Refuses now what the scheduler would fail on later: a template no language has, or one
/// needing a value that was not given.
fn check_wording(config: &Config, s: &OpenSession, f: &NewFollowup, tz: Tz) -> Result<(), Failure> {
    let router = Router::load(config.languages_dir().as_deref()).map_err(Failure::config)?;
    let clinic = ClinicFacts {
        id: s.clinic_id.clone(),
        name: s.clinic_name.clone(),
        address: None,
        phone: None,
        timezone: tz,
        default_language: s.default_language.clone(),
        hours: Default::default(),
    };
    let language = s.language.as_deref().unwrap_or(&s.default_language);
    f.preview(&router, language, &clinic)
        .map(|_| ())
        .map_err(usage)
}

fn warn_outside_window(s: &OpenSession, due: DateTime<Utc>) {
    let last = s
        .last_inbound_at
        .as_deref()
        .and_then(|t| time::from_db(t).ok());
    if !window::is_open(last, due) {
        eprintln!(
            "warning: that is more than 24 hours after the patient last wrote. WhatsApp allows \
             free text only within 24 hours: unless they write again (or a Cloud API template \
             is configured for this kind), it will expire unsent"
        );
    }
}

pub async fn cancel(config: Config, id: &str) -> Result<(), Failure> {
    let (keys, db) = open(&config).await?;
    let (k, owned) = (keys.clone(), id.to_owned());
    let now = SystemClock.now();
    let result = db
        .write(move |c| -> Result<(), FollowupError> {
            followups::cancel(c, &owned, "cancelled by staff", now)?;
            let event = AuditEvent::new("cli", action::CANCELLED).subject(&owned);
            audit::record(c, &k.audit, now, &event)?;
            Ok(())
        })
        .await;
    db.close().await?;
    match result {
        Ok(()) => {
            println!("Cancelled follow-up {id}.");
            Ok(())
        }
        Err(e @ (FollowupError::NotFound(_) | FollowupError::NotScheduled { .. })) => {
            Err(Failure::new(1, e))
        }
        Err(e) => Err(Failure::from(anyhow::Error::from(e))),
    }
}
