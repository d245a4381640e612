//! Start and stop order, and nothing else.
//! Start: load and check the keys (refusing before anything is touched), open and migrate the
//! database, bind the keys to it, record the start-up, bind the listener.
//! Run: spawn jobs, serve, tell systemd we are ready.
//! Stop: stop accepting, finish in-flight requests (bounded), stop jobs, record the
//! shutdown, checkpoint the WAL.

use crate::clock::SharedClock;
use crate::config::Config;
use crate::crypto::{KeyError, Keys};
use crate::db::{Db, DbError};
use crate::services::audit::{self, AuditEvent, action};
use crate::services::keys::{self as key_binding, BindError};
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
    #[error("cannot create the data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
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
}

impl App {
    /// Everything that can refuse to start happens here, before the port is bound.
    pub async fn build(config: Config, clock: SharedClock) -> Result<App, StartupError> {
        let started = Instant::now();
        let keys = Arc::new(Keys::load(&config.keys)?);
        create_private_dir(&config.data_dir)?;
        let db = Db::open(&config.db_path())?;

        let (k, now) = (keys.clone(), clock.now());
        db.write(move |c| -> Result<(), StartupError> {
            key_binding::bind_or_check(c, &k, "system", now)?;
            let event = AuditEvent::new("system", action::STARTUP)
                .detail(serde_json::json!({ "version": env!("CARGO_PKG_VERSION") }));
            audit::record(c, &k.audit, now, &event)?;
            Ok(())
        })
        .await?;

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartupError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let state = AppState::new(Arc::new(config), db, keys, clock);
        Ok(App {
            state,
            listener,
            started,
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
        } = self;
        let grace = Duration::from_secs(state.config.http.shutdown_grace_secs);
        let addr = listener.local_addr()?;
        let jobs_cancel = CancellationToken::new();
        let mut jobs = JoinSet::new();
        if let Some(interval) = systemd::watchdog_interval() {
            jobs.spawn(jobs::watchdog::run(
                state.db.clone(),
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

        jobs_cancel.cancel();
        let stop_jobs = async { while jobs.join_next().await.is_some() {} };
        tokio::select! {
            _ = tokio::time::timeout(grace, stop_jobs) => {}
            _ = shutdown.immediate.cancelled() => {}
        }

        let (k, now) = (state.keys.clone(), state.clock.now());
        if let Err(e) = state
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
        state.db.close().await?;
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
