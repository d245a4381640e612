//! What the webhook does with what it is given: every fixture, ignored kinds, size limits,
//! malformed bodies, duplicates.

use crate::helpers::*;
use std::time::Duration;

#[tokio::test]
async fn every_evolution_fixture_gets_the_expected_outcome() {
    let app = spawn_app().await;
    // (fixture, stored message rows it adds, replies it causes)
    let cases = [
        ("evolution_messages_upsert_text.json", 2, 1),
        ("evolution_messages_upsert_lid.json", 2, 1),
        ("evolution_messages_upsert_extended_text.json", 2, 1),
        ("evolution_messages_upsert_image.json", 2, 1),
        ("evolution_messages_upsert_audio.json", 2, 1),
        ("evolution_messages_upsert_group.json", 0, 0),
        ("evolution_connection_update.json", 0, 0),
        ("evolution_send_message_echo.json", 0, 0),
        ("evolution_messages_update_status.json", 0, 0),
        ("evolution_messages_upsert_from_me.json", 1, 0),
    ];
    let (mut rows, mut replies) = (0, 0);
    for (name, add_rows, add_replies) in cases {
        let r = app.post_evolution(&fixture(name), Auth::Jwt).await;
        assert_eq!(r.status(), 200, "{name}: {}", r.text().await.unwrap());
        rows += add_rows;
        replies += add_replies;
        assert_eq!(
            app.count("SELECT count(*) FROM whatsapp_messages"),
            rows,
            "{name}"
        );
        assert_eq!(app.sends_settled(replies).await.len(), replies, "{name}");
    }
    // The lid chat was answered at the phone number from remoteJidAlt.
    assert!(
        app.gateway
            .sends()
            .iter()
            .all(|s| s.number == "79990001122")
    );
    // Media without text got the media template, never silence.
    let audio_reply = &app.gateway.sends()[4].text;
    assert!(
        audio_reply.contains("не могу открыть файлы и голосовые сообщения"),
        "{audio_reply}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn ignored_kinds_are_200_and_store_nothing() {
    let app = spawn_app().await;
    let kinds = [
        fixture("evolution_messages_upsert_group.json"),
        fixture("evolution_connection_update.json"),
        fixture("evolution_send_message_echo.json"),
        br#"{"event":"messages.upsert","instance":"clinic-main","data":{"key":{"remoteJid":"status@broadcast","id":"S1"},"message":{"conversation":"story"}}}"#.to_vec(),
        br#"{"event":"messages.upsert","instance":"clinic-main","data":{"key":{"remoteJid":"120363@newsletter","id":"N1"},"message":{"conversation":"news"}}}"#.to_vec(),
        br#"{"event":"presence.update","instance":"clinic-main","data":{}}"#.to_vec(),
    ];
    for body in kinds {
        assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    }
    assert_eq!(app.count("SELECT count(*) FROM whatsapp_messages"), 0);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.gateway.sends().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn a_1_mb_body_is_accepted_and_one_past_the_limit_is_413() {
    let app = spawn_app().await;
    let mut body: serde_json::Value = serde_json::from_slice(&evolution_text(
        "BIG1",
        "79990001122",
        "Сколько стоит пломба?",
    ))
    .unwrap();
    let base = serde_json::to_vec(&body).unwrap().len();
    body["padding"] = "x".repeat(1_000_000 - base - 14).into();
    let one_mb = serde_json::to_vec(&body).unwrap();
    assert!(
        (999_000..=1_000_000).contains(&one_mb.len()),
        "{}",
        one_mb.len()
    );
    assert_eq!(app.post_evolution(&one_mb, Auth::Jwt).await.status(), 200);

    body["padding"] = "x".repeat(1_100_000).into();
    body["data"]["key"]["id"] = "BIG2".into();
    let too_big = serde_json::to_vec(&body).unwrap();
    assert_eq!(app.post_evolution(&too_big, Auth::Jwt).await.status(), 413);
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'"),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_and_store_nothing() {
    let app = spawn_app().await;
    for body in [
        &b"{not json"[..],
        b"[]",
        br#"{"event":"messages.upsert","instance":"clinic-main","data":{"message":{"conversation":"no key"}}}"#,
        br#"{"instance":"clinic-main","data":{}}"#,
    ] {
        let r = app.post_evolution(body, Auth::Jwt).await;
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(
        app.post_cloud(
            b"{\"entry\":1}",
            Some(&frontdesk::crypto::webhook::sign_body(
                CLOUD_APP_SECRET.as_bytes(),
                b"{\"entry\":1}"
            ))
        )
        .await
        .status(),
        400
    );
    assert_eq!(app.count("SELECT count(*) FROM whatsapp_messages"), 0);
    app.shutdown().await;
}

#[tokio::test]
async fn ten_concurrent_deliveries_of_one_message_store_it_once_and_answer_once() {
    let app = std::sync::Arc::new(spawn_app().await);
    let body = evolution_text("DUP1", "79990001122", "Сколько стоит пломба?");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, body) = (app.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            app.post_evolution(&body, Auth::Jwt).await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    // And once more, later, as a gateway retry would.
    assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    assert_eq!(app.sends_settled(1).await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'"),
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'outbound'"),
        1
    );
    let app = std::sync::Arc::into_inner(app).unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn the_by_events_url_suffix_is_accepted() {
    let app = spawn_app().await;
    let r = app
        .post_evolution_to(
            "/webhooks/evolution/messages-upsert",
            &fixture("evolution_messages_upsert_text.json"),
            Auth::Jwt,
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.sends_settled(1).await.len(), 1);
    app.shutdown().await;
}

/// Evolution's "read" receipt for our message with this gateway id.
async fn post_read_receipt(app: &TestApp, provider_message_id: &str) {
    let mut receipt: serde_json::Value =
        serde_json::from_slice(&fixture("evolution_messages_update_status.json")).unwrap();
    receipt["data"]["keyId"] = provider_message_id.into();
    assert_eq!(
        app.post_evolution(&serde_json::to_vec(&receipt).unwrap(), Auth::Jwt)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_status_receipt_updates_our_sent_message_and_never_reaches_the_router() {
    let app = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let sent = app.gateway.sends()[0].provider_message_id.clone();
    // Wait for the sender to record the gateway's id.
    for _ in 0..100 {
        if app.count(&format!(
            "SELECT count(*) FROM whatsapp_messages WHERE provider_message_id = '{sent}'"
        )) == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    post_read_receipt(&app, &sent).await;
    assert_eq!(
        app.query_string(&format!(
            "SELECT status FROM whatsapp_messages WHERE provider_message_id = '{sent}'"
        ))
        .as_deref(),
        Some("read")
    );
    assert_eq!(
        app.sends_settled(1).await.len(),
        1,
        "a receipt is not answered"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_receipt_that_comes_before_the_gateway_answers_the_send_still_counts() {
    let app = spawn_app().await;
    // The gateway holds the send; meanwhile WhatsApp's "read" for it comes in.
    app.gateway
        .script([frontdesk::local_gateway::Scripted::Delay(
            Duration::from_millis(800),
        )]);
    let id = app.gateway.next_evolution_id();
    let r = app
        .post_evolution(
            &evolution_text("EARLY1", "79990001122", "Сколько стоит пломба?"),
            Auth::Jwt,
        )
        .await;
    assert_eq!(r.status(), 200);
    app.gateway
        .wait_for_attempts(1, Duration::from_secs(1))
        .await;
    assert!(app.gateway.sends().is_empty(), "the send was not held");
    post_read_receipt(&app, &id).await;
    assert_eq!(app.sends_settled(1).await[0].provider_message_id, id);
    let status = format!("SELECT status FROM whatsapp_messages WHERE provider_message_id = '{id}'");
    for _ in 0..200 {
        if app.query_string(&status).as_deref() == Some("read") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(app.query_string(&status).as_deref(), Some("read"));
    app.shutdown().await;
}

#[tokio::test]
async fn a_cloud_api_status_updates_our_sent_message_and_a_failure_records_its_reason() {
    let app = spawn_app().await;
    let body = fixture("cloud_api_text_message.raw_body.txt");
    let sign = |b: &[u8]| frontdesk::crypto::webhook::sign_body(CLOUD_APP_SECRET.as_bytes(), b);
    assert_eq!(
        app.post_cloud(&body, Some(&sign(&body))).await.status(),
        200
    );
    let sent = app.sends_settled(1).await[0].provider_message_id.clone();
    let stored =
        format!("SELECT count(*) FROM whatsapp_messages WHERE provider_message_id = '{sent}'");
    for _ in 0..100 {
        if app.count(&stored) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let status_of = || {
        app.query_string(&format!(
            "SELECT status FROM whatsapp_messages WHERE provider_message_id = '{sent}'"
        ))
    };
    let mut receipt: serde_json::Value =
        serde_json::from_slice(&fixture("cloud_api_status.json")).unwrap();
    let value = &mut receipt["entry"][0]["changes"][0]["value"];
    value["metadata"]["phone_number_id"] = CLOUD_PHONE_ID.into();
    value["statuses"][0]["id"] = sent.clone().into();
    let receipt = serde_json::to_vec(&receipt).unwrap();
    assert_eq!(
        app.post_cloud(&receipt, Some(&sign(&receipt)))
            .await
            .status(),
        200
    );
    assert_eq!(status_of().as_deref(), Some("delivered"));

    let mut failed: serde_json::Value =
        serde_json::from_slice(&fixture("cloud_api_status_failed.json")).unwrap();
    let value = &mut failed["entry"][0]["changes"][0]["value"];
    value["metadata"]["phone_number_id"] = CLOUD_PHONE_ID.into();
    value["statuses"][0]["id"] = sent.clone().into();
    let failed = serde_json::to_vec(&failed).unwrap();
    assert_eq!(
        app.post_cloud(&failed, Some(&sign(&failed))).await.status(),
        200
    );
    assert_eq!(status_of().as_deref(), Some("failed"));
    let reason = app.query_string(&format!(
        "SELECT status_reason FROM whatsapp_messages WHERE provider_message_id = '{sent}'"
    ));
    assert!(
        reason
            .as_deref()
            .is_some_and(|r| r.contains("131047") || r.contains("Re-engagement")),
        "{reason:?}"
    );
    assert_eq!(
        app.sends_settled(1).await.len(),
        1,
        "receipts are not answered"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_database_locked_by_another_process_gets_503_and_the_retry_is_answered_once() {
    let app = spawn_app().await;
    // A backup tool or an operator's sqlite3 shell holding the write lock past the busy timeout.
    let locker = frontdesk::db::rusqlite::Connection::open(app.db_path()).unwrap();
    locker.busy_timeout(Duration::from_secs(5)).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let body = evolution_text("LOCKED1", "79990001122", "Сколько стоит пломба?");
    let r = app.post_evolution(&body, Auth::Jwt).await;
    assert_eq!(r.status(), 503, "transient: the gateway must retry");
    assert_eq!(
        r.text().await.unwrap(),
        r#"{"error":"temporarily unavailable, retry"}"#,
        "no internal error text"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    assert_eq!(app.sends_settled(1).await.len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'"),
        1
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_chat_first_seen_by_phone_keeps_its_lid_when_whatsapp_starts_using_it() {
    let app = spawn_app().await;
    app.ask("79990001122", "Здравствуйте").await;
    let lid_of_contact = || {
        app.sqlite()
            .query_row("SELECT id, lid_sealed FROM contacts", [], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
            })
            .unwrap()
    };
    assert_eq!(lid_of_contact().1, None);
    let r = app
        .post_evolution(&fixture("evolution_messages_upsert_lid.json"), Auth::Jwt)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.sends_settled(2).await.len(), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM contacts"),
        1,
        "the same contact"
    );
    let (contact_id, sealed) = lid_of_contact();
    let lid = app
        .state
        .shared
        .keys
        .phi
        .open_string(
            &sealed.expect("the lid was kept"),
            frontdesk::crypto::Aad::new("contacts", "lid", &contact_id),
        )
        .unwrap();
    assert_eq!(lid, "205838167351412@lid");
    app.shutdown().await;
}

#[tokio::test]
async fn a_stored_message_is_answered_even_if_the_gateway_hung_up_before_the_answer() {
    use frontdesk::clock::Clock;
    use frontdesk::crypto::webhook::sign_hs256;
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    let addr = app.addr.trim_start_matches("http://").to_owned();
    let chats = 20;
    for i in 0..chats {
        let body = evolution_text(
            &format!("HU{i}"),
            &format!("7999300{i:04}"),
            "цена на пломбы",
        );
        let now = app.clock.now().timestamp();
        let jwt = sign_hs256(WEBHOOK_SECRET.as_bytes(), now, now + 600);
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /webhooks/evolution HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {jwt}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(&body).await.unwrap();
        drop(stream); // gone before the answer
    }
    // A request cut off before its message was stored is simply not acknowledged (the gateway
    // retries it); every message that was stored is answered, at once, not after the sender's
    // half-minute safety rescan.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = app.count("SELECT count(*) FROM whatsapp_messages WHERE direction = 'inbound'");
    assert!(stored > 0, "no message got as far as the database");
    let sends = app.sends_settled(stored as usize).await;
    assert_eq!(
        sends.len() as i64,
        stored,
        "every stored message answered once"
    );
    app.shutdown().await;
}
