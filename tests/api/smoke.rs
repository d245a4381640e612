//! The built binary, as a user runs it: init → serve → /readyz → SIGTERM → exit 0.

use crate::helpers::{Cli, OutputText};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Starts `frontdesk serve` on port 0 and returns the child, the address it logged, and the
/// rest of its log lines.
pub fn start_server(
    cli: &Cli,
) -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let (child, addr, _, rx) = start_server_logged(cli);
    (child, addr, rx)
}

/// Spawns `frontdesk serve` on port 0, its log lines arriving on the receiver.
fn spawn_server(cli: &Cli) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = cli
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Like `start_server`, also returning the lines logged before "listening".
pub fn start_server_logged(
    cli: &Cli,
) -> (
    std::process::Child,
    String,
    Vec<String>,
    std::sync::mpsc::Receiver<String>,
) {
    let (child, rx) = spawn_server(cli);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server logged that it is listening");
        if let Some(addr) = line.split("listening on ").nth(1) {
            let addr = addr
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            return (child, addr, seen, rx);
        }
        seen.push(line);
    }
}

#[tokio::test]
async fn init_serve_ready_then_sigterm_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(&dir.path().join("data"));
    let init = cli.run(&["init"]);
    assert!(init.status.success(), "{}", init.stderr_text());

    let (mut child, addr, before_listening, logs) = start_server_logged(&cli);
    let ready = reqwest::get(format!("{addr}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    // A fresh init has no gateway yet: the log says replies cannot be delivered.
    assert!(
        before_listening
            .iter()
            .any(|l| l.contains("WARN") && l.contains("no WhatsApp gateway configured")),
        "{before_listening:?}"
    );

    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    let logs: Vec<String> = logs.try_iter().collect();
    assert!(logs.iter().any(|l| l.contains("stopped")), "{logs:?}");
    // The WAL was checkpointed into the main file on the way out.
    let wal = std::fs::metadata(dir.path().join("data/frontdesk.db-wal")).map_or(0, |m| m.len());
    assert_eq!(wal, 0);
    // Start-up and shutdown were audited, and the chain is intact.
    let verify = cli.run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", verify.stderr_text());
    assert!(verify.stdout_text().contains("intact"));
}

#[test]
fn init_twice_keeps_every_key_byte_for_byte_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = Cli::new(&data);
    let first = cli.run(&["init"]);
    assert!(first.status.success(), "{}", first.stderr_text());
    let snapshot = |name: &str| std::fs::read(data.join("keys").join(name)).unwrap();
    let names = ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY", "PHI_RSA_PRIVATE_KEY"];
    let before: Vec<Vec<u8>> = names.iter().map(|n| snapshot(n)).collect();
    let config_before = std::fs::read(data.join("frontdesk.toml")).unwrap();

    let second = cli.run(&["init"]);
    assert!(second.status.success(), "{}", second.stderr_text());
    let out = second.stdout_text();
    for n in names {
        assert!(
            out.lines().any(|l| l.contains(n) && l.contains("kept")),
            "{n} not reported as kept:\n{out}"
        );
    }
    assert!(out.contains("nothing was overwritten"));
    let after: Vec<Vec<u8>> = names.iter().map(|n| snapshot(n)).collect();
    assert_eq!(before, after);
    assert_eq!(
        config_before,
        std::fs::read(data.join("frontdesk.toml")).unwrap()
    );
}

#[test]
fn init_creates_private_directories_and_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(Cli::new(&data).run(&["init"]).status.success());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("keys")), 0o700);
    assert_eq!(mode(&data.join("frontdesk.db")), 0o600);
    assert_eq!(mode(&data.join("frontdesk.toml")), 0o600);
    for n in ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY", "PHI_RSA_PRIVATE_KEY"] {
        assert_eq!(mode(&data.join("keys").join(n)), 0o600, "{n}");
    }
    let config = std::fs::read_to_string(data.join("frontdesk.toml")).unwrap();
    let secret_line = config
        .lines()
        .find(|l| l.starts_with("webhook_secret"))
        .unwrap();
    assert!(
        secret_line.len() > "webhook_secret = \"\"".len() + 30,
        "{secret_line}"
    );
}

#[test]
fn init_refuses_to_replace_a_missing_key_that_the_database_was_sealed_under() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cli = Cli::new(&data);
    assert!(cli.run(&["init"]).status.success());
    std::fs::remove_file(data.join("keys/PHI_MASTER_KEY")).unwrap();
    let out = cli.run(&["init"]);
    assert_eq!(out.status.code(), Some(78));
    let err = out.stderr_text();
    assert!(
        err.contains("PHI_MASTER_KEY") && err.contains("backup"),
        "{err}"
    );
    assert!(
        !data.join("keys/PHI_MASTER_KEY").exists(),
        "no new key was created"
    );
}

#[tokio::test]
async fn a_backup_taken_while_serving_opens_with_the_same_keys_and_data() {
    let app = crate::helpers::spawn_app().await;
    app.ask("79990001122", "Сколько стоит пломба?").await;
    let backups = tempfile::tempdir().unwrap();
    let backup = backups.path().join("backup.db");
    let out = Cli::new(app.dir.path()).run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&backup), 0o600);
    let first = std::fs::read(&backup).unwrap();
    let again = Cli::new(app.dir.path()).run(&["backup", backup.to_str().unwrap()]);
    assert!(!again.status.success(), "never overwrites");
    assert_eq!(std::fs::read(&backup).unwrap(), first);
    let left: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["backup.db"], "no temporary or journal file is left");
    let _data = app.shutdown().await;
    // The copy is a complete Frontdesk database: the keys match it and the audit chain holds.
    let restored = tempfile::tempdir().unwrap();
    crate::helpers::write_keys(&restored.path().join("keys"));
    std::fs::copy(&backup, restored.path().join("frontdesk.db")).unwrap();
    let cli = Cli::new(restored.path());
    assert!(cli.run(&["keys", "check"]).status.success());
    let verify = cli.run(&["audit", "verify"]);
    assert!(verify.status.success(), "{}", verify.stderr_text());
    let conn =
        frontdesk::db::rusqlite::Connection::open(restored.path().join("frontdesk.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM whatsapp_messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
}

/// A data dir whose database is as the previous release left it: every migration but the last.
fn previous_release_database() -> tempfile::TempDir {
    use frontdesk::db::migrate::MIGRATIONS;
    let dir = tempfile::tempdir().unwrap();
    let conn = frontdesk::db::rusqlite::Connection::open(dir.path().join("frontdesk.db")).unwrap();
    conn.pragma_update(None, "application_id", 0x4644_4553i64)
        .unwrap();
    for m in &MIGRATIONS[..MIGRATIONS.len() - 1] {
        // A table rebuild needs foreign keys off and the legacy RENAME, as the runner sets.
        conn.pragma_update(None, "foreign_keys", !m.rebuilds_tables)
            .unwrap();
        conn.pragma_update(None, "legacy_alter_table", m.rebuilds_tables)
            .unwrap();
        conn.execute_batch(m.sql).unwrap();
        conn.pragma_update(None, "user_version", m.version).unwrap();
    }
    dir
}

#[test]
fn migrate_brings_an_older_database_up_to_date_then_has_nothing_to_do() {
    use frontdesk::db::migrate::latest;
    let dir = previous_release_database();
    let cli = Cli::new(dir.path());
    let first = cli.run(&["migrate"]);
    assert!(first.status.success(), "{}", first.stderr_text());
    assert!(
        first.stdout_text().contains(&format!(
            "applied migrations [{v}]; schema is now version {v}",
            v = latest()
        )),
        "{}",
        first.stdout_text()
    );
    let again = cli.run(&["migrate"]);
    assert!(
        again
            .stdout_text()
            .contains(&format!("schema is current (version {})", latest())),
        "{}",
        again.stdout_text()
    );
    let none = Cli::new(&dir.path().join("absent")).run(&["migrate"]);
    assert_eq!(none.status.code(), Some(78));
    assert!(
        none.stderr_text().contains("frontdesk init"),
        "{}",
        none.stderr_text()
    );
}

#[test]
fn migrate_beside_the_older_running_service_changes_nothing_and_says_how_to_upgrade() {
    use frontdesk::data_lock::{DataDirLock, Use};
    use frontdesk::db::migrate::latest;
    let dir = previous_release_database();
    // The service of the previous release, still running on this data dir.
    let _service = DataDirLock::acquire(dir.path(), Use::Serve).unwrap();
    let out = Cli::new(dir.path()).run(&["migrate"]);
    assert_eq!(out.status.code(), Some(78), "{}", out.stderr_text());
    let said = out.stderr_text();
    assert!(said.contains("nothing was changed"), "{said}");
    assert!(said.contains("systemctl restart frontdesk"), "{said}");
    let version = frontdesk::db::Db::schema_version(&dir.path().join("frontdesk.db")).unwrap();
    assert_eq!(version, latest() - 1);
}

/// An initialised data dir (`<dir>/data`) and a socket at `<dir>/notify.sock` standing in
/// for systemd's notify socket.
fn initialised_with_notify_socket() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::os::unix::net::UnixDatagram,
) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(Cli::new(&data).run(&["init"]).status.success());
    let socket = std::os::unix::net::UnixDatagram::bind(dir.path().join("notify.sock")).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (dir, data, socket)
}

#[tokio::test]
async fn under_systemd_it_reports_ready_pings_the_watchdog_and_says_stopping() {
    let (dir, data, socket) = initialised_with_notify_socket();
    let socket_path = dir.path().join("notify.sock");
    let cli = Cli::new(&data)
        .env("NOTIFY_SOCKET", socket_path.to_str().unwrap())
        .env("WATCHDOG_USEC", "400000");
    let (mut child, _addr, _logs) = start_server(&cli);
    let mut heard = Vec::new();
    let listen_for = |what: &str, heard: &mut Vec<String>| {
        let mut buf = [0u8; 512];
        while !heard.iter().any(|m| m.lines().any(|l| l == what)) {
            let n = socket
                .recv(&mut buf)
                .expect("a notification from frontdesk");
            heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    };
    listen_for("READY=1", &mut heard);
    listen_for("WATCHDOG=1", &mut heard);
    let ready_at = heard.iter().position(|m| m.contains("READY=1")).unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    listen_for("STOPPING=1", &mut heard);
    assert!(child.wait().unwrap().success());
    let stopping_at = heard.iter().position(|m| m.contains("STOPPING=1")).unwrap();
    assert!(ready_at < stopping_at, "{heard:?}");
}

#[test]
fn under_systemd_a_server_waiting_for_a_restore_says_so_then_becomes_ready() {
    use frontdesk::data_lock::{DataDirLock, Use};
    let (dir, data, socket) = initialised_with_notify_socket();
    let socket_path = dir.path().join("notify.sock");
    let restore = DataDirLock::acquire(&data, Use::Restore).unwrap();
    let mut child = Cli::new(&data)
        .env("NOTIFY_SOCKET", socket_path.to_str().unwrap())
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 512];
    let mut next = || {
        let n = socket
            .recv(&mut buf)
            .expect("a notification from frontdesk");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = next();
    assert!(
        first.contains("STATUS=waiting for another frontdesk process")
            && first.contains("frontdesk restore"),
        "{first}"
    );
    drop(restore);
    // The wait took part of systemd's start timeout: the start asks for it again.
    let extend = next();
    assert_eq!(extend.trim(), "EXTEND_TIMEOUT_USEC=900000000");
    let ready = next();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.lines().any(|l| l == "STATUS=serving"), "{ready}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
}

#[tokio::test]
async fn the_log_holds_no_secret_key_or_patient_data_even_when_everything_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(Cli::new(&data).run(&["init"]).status.success());
    let secrets = [
        ("EVOLUTION_WEBHOOK_SECRET", "whsec-7f3a9c1e5b2d4f60"),
        ("EVOLUTION_API_KEY", "evo-key-c0ffee1234567890"),
        ("OPENAI_API_KEY", "sk-test-0123456789abcdef"),
        (
            "SUPABASE_SERVICE_ROLE_KEY",
            "eyJhbGciOiJIUzI1NiJ9.service-role.sig",
        ),
    ];
    let mut cli = Cli::new(&data)
        .env("RUST_LOG", "debug")
        .env("EVOLUTION_API_URL", "http://127.0.0.1:9")
        .env("EVOLUTION_INSTANCE", "clinic-main")
        .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
        .env("SUPABASE_URL", "http://127.0.0.1:9");
    for (name, value) in secrets {
        cli = cli.env(name, value);
    }
    let (mut child, addr, logs) = start_server(&cli);
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>, secret: &'static str| {
        let signature = frontdesk::crypto::webhook::sign_body(secret.as_bytes(), &body);
        client
            .post(format!("{addr}/webhooks/evolution"))
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", signature)
            .body(body)
            .send()
    };
    let message = |id: &str, text: &str| {
        frontdesk::local_gateway::evolution_text_webhook(
            "clinic-main",
            id,
            "79991234567",
            "Анна Петрова",
            text,
            chrono::Utc::now().timestamp(),
        )
    };
    let secret = secrets[0].1;
    // A fast-path answer, an LLM question (unreachable), a forged webhook; every send fails.
    let price = post(message("LOG1", "Сколько стоит пломба?"), secret)
        .await
        .unwrap();
    assert_eq!(price.status(), 200);
    let llm = post(message("LOG2", "можно ли прийти с собакой?"), secret)
        .await
        .unwrap();
    assert_eq!(llm.status(), 200);
    let forged = post(message("LOG3", "подделка"), "wrong-secret")
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    let text: String = logs.try_iter().collect::<Vec<_>>().join("\n");
    assert!(
        text.contains("WARN") || text.contains("ERROR"),
        "failures were logged:\n{text}"
    );
    let keys_dir = data.join("keys");
    let key_material: Vec<String> = ["PHI_MASTER_KEY", "HIPAA_AUDIT_KEY"]
        .iter()
        .map(|k| {
            std::fs::read_to_string(keys_dir.join(k))
                .unwrap()
                .trim()
                .to_owned()
        })
        .collect();
    let forbidden = secrets
        .iter()
        .map(|(_, v)| v.to_string())
        .chain(key_material)
        .chain(
            [
                "79991234567",
                "1234567",
                "Анна",
                "Петрова",
                "пломба",
                "собак",
                "подделка",
            ]
            .map(String::from),
        );
    for needle in forbidden {
        assert!(
            !text.contains(&needle),
            "{needle:?} appears in the log:\n{text}"
        );
    }
}

#[test]
fn a_second_server_on_the_same_data_dir_is_refused_naming_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path());
    assert!(cli.run(&["init"]).status.success());
    let (mut first, _addr, _logs) = start_server(&cli);
    let second = cli.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(second.status.code(), Some(78), "{}", second.stderr_text());
    assert!(
        second
            .stderr_text()
            .contains(&format!("another frontdesk process (pid {})", first.id())),
        "{}",
        second.stderr_text()
    );
    kill(Pid::from_raw(first.id() as i32), Signal::SIGTERM).unwrap();
    assert!(first.wait().unwrap().success());
    // Once it stopped, the data dir is free again.
    let (mut again, _addr, _logs) = start_server(&cli);
    kill(Pid::from_raw(again.id() as i32), Signal::SIGTERM).unwrap();
    assert!(again.wait().unwrap().success());
}

#[test]
fn a_server_waiting_for_a_restore_says_so_and_stops_when_asked() {
    use frontdesk::data_lock::{DataDirLock, Use};
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::new(dir.path());
    assert!(cli.run(&["init"]).status.success());
    let restore = DataDirLock::acquire(dir.path(), Use::Restore).unwrap();
    let (mut server, rx) = spawn_server(&cli);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the server logged that it waits for the restore");
        assert!(!line.contains("listening on"), "started under a restore");
        if line.contains("waiting for it to finish") {
            assert!(line.contains("frontdesk restore"), "{line}");
            break;
        }
    }
    kill(Pid::from_raw(server.id() as i32), Signal::SIGTERM).unwrap();
    let give_up = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > give_up {
            server.kill().unwrap();
            panic!("still waiting 5 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    drop(restore);
}
