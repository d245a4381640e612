//! Patient data is sealed at rest: the raw SQLite file holds none of a conversation's
//! plaintext, and the reply's metric references the reply's real id.

use crate::helpers::*;

#[tokio::test]
async fn the_raw_database_file_holds_no_plaintext_of_a_conversation() {
    let app = spawn_app().await;
    let phone = "79991234567";
    let question = "Сколько стоит пломба? Меня зовут Анна Петрова";
    let reply = app.ask(phone, question).await;
    app.ask(phone, "my teeth are yellow, how much is whitening?")
        .await;
    let dir = app.shutdown().await;
    let mut bytes = std::fs::read(dir.path().join("frontdesk.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("frontdesk.db-wal")) {
        bytes.extend(wal);
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // (Service names appear in replies but are public price-list data, stored in clear.)
    for plaintext in [
        phone,
        "Анна Петрова",
        "Меня зовут",
        "Сколько стоит пломба",
        "my teeth are yellow",
        reply.as_str(),
    ] {
        assert!(
            !contains(plaintext),
            "found {plaintext:?} in the raw database file"
        );
    }
}

#[tokio::test]
async fn each_reply_has_a_metric_row_referencing_its_real_id_with_zero_remote_calls() {
    let app = spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let c = app.sqlite();
    let (metric_msg, route, us, remote): (String, String, i64, i64) = c
        .query_row(
            "SELECT message_id, route, received_to_queued_us, remote_calls_before_send FROM message_metrics",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    let reply_id: String = c
        .query_row(
            "SELECT id FROM whatsapp_messages WHERE direction = 'outbound'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(metric_msg, reply_id);
    assert_eq!(route, "fast_price");
    assert!(us > 0 && us < 5_000_000, "{us} µs");
    assert_eq!(remote, 0);
    let fk: i64 = c
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk, 0);
    drop(c);
    app.shutdown().await;
}
