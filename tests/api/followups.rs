//! Follow-ups are sent exactly once: across overlapping ticks, a restart right after the claim,
//! and downtime (caught up at start-up within the horizon, expired beyond it). The helpers here
//! are shared with `followups_rules.rs`. The clock is the test's; ticks run by hand.

use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use frontdesk::clock::Clock;
use frontdesk::config::Config;
use frontdesk::local_gateway::{LocalGateway, Scripted, evolution_text_webhook};
use frontdesk::services::followups::{self, NewFollowup, Source};
use std::time::Duration as Wait;

pub(crate) const PATIENT: &str = "79990001122";

/// 12:00 in Moscow (the harness clinic's zone), outside the default quiet hours.
pub(crate) fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap()
}

/// Ticks run only when a test says so: the cron line fires once a year.
pub(crate) fn by_hand(c: &mut Config) {
    c.followups.schedule = "0 0 0 1 1 *".into();
}

pub(crate) async fn spawn_followups_app(customise: impl FnOnce(&mut Config)) -> TestApp {
    let app = spawn_app_with(|c| {
        by_hand(c);
        customise(c);
    })
    .await;
    app.clock.set(noon());
    app
}

/// A patient's text, timestamped by the test clock; waits for the bot's reply.
pub(crate) async fn patient_says(app: &TestApp, phone: &str, text: &str) {
    let before = app.gateway.sent_count();
    let id = format!("F{}", uuid::Uuid::new_v4().simple());
    let now = app.clock.now().timestamp();
    let body = evolution_text_webhook(INSTANCE, &id, phone, "Анна Петрова", text, now);
    assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    app.gateway
        .wait_for_sends(before + 1, Wait::from_secs(10))
        .await;
}

pub(crate) fn session_of(app: &TestApp, n: usize) -> String {
    app.query_string(&format!(
        "SELECT id FROM conversation_sessions ORDER BY created_at, id LIMIT 1 OFFSET {n}"
    ))
    .unwrap()
}

/// Schedules as the LLM's tool does: `services::followups::schedule` in one write.
pub(crate) async fn schedule(app: &TestApp, f: NewFollowup) -> String {
    let (keys, now) = (app.state.shared.keys.clone(), app.clock.now());
    app.state
        .shared
        .db
        .write(move |c| followups::schedule(c, &keys.phi, &f, now))
        .await
        .unwrap()
}

pub(crate) fn status(app: &TestApp, id: &str) -> (String, Option<String>) {
    app.sqlite()
        .query_row(
            "SELECT status, last_error FROM followups WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

pub(crate) fn session_due(app: &TestApp) -> Option<String> {
    app.query_string("SELECT scheduled_followup_at FROM conversation_sessions")
}

async fn wait_until_not_scheduled(app: &TestApp, id: &str) {
    for _ in 0..200 {
        if status(app, id).0 != "scheduled" {
            return;
        }
        tokio::time::sleep(Wait::from_millis(25)).await;
    }
    panic!("follow-up {id} was never processed");
}

#[tokio::test]
async fn a_due_follow_up_is_sent_exactly_once_across_two_concurrent_ticks() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let f = NewFollowup::new(
        &session_of(&app, 0),
        "check_in",
        noon() + Duration::hours(2),
        Source::Llm,
    );
    let id = schedule(&app, f).await;
    assert_eq!(
        session_due(&app),
        Some(frontdesk::domain::time::to_db(noon() + Duration::hours(2)))
    );

    app.clock.advance(Duration::hours(2));
    let (a, b) = tokio::join!(app.run_followups_once(), app.run_followups_once());
    assert_eq!(a.sent + b.sent, 1);
    let sends = app.sends_settled(2).await;
    assert_eq!(sends.len(), 2, "the greeting's reply and one follow-up");
    assert_eq!(sends[1].number, PATIENT);
    assert!(
        sends[1].text.contains("Как вы себя чувствуете"),
        "{}",
        sends[1].text
    );
    assert_eq!(status(&app, &id).0, "sent");
    assert_eq!(session_due(&app), None);

    assert_eq!(app.run_followups_once().await.sent, 0);
    assert_eq!(app.sends_settled(2).await.len(), 2);
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    for line in [
        "frontdesk_followups{status=\"sent\"} 1",
        "frontdesk_followups{status=\"scheduled\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_follow_up_claimed_just_before_a_restart_is_delivered_once_after_it() {
    let app = spawn_followups_app(|_| {}).await;
    // The gateway is down: the bot's reply and then the follow-up wait in the outbox.
    let error = serde_json::json!({"status": 500, "error": "Internal Server Error",
                                   "response": {"message": "Connection Closed"}});
    app.gateway
        .script((0..50).map(|_| Scripted::Respond(500, error.clone())));
    let now = app.clock.now().timestamp();
    let body = evolution_text_webhook(INSTANCE, "R1", PATIENT, "Анна", "Здравствуйте", now);
    assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    let f = NewFollowup::new(
        &session_of(&app, 0),
        "check_in",
        noon() + Duration::hours(1),
        Source::Llm,
    );
    let id = schedule(&app, f).await;
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.run_followups_once().await.sent, 1);
    app.gateway.wait_for_attempts(1, Wait::from_secs(5)).await;
    let old_gateway = app.gateway.clone();
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    let app = app.restart_with(gateway, by_hand).await;

    let sends = app.sends_settled(2).await;
    assert_eq!(sends.len(), 2, "the reply, then the follow-up, once each");
    assert!(sends[1].text.contains("Как вы себя чувствуете"));
    assert_eq!(app.run_followups_once().await.sent, 0, "not claimed again");
    assert_eq!(app.sends_settled(2).await.len(), 2);
    assert_eq!(old_gateway.sent_count(), 0);
    assert_eq!(status(&app, &id).0, "sent");
    for _ in 0..200 {
        if app.count("SELECT count(*) FROM send_outbox WHERE status = 'pending'") == 0 {
            break;
        }
        tokio::time::sleep(Wait::from_millis(20)).await;
    }
    assert_eq!(
        app.count("SELECT count(*) FROM send_outbox WHERE status = 'done'"),
        2
    );
    old_gateway.stop();
    app.shutdown().await;
}

/// Stops the app, lets `downtime` pass, starts it again (its catch-up tick runs at start).
async fn down_for(app: TestApp, downtime: Duration) -> TestApp {
    let clock = app.clock.clone();
    let dir = app.shutdown().await;
    clock.advance(downtime);
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    start_in(dir, gateway, clock, by_hand, false).await
}

#[tokio::test]
async fn a_follow_up_that_fell_due_while_the_server_was_down_is_sent_once_at_start_up() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let f = NewFollowup::new(
        &session_of(&app, 0),
        "check_in",
        noon() + Duration::hours(1),
        Source::Llm,
    );
    let id = schedule(&app, f).await;
    let app = down_for(app, Duration::hours(3)).await;
    let sends = app.sends_settled(1).await;
    assert_eq!(sends.len(), 1, "sent by the start-up tick");
    assert_eq!(status(&app, &id).0, "sent");
    assert_eq!(app.run_followups_once().await.sent, 0);
    assert_eq!(app.sends_settled(1).await.len(), 1, "and only once");
    app.shutdown().await;
}

#[tokio::test]
async fn a_follow_up_missed_by_more_than_the_catch_up_horizon_is_expired_not_sent() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let f = NewFollowup::new(
        &session_of(&app, 0),
        "check_in",
        noon() + Duration::hours(1),
        Source::Llm,
    );
    let id = schedule(&app, f).await;
    // Due 13:00 Moscow, back at 20:00: seven hours late, the horizon is six.
    let app = down_for(app, Duration::hours(8)).await;
    wait_until_not_scheduled(&app, &id).await;
    assert_eq!(
        status(&app, &id),
        (
            "expired".into(),
            Some("missed by more than the catch-up horizon".into())
        )
    );
    assert_eq!(app.sends_settled(0).await.len(), 0);
    assert_eq!(session_due(&app), None);
    app.shutdown().await;
}

#[tokio::test]
async fn the_cron_schedule_sends_a_due_follow_up_with_nobody_ticking_by_hand() {
    let app = spawn_followups_app(|c| c.followups.schedule = "* * * * * *".into()).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let id = schedule(
        &app,
        NewFollowup::new(
            &session_of(&app, 0),
            "check_in",
            noon() + Duration::hours(2),
            Source::Llm,
        ),
    )
    .await;
    tokio::time::sleep(Wait::from_millis(1500)).await;
    assert_eq!(status(&app, &id).0, "scheduled", "not due yet");
    app.clock.advance(Duration::hours(2));
    let sends = app.gateway.wait_for_sends(2, Wait::from_secs(5)).await;
    assert_eq!(sends.len(), 2, "the greeting's reply and the follow-up");
    assert_eq!(status(&app, &id).0, "sent");
    app.shutdown().await;
}
