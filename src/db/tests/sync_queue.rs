//! The message path's writes queue their own sync entries (schema/0008_message_path_sync.sql).

use super::*;

/// A clinic, a contact and a session to hang messages on.
async fn with_a_chat(db: &Db) {
    db.write(|c| -> Result<(), DbError> {
        Ok(c.execute_batch(
            "INSERT INTO organisations VALUES ('o1', 'Chain', 't', 't');
             INSERT INTO clinics (id, organisation_id, name, created_at, updated_at)
                 VALUES ('c1', 'o1', 'Clinic', 't', 't');
             INSERT INTO contacts (id, clinic_id, phone_index, phone_sealed, created_at,
                 updated_at) VALUES ('k1', 'c1', 'p1', x'01', 't', 't');
             INSERT INTO conversation_sessions (id, clinic_id, contact_id, provider, instance,
                 chat_sealed, created_at, updated_at)
                 VALUES ('s1', 'c1', 'k1', 'evolution', 'i', x'02', 't', 't');",
        )?)
    })
    .await
    .unwrap();
}

/// A message of the chat `with_a_chat` makes.
fn message(
    id: &'static str,
    direction: &'static str,
    author: &'static str,
    provider_message_id: Option<&'static str>,
    status: &'static str,
) -> messages::NewMessage<'static> {
    messages::NewMessage {
        id,
        clinic_id: "c1",
        session_id: "s1",
        contact_id: "k1",
        direction,
        author,
        provider: "evolution",
        instance: "i",
        provider_message_id,
        kind: "text",
        body_sealed: None,
        language: None,
        intent: None,
        reply_to: None,
        status,
        sent_at: None,
    }
}

/// The sync entries queued after `after_seq`, as (table, row id).
async fn queued_after(db: &Db, after_seq: i64) -> Vec<(String, String)> {
    db.read(move |c| -> Result<Vec<(String, String)>, DbError> {
        let mut stmt =
            c.prepare("SELECT table_name, row_id FROM sync_outbox WHERE seq > ?1 ORDER BY seq")?;
        let rows = stmt.query_map([after_seq], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    })
    .await
    .unwrap()
}

async fn last_seq(db: &Db) -> i64 {
    db.read(|c| -> Result<i64, DbError> {
        Ok(
            c.query_row("SELECT coalesce(max(seq), 0) FROM sync_outbox", [], |r| {
                r.get(0)
            })?,
        )
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_message_path_writes_queue_each_row_they_change_for_sync() {
    let (_dir, db) = temp_db();
    with_a_chat(&db).await;
    let start = last_seq(&db).await;
    db.write(|c| -> Result<(), DbError> {
        let inbound = message("m1", "inbound", "patient", Some("G1"), "received");
        assert!(messages::insert_message_if_new(c, &inbound, "t")?);
        assert!(
            !messages::insert_message_if_new(c, &inbound, "t")?,
            "a duplicate"
        );
        messages::insert_reply(c, &message("m2", "outbound", "bot", None, "queued"), "t")?;
        messages::insert_metric(
            c,
            &messages::NewMetric {
                id: "x1",
                message_id: "m2",
                inbound_message_id: Some("m1"),
                clinic_id: "c1",
                route: "fast_price",
                intent: None,
                language: None,
                received_to_queued_us: 1,
                remote_calls_before_send: 0,
                model: None,
                tokens_in: None,
                tokens_out: None,
                ttft_ms: None,
                llm_total_ms: None,
            },
            "t",
        )?;
        conversations::touch_inbound(c, "s1", Some("en"), "t", "t")?;
        messages::mark_sent(c, "m2", Some("G2"), "t")?;
        assert!(messages::apply_receipt(
            c,
            "evolution",
            "i",
            "G2",
            "delivered",
            None,
            "t"
        )?);
        assert!(
            !messages::apply_receipt(c, "evolution", "i", "G2", "sent", None, "t")?,
            "statuses only move forward"
        );
        messages::mark_failed(c, "no-such-message", "x", "t")?;
        conversations::set_human_until(c, "s1", Some("t9"), "t")?;
        Ok(())
    })
    .await
    .unwrap();
    let queued = queued_after(&db, start).await;
    let expected = [
        ("whatsapp_messages", "m1"),
        ("whatsapp_messages", "m2"),
        ("message_metrics", "x1"),
        ("conversation_sessions", "s1"),
        ("whatsapp_messages", "m2"),
        ("whatsapp_messages", "m2"),
        ("conversation_sessions", "s1"),
    ];
    let queued: Vec<(&str, &str)> = queued
        .iter()
        .map(|(t, id)| (t.as_str(), id.as_str()))
        .collect();
    assert_eq!(
        queued, expected,
        "one entry per row changed, none for a duplicate, a receipt that changed nothing or \
         an update that found no row"
    );
}

#[cfg(debug_assertions)]
#[tokio::test]
async fn in_debug_builds_a_message_path_write_that_forgets_its_sync_entry_fails_to_commit() {
    let (_dir, db) = temp_db();
    with_a_chat(&db).await;
    let (forgot, fine) = in_one_batch(&db, async {
        tokio::join!(
            db.write(|c| -> Result<usize, DbError> {
                Ok(c.execute(
                    "UPDATE conversation_sessions SET language = 'en' WHERE id = 's1'",
                    [],
                )?)
            }),
            // Another row: a later write queueing s1 itself would cover for the one that forgot
            // (harmlessly: the entry syncs the row's latest state).
            db.write(|c| {
                messages::insert_message_if_new(
                    c,
                    &message("m1", "inbound", "patient", Some("G1"), "received"),
                    "t",
                )
            }),
        )
    })
    .await;
    fine.expect("only the write that forgot is refused");
    let err = forgot.unwrap_err().to_string();
    assert!(
        err.contains("conversation_sessions (row s1) did not queue it for sync"),
        "{err}"
    );
    let language = db
        .read(|c| -> Result<Option<String>, DbError> {
            Ok(c.query_row(
                "SELECT language FROM conversation_sessions WHERE id = 's1'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(language, None, "nothing of it was committed");
    db.write(|c| conversations::touch_inbound(c, "s1", Some("en"), "t", "t"))
        .await
        .unwrap();
}
