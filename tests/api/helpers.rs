//! The harness every black-box test uses: `spawn_app()` (in-process, port 0, temp data dir,
//! real SQLite file) and `Cli` (runs the built binary).

#![allow(dead_code)]

use frontdesk::app::App;
use frontdesk::clock::{Clock, ManualClock, SharedClock};
use frontdesk::config::{Config, Env, KeyName};
use frontdesk::crypto::webhook::{sign_body, sign_hs256};
use frontdesk::db::rusqlite::{self, Connection, OpenFlags};
use frontdesk::local_gateway::LocalGateway;
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

pub const INSTANCE: &str = "clinic-main";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";
pub const EVOLUTION_API_KEY: &str = "test-evolution-api-key";
pub const CLOUD_APP_SECRET: &str = "test-app-secret-do-not-use";
pub const CLOUD_TOKEN: &str = "test-cloud-token";
pub const CLOUD_VERIFY_TOKEN: &str = "test-verify-token";
pub const CLOUD_PHONE_ID: &str = "123456789012345";
pub const DEMO_PRICES: &[u8] = include_bytes!("../../static/demo/prices.csv");

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/wire/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub struct TestApp {
    pub addr: String,
    pub dir: TempDir,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub gateway: LocalGateway,
    shutdown: Shutdown,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the app in-process on 127.0.0.1:0 with a fresh data dir, a strict local gateway
/// and the demo price list; `customise` edits the config before it starts.
pub async fn spawn_app_with(customise: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    write_keys(&dir.path().join("keys"));
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    let clock = ManualClock::new(chrono::Utc::now());
    start_in(dir, gateway, clock, customise, true).await
}

/// Starts the app again on a data dir a stopped app left (after the test changed something
/// while it was down), with a fresh gateway and clock.
pub async fn start_again(dir: TempDir, customise: impl FnOnce(&mut Config)) -> TestApp {
    let gateway = LocalGateway::start(EVOLUTION_API_KEY, CLOUD_TOKEN)
        .await
        .unwrap();
    start_in(
        dir,
        gateway,
        ManualClock::new(chrono::Utc::now()),
        customise,
        false,
    )
    .await
}

/// Starts (or restarts) the app on an existing data dir.
pub async fn start_in(
    dir: TempDir,
    gateway: LocalGateway,
    clock: Arc<ManualClock>,
    customise: impl FnOnce(&mut Config),
    import_demo_prices: bool,
) -> TestApp {
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    config.evolution.api_url = Some(gateway.url());
    config.evolution.api_key = Some(EVOLUTION_API_KEY.into());
    config.evolution.instance = Some(INSTANCE.into());
    config.evolution.webhook_secret = Some(WEBHOOK_SECRET.into());
    config.whatsapp_cloud.api_url = gateway.url();
    config.whatsapp_cloud.app_secret = Some(CLOUD_APP_SECRET.into());
    config.whatsapp_cloud.access_token = Some(CLOUD_TOKEN.into());
    config.whatsapp_cloud.verify_token = Some(CLOUD_VERIFY_TOKEN.into());
    config.whatsapp_cloud.phone_number_id = Some(CLOUD_PHONE_ID.into());
    config.clinic.name = "Улыбка".into();
    config.clinic.timezone = "Europe/Moscow".into();
    config.clinic.address = Some("ул. Тверская, 12".into());
    config
        .clinic
        .hours
        .insert("mon".into(), "09:00-20:00".into());
    customise(&mut config);
    let config = config.finish(&Env::default()).unwrap();
    if import_demo_prices {
        import_prices(&config, DEMO_PRICES).await;
    }
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
        gateway,
        shutdown,
        handle,
    }
}

/// Imports a price list into the configured clinic, as `frontdesk prices import` does.
pub async fn import_prices(config: &Config, csv: &[u8]) {
    let db = frontdesk::db::Db::open(&config.db_path()).unwrap();
    let rows = frontdesk::services::price_list::parse(csv).unwrap();
    let config = config.clone();
    db.write(move |c| -> Result<(), frontdesk::db::DbError> {
        let clinic = frontdesk::services::clinics::ensure_default(c, &config, chrono::Utc::now())?;
        frontdesk::db::prices::replace_services(c, &clinic, &rows, "2026-01-01T00:00:00.000000Z")?;
        Ok(())
    })
    .await
    .unwrap();
    db.close().await.unwrap();
}

/// How a test authenticates an Evolution webhook.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Jwt,
    ExpiredJwt,
    JwtSignedWith(&'a str),
    Secret(&'a str),
    Signature,
    SignatureOver(&'a [u8]),
    None,
}

/// An Evolution v2 text message from a patient.
pub fn evolution_text(id: &str, phone: &str, text: &str) -> Vec<u8> {
    frontdesk::local_gateway::evolution_text_webhook(
        INSTANCE,
        id,
        phone,
        "Анна Петрова",
        text,
        chrono::Utc::now().timestamp(),
    )
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
        self.gateway.stop();
        self.dir
    }

    /// Stops and starts again on the same data dir (and the given gateway).
    pub async fn restart(self, gateway: LocalGateway) -> TestApp {
        self.restart_with(gateway, |_| {}).await
    }

    /// Like `restart`, with the config edited as `spawn_app_with` does.
    pub async fn restart_with(
        self,
        gateway: LocalGateway,
        customise: impl FnOnce(&mut Config),
    ) -> TestApp {
        let clock = self.clock.clone();
        self.shutdown.trigger();
        self.handle.await.unwrap().unwrap();
        start_in(self.dir, gateway, clock, customise, false).await
    }

    /// One follow-up scheduler tick at the test clock's time, as the cron tick runs it.
    pub async fn run_followups_once(&self) -> frontdesk::jobs::followups::TickSummary {
        self.state
            .followups
            .run_once(self.clock.now())
            .await
            .unwrap()
    }

    /// Staff type in the fixture's chat (79990001122) from the clinic's phone.
    pub async fn staff_type(&self) {
        let r = self
            .post_evolution(
                &fixture("evolution_messages_upsert_from_me.json"),
                Auth::Jwt,
            )
            .await;
        assert_eq!(r.status(), 200);
    }

    pub async fn post_evolution(&self, body: &[u8], auth: Auth<'_>) -> reqwest::Response {
        self.post_evolution_to("/webhooks/evolution", body, auth)
            .await
    }

    pub async fn post_evolution_to(
        &self,
        path: &str,
        body: &[u8],
        auth: Auth<'_>,
    ) -> reqwest::Response {
        let now = self.clock.now().timestamp();
        let req = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/json");
        let req = match auth {
            Auth::Jwt => req.bearer_auth(sign_hs256(WEBHOOK_SECRET.as_bytes(), now, now + 600)),
            Auth::ExpiredJwt => {
                req.bearer_auth(sign_hs256(WEBHOOK_SECRET.as_bytes(), now - 1300, now - 700))
            }
            Auth::JwtSignedWith(s) => req.bearer_auth(sign_hs256(s.as_bytes(), now, now + 600)),
            Auth::Secret(s) => req.header("X-Webhook-Secret", s),
            Auth::Signature => req.header(
                "X-Hub-Signature-256",
                sign_body(WEBHOOK_SECRET.as_bytes(), body),
            ),
            Auth::SignatureOver(other) => req.header(
                "X-Hub-Signature-256",
                sign_body(WEBHOOK_SECRET.as_bytes(), other),
            ),
            Auth::None => req,
        };
        req.body(body.to_vec()).send().await.unwrap()
    }

    pub async fn post_cloud(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("Content-Type", "application/json");
        if let Some(sig) = signature {
            req = req.header("X-Hub-Signature-256", sig);
        }
        req.body(body.to_vec()).send().await.unwrap()
    }

    /// A read-only connection to the real SQLite file, for asserting what was stored.
    pub fn sqlite(&self) -> Connection {
        Connection::open_with_flags(self.db_path(), OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.sqlite().query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn query_string(&self, sql: &str) -> Option<String> {
        match self.sqlite().query_row(sql, [], |r| r.get(0)) {
            Ok(v) => v,
            Err(rusqlite::Error::QueryReturnedNoRows) => None,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    /// Waits until the gateway has `n` sends, then a little longer to catch extras.
    pub async fn sends_settled(&self, n: usize) -> Vec<frontdesk::local_gateway::ReceivedSend> {
        self.gateway
            .wait_for_sends(n, std::time::Duration::from_secs(10))
            .await;
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        self.gateway.sends()
    }

    /// Sends one patient message and returns the reply text the gateway received.
    pub async fn ask(&self, phone: &str, text: &str) -> String {
        let before = self.gateway.sends().len();
        let id = format!("T{}", uuid::Uuid::new_v4().simple());
        let r = self
            .post_evolution(&evolution_text(&id, phone, text), Auth::Jwt)
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let sends = self
            .gateway
            .wait_for_sends(before + 1, std::time::Duration::from_secs(10))
            .await;
        assert!(sends.len() > before, "no reply to {text:?}");
        sends[before].text.replace('\u{a0}', " ")
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
