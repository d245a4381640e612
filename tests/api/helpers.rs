//! The harness every black-box test uses: `spawn_app()` (in-process, port 0, temp data dir,
//! real SQLite file) and `Cli` (runs the built binary).

#![allow(dead_code)]

use frontdesk::app::App;
use frontdesk::clock::{ManualClock, SharedClock};
use frontdesk::config::{Config, Env, KeyName};
use frontdesk::shutdown::Shutdown;
use frontdesk::state::AppState;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_frontdesk");

/// Key material generated once per test run (RSA generation is the slow part) and written
/// into each test's keys dir.
pub struct TestKeys {
    pub master: String,
    pub audit: String,
    pub rsa_pem: String,
}

pub fn test_keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = Cli::new(dir.path()).run(&["init"]);
        assert!(out.status.success(), "{}", out.stderr_text());
        let read = |name: KeyName| {
            std::fs::read_to_string(dir.path().join("keys").join(name.env_name())).unwrap()
        };
        TestKeys {
            master: read(KeyName::PhiMaster),
            audit: read(KeyName::HipaaAudit),
            rsa_pem: read(KeyName::PhiRsaPrivate),
        }
    })
}

/// Writes the shared test keys into `keys_dir` with mode 0600.
pub fn write_keys(keys_dir: &Path) {
    let keys = test_keys();
    std::fs::create_dir_all(keys_dir).unwrap();
    for (name, text) in [
        (KeyName::PhiMaster, &keys.master),
        (KeyName::HipaaAudit, &keys.audit),
        (KeyName::PhiRsaPrivate, &keys.rsa_pem),
    ] {
        let path = keys_dir.join(name.env_name());
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

pub struct TestApp {
    pub addr: String,
    pub dir: TempDir,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    shutdown: Shutdown,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app in-process on 127.0.0.1:0 with a fresh data dir; `customise` edits the
/// config before it starts.
pub async fn spawn_app_with(customise: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    write_keys(&dir.path().join("keys"));
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    customise(&mut config);
    let config = config.finish(&Env::default()).unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    let shared: SharedClock = clock.clone();
    let app = App::build(config, shared).await.expect("app starts");
    let addr = format!("http://{}", app.local_addr());
    let state = app.state().clone();
    let shutdown = Shutdown::new();
    let handle = tokio::spawn(app.run_until(shutdown.clone()));
    TestApp {
        addr,
        dir,
        state,
        clock,
        client: reqwest::Client::new(),
        shutdown,
        handle,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.addr)
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("frontdesk.db")
    }

    /// Graceful shutdown, as on SIGTERM; returns once the WAL is checkpointed.
    pub async fn shutdown(self) -> TempDir {
        self.shutdown.trigger();
        self.handle.await.unwrap().unwrap();
        self.dir
    }
}

/// Runs the built `frontdesk` binary against one data dir, with a clean environment.
pub struct Cli {
    pub data_dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Cli {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            data_dir: data_dir.to_owned(),
            env: Vec::new(),
        }
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
}

pub trait OutputText {
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
}

impl OutputText for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}
