//! Staff typing in a chat from the clinic's phone silences the bot in that chat until they
//! hand it back or the quiet period passes.

use crate::helpers::*;
use std::time::Duration;

#[tokio::test]
async fn after_staff_type_on_the_phone_the_bot_stays_silent_in_that_chat() {
    let app = spawn_app().await;
    app.staff_type().await;
    let r = app
        .post_evolution(
            &evolution_text("H1", "79990001122", "Сколько стоит пломба?"),
            Auth::Jwt,
        )
        .await;
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.gateway.sends().is_empty(),
        "the bot answered a chat staff took over"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'"),
        1,
        "still stored"
    );
    // Another chat is unaffected.
    assert!(
        app.ask("79990007777", "Сколько стоит пломба?")
            .await
            .contains('₽')
    );
    app.shutdown().await;
}

/// The patient writes in the taken-over chat: the message is stored, and no reply goes out.
async fn patient_gets_no_reply(app: &TestApp, id: &str) {
    let before = app.gateway.sends().len();
    let replies = "SELECT count(*) FROM whatsapp_messages WHERE direction = 'outbound'";
    let stored = app.count(replies);
    let r = app
        .post_evolution(
            &evolution_text(id, "79990001122", "Сколько стоит пломба?"),
            Auth::Jwt,
        )
        .await;
    assert_eq!(r.status(), 200);
    // The 200 comes after the turn's commit, which would hold a reply had one been made.
    assert_eq!(app.count(replies), stored, "a reply was stored");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.gateway.sends().len(),
        before,
        "the bot answered a chat staff took over"
    );
}

#[tokio::test]
async fn the_bot_returns_when_the_quiet_period_passes() {
    let app = spawn_app().await;
    app.staff_type().await;
    patient_gets_no_reply(&app, "Q1").await;
    app.clock.advance(chrono::Duration::minutes(119));
    patient_gets_no_reply(&app, "Q2").await;
    app.clock.advance(chrono::Duration::minutes(2)); // 121 minutes: the 120 have passed
    assert!(
        app.ask("79990001122", "Сколько стоит пломба?")
            .await
            .contains('₽')
    );
    app.shutdown().await;
}

#[tokio::test]
async fn staff_hand_the_chat_back_with_the_keyword() {
    let app = spawn_app().await;
    app.staff_type().await;
    patient_gets_no_reply(&app, "K1").await;
    let mut handback: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_upsert_from_me.json")).unwrap();
    handback["data"]["key"]["id"] = "HANDBACK1".into();
    handback["data"]["message"]["conversation"] = "#bot".into();
    assert_eq!(
        app.post_evolution(&serde_json::to_vec(&handback).unwrap(), Auth::Jwt)
            .await
            .status(),
        200
    );
    assert!(
        app.ask("79990001122", "Сколько стоит пломба?")
            .await
            .contains('₽')
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_echo_of_our_own_send_is_not_mistaken_for_staff() {
    let app = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let sent = app.gateway.sends()[0].clone();
    // Evolution reports our own send back as a fromMe upsert with the id it gave us.
    let mut echo: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_upsert_from_me.json")).unwrap();
    // Known by its id alone: the text as the phone shows it may differ (the echo-before-
    // answer test below covers the text).
    echo["data"]["key"]["id"] = sent.provider_message_id.clone().into();
    echo["data"]["message"]["conversation"] = "a text we did not send".into();
    assert_eq!(
        app.post_evolution(&serde_json::to_vec(&echo).unwrap(), Auth::Jwt)
            .await
            .status(),
        200
    );
    assert!(
        app.ask("79990001122", "когда вы работаете?")
            .await
            .contains("09:00"),
        "bot still answers"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn an_echo_that_arrives_before_the_gateway_answers_the_send_is_not_mistaken_for_staff() {
    let app = spawn_app().await;
    app.ask("79990003333", "когда вы работаете?").await;
    let hours = app.gateway.sends()[0].text.clone();
    // The gateway holds our next send for a while; its echo overtakes the answer, so the
    // echo carries an id we have not heard yet, but our text to that chat.
    app.gateway
        .script([frontdesk::local_gateway::Scripted::Delay(
            Duration::from_millis(1500),
        )]);
    let r = app
        .post_evolution(
            &evolution_text("E1", "79990001122", "когда вы работаете?"),
            Auth::Jwt,
        )
        .await;
    assert_eq!(r.status(), 200);
    // The send has reached the gateway, which holds it.
    assert_eq!(
        app.gateway
            .wait_for_attempts(2, Duration::from_secs(1))
            .await,
        2
    );
    assert!(app.gateway.sends().len() < 2, "the send was not held");
    let mut echo: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_upsert_from_me.json")).unwrap();
    echo["data"]["key"]["id"] = "3EB0ECHOBEFOREANSWER".into();
    echo["data"]["key"]["remoteJid"] = "79990001122@s.whatsapp.net".into();
    echo["data"]["message"]["conversation"] = hours.clone().into();
    assert_eq!(
        app.post_evolution(&serde_json::to_vec(&echo).unwrap(), Auth::Jwt)
            .await
            .status(),
        200
    );
    app.gateway.wait_for_sends(2, Duration::from_secs(5)).await;
    assert!(
        app.ask("79990001122", "Сколько стоит пломба?")
            .await
            .contains('₽'),
        "the bot still answers"
    );
    app.shutdown().await;
}

/// The patient's first message in an @lid chat (its body is returned for the next one).
async fn patient_writes_in_an_lid_chat(app: &TestApp) -> serde_json::Value {
    let patient: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_upsert_lid.json")).unwrap();
    let r = app
        .post_evolution(&serde_json::to_vec(&patient).unwrap(), Auth::Jwt)
        .await;
    assert_eq!(r.status(), 200);
    patient
}

/// Staff answer from the phone in the patient's chat, named by its @lid only (as some gateway
/// builds do), then the patient writes again; the 200 means both are stored, with any reply.
async fn staff_answer_by_lid_then_the_patient_writes(
    app: &TestApp,
    mut patient: serde_json::Value,
) {
    let mut staff: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_upsert_from_me.json")).unwrap();
    staff["data"]["key"] = serde_json::json!({
        "remoteJid": patient["data"]["key"]["remoteJid"],
        "fromMe": true,
        "id": "STAFFLID1",
        "addressingMode": "lid",
    });
    let r = app
        .post_evolution(&serde_json::to_vec(&staff).unwrap(), Auth::Jwt)
        .await;
    assert_eq!(r.status(), 200);
    patient["data"]["key"]["id"] = "PATIENTLID2".into();
    let r = app
        .post_evolution(&serde_json::to_vec(&patient).unwrap(), Auth::Jwt)
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn staff_typing_in_an_lid_chat_that_names_no_phone_silences_the_patients_chat() {
    let app = spawn_app().await;
    let patient = patient_writes_in_an_lid_chat(&app).await;
    assert_eq!(app.sends_settled(1).await.len(), 1, "answered at first");
    staff_answer_by_lid_then_the_patient_writes(&app, patient).await;
    assert_eq!(
        app.sends_settled(1).await.len(),
        1,
        "the bot answered a chat staff took over"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 1, "one patient");
    app.shutdown().await;
}

#[tokio::test]
async fn a_contact_stored_before_the_lid_index_existed_is_found_by_its_lid_after_an_upgrade() {
    let app = spawn_app().await;
    let patient = patient_writes_in_an_lid_chat(&app).await;
    assert_eq!(app.sends_settled(1).await.len(), 1);
    // As an older release stored it: the @lid sealed, no index of it.
    let rw = frontdesk::db::rusqlite::Connection::open(app.db_path()).unwrap();
    rw.execute_batch(
        "UPDATE contacts SET lid_index = NULL;
         DELETE FROM meta WHERE key = 'contacts_lid_indexed';",
    )
    .unwrap();
    drop(rw);
    let gateway = frontdesk::local_gateway::LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    let app = app.restart(gateway).await;
    assert_eq!(
        app.count("SELECT count(*) FROM contacts WHERE lid_index IS NOT NULL"),
        1,
        "indexed at start"
    );
    staff_answer_by_lid_then_the_patient_writes(&app, patient).await;
    // A reply is stored in the same transaction as the message it answers, before the 200.
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE author = 'bot'"),
        1,
        "the bot answered a chat staff took over"
    );
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 1, "one patient");
    app.shutdown().await;
}
