//! Migration 7 rebuilds four tables; these tests hold it to changing nothing but how their
//! allowed-value checks are evaluated.

use super::*;
use rusqlite::types::Value;

const REBUILT: [&str; 4] = [
    "whatsapp_messages",
    "followups",
    "send_outbox",
    "sync_outbox",
];

/// Statements the message path runs for every patient message, with the CHECKs they evaluate.
const HOT: [&str; 5] = [
    "INSERT INTO whatsapp_messages (id, clinic_id, session_id, contact_id, direction, author,
         provider, instance, provider_message_id, kind, status, created_at, updated_at)
     VALUES ('m9', 'c1', 's1', 'k1', 'inbound', 'patient', 'evolution', 'i', 'G9', 'text',
         'received', 't', 't')",
    "INSERT INTO send_outbox (id, message_id, next_attempt_at, created_at, updated_at)
     VALUES ('o9', 'm9', 't', 't', 't')",
    "UPDATE send_outbox SET status = 'done' WHERE id = 'o9'",
    "INSERT INTO sync_outbox (table_name, row_id, queued_at_ms) VALUES ('x', 'y', 1)",
    "INSERT INTO followups (id, clinic_id, session_id, kind, due_at, source, created_at,
         updated_at)
     VALUES ('f9', 'c1', 's1', 'k', 't', 'rule', 't', 't')",
];

fn v6_database(dir: &tempfile::TempDir) -> (Connection, std::path::PathBuf) {
    let path = dir.path().join("t.db");
    let mut conn = Connection::open(&path).unwrap();
    crate::db::configure(&conn).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    run_to(&mut conn, &path, 6).unwrap();
    conn.execute_batch(
        "INSERT INTO organisations VALUES ('o1', 'Chain', 't', 't');
         INSERT INTO clinics (id, organisation_id, name, created_at, updated_at)
             VALUES ('c1', 'o1', 'Clinic', 't', 't');
         INSERT INTO contacts (id, clinic_id, phone_index, phone_sealed, created_at, updated_at)
             VALUES ('k1', 'c1', 'p1', x'01', 't', 't');
         INSERT INTO conversation_sessions (id, clinic_id, contact_id, provider, instance,
             chat_sealed, created_at, updated_at)
             VALUES ('s1', 'c1', 'k1', 'evolution', 'i', x'02', 't', 't');
         INSERT INTO whatsapp_messages (id, clinic_id, session_id, contact_id, direction,
             author, provider, instance, kind, status, created_at, updated_at)
             VALUES ('m0', 'c1', 's1', 'k1', 'inbound', 'patient', 'evolution', 'i', 'text',
                 'received', 't0', 't0');
         INSERT INTO whatsapp_messages (id, clinic_id, session_id, contact_id, direction,
             author, provider, instance, provider_message_id, kind, body_sealed, status,
             sent_at, created_at, updated_at)
             VALUES ('m1', 'c1', 's1', 'k1', 'inbound', 'patient', 'evolution', 'i', 'G1',
                 'text', x'03', 'received', 't', 't1', 't1');
         INSERT INTO whatsapp_messages (id, clinic_id, session_id, contact_id, direction,
             author, provider, instance, kind, body_sealed, reply_to, status, created_at,
             updated_at)
             VALUES ('m2', 'c1', 's1', 'k1', 'outbound', 'bot', 'evolution', 'i', 'text',
                 x'04', 'm1', 'queued', 't2', 't2');
         INSERT INTO message_metrics (id, message_id, inbound_message_id, clinic_id, route,
             received_to_queued_us, remote_calls_before_send, created_at)
             VALUES ('x1', 'm2', 'm1', 'c1', 'fast_price', 310, 0, 't');
         INSERT INTO handoffs (id, clinic_id, session_id, message_id, reason, created_at)
             VALUES ('h1', 'c1', 's1', 'm1', 'booking', 't');
         INSERT INTO followups (id, clinic_id, session_id, kind, due_at, status, source,
             message_id, created_at, updated_at, text_sealed, rule, cancel_on_reply)
             VALUES ('f1', 'c1', 's1', 'nudge', 't', 'scheduled', 'rule', 'm2', 't', 't',
                 x'05', 'r1', 0);
         INSERT INTO send_outbox (id, message_id, status, attempts, next_attempt_at,
             last_error, created_at, updated_at)
             VALUES ('o1', 'm2', 'failed', 3, 't', 'timeout', 't', 't');
         -- Rowids with a gap: a copy that renumbered them would show.
         DELETE FROM whatsapp_messages WHERE id = 'm0';
         UPDATE sync_outbox SET status = 'synced', settled_at_ms = 7 WHERE seq = 2;
         DELETE FROM sync_outbox WHERE seq = 3;",
    )
    .unwrap();
    (conn, path)
}

fn rows(c: &Connection, table: &str) -> Vec<Vec<Value>> {
    let mut stmt = c
        .prepare(&format!("SELECT rowid, * FROM {table} ORDER BY rowid"))
        .unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The rows of every rebuilt table, in `REBUILT` order.
fn rebuilt_rows(c: &Connection) -> Vec<Vec<Vec<Value>>> {
    REBUILT.iter().map(|t| rows(c, t)).collect()
}

fn strings(c: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = c.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| format!("{:?}", r.get::<_, Value>(i).unwrap()))
            .collect::<Vec<_>>()
            .join("|"))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Everything about the database but the rebuilt tables' own CREATE statements.
fn shape(c: &Connection) -> Vec<String> {
    let mut out = strings(
        c,
        "SELECT type, name, tbl_name, sql FROM sqlite_schema
         WHERE NOT (type = 'table' AND name IN
             ('whatsapp_messages', 'followups', 'send_outbox', 'sync_outbox'))
         ORDER BY type, name",
    );
    for table in REBUILT {
        for pragma in ["table_xinfo", "foreign_key_list", "index_list"] {
            out.extend(
                strings(c, &format!("SELECT * FROM pragma_{pragma}('{table}')"))
                    .into_iter()
                    .map(|row| format!("{table} {pragma}: {row}")),
            );
        }
        // The columns of every index, the automatic ones of UNIQUE and PRIMARY KEY included.
        let mut stmt = c
            .prepare(&format!("SELECT name FROM pragma_index_list('{table}')"))
            .unwrap();
        let indexes: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for index in indexes {
            out.extend(
                strings(c, &format!("SELECT * FROM pragma_index_xinfo('{index}')"))
                    .into_iter()
                    .map(|row| format!("{table} {index}: {row}")),
            );
        }
    }
    out
}

/// `foreign_keys` and `legacy_alter_table`, which a rebuild changes and must restore.
fn rebuild_pragmas(c: &Connection) -> (i64, i64) {
    let get = |name| c.pragma_query_value(None, name, |r| r.get(0)).unwrap();
    (get("foreign_keys"), get("legacy_alter_table"))
}

fn builds_temporary_btrees(c: &Connection, sql: &str) -> bool {
    strings(c, &format!("EXPLAIN {sql}"))
        .iter()
        .any(|op| op.contains("OpenEphemeral"))
}

#[test]
fn migration_7_keeps_every_row_index_trigger_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    let before = rebuilt_rows(&conn);
    let shape_before = shape(&conn);

    assert_eq!(run_to(&mut conn, &path, 7).unwrap(), vec![7]);

    let after = rebuilt_rows(&conn);
    assert_eq!(
        after, before,
        "rows (and rowids, sync seqs) copied as they were"
    );
    assert_eq!(shape(&conn), shape_before);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    assert_eq!(
        rebuild_pragmas(&conn),
        (1, 0),
        "the connection is left as it was found"
    );
}

#[test]
fn after_migration_7_the_same_values_are_refused_and_triggers_still_fire() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    run_to(&mut conn, &path, 7).unwrap();

    let refused = [
        "UPDATE whatsapp_messages SET author = 'robot' WHERE id = 'm1'",
        "UPDATE followups SET status = 'later' WHERE id = 'f1'",
        "UPDATE followups SET source = 'bot' WHERE id = 'f1'",
        "UPDATE followups SET cancel_on_reply = 2 WHERE id = 'f1'",
        "UPDATE send_outbox SET status = 'sent' WHERE id = 'o1'",
        "UPDATE sync_outbox SET status = 'lost' WHERE seq = 1",
        "UPDATE sync_outbox SET status = 'quarantine' WHERE seq = 1",
        "UPDATE followups SET status = 'Expired' WHERE id = 'f1'",
        "UPDATE followups SET context = '{' WHERE id = 'f1'",
        "UPDATE whatsapp_messages SET direction = 'sideways' WHERE id = 'm1'",
        // Foreign keys are enforced again: no message of a session that does not exist.
        "UPDATE whatsapp_messages SET session_id = 'nope' WHERE id = 'm1'",
    ];
    for sql in refused {
        let err = conn.execute(sql, []).unwrap_err();
        assert_eq!(
            err.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ConstraintViolation),
            "{sql}"
        );
    }
    conn.execute(
        "UPDATE sync_outbox SET status = 'requeued' WHERE seq = 1",
        [],
    )
    .unwrap();

    let last_seq = |c: &Connection| -> (i64, String) {
        c.query_row(
            "SELECT seq, row_id FROM sync_outbox ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (seq, _) = last_seq(&conn);
    for sql in HOT {
        conn.execute(sql, []).unwrap();
    }
    // The message, the followup and the direct insert each add a row; the sync triggers of
    // the rebuilt tables fire as before.
    let rows: Vec<String> = strings(
        &conn,
        &format!("SELECT table_name, row_id FROM sync_outbox WHERE seq > {seq} ORDER BY seq"),
    );
    assert_eq!(
        rows,
        [
            "Text(\"whatsapp_messages\")|Text(\"m9\")",
            "Text(\"x\")|Text(\"y\")",
            "Text(\"followups\")|Text(\"f9\")"
        ]
    );
    assert!(last_seq(&conn).0 > seq);
}

#[test]
fn after_migration_7_the_message_path_builds_no_temporary_btree_for_checks() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    // The IN lists did: the test would not notice a regression otherwise.
    assert!(HOT.iter().all(|sql| builds_temporary_btrees(&conn, sql)));
    run_to(&mut conn, &path, 7).unwrap();
    for sql in HOT {
        assert!(!builds_temporary_btrees(&conn, sql), "{sql}");
    }
}

#[test]
fn after_migration_7_every_allowed_value_is_still_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    run_to(&mut conn, &path, 7).unwrap();
    let allowed: [(&str, &str, &str, &[&str]); 8] = [
        (
            "whatsapp_messages",
            "author",
            "id = 'm1'",
            &["patient", "bot", "staff"],
        ),
        (
            "whatsapp_messages",
            "direction",
            "id = 'm1'",
            &["inbound", "outbound"],
        ),
        (
            "whatsapp_messages",
            "provider",
            "id = 'm1'",
            &["evolution", "cloud"],
        ),
        (
            "followups",
            "status",
            "id = 'f1'",
            &["scheduled", "sent", "cancelled", "expired", "failed"],
        ),
        (
            "followups",
            "source",
            "id = 'f1'",
            &["llm", "staff", "rule"],
        ),
        (
            "send_outbox",
            "status",
            "id = 'o1'",
            &["pending", "done", "failed"],
        ),
        (
            "sync_outbox",
            "status",
            "seq = 1",
            &["pending", "synced", "quarantined", "requeued"],
        ),
        ("followups", "cancel_on_reply", "id = 'f1'", &["1", "0"]),
    ];
    for (table, column, row, values) in allowed {
        for value in values {
            let sql = format!("UPDATE {table} SET {column} = ?1 WHERE {row}");
            let changed = if column == "cancel_on_reply" {
                conn.execute(&sql, [value.parse::<i64>().unwrap()])
            } else {
                conn.execute(&sql, [value])
            };
            assert_eq!(changed.unwrap(), 1, "{table}.{column} = {value}");
        }
    }
}

#[test]
fn a_reference_already_dangling_before_migration_7_does_not_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    // Written by some other tool with foreign keys off.
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    conn.execute(
        "INSERT INTO clinic_channels VALUES ('evolution', 'old', 'gone', 't', 't')",
        [],
    )
    .unwrap();
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    assert_eq!(run_to(&mut conn, &path, 7).unwrap(), vec![7]);
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM clinic_channels WHERE clinic_id = 'gone'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1);
}

#[test]
fn a_failed_migration_7_leaves_version_6_its_rows_and_the_connection_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let (mut conn, path) = v6_database(&dir);
    let before = rebuilt_rows(&conn);
    let shape_before = shape(&conn);
    // The name the rebuild needs is taken, so its first statement fails.
    conn.execute_batch("CREATE TABLE followups_new (x)")
        .unwrap();
    let err = run_to(&mut conn, &path, 7).unwrap_err();
    assert!(
        matches!(err, DbError::Migration { version: 7, .. }),
        "{err}"
    );
    conn.execute_batch("DROP TABLE followups_new").unwrap();
    assert_eq!(current(&conn).unwrap(), 6);
    let after = rebuilt_rows(&conn);
    assert_eq!(after, before);
    assert_eq!(shape(&conn), shape_before);
    assert_eq!(rebuild_pragmas(&conn), (1, 0));
    assert!(conn.is_autocommit(), "no transaction left open");
}
