//! Follow-ups against a real SQLite file: storage round trips, `scheduled_followup_at`,
//! cancellation by a reply, rules, and the tick's claim.

use super::*;
use crate::config::FollowupRule;
use crate::crypto::Sealer;
use crate::db::clinics::{self, ClinicRow};
use crate::db::conversations::{self, NewContact, NewSession};
use crate::db::messages::{self, NewMessage};
use crate::db::{Db, followups as rows};
use crate::domain::clinic::ClinicFacts;
use crate::router::Router;
use chrono::{Duration, TimeZone};
use serde_json::json;
use std::sync::Arc;

const CLINIC: &str = "clinic-1";
const SESSION: &str = "session-1";

struct Fixture {
    _dir: tempfile::TempDir,
    db: Db,
    phi: Arc<Sealer>,
}

/// 12:00 in Moscow: outside the default quiet hours.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).unwrap();
    let at = time::to_db(noon() - Duration::hours(1));
    db.write(move |c| -> Result<(), DbError> {
        clinics::upsert_clinic(
            c,
            &ClinicRow {
                id: CLINIC.into(),
                organisation_id: None,
                name: "Улыбка".into(),
                timezone: "Europe/Moscow".into(),
                default_language: "ru".into(),
                phone: None,
                address: None,
                hours: "{}".into(),
            },
            &at,
        )?;
        conversations::insert_contact(
            c,
            &NewContact {
                id: "contact-1",
                clinic_id: CLINIC,
                phone_index: "idx",
                phone_sealed: b"sealed",
                name_sealed: None,
                lid_sealed: None,
                lid_index: None,
            },
            &at,
        )?;
        conversations::insert_session(
            c,
            &NewSession {
                id: SESSION,
                clinic_id: CLINIC,
                contact_id: "contact-1",
                provider: "evolution",
                instance: "clinic-main",
                chat_sealed: b"chat",
                language: Some("ru"),
                last_inbound_at: Some(&at),
            },
            &at,
        )
    })
    .await
    .unwrap();
    Fixture {
        _dir: dir,
        db,
        phi: Arc::new(Sealer::new(&[7; 32], [1, 2, 3, 4])),
    }
}

impl Fixture {
    async fn schedule(&self, f: NewFollowup) -> Result<String, FollowupError> {
        let phi = self.phi.clone();
        self.db.write(move |c| schedule(c, &phi, &f, noon())).await
    }

    async fn row(&self, id: &str) -> rows::FollowupRow {
        let id = id.to_owned();
        self.db
            .read(move |c| rows::find_followup(c, &id))
            .await
            .unwrap()
            .unwrap()
    }

    async fn session_due(&self) -> Option<String> {
        self.db
            .read(|c| -> Result<Option<String>, DbError> {
                Ok(c.query_row(
                    "SELECT scheduled_followup_at FROM conversation_sessions WHERE id = ?1",
                    [SESSION],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap()
    }

    /// A patient turn as `store_turn` records it: the inbound message, then the hook.
    async fn patient_turn(&self, intent: Option<&'static str>, route: Option<&'static str>) {
        let at = time::to_db(noon());
        self.db
            .write(move |c| {
                let id = uuid::Uuid::now_v7().to_string();
                messages::insert_message_if_new(
                    c,
                    &NewMessage {
                        id: &id,
                        clinic_id: CLINIC,
                        session_id: SESSION,
                        contact_id: "contact-1",
                        direction: "inbound",
                        author: "patient",
                        provider: "evolution",
                        instance: "clinic-main",
                        provider_message_id: Some(&id),
                        kind: "text",
                        body_sealed: None,
                        language: Some("ru"),
                        intent,
                        reply_to: None,
                        status: "received",
                        sent_at: Some(&at),
                    },
                    &at,
                )?;
                after_patient_turn(c, CLINIC, SESSION, intent, route, &at)
            })
            .await
            .unwrap();
    }

    async fn tick(&self, now: DateTime<Utc>, policy: Policy) -> TickReport {
        self.tick_on(&self.db, now, policy).await
    }

    /// A tick through `db`: this fixture's handle, or another one on the same file (as a
    /// second process would have).
    async fn tick_on(&self, db: &Db, now: DateTime<Utc>, policy: Policy) -> TickReport {
        let phi = self.phi.clone();
        db.write(move |c| {
            let router = Router::builtin();
            let facts = Arc::new(ClinicFacts {
                id: CLINIC.into(),
                name: "Улыбка".into(),
                address: None,
                phone: None,
                timezone: chrono_tz::Europe::Moscow,
                default_language: "ru".into(),
                hours: Default::default(),
            });
            let lookup = move |_: &str| Some(facts.clone());
            let deps = TickDeps {
                phi: &phi,
                router: &router,
                clinics: &lookup,
                policy: &policy,
                limit: 100,
            };
            tick(c, &deps, now)
        })
        .await
        .unwrap()
    }
}

fn policy() -> Policy {
    Policy::from_config(&crate::config::FollowupsConfig::default())
}

#[tokio::test]
async fn context_with_nested_times_round_trips_through_storage() {
    let fx = fixture().await;
    let visit = Utc.with_ymd_and_hms(2026, 11, 27, 7, 30, 0).unwrap();
    let context = json!({
        "service": "Пломба световая «Estelite» 🦷",
        "visit_at": context_time(visit),
        "offered": [context_time(visit), serde_json::to_value(visit).unwrap(), null],
        "details": {"price_minor": 450_000, "paid": false, "ratio": 0.75, "notes": null,
                    "nested": {"deep": [1, "два", {"at": context_time(visit)}]}},
    });
    let mut f = NewFollowup::new(
        SESSION,
        "reminder",
        noon() + Duration::hours(2),
        Source::Llm,
    );
    f.context = context.clone();
    let id = fx.schedule(f).await.unwrap();
    let stored: serde_json::Value = serde_json::from_str(&fx.row(&id).await.context).unwrap();
    assert_eq!(stored, context);
    // Times inside are RFC 3339 strings, and read back as the same instant.
    let back: DateTime<Utc> = serde_json::from_value(stored["offered"][1].clone()).unwrap();
    assert_eq!(back, visit);
    assert_eq!(
        time::from_db(stored["visit_at"].as_str().unwrap()).unwrap(),
        visit
    );
}

#[tokio::test]
async fn scheduling_sets_scheduled_followup_at_to_the_earliest_and_cancelling_clears_it() {
    let fx = fixture().await;
    assert_eq!(fx.session_due().await, None);
    let later = noon() + Duration::hours(5);
    let sooner = noon() + Duration::hours(2);
    let a = fx
        .schedule(NewFollowup::new(SESSION, "reminder", later, Source::Staff))
        .await
        .unwrap();
    assert_eq!(fx.session_due().await, Some(time::to_db(later)));
    let b = fx
        .schedule(NewFollowup::new(SESSION, "check_in", sooner, Source::Llm))
        .await
        .unwrap();
    assert_eq!(fx.session_due().await, Some(time::to_db(sooner)));
    let now = noon();
    fx.db
        .write(move |c| cancel(c, &b, "test", now))
        .await
        .unwrap();
    assert_eq!(fx.session_due().await, Some(time::to_db(later)));
    let again = a.clone();
    fx.db
        .write(move |c| cancel(c, &again, "test", now))
        .await
        .unwrap();
    assert_eq!(fx.session_due().await, None);
    let err = fx
        .db
        .write(move |c| cancel(c, &a, "test", now))
        .await
        .unwrap_err();
    assert!(matches!(err, FollowupError::NotScheduled { status, .. } if status == "cancelled"));
}

#[tokio::test]
async fn a_patient_reply_cancels_nudges_but_keeps_visit_reminders() {
    let fx = fixture().await;
    let due = noon() + Duration::hours(3);
    let nudge = fx
        .schedule(NewFollowup::new(SESSION, "nudge", due, Source::Llm))
        .await
        .unwrap();
    let reminder = fx
        .schedule(NewFollowup::new(
            SESSION,
            "reminder",
            due + Duration::hours(1),
            Source::Staff,
        ))
        .await
        .unwrap();
    fx.patient_turn(Some("thanks"), Some("fast_thanks")).await;
    let n = fx.row(&nudge).await;
    assert_eq!(
        (n.status.as_str(), n.last_error.as_deref()),
        ("cancelled", Some("the patient replied"))
    );
    assert_eq!(fx.row(&reminder).await.status, "scheduled");
    assert_eq!(
        fx.session_due().await,
        Some(time::to_db(due + Duration::hours(1)))
    );
}

#[tokio::test]
async fn bad_kinds_oversized_context_and_unknown_sessions_are_refused() {
    let fx = fixture().await;
    let bad = NewFollowup::new(SESSION, "Visit Reminder", noon(), Source::Llm);
    assert!(matches!(
        fx.schedule(bad).await,
        Err(FollowupError::BadKind(_))
    ));
    let mut big = NewFollowup::new(SESSION, "reminder", noon(), Source::Llm);
    big.context = json!({ "x": "a".repeat(MAX_CONTEXT_BYTES) });
    assert!(matches!(
        fx.schedule(big).await,
        Err(FollowupError::ContextTooLarge(_))
    ));
    let nowhere = NewFollowup::new("no-such-session", "reminder", noon(), Source::Llm);
    assert!(matches!(
        fx.schedule(nowhere).await,
        Err(FollowupError::NoSession(_))
    ));
}

#[tokio::test]
async fn two_overlapping_ticks_claim_a_due_follow_up_once_with_its_message_and_outbox_row() {
    let fx = fixture().await;
    let mut f = NewFollowup::new(SESSION, "reminder", noon(), Source::Staff);
    f.context = json!({ "visit_at": context_time(noon() + Duration::hours(24)) });
    let id = fx.schedule(f).await.unwrap();
    let now = noon() + Duration::minutes(1);
    let (a, b) = tokio::join!(fx.tick(now, policy()), fx.tick(now, policy()));
    assert_eq!(a.sends.len() + b.sends.len(), 1, "claimed exactly once");
    let send = a.sends.into_iter().chain(b.sends).next().unwrap();
    assert!(
        send.text.contains("Улыбка") && send.text.contains("12:00"),
        "{}",
        send.text
    );
    let row = fx.row(&id).await;
    assert_eq!(row.status, "sent");
    assert_eq!(row.attempts, 1);
    assert_eq!(row.message_id.as_deref(), Some(send.message_id.as_str()));
    let message_id = send.message_id.clone();
    let (outbox, body): (i64, Vec<u8>) = fx
        .db
        .read(move |c| -> Result<_, DbError> {
            Ok(c.query_row(
                "SELECT (SELECT count(*) FROM send_outbox WHERE message_id = m.id), m.body_sealed
                 FROM whatsapp_messages m WHERE m.id = ?1 AND m.status = 'queued'",
                [&message_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(outbox, 1);
    let aad = crate::crypto::Aad::new("whatsapp_messages", "body", &send.message_id);
    assert_eq!(fx.phi.open_string(&body, aad).unwrap(), send.text);
    assert_eq!(
        fx.session_due().await,
        None,
        "cleared once nothing is pending"
    );
    assert!(fx.tick(now, policy()).await.sends.is_empty());
}

#[tokio::test]
async fn two_processes_ticking_one_database_claim_a_due_follow_up_once() {
    let fx = fixture().await;
    let other = Db::open(&fx._dir.path().join("t.db")).unwrap();
    for _ in 0..5 {
        fx.schedule(NewFollowup::new(SESSION, "check_in", noon(), Source::Llm))
            .await
            .unwrap();
    }
    let now = noon() + Duration::minutes(1);
    let (a, b) = tokio::join!(
        fx.tick_on(&fx.db, now, policy()),
        fx.tick_on(&other, now, policy())
    );
    assert_eq!(
        a.sends.len() + b.sends.len(),
        5,
        "each claimed by exactly one"
    );
    let outbox: i64 = fx
        .db
        .read(|c| -> Result<i64, DbError> {
            Ok(c.query_row("SELECT count(*) FROM send_outbox", [], |r| r.get(0))?)
        })
        .await
        .unwrap();
    assert_eq!(outbox, 5);
    other.close().await.unwrap();
}

#[tokio::test]
async fn a_follow_up_whose_template_lacks_a_value_fails_with_the_reason_and_sends_nothing() {
    let fx = fixture().await;
    let mut f = NewFollowup::new(SESSION, "nudge", noon(), Source::Llm);
    f.template = Some("followup_service".into());
    let id = fx.schedule(f).await.unwrap();
    let report = fx.tick(noon(), policy()).await;
    assert!(report.sends.is_empty());
    assert_eq!(report.failed, 1);
    let row = fx.row(&id).await;
    assert_eq!(row.status, "failed");
    assert!(row.last_error.unwrap().contains("{service}"));
}

#[tokio::test]
async fn staff_text_is_stored_sealed_and_sent_as_written() {
    let fx = fixture().await;
    let mut f = NewFollowup::new(SESSION, "reminder", noon(), Source::Staff);
    f.text = Some("Анна, ждём вас завтра в 10:00".into());
    let id = fx.schedule(f).await.unwrap();
    let stored = fx.row(&id).await;
    let sealed = stored.text_sealed.unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("Анна"));
    assert!(!stored.context.contains("Анна"));
    let report = fx.tick(noon(), policy()).await;
    assert_eq!(report.sends[0].text, "Анна, ждём вас завтра в 10:00");
}

mod rules;

#[tokio::test]
async fn a_follow_up_withdrawn_while_its_send_was_on_the_wire_is_recorded_as_sent() {
    let fx = fixture().await;
    let mut f = NewFollowup::new(SESSION, "check_in", noon(), Source::Staff);
    f.text = Some("Как вы себя чувствуете?".into());
    let id = fx.schedule(f).await.unwrap();
    let now = noon() + Duration::minutes(1);
    let send = fx.tick(now, policy()).await.sends.remove(0);
    // Staff cancel it just as the sender hands it to the gateway: the withdrawal finds it
    // still pending, and the gateway's "accepted" arrives after.
    let (at, fid) = (crate::domain::time::to_db(now), id.clone());
    let withdrawn = fx
        .db
        .write(move |c| {
            rows::withdraw_undelivered(c, SESSION, rows::Withdraw::Only(&fid), "cancelled", &at)
        })
        .await
        .unwrap();
    assert_eq!(withdrawn, 1);
    let outcome = [crate::db::outbox::SendOutcome::Sent {
        outbox_id: send.outbox_id.clone(),
        message_id: send.message_id.clone(),
        session_id: send.session_id.clone(),
        provider: send.provider.as_str(),
        instance: send.instance.clone(),
        provider_message_id: Some("GW-1".into()),
        at: crate::domain::time::to_db(now + Duration::seconds(1)),
    }];
    fx.db
        .write(move |c| crate::db::outbox::record_outcomes(c, &outcome))
        .await
        .unwrap();
    let row = fx.row(&id).await;
    assert_eq!(row.status, "sent", "the patient got it");
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("too late")),
        "{:?}",
        row.last_error
    );
    let message_id = send.message_id.clone();
    let status: String = fx
        .db
        .read(move |c| -> Result<String, DbError> {
            Ok(c.query_row(
                "SELECT status FROM whatsapp_messages WHERE id = ?1",
                [&message_id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(status, "sent");
}
