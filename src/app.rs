//! Start and stop order, and nothing else.
//! Start: load and check the keys (refusing before anything is touched), open and migrate the
//! database, bind the keys to it, record the start-up, bind the listener.
//! Run: spawn jobs, serve, tell systemd we are ready.
//! Stop: stop accepting, finish in-flight requests (bounded), stop jobs, record the
//! shutdown, checkpoint the WAL.

use crate::cache::{ChatLocks, ClinicDirectory, PriceCache, SessionCache};
use crate::clients::gateway::GatewayClient;
use crate::clients::postgres::PostgresSetupError;
use crate::clients::sync_target::SyncTarget;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{KeyError, Keys};
use crate::db::{Db, DbError};
use crate::jobs::followups::{FollowupDeps, FollowupJob, FollowupJobError};
use crate::jobs::sender::{self, OutgoingSend, Sender};
use crate::metrics::Metrics;
use crate::router::{Router, RouterError};
use crate::services::audit::{self, AuditEvent, action};
use crate::services::followups;
use crate::services::keys::{self as key_binding, BindError};
use crate::services::llm::LlmAnswerer;
use crate::services::shared::Shared;
use crate::services::turn::Conversations;
use crate::shutdown::Shutdown;
use crate::state::AppState;
use crate::{http, jobs, systemd};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Locked(#[from] crate::data_lock::LockError),
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("language packs: {0}")]
    Languages(#[from] RouterError),
    #[error(transparent)]
    Followups(#[from] FollowupJobError),
    #[error(transparent)]
    FollowupRule(#[from] followups::RuleError),
    #[error("sync: {0}")]
    Sync(#[from] PostgresSetupError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

pub struct App {
    state: AppState,
    listener: TcpListener,
    started: Instant,
    sender_queue: tokio::sync::mpsc::UnboundedReceiver<OutgoingSend>,
    gateway: Arc<GatewayClient>,
    sync: Option<(Arc<SyncTarget>, Arc<crate::resilience::Breaker>)>,
    /// This process's hold on the data dir, released when the app is dropped.
    _data_dir: crate::data_lock::DataDirLock,
}

/// How long a starting server waits for an admin command holding the data dir (a restore, or
/// a newer binary's command upgrading the database) before giving up. A restore or upgrade
/// takes seconds per 100,000 messages; systemd allows the start 15 minutes.
const WAIT_FOR_A_COMMAND: Duration = Duration::from_secs(10 * 60);

/// The unit's `TimeoutStartSec=`: how long a start (migrations included) may take.
const START_ALLOWANCE: Duration = Duration::from_secs(15 * 60);

/// How long a clinic-channel mapping is trusted before it is looked up again.
const CLINIC_MAP_TTL: Duration = Duration::from_secs(20 * 60);

impl App {
    /// Everything that can refuse to start happens here, before the port is bound.
    pub async fn build(config: Config, clock: SharedClock) -> Result<App, StartupError> {
        let started = Instant::now();
        let keys = Arc::new(Keys::load(&config.keys)?);
        create_private_dir(&config.data_dir)?;
        let mut waited = false;
        let data_dir = crate::data_lock::DataDirLock::acquire_for_server(
            &config.data_dir,
            WAIT_FOR_A_COMMAND,
            |holder| {
                waited = true;
                tracing::warn!(
                    %holder,
                    "another frontdesk process is using the data dir; waiting for it to \
                     finish before starting"
                );
                crate::systemd::notify_status(&format!(
                    "waiting for another frontdesk process ({holder}) to finish"
                ));
            },
        )
        .await?;
        if waited {
            // The wait used up part of systemd's start timeout, and the database may still
            // need migrating: the start gets the unit's whole allowance again from here.
            crate::systemd::extend_start(START_ALLOWANCE);
        }
        // The language packs and what refers to them are checked before anything is written:
        // a clinic language no pack speaks would otherwise answer every patient in English.
        let router = Arc::new(Router::load(config.languages_dir().as_deref())?);
        let language = &config.clinic.default_language;
        if !router.has_language(language) {
            return Err(StartupError::Languages(RouterError::Invalid {
                file: "clinic.default_language (FRONTDESK_CLINIC_LANGUAGE)".into(),
                problem: format!(
                    "{language:?} has no language pack; the packs are {}",
                    router.languages().join(", ")
                ),
            }));
        }
        let rules = config.followups.parsed_rules();
        followups::check_rules(&router, &rules, language)?;
        for name in config.weak_webhook_secrets() {
            tracing::warn!(
                secret = name,
                "the webhook secret is shorter than {} characters and could be guessed; make \
                 a new one (`openssl rand -hex 32`) and set it here and in the gateway",
                crate::config::MIN_WEBHOOK_SECRET
            );
        }
        if !config.db_path().exists() {
            // Right on a first start; after a wrong --data-dir or an unmounted volume it is
            // the one sign that the patients' history is elsewhere.
            tracing::warn!(
                path = %config.db_path().display(),
                "no database here: starting with a new, empty one"
            );
        }
        let db = Db::open(&config.db_path())?;

        let (k, now, c2) = (keys.clone(), clock.now(), config.clone());
        let default_clinic = db
            .write(move |c| -> Result<String, StartupError> {
                key_binding::bind_or_check(c, &k, "system", now)?;
                crate::services::chat_write::index_stored_lids(
                    c,
                    &k,
                    &crate::domain::time::to_db(now),
                )?;
                let event = AuditEvent::new("system", action::STARTUP)
                    .detail(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }));
                audit::record(c, &k.audit, now, &event)?;
                let clinic = crate::services::clinics::ensure_default(c, &c2, now)?;
                followups::sync_rules_for_all_clinics(c, &c2.followups.parsed_rules(), now)?;
                Ok(clinic)
            })
            .await?;

        let clinics = Arc::new(ClinicDirectory::new(
            db.clone(),
            default_clinic,
            CLINIC_MAP_TTL,
        ));
        clinics.reload().await?;
        let prices = Arc::new(PriceCache::new(
            db.clone(),
            router.clone(),
            Duration::from_secs(config.prices.cache_ttl_secs),
        ));
        prices.refresh().await?;
        let metrics = Arc::new(Metrics::default());
        let sync_target = SyncTarget::from_config(&config)?.map(Arc::new);
        let sync_breaker = jobs::sync::breaker(&config.sync, clock.clone());
        let sync_monitor = Arc::new(jobs::sync::SyncMonitor::new(
            sync_target.as_ref().map_or("none", |t| t.name()),
            sync_target.as_ref().map(|_| sync_breaker.clone()),
        ));
        if sync_target.is_none() {
            // `frontdesk sync status` shows the target the service reports: a service that now
            // syncs nowhere must not leave an earlier run's target and errors behind.
            db.write(crate::db::sync::clear_state).await?;
        }
        if !config.sync.plaintext_fields.is_empty() {
            let (k, now) = (keys.clone(), clock.now());
            let (fields, target) = (config.sync.plaintext_fields.clone(), sync_monitor.target());
            db.write(move |c| {
                crate::services::sync::record_plaintext_setting(c, &k.audit, now, &fields, target)
            })
            .await?;
            tracing::warn!(
                fields = ?config.sync.plaintext_fields,
                "sync sends these PHI fields in plaintext as well as sealed (recorded in the audit log)"
            );
        }
        let (sender_handle, sender_queue) = sender::channel();
        let gateway = Arc::new(GatewayClient::new(&config));
        if !gateway.any_configured() {
            tracing::warn!(
                "no WhatsApp gateway configured (EVOLUTION_API_URL, or WHATSAPP_CLOUD_ACCESS_TOKEN): \
                 messages are received and answered, but replies cannot be delivered"
            );
        }
        let shared = Shared {
            db: db.clone(),
            keys: keys.clone(),
            clock: clock.clone(),
            router: router.clone(),
            prices: prices.clone(),
            clinics: clinics.clone(),
            sessions: Arc::new(SessionCache::new(db.clone())),
            locks: ChatLocks::default(),
            sender: sender_handle.clone(),
            metrics: metrics.clone(),
        };
        let llm = if config.openai.is_enabled() {
            Some(Arc::new(
                LlmAnswerer::new(
                    shared.clone(),
                    config.openai.clone(),
                    config.followups.cloud_template("nudge").is_some(),
                )
                .await?,
            ))
        } else {
            tracing::info!(
                "no LLM configured (OPENAI_API_KEY / OPENAI_BASE_URL): questions the fast path cannot answer get the polite fallback and go to staff"
            );
            None
        };
        let conversations = Arc::new(Conversations::new(
            shared.clone(),
            config.conversation.clone(),
            llm.clone(),
        ));

        let followups = Arc::new(FollowupJob::new(FollowupDeps {
            db: db.clone(),
            keys: keys.clone(),
            router: router.clone(),
            clinics: clinics.clone(),
            sender: sender_handle.clone(),
            clock: clock.clone(),
            config: config.followups.clone(),
        })?);

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState {
            config: Arc::new(config),
            shared,
            conversations,
            followups,
            sync: sync_monitor,
            rejections: Arc::default(),
            draining: Arc::default(),
            llm,
        };
        Ok(App {
            state,
            listener,
            started,
            sender_queue,
            gateway,
            sync: sync_target.map(|t| (t, sync_breaker)),
            _data_dir: data_dir,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.config.listen)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` fires, then stops in order. Returns after the WAL checkpoint.
    pub async fn run_until(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let App {
            state,
            listener,
            started,
            sender_queue,
            gateway,
            sync,
            // Held to the end of this function: the data dir is ours until everything stopped.
            _data_dir: _held,
        } = self;
        let grace = Duration::from_secs(state.config.http.shutdown_grace_secs);
        let addr = listener.local_addr()?;
        let jobs_cancel = CancellationToken::new();
        let mut jobs = JoinSet::new();
        let mut sender = Sender::new(
            state.shared.db.clone(),
            state.shared.keys.clone(),
            state.shared.clock.clone(),
            gateway,
            state.config.sender.clone(),
            state.config.followups.quiet(),
            &state.shared.sender,
            sender_queue,
            state.shared.metrics.clone(),
        );
        sender.load_pending().await;
        jobs.spawn(sender.run(jobs_cancel.clone()));
        jobs.spawn(state.followups.clone().run(jobs_cancel.clone()));
        jobs.spawn(jobs::price_refresh::run(
            state.shared.prices.clone(),
            jobs_cancel.clone(),
        ));
        if let Some(llm) = &state.llm {
            llm.recover_unanswered().await;
        }
        if let Some((target, breaker)) = sync {
            let worker = jobs::sync::SyncWorker::new(jobs::sync::SyncDeps {
                db: state.shared.db.clone(),
                keys: state.shared.keys.clone(),
                clock: state.shared.clock.clone(),
                target: target.clone(),
                breaker: breaker.clone(),
                monitor: state.sync.clone(),
                config: state.config.sync.clone(),
            });
            let flush_for = Duration::from_secs(state.config.sync.flush_secs).min(grace);
            jobs.spawn(worker.run(jobs_cancel.clone(), flush_for));
            let puller = jobs::sync::pull::Puller {
                db: state.shared.db.clone(),
                clock: state.shared.clock.clone(),
                target,
                breaker,
                monitor: state.sync.clone(),
                prices: state.shared.prices.clone(),
                clinics: state.shared.clinics.clone(),
                every: Duration::from_secs(state.config.sync.pull_interval_secs),
            };
            jobs.spawn(puller.run(jobs_cancel.clone()));
        }
        if let Some(interval) = systemd::watchdog_interval() {
            jobs.spawn(jobs::watchdog::run(
                state.shared.db.clone(),
                interval,
                jobs_cancel.clone(),
            ));
        }

        let draining = state.clone();
        let graceful = shutdown.graceful.clone();
        let serve = axum::serve(listener, http::router(state.clone()))
            .with_graceful_shutdown(async move {
                graceful.cancelled().await;
                draining.set_draining();
            })
            .into_future();
        systemd::notify_ready();
        tracing::info!(
            startup_ms = started.elapsed().as_millis() as u64,
            "ready, listening on http://{addr}"
        );

        let deadline = async {
            shutdown.graceful.cancelled().await;
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = shutdown.immediate.cancelled() => {}
            }
        };
        tokio::select! {
            result = serve => result?,
            _ = deadline => tracing::warn!("in-flight requests did not finish in time; stopping anyway"),
        }
        systemd::notify_stopping();

        // Answers being prepared are bounded by the LLM budget; let them finish and reach the
        // sender before it stops. Any cut short is recovered at the next start.
        if let Some(llm) = &state.llm {
            tokio::select! {
                _ = llm.finish(grace) => {}
                _ = shutdown.immediate.cancelled() => {}
            }
        }
        jobs_cancel.cancel();
        let stop_jobs = async { while jobs.join_next().await.is_some() {} };
        tokio::select! {
            _ = tokio::time::timeout(grace, stop_jobs) => {}
            _ = shutdown.immediate.cancelled() => {}
        }

        let (k, now) = (state.shared.keys.clone(), state.shared.clock.now());
        if let Err(e) = state
            .shared
            .db
            .write(move |c| {
                audit::record(
                    c,
                    &k.audit,
                    now,
                    &AuditEvent::new("system", action::SHUTDOWN),
                )
            })
            .await
        {
            tracing::warn!(error = %e, "could not record the shutdown in the audit log");
        }
        state.shared.db.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Creates a directory readable only by us (0700); an existing one is left as it is.
pub fn create_private_dir(path: &Path) -> Result<(), StartupError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| StartupError::DataDir {
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::START_ALLOWANCE;

    /// The start allowance a waited-for start asks systemd for again is the unit's own.
    #[test]
    fn the_start_allowance_is_the_units_timeout_start_sec() {
        let unit = include_str!("../systemd/frontdesk.service");
        let value = unit
            .lines()
            .find_map(|l| l.trim().strip_prefix("TimeoutStartSec="))
            .expect("the unit sets TimeoutStartSec");
        let minutes: u64 = value
            .strip_suffix("min")
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("TimeoutStartSec={value} is not in whole minutes"));
        assert_eq!(START_ALLOWANCE.as_secs(), minutes * 60);
    }
}
