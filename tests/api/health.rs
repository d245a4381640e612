use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_answers_while_the_process_is_alive() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["status"],
        "alive"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn readyz_reports_database_migrations_and_keys() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["writer"], "ok");
    assert!(
        body["checks"]["migrations"]
            .as_str()
            .unwrap()
            .starts_with("current")
    );
    assert_eq!(body["checks"]["keys"]["loaded"], true);
    app.shutdown().await;
}

#[tokio::test]
async fn readyz_is_503_with_a_reason_once_shutdown_has_begun() {
    let app = spawn_app().await;
    app.state.set_draining();
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["reason"], "shutting down");
    app.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let app = spawn_app().await;
    let r = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    app.shutdown().await;
}

async fn not_ready_because(app: &crate::helpers::TestApp) -> String {
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    body["reason"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn readyz_is_503_when_the_database_was_migrated_past_this_binary() {
    let app = spawn_app().await;
    let latest = frontdesk::db::migrate::latest();
    // A newer release's `frontdesk migrate` run against the live database.
    let other = frontdesk::db::rusqlite::Connection::open(app.db_path()).unwrap();
    other
        .pragma_update(None, "user_version", latest + 1)
        .unwrap();
    assert_eq!(
        not_ready_because(&app).await,
        format!("database at version {}, expected {latest}", latest + 1)
    );
    other.pragma_update(None, "user_version", latest).unwrap();
    app.shutdown().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_database_writer_is_gone() {
    let app = spawn_app().await;
    app.state.shared.db.close().await.unwrap();
    assert_eq!(
        not_ready_because(&app).await,
        "database writer not responding"
    );
    // Reads still work: only the writer probe catches it.
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["writer"], "not responding");
}
