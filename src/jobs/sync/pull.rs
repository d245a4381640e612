//! Down-sync: pulls the central copy of this node's clinics (with their organisations) and
//! their price lists, at start and then every `pull_interval_secs`. Newer central rows replace
//! the local ones; a changed price refreshes the price cache at once, a changed clinic the
//! clinic directory. A failed pull changes nothing: the local copy stays in use.

use super::SyncMonitor;
use crate::cache::{ClinicDirectory, PriceCache};
use crate::clients::sync_target::{SyncError, SyncTarget};
use crate::clock::SharedClock;
use crate::db::{Db, DbError, clinics};
use crate::domain::sync_table::find;
use crate::domain::time;
use crate::resilience::{Admission, Breaker};
use crate::services::sync::pull::{self, PullSummary, Pulled};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("the sync circuit breaker is open")]
    BreakerOpen,
    #[error(transparent)]
    Remote(#[from] SyncError),
    #[error(transparent)]
    Local(#[from] DbError),
}

pub struct Puller {
    pub db: Db,
    pub clock: SharedClock,
    pub target: Arc<SyncTarget>,
    pub breaker: Arc<Breaker>,
    pub monitor: Arc<SyncMonitor>,
    pub prices: Arc<PriceCache>,
    pub clinics: Arc<ClinicDirectory>,
    pub every: Duration,
}

impl Puller {
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            match self.run_once().await {
                Ok(s) if s.clinics_changed + s.services_changed > 0 => tracing::info!(
                    clinics = s.clinics_changed,
                    services = s.services_changed,
                    skipped = s.skipped.len(),
                    "pulled changes from the central database"
                ),
                Ok(_) | Err(PullError::BreakerOpen) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "pull from the central database failed; keeping the local copy")
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(self.every) => {}
            }
        }
    }

    pub async fn run_once(&self) -> Result<PullSummary, PullError> {
        if let Admission::Wait(_) = self.breaker.admit() {
            return Err(PullError::BreakerOpen);
        }
        let fetched = self.fetch().await;
        match &fetched {
            Ok(_) => self.breaker.success(),
            Err(PullError::Remote(SyncError::Rejected(_))) => self.breaker.success(),
            Err(_) => self.breaker.failure(),
        }
        let now = time::to_db(self.clock.now());
        let result = match fetched {
            Ok(pulled) => {
                let at = now.clone();
                self.db
                    .write(move |c| pull::apply(c, &pulled, &at))
                    .await
                    .map_err(PullError::from)
            }
            Err(e) => Err(e),
        };
        self.monitor.update(|s| match &result {
            Ok(_) => {
                s.last_pull_at = Some(now);
                s.last_pull_error = None;
            }
            Err(e) => s.last_pull_error = Some(e.to_string()),
        });
        let summary = result?;
        for s in &summary.skipped {
            tracing::warn!(what = s.what, reason = %s.reason, "pulled row skipped");
        }
        if summary.clinics_changed > 0 {
            self.clinics.reload().await?;
        }
        if summary.services_changed > 0 {
            self.prices.refresh().await?;
        }
        Ok(summary)
    }

    async fn fetch(&self) -> Result<Pulled, PullError> {
        let local = self.db.read(clinics::list_clinics).await?;
        let ids: Vec<String> = local.iter().map(|c| c.id.clone()).collect();
        let table = |name| {
            find(name).ok_or_else(|| SyncError::Misconfigured(format!("{name} is not synced")))
        };
        let clinics = self.target.fetch(table("clinics")?, "id", &ids).await?;
        let mut organisations: Vec<String> = clinics
            .iter()
            .filter_map(|c| c["organisation_id"].as_str().map(str::to_owned))
            .chain(local.iter().filter_map(|c| c.organisation_id.clone()))
            .collect();
        organisations.sort();
        organisations.dedup();
        Ok(Pulled {
            organisations: self
                .target
                .fetch(table("organisations")?, "id", &organisations)
                .await?,
            services: self
                .target
                .fetch(table("services")?, "clinic_id", &ids)
                .await?,
            clinics,
        })
    }
}
