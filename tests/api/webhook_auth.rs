//! Every authentication method, valid and invalid: a rejected request is 401, stores nothing
//! but a rate-limited audit entry, and never reaches the parser.

use crate::helpers::*;

fn message_rows(app: &TestApp) -> i64 {
    app.count("SELECT count(*) FROM whatsapp_messages")
}

#[tokio::test]
async fn each_accepted_method_gets_200_and_a_reply() {
    let app = spawn_app().await;
    for (i, auth) in [Auth::Jwt, Auth::Secret(WEBHOOK_SECRET), Auth::Signature]
        .into_iter()
        .enumerate()
    {
        let body = evolution_text(
            &format!("AUTH{i}"),
            &format!("7999000110{i}"),
            "Сколько стоит пломба?",
        );
        let r = app.post_evolution(&body, auth).await;
        assert_eq!(r.status(), 200, "{auth:?}");
    }
    assert_eq!(app.sends_settled(3).await.len(), 3);
    app.shutdown().await;
}

#[tokio::test]
async fn each_invalid_method_is_401_and_stores_nothing() {
    let app = spawn_app().await;
    let body = evolution_text("BAD1", "79990001122", "Сколько стоит пломба?");
    let other = evolution_text("BAD2", "79990001122", "something else");
    let cases = [
        ("unsigned", Auth::None),
        ("wrong static secret", Auth::Secret("not-the-secret")),
        (
            "JWT signed with another secret",
            Auth::JwtSignedWith("other-secret"),
        ),
        ("expired JWT", Auth::ExpiredJwt),
        (
            "signature over different bytes",
            Auth::SignatureOver(&other),
        ),
    ];
    for (what, auth) in cases {
        let r = app.post_evolution(&body, auth).await;
        assert_eq!(r.status(), 401, "{what}");
        let text = r.text().await.unwrap();
        assert!(
            !text.contains("JWT") && !text.contains("secret"),
            "reason leaked to the client: {text}"
        );
    }
    assert_eq!(message_rows(&app), 0);
    assert_eq!(app.count("SELECT count(*) FROM contacts"), 0);
    // Rejections are audited at a bounded rate: one entry per reason here, not per request.
    for _ in 0..20 {
        app.post_evolution(&body, Auth::None).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let audited = app.count("SELECT count(*) FROM audit_log WHERE action = 'webhook.rejected'");
    assert_eq!(audited, 5, "one per distinct reason within the minute");
    assert!(app.gateway.sends().is_empty());
    app.shutdown().await;
}

#[tokio::test]
async fn a_forged_request_is_rejected_before_its_body_is_parsed() {
    let app = spawn_app().await;
    // Not even JSON: an authenticated request would get 400, an unauthenticated one 401.
    let r = app.post_evolution(b"{not json", Auth::None).await;
    assert_eq!(r.status(), 401);
    let r = app.post_evolution(b"{not json", Auth::Jwt).await;
    assert_eq!(r.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn cloud_api_signatures_are_checked_over_the_raw_bytes() {
    let app = spawn_app().await;
    let body = fixture("cloud_api_text_message.raw_body.txt");
    let sig: serde_json::Value =
        serde_json::from_slice(&fixture("cloud_api_text_message.signature.json")).unwrap();
    let good = sig["header_value"].as_str().unwrap();
    assert_eq!(app.post_cloud(&body, None).await.status(), 401);
    let forged = frontdesk::crypto::webhook::sign_body(b"wrong-secret", &body);
    assert_eq!(app.post_cloud(&body, Some(&forged)).await.status(), 401);
    assert_eq!(message_rows(&app), 0);
    let r = app.post_cloud(&body, Some(good)).await;
    assert_eq!(r.status(), 200);
    let sends = app.sends_settled(1).await;
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].instance, CLOUD_PHONE_ID);
    assert_eq!(sends[0].number, "79990001122");
    app.shutdown().await;
}

#[tokio::test]
async fn the_cloud_verify_handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app().await;
    let url = |token: &str| {
        app.url(&format!(
            "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        ))
    };
    let ok = app
        .client
        .get(url(CLOUD_VERIFY_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let bad = app.client.get(url("guess")).send().await.unwrap();
    assert_eq!(bad.status(), 403);
    app.shutdown().await;
}

/// Header spellings a gateway or a proxy in front of Frontdesk may use are accepted: the
/// bearer scheme in any case, a signature prefix in upper case, and another scheme's
/// Authorization header next to a valid secret.
#[tokio::test]
async fn header_spellings_other_senders_use_are_accepted() {
    use frontdesk::clock::Clock;
    use frontdesk::crypto::webhook::{sign_body, sign_hs256};
    let app = spawn_app().await;
    let now = app.clock.now().timestamp();
    let jwt = sign_hs256(WEBHOOK_SECRET.as_bytes(), now, now + 600);
    let post = |id: &str, headers: Vec<(&'static str, String)>| {
        let body = evolution_text(id, "79990001133", "Сколько стоит пломба?");
        let mut req = app
            .client
            .post(app.url("/webhooks/evolution"))
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            let signature = sign_body(WEBHOOK_SECRET.as_bytes(), &body);
            let hex = signature.trim_start_matches("sha256=");
            let value = value.replace("{hex}", hex);
            req = req.header(name, value);
        }
        async move { req.body(body).send().await.unwrap().status() }
    };
    let accepted = [
        ("H1", vec![("Authorization", format!("bearer {jwt}"))]),
        ("H2", vec![("Authorization", format!("BEARER  {jwt}"))]),
        ("H3", vec![("X-Hub-Signature-256", "SHA256={hex}".into())]),
        (
            "H4",
            vec![
                ("Authorization", "Basic cHJveHk6cGFzcw==".into()),
                ("X-Webhook-Secret", WEBHOOK_SECRET.into()),
            ],
        ),
    ];
    for (id, headers) in accepted {
        assert_eq!(post(id, headers.clone()).await, 200, "{headers:?}");
    }
    // Basic auth alone authenticates nothing, nor does a bad bearer token next to a good secret.
    let refused = [
        (
            "H5",
            vec![("Authorization", "Basic cHJveHk6cGFzcw==".to_owned())],
        ),
        (
            "H6",
            vec![
                ("Authorization", "Bearer not.a.jwt".into()),
                ("X-Webhook-Secret", WEBHOOK_SECRET.into()),
            ],
        ),
    ];
    for (id, headers) in refused {
        assert_eq!(post(id, headers.clone()).await, 401, "{headers:?}");
    }
    assert_eq!(app.sends_settled(4).await.len(), 4);
    assert_eq!(message_rows(&app), 8, "four messages and their replies");
    app.shutdown().await;
}
