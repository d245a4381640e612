//! A real PostgreSQL server for the sync tests, from Debian's `postgresql` package (found under
//! /usr/lib/postgresql/*/bin, or FRONTDESK_TEST_PG_BIN). One server per test binary, on a
//! private port in a temp dir, each test in its own database; tests that stop the server get
//! a server of their own. initdb refuses to run as root, so as root the server runs as the
//! `postgres` user (or `nobody`). A watchdog stops it and removes its files once this test
//! process is gone, however it ends.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub const USER: &str = "frontdesk";
pub const PASSWORD: &str = "test-pg-password";

pub struct PgServer {
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    options: String,
    run_as: Option<(u32, u32)>,
}

/// The server shared by this test binary (started on first use).
pub fn shared() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| PgServer::start(false))
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("FRONTDESK_TEST_PG_BIN") {
        return dir.into();
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return bin;
    }
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(PathBuf::from)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
        .expect(
            "PostgreSQL server binaries not found (initdb, pg_ctl): install Debian's \
             `postgresql` package (tests/run.sh does, when run as root)",
        )
}

/// As root: the uid and gid of `postgres`, else `nobody`.
fn unprivileged_user() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(0);
    if me != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let find = |name: &str| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.first() != Some(&name) || f.len() < 4 {
                return None;
            }
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        })
    };
    Some(
        find("postgres")
            .or_else(|| find("nobody"))
            .expect("no postgres or nobody user"),
    )
}

/// A free port below the kernel's ephemeral range (`ip_local_port_range`, 32768–60999 by
/// default). A server that is stopped and started again must get its port back, and a port
/// from the ephemeral range may meanwhile be handed to another test's listener or used as an
/// outgoing connection's source port: CI once saw the restart fail that way.
fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (first, last) = (10_000u16, low.max(10_001) - 1);
    let start = first + (uuid::Uuid::new_v4().as_u128() % u128::from(last - first)) as u16;
    (start..=last)
        .chain(first..start)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("no free port below the ephemeral range")
}

impl PgServer {
    /// Starts a new server. `durable`: fsync on (for honest benchmark figures); tests
    /// otherwise run with fsync off.
    pub fn start(durable: bool) -> PgServer {
        let bin = bin_dir();
        let run_as = unprivileged_user();
        let root = tempfile::Builder::new()
            .prefix("frontdesk-pg-")
            .tempdir()
            .unwrap()
            .keep();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid)).unwrap();
        }
        let data = root.join("data");
        let pwfile = root.join("pw");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let server = PgServer {
            port: free_port(),
            options: format!(
                "-c listen_addresses=127.0.0.1 -k {} -c max_connections=300 {}",
                root.display(),
                if durable {
                    ""
                } else {
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
                }
            ),
            bin,
            data,
            run_as,
        };
        let init = server
            .command("initdb")
            .arg("-D")
            .arg(&server.data)
            .args([
                "-U",
                USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        server.run();
        server.watch(&root);
        server
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(self.data.parent().unwrap_or(Path::new("/")));
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Starts (or restarts) the server and waits until it accepts connections.
    pub fn run(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-t", "60", "-l"])
            .arg(self.data.parent().unwrap().join("log"))
            .args(["-o", &format!("-p {} {}", self.port, self.options), "start"])
            .output()
            .unwrap();
        if !out.status.success() {
            let log = std::fs::read_to_string(self.data.parent().unwrap().join("log"));
            panic!(
                "pg_ctl start on port {}: {}\nserver log:\n{}",
                self.port,
                String::from_utf8_lossy(&out.stderr),
                log.unwrap_or_default()
            );
        }
    }

    /// Stops the server (fast shutdown: open connections are cut).
    pub fn stop(&self) {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-w", "-m", "fast", "stop"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A shell that outlives nothing: once this process is gone it stops the server and
    /// deletes its files.
    fn watch(&self, root: &Path) {
        let script = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; \
             '{pg_ctl}' -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            pg_ctl = self.bin.join("pg_ctl").display(),
            data = self.data.display(),
            root = root.display(),
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0);
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd.spawn().unwrap();
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/{database}?sslmode=disable",
            self.port
        )
    }

    /// A fresh, empty database.
    pub async fn empty_database(&self) -> TestDb {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = connect(&self.url("postgres")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        TestDb {
            url: self.url(&name),
        }
    }

    /// A fresh database with the central schema applied.
    pub async fn database(&self) -> TestDb {
        let db = self.empty_database().await;
        db.client()
            .await
            .batch_execute(&frontdesk::db::central::central_sql())
            .await
            .unwrap();
        db
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

pub struct TestDb {
    pub url: String,
}

impl TestDb {
    pub async fn client(&self) -> tokio_postgres::Client {
        connect(&self.url).await
    }

    /// The ids in a central table, sorted.
    pub async fn ids(&self, table: &str) -> Vec<String> {
        let rows = self
            .client()
            .await
            .query(&format!("SELECT id::text FROM {table} ORDER BY id"), &[])
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.client()
            .await
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .unwrap()
            .get(0)
    }
}
