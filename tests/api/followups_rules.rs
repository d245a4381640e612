//! The patient-friendly rules, as the patient sees them: no messages in quiet hours (clinic
//! time), a reply cancels a pending nudge, a chat staff took over gets none from the bot, and
//! free text only inside WhatsApp's 24-hour window (a Cloud API template outside it).

use crate::followups::*;
use crate::helpers::*;
use chrono::{DateTime, Duration, TimeZone, Utc};
use frontdesk::config::{CloudTemplateConfig, Config, RuleConfig};
use frontdesk::services::followups::{NewFollowup, Source};
use std::time::Duration as Wait;

#[tokio::test]
async fn quiet_hours_postpone_a_follow_up_to_the_next_morning_in_clinic_time() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let late = Utc.with_ymd_and_hms(2026, 11, 26, 18, 30, 0).unwrap(); // 21:30 Moscow
    let f = NewFollowup::new(&session_of(&app, 0), "check_in", late, Source::Llm);
    let id = schedule(&app, f).await;
    app.clock.set(late + Duration::minutes(1));
    let tick = app.run_followups_once().await;
    assert_eq!((tick.sent, tick.postponed), (0, 1));
    let morning = "2026-11-27T06:00:00.000000Z"; // 09:00 Moscow
    assert_eq!(
        app.query_string(&format!("SELECT due_at FROM followups WHERE id = '{id}'"))
            .as_deref(),
        Some(morning)
    );
    assert_eq!(session_due(&app).as_deref(), Some(morning));
    assert_eq!(
        app.sends_settled(1).await.len(),
        1,
        "nothing but the earlier reply"
    );

    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 27, 6, 0, 30).unwrap());
    assert_eq!(app.run_followups_once().await.sent, 1);
    assert_eq!(app.sends_settled(2).await.len(), 2);
    app.shutdown().await;
}

fn price_rule(c: &mut Config) {
    c.followups.rules.push(RuleConfig {
        name: "price_no_booking".into(),
        when: "price".into(),
        unless: Some("booking".into()),
        delay: "20h".into(),
        kind: "nudge".into(),
        template: "followup_nudge".into(),
        clinics: Vec::new(),
    });
}

#[tokio::test]
async fn a_price_question_left_unanswered_gets_one_nudge_the_next_morning() {
    let app = spawn_followups_app(price_rule).await;
    patient_says(&app, PATIENT, "Сколько стоит пломба?").await;
    let due = frontdesk::domain::time::to_db(noon() + Duration::hours(20));
    assert_eq!(session_due(&app), Some(due));
    assert_eq!(
        app.count("SELECT count(*) FROM followups WHERE source = 'rule'"),
        1
    );

    app.clock.advance(Duration::hours(19));
    assert_eq!(app.run_followups_once().await.sent, 0, "not due yet");
    // Due at 08:00 Moscow, inside quiet hours: it waits until 09:00.
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.run_followups_once().await.postponed, 1);
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.run_followups_once().await.sent, 1);
    let sends = app.sends_settled(2).await;
    assert_eq!(sends.len(), 2);
    assert!(
        sends[1].text.contains("Остались ли у вас вопросы"),
        "{}",
        sends[1].text
    );
    assert_eq!(session_due(&app), None, "cleared once sent");
    app.shutdown().await;
}

#[tokio::test]
async fn a_patient_reply_cancels_the_pending_nudge() {
    let app = spawn_followups_app(price_rule).await;
    patient_says(&app, PATIENT, "Сколько стоит пломба?").await;
    assert!(session_due(&app).is_some());
    app.clock.advance(Duration::hours(1));
    patient_says(&app, PATIENT, "Спасибо!").await;
    assert_eq!(
        app.query_string("SELECT status || ': ' || last_error FROM followups")
            .as_deref(),
        Some("cancelled: the patient replied")
    );
    assert_eq!(session_due(&app), None);
    app.clock.advance(Duration::hours(20));
    assert_eq!(app.run_followups_once().await.sent, 0);
    assert_eq!(app.sends_settled(2).await.len(), 2, "the two replies only");
    app.shutdown().await;
}

#[tokio::test]
async fn a_chat_taken_over_by_staff_gets_no_follow_up_from_the_bot() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let session = session_of(&app, 0);
    let due = noon() + Duration::hours(1);
    let nudge = schedule(&app, NewFollowup::new(&session, "nudge", due, Source::Llm)).await;
    let mut staff_reminder = NewFollowup::new(&session, "check_in", due, Source::Staff);
    staff_reminder.text = Some("Как заживает после удаления?".into());
    let reminder = schedule(&app, staff_reminder).await;
    // Staff type in the chat from the clinic's phone (same patient number).
    let staff = fixture("evolution_messages_upsert_from_me.json");
    assert_eq!(app.post_evolution(&staff, Auth::Jwt).await.status(), 200);

    app.clock.advance(Duration::hours(1));
    let tick = app.run_followups_once().await;
    assert_eq!((tick.sent, tick.cancelled, tick.postponed), (0, 1, 1));
    assert_eq!(
        status(&app, &nudge),
        ("cancelled".into(), Some("staff took over the chat".into()))
    );
    assert_eq!(
        status(&app, &reminder).0,
        "scheduled",
        "staff's own one waits for them"
    );
    assert_eq!(app.sends_settled(1).await.len(), 1);

    // Once staff's quiet period is over, staff's reminder goes out as they wrote it.
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.run_followups_once().await.sent, 1);
    let sends = app.sends_settled(2).await;
    assert_eq!(sends[1].text, "Как заживает после удаления?");
    app.shutdown().await;
}

#[tokio::test]
async fn free_text_goes_out_only_within_24_hours_of_the_patients_last_message() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    patient_says(&app, "79990003344", "Здравствуйте").await;
    let inside = NewFollowup::new(
        &session_of(&app, 0),
        "check_in",
        noon() + Duration::hours(23),
        Source::Llm,
    );
    let outside = NewFollowup::new(
        &session_of(&app, 1),
        "check_in",
        noon() + Duration::hours(25),
        Source::Llm,
    );
    let (inside, outside) = (schedule(&app, inside).await, schedule(&app, outside).await);
    app.clock.advance(Duration::hours(23));
    assert_eq!(app.run_followups_once().await.sent, 1);
    assert_eq!(status(&app, &inside).0, "sent");
    // Delivered before the test moves the clock on (time does not jump in real life; the
    // sender would rightly give up on free text found pending after the window closed).
    assert_eq!(app.sends_settled(3).await.len(), 3);
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.run_followups_once().await.expired, 1);
    assert_eq!(
        status(&app, &outside),
        (
            "expired".into(),
            Some("outside WhatsApp's 24-hour window".into())
        )
    );
    let sends = app.sends_settled(3).await;
    assert_eq!(
        sends.len(),
        3,
        "two replies and the one follow-up inside the window"
    );
    assert_eq!(sends[2].number, PATIENT);
    app.shutdown().await;
}

#[tokio::test]
async fn free_text_still_failing_when_the_window_closes_is_given_up_and_the_follow_up_expired() {
    let app = spawn_followups_app(|_| {}).await;
    patient_says(&app, PATIENT, "Здравствуйте").await;
    let due = noon() + Duration::hours(23) + Duration::minutes(40);
    let id = schedule(
        &app,
        NewFollowup::new(&session_of(&app, 0), "check_in", due, Source::Llm),
    )
    .await;
    // The gateway fails the first attempt; by the retry the 24 hours are over.
    app.gateway
        .script([frontdesk::local_gateway::Scripted::Respond(
            500,
            serde_json::json!({"status": 500, "error": "Internal Server Error"}),
        )]);
    let attempts = app.gateway.attempts();
    app.clock.set(due);
    assert_eq!(
        app.run_followups_once().await.sent,
        1,
        "claimed inside the window"
    );
    for _ in 0..100 {
        if app.gateway.attempts() > attempts {
            break;
        }
        tokio::time::sleep(Wait::from_millis(20)).await;
    }
    assert_eq!(
        app.gateway.attempts(),
        attempts + 1,
        "the first attempt failed"
    );
    app.clock.advance(Duration::minutes(25));
    for _ in 0..200 {
        if status(&app, &id).0 != "sent" {
            break;
        }
        tokio::time::sleep(Wait::from_millis(25)).await;
    }
    let (state, reason) = status(&app, &id);
    assert_eq!(state, "expired");
    assert!(reason.unwrap_or_default().contains("24-hour window"));
    assert_eq!(
        app.gateway.attempts(),
        attempts + 1,
        "no free text after the window closed"
    );
    assert_eq!(app.gateway.sent_count(), 1, "only the greeting's reply");
    app.shutdown().await;
}

#[tokio::test]
async fn outside_the_window_a_cloud_api_chat_gets_the_configured_template() {
    let app = spawn_followups_app(|c| {
        c.followups.cloud_templates.push(CloudTemplateConfig {
            kind: "nudge".into(),
            name: "clinic_followup".into(),
            language: None,
            params: vec!["service".into()],
        });
    })
    .await;
    // The fixture's message was written in October 2025: its window closed long ago.
    let body = fixture("cloud_api_text_message.raw_body.txt");
    let signature = frontdesk::crypto::webhook::sign_body(CLOUD_APP_SECRET.as_bytes(), &body);
    assert_eq!(app.post_cloud(&body, Some(&signature)).await.status(), 200);
    app.gateway.wait_for_sends(1, Wait::from_secs(10)).await;
    let mut f = NewFollowup::new(&session_of(&app, 0), "nudge", noon(), Source::Llm);
    f.context = serde_json::json!({ "service": "Пломба световая" });
    let id = schedule(&app, f).await;
    assert_eq!(app.run_followups_once().await.sent, 1);
    let sends = app.sends_settled(2).await;
    assert_eq!(
        sends[1].text,
        "[template clinic_followup/ru] Пломба световая"
    );
    assert_eq!(sends[1].instance, CLOUD_PHONE_ID);
    assert_eq!(status(&app, &id).0, "sent");
    assert_eq!(
        app.query_string(
            "SELECT kind || '/' || status FROM whatsapp_messages WHERE kind = 'template'"
        )
        .as_deref(),
        Some("template/sent")
    );
    app.shutdown().await;
}

/// A chat with a nudge from the LLM that a tick claimed but the gateway failed: it waits in
/// the send queue for its retry. Returns the follow-up's id.
async fn claimed_nudge_waiting_for_a_retry(app: &TestApp) -> String {
    claimed_nudge_waiting_for_a_retry_at(app, noon() + Duration::hours(2)).await
}

/// The same, due and claimed at `due`.
async fn claimed_nudge_waiting_for_a_retry_at(app: &TestApp, due: DateTime<Utc>) -> String {
    patient_says(app, PATIENT, "Здравствуйте").await;
    let id = schedule(
        app,
        NewFollowup {
            text: Some("Записать вас на осмотр?".into()),
            ..NewFollowup::new(&session_of(app, 0), "nudge", due, Source::Llm)
        },
    )
    .await;
    app.gateway
        .script([frontdesk::local_gateway::Scripted::Respond(
            500,
            serde_json::json!({"status": 500, "error": "Internal Server Error"}),
        )]);
    let attempts = app.gateway.attempts();
    app.clock.set(due);
    assert_eq!(app.run_followups_once().await.sent, 1, "claimed");
    for _ in 0..100 {
        if app.gateway.attempts() > attempts {
            break;
        }
        tokio::time::sleep(Wait::from_millis(20)).await;
    }
    assert_eq!(
        app.gateway.attempts(),
        attempts + 1,
        "the first attempt failed"
    );
    id
}

/// Past the retry's backoff, the nudge has not gone out and nothing is left pending.
async fn the_nudge_never_went_out(app: &TestApp, replies: usize) {
    tokio::time::sleep(Wait::from_secs(2)).await;
    let sends = app.gateway.sends();
    assert_eq!(sends.len(), replies);
    assert!(sends.iter().all(|s| !s.text.contains("Записать вас")));
    assert_eq!(
        app.count("SELECT count(*) FROM send_outbox WHERE status = 'pending'"),
        0
    );
}

#[tokio::test]
async fn a_reply_withdraws_a_nudge_still_waiting_in_the_send_queue() {
    let app = spawn_followups_app(|_| {}).await;
    let id = claimed_nudge_waiting_for_a_retry(&app).await;
    patient_says(&app, PATIENT, "Уже записалась, спасибо").await;
    assert_eq!(
        status(&app, &id),
        ("cancelled".into(), Some("the patient replied".into()))
    );
    the_nudge_never_went_out(&app, 2).await;
    app.shutdown().await;
}

#[tokio::test]
async fn staff_taking_over_withdraws_the_bots_nudge_still_waiting_in_the_send_queue() {
    let app = spawn_followups_app(|_| {}).await;
    let id = claimed_nudge_waiting_for_a_retry(&app).await;
    app.staff_type().await;
    assert_eq!(
        status(&app, &id),
        ("cancelled".into(), Some("staff took over the chat".into()))
    );
    the_nudge_never_went_out(&app, 1).await;
    app.shutdown().await;
}

#[tokio::test]
async fn staff_can_cancel_a_follow_up_still_waiting_in_the_send_queue_but_not_a_delivered_one() {
    use frontdesk::clock::Clock;
    let app = spawn_followups_app(|_| {}).await;
    let id = claimed_nudge_waiting_for_a_retry(&app).await;
    let cancel = |id: String| {
        let now = app.clock.now();
        app.state.shared.db.write(move |c| {
            frontdesk::services::followups::cancel(c, &id, "staff cancelled it", now)
        })
    };
    cancel(id.clone()).await.unwrap();
    assert_eq!(
        status(&app, &id),
        ("cancelled".into(), Some("staff cancelled it".into()))
    );
    the_nudge_never_went_out(&app, 1).await;

    // One the gateway took cannot be taken back: refused, and it stays as it was.
    let due = app.clock.now() + Duration::hours(1);
    let sent = schedule(
        &app,
        NewFollowup::new(&session_of(&app, 0), "nudge", due, Source::Llm),
    )
    .await;
    app.clock.set(due);
    assert_eq!(app.run_followups_once().await.sent, 1);
    app.gateway.wait_for_sends(2, Wait::from_secs(10)).await;
    for _ in 0..100 {
        if app.count("SELECT count(*) FROM send_outbox WHERE status = 'pending'") == 0 {
            break;
        }
        tokio::time::sleep(Wait::from_millis(20)).await;
    }
    assert!(cancel(sent.clone()).await.is_err());
    assert_eq!(status(&app, &sent).0, "sent");
    app.shutdown().await;
}

#[tokio::test]
async fn a_follow_up_held_up_by_the_gateway_into_quiet_hours_waits_for_the_morning() {
    let app = spawn_followups_app(|_| {}).await;
    // Claimed at 20:55 in Moscow, five minutes before the default quiet hours (21:00-09:00).
    let due = noon() + Duration::hours(8) + Duration::minutes(55);
    let id = claimed_nudge_waiting_for_a_retry_at(&app, due).await;
    let attempts = app.gateway.attempts();
    // By the retry it is 23:00: the message waits in the queue for the morning.
    app.clock.advance(Duration::hours(2) + Duration::minutes(5));
    tokio::time::sleep(Wait::from_secs(2)).await; // past the retry's backoff
    assert_eq!(app.gateway.attempts(), attempts, "nothing sent at night");
    assert_eq!(status(&app, &id).0, "sent", "claimed, still queued");
    assert_eq!(
        app.count("SELECT count(*) FROM send_outbox WHERE status = 'pending'"),
        1
    );
    app.shutdown().await;
}
