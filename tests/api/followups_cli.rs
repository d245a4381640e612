//! `frontdesk followups list|add|cancel`, run as staff run it: the built binary, another
//! process beside the running server.

use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use frontdesk::clock::Clock;
use frontdesk::local_gateway::evolution_text_webhook;
use std::time::Duration as Wait;

/// The running server's clock: 12:00 in Moscow on 2036-11-26. Cron ticks are off.
async fn server_with_a_chat() -> TestApp {
    let app = spawn_app_with(|c| c.followups.schedule = "0 0 0 1 1 *".into()).await;
    app.clock
        .set(Utc.with_ymd_and_hms(2036, 11, 26, 9, 0, 0).unwrap());
    let now = app.clock.now().timestamp();
    let body = evolution_text_webhook(INSTANCE, "C1", "79990001122", "Анна", "Здравствуйте", now);
    assert_eq!(app.post_evolution(&body, Auth::Jwt).await.status(), 200);
    app.gateway.wait_for_sends(1, Wait::from_secs(10)).await;
    app
}

fn scheduled_id(out: &std::process::Output) -> String {
    let text = out.stdout_text();
    text.split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("no id in {text:?}"))
        .to_owned()
}

#[tokio::test]
async fn staff_add_list_and_cancel_follow_ups_from_the_command_line() {
    let app = server_with_a_chat().await;
    let cli = Cli::new(app.dir.path());
    let out = cli.run(&[
        "followups",
        "add",
        "--chat",
        "+7 999 000-11-22",
        "--at",
        "2036-11-26 15:00",
        "--kind",
        "reminder",
        "--var",
        "visit_at=2036-11-27 10:00",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        out.stdout_text().contains("+7 999 ***-**-22"),
        "{}",
        out.stdout_text()
    );
    assert!(
        out.stdout_text()
            .contains("2036-11-26 15:00 (Europe/Moscow)")
    );
    let id = scheduled_id(&out);
    let stored: String = app
        .query_string(&format!("SELECT context FROM followups WHERE id = '{id}'"))
        .unwrap();
    assert_eq!(stored, r#"{"visit_at":"2036-11-27T07:00:00.000000Z"}"#);

    let list = cli.run(&["followups", "list"]);
    assert!(list.status.success(), "{}", list.stderr_text());
    let text = list.stdout_text();
    for shown in [
        id.as_str(),
        "2036-11-26 15:00 MSK",
        "reminder",
        "staff",
        "+7 999 ***-**-22",
        "followup_reminder",
        "1 scheduled",
    ] {
        assert!(text.contains(shown), "{shown:?} missing from:\n{text}");
    }
    assert!(
        !text.contains("79990001122"),
        "the full number is never shown"
    );

    let out = cli.run(&["followups", "cancel", &id]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        cli.run(&["followups", "list"])
            .stdout_text()
            .contains("No follow-ups are scheduled")
    );
    let all = cli.run(&["followups", "list", "--all"]).stdout_text();
    assert!(
        all.contains("cancelled") && all.contains("cancelled by staff"),
        "{all}"
    );
    let again = cli.run(&["followups", "cancel", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        again.stderr_text().contains("already cancelled"),
        "{}",
        again.stderr_text()
    );
    assert_eq!(
        app.query_string("SELECT scheduled_followup_at FROM conversation_sessions"),
        None
    );

    for action in [
        "followup.scheduled",
        "followup.cancelled",
        "followup.listed",
    ] {
        let n = app.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}'"
        ));
        assert!(n >= 1, "{action} not audited");
    }
    let verify = cli.run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", verify.stderr_text());
    app.shutdown().await;
}

#[tokio::test]
async fn a_follow_up_added_from_the_command_line_is_sent_by_the_running_server() {
    let app = server_with_a_chat().await;
    let out = Cli::new(app.dir.path()).run(&[
        "followups",
        "add",
        "--chat",
        "79990001122",
        "--at",
        "2036-11-26T12:00:00Z",
        "--text",
        "Анна, ждём вас завтра в 10:00",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert!(
        app.query_string("SELECT scheduled_followup_at FROM conversation_sessions")
            .is_some(),
        "set by the command"
    );
    assert_eq!(app.run_followups_once().await.sent, 0, "not due yet");
    app.clock.advance(Duration::hours(3));
    assert_eq!(app.run_followups_once().await.sent, 1);
    let sends = app.sends_settled(2).await;
    assert_eq!(sends[1].text, "Анна, ждём вас завтра в 10:00");
    assert_eq!(
        app.query_string("SELECT scheduled_followup_at FROM conversation_sessions"),
        None
    );
    app.shutdown().await;
}

#[tokio::test]
async fn adding_refuses_an_unknown_chat_a_bad_time_and_a_template_lacking_a_value() {
    let app = server_with_a_chat().await;
    let cli = Cli::new(app.dir.path());
    let unknown = cli.run(&["followups", "add", "--chat", "79990009999", "--in", "2h"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        unknown
            .stderr_text()
            .contains("no conversation with +7 999 ***-**-99"),
        "{}",
        unknown.stderr_text()
    );
    let bad = cli.run(&["followups", "add", "--chat", "79990001122", "--in", "soon"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(
        bad.stderr_text().contains("\"soon\""),
        "{}",
        bad.stderr_text()
    );
    let gap = cli.run(&[
        "followups",
        "add",
        "--chat",
        "79990001122",
        "--in",
        "2h",
        "--template",
        "followup_service",
    ]);
    assert_eq!(gap.status.code(), Some(64));
    assert!(
        gap.stderr_text().contains("{service}"),
        "{}",
        gap.stderr_text()
    );
    // A time gone by (a mistyped year) is refused, not stored to expire unsent.
    let past = cli.run(&[
        "followups",
        "add",
        "--chat",
        "79990001122",
        "--at",
        "2020-01-01 10:00",
        "--text",
        "Ждём вас",
    ]);
    assert_eq!(past.status.code(), Some(64), "{}", past.stderr_text());
    assert!(
        past.stderr_text()
            .contains("2020-01-01 10:00 (Europe/Moscow) is in the past"),
        "{}",
        past.stderr_text()
    );
    let neither = cli.run(&["followups", "add", "--chat", "79990001122"]);
    assert!(!neither.status.success());
    assert_eq!(
        app.count("SELECT count(*) FROM followups"),
        0,
        "nothing stored"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn a_follow_up_in_two_hours_is_listed_in_clinic_time() {
    let app = server_with_a_chat().await;
    let cli = Cli::new(app.dir.path());
    let out = cli.run(&[
        "followups",
        "add",
        "--chat",
        "79990001122",
        "--in",
        "2h",
        "--kind",
        "check_in",
    ]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let due: chrono::DateTime<Utc> = frontdesk::domain::time::from_db(
        &app.query_string("SELECT due_at FROM followups").unwrap(),
    )
    .unwrap();
    let expected = Utc::now() + Duration::hours(2);
    assert!(
        (due - expected).num_seconds().abs() < 60,
        "{due} vs {expected}"
    );
    let local = due
        .with_timezone(&chrono_tz::Europe::Moscow)
        .format("%Y-%m-%d %H:%M MSK")
        .to_string();
    let list = cli.run(&["followups", "list"]).stdout_text();
    assert!(
        list.contains(&local) && list.contains("followup_check_in"),
        "{list}"
    );
    app.shutdown().await;
}
