//! A throwaway Frontdesk for `demo` and `bench`: a temp data dir with fresh keys, a demo
//! clinic with a realistic multi-language price list, the local gateway stand-in, and the
//! server itself on a loopback port. Everything is deleted on drop.

use super::Failure;
use crate::app::App;
use crate::clock::SystemClock;
use crate::config::{Config, Env};
use crate::crypto::random_bytes;
use crate::crypto::webhook::sign_hs256;
use crate::local_gateway::LocalGateway;
use crate::services::price_list;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use base64::Engine;
use std::sync::Arc;

pub const DEMO_PRICES: &[u8] = include_bytes!("../../static/demo/prices.csv");
pub const INSTANCE: &str = "demo-clinic";

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub gateway: LocalGateway,
    pub url: String,
    pub webhook_secret: String,
    pub state: AppState,
    shutdown: Shutdown,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn random_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<24>())
}

impl Sandbox {
    pub async fn start() -> Result<Sandbox, Failure> {
        Self::start_with(|_| {}).await
    }

    /// Like `start`, with `customise` applied to the config last.
    pub async fn start_with(customise: impl FnOnce(&mut Config)) -> Result<Sandbox, Failure> {
        let dir = tempfile::Builder::new()
            .prefix("frontdesk-demo-")
            .tempdir()?;
        let api_key = random_token();
        let webhook_secret = random_token();
        let gateway = LocalGateway::start(&api_key, "unused").await?;
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            listen: "127.0.0.1:0".parse()?,
            ..Config::default()
        };
        config.evolution.api_url = Some(gateway.url());
        config.evolution.api_key = Some(api_key.into());
        config.evolution.instance = Some(INSTANCE.into());
        config.evolution.webhook_secret = Some(webhook_secret.clone().into());
        let clinic = &mut config.clinic;
        clinic.name = "Стоматология «Улыбка» (demo)".into();
        clinic.timezone = "Europe/Moscow".into();
        clinic.default_language = "ru".into();
        clinic.address = Some("ул. Тверская, 12, Москва".into());
        clinic.phone = Some("+7 495 000-00-00".into());
        for day in ["mon", "tue", "wed", "thu", "fri"] {
            clinic.hours.insert(day.into(), "09:00-20:00".into());
        }
        clinic.hours.insert("sat".into(), "10:00-16:00".into());
        customise(&mut config);
        let config = config.finish(&Env::default())?;

        super::init::initialise(&config).await?;
        let rows = price_list::parse(DEMO_PRICES)
            .map_err(|e| Failure::new(1, anyhow::anyhow!("demo price list: {e}")))?;
        super::prices::import_rows(&config, rows, "demo").await?;

        let app = App::build(config, Arc::new(SystemClock))
            .await
            .map_err(|e| Failure::new(1, e))?;
        let url = format!("http://{}", app.local_addr());
        let state = app.state().clone();
        let shutdown = Shutdown::new();
        let server = tokio::spawn(app.run_until(shutdown.clone()));
        Ok(Sandbox {
            dir,
            gateway,
            url,
            webhook_secret,
            state,
            shutdown,
            server,
        })
    }

    pub fn webhook_url(&self) -> String {
        format!("{}/webhooks/evolution", self.url)
    }

    /// A fresh `Authorization` header value, as Evolution's `jwt_key` option sends it.
    pub fn bearer(&self) -> String {
        let now = chrono::Utc::now().timestamp();
        format!(
            "Bearer {}",
            sign_hs256(self.webhook_secret.as_bytes(), now, now + 600)
        )
    }

    pub async fn stop(self) -> Result<(), Failure> {
        self.shutdown.trigger();
        self.server.await.map_err(|e| Failure::new(1, e))??;
        self.gateway.stop();
        Ok(())
    }
}
